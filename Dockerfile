# efd-lb: multi-stage build on Debian bookworm with DPDK from Debian.
#   docker build -t efd-lb .
#   docker run --rm -it --privileged -v /dev/hugepages:/dev/hugepages \
#       efd-lb --lcores 0-5 --config /etc/efd-lb/two-nic.toml
# Without arguments it runs the embedded default (virtual devices, no NIC).

FROM rust:1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdpdk-dev dpdk-dev pkg-config clang libclang-dev libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --bin efd-lb --bin efd-lb-pcapgen

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dpdk libpcap0.8 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/efd-lb /src/target/release/efd-lb-pcapgen /usr/local/bin/
COPY config/ /etc/efd-lb/
WORKDIR /var/lib/efd-lb
ENTRYPOINT ["/usr/local/bin/efd-lb"]
CMD ["--config", "/etc/efd-lb/default.toml"]
