# efd-lb: multi-stage build on Debian bookworm with DPDK 22.11 from Debian.
# README.md, section "Container", tells how to build and run it (docker or
# podman) and bench/container.sh checks the image. In short:
#   docker build -t efd-lb .
#   docker run --rm efd-lb          # no arguments: the embedded default
#                                   # (virtual devices, no NIC, no hugepages)
#   docker run --rm --privileged -v /dev/hugepages:/dev/hugepages \
#       efd-lb --config /etc/efd-lb/hugepages.toml
# More DPDK drivers: --build-arg EXTRA_PMDS="librte-net-bnxt23 ...".

FROM rust:1-bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdpdk-dev pkg-config clang libclang-dev libpcap-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin efd-lb --bin efd-lb-pcapgen
# The binaries without debug info (symbols kept): 4 MB instead of 27 MB. And
# the Debian packages that hold the shared libraries they load, for the
# runtime stage.
RUN mkdir -p /out \
 && strip --strip-debug -o /out/efd-lb target/release/efd-lb \
 && strip --strip-debug -o /out/efd-lb-pcapgen target/release/efd-lb-pcapgen \
 && ldd /out/efd-lb /out/efd-lb-pcapgen \
      | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u \
      | while read -r f; do \
          r=$(realpath "$f"); \
          for p in "$f" "$r" "${r#/usr}"; do dpkg -S "$p" 2>/dev/null && break; done; \
        done \
      | cut -d: -f1 | sort -u > /out/runtime-packages \
 && test -s /out/runtime-packages && cat /out/runtime-packages

FROM debian:bookworm-slim
# DPDK drivers (PMD plugins) the image carries. Each package puts its plugin in
# the EAL's plugin directory /usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0, which the
# EAL loads at start. Buses (pci, vdev, auxiliary) come in as dependencies.
#   mempool: ring, stack (the [mempool] ops choices)
#   virtual: null, pcap, af_packet, tap, virtio (virtio-net devices and virtio_user)
#   Intel:   e1000 (igb, em), igc, ixgbe, i40e, iavf (VFs), ice
#   NVIDIA Mellanox: mlx4 (ConnectX-3), mlx5 (ConnectX-4 and later, BlueField)
ARG DPDK_PMDS="librte-mempool-ring23 librte-mempool-stack23 \
librte-net-null23 librte-net-pcap23 librte-net-af-packet23 librte-net-tap23 librte-net-virtio23 \
librte-net-e1000-23 librte-net-igc23 librte-net-ixgbe23 librte-net-i40e23 librte-net-iavf23 librte-net-ice23 \
librte-net-mlx4-23 librte-net-mlx5-23"
# Further Debian driver packages, e.g. "librte-net-bnxt23 librte-net-ena23".
ARG EXTRA_PMDS=""
COPY --from=build /out/runtime-packages /tmp/runtime-packages
# No manuals, docs or translations (the public slim image has the same rule),
# and no hardware database: udev comes in only as a dependency of rdma-core
# (mlx4/mlx5) and does not run in the container.
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
      'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias' \
      'path-exclude=/usr/lib/udev/hwdb.d/*' \
      > /etc/dpkg/dpkg.cfg.d/efd-lb-nodoc \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(cat /tmp/runtime-packages) $DPDK_PMDS $EXTRA_PMDS \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /usr/lib/udev/hwdb.bin /tmp/runtime-packages
COPY --from=build /out/efd-lb /out/efd-lb-pcapgen /usr/local/bin/
COPY config/ /etc/efd-lb/
# The working directory holds the generated default pcap (target/ below it):
# writable for any user id.
RUN mkdir -p /var/lib/efd-lb && chmod 1777 /var/lib/efd-lb
WORKDIR /var/lib/efd-lb
# No CMD: without arguments efd-lb runs its embedded default configuration.
ENTRYPOINT ["/usr/local/bin/efd-lb"]
