//! `efd-lb ctl`: the command-line client of the control API
//! ([`crate::control::http`]).
//!
//! ```text
//! efd-lb ctl [--control ADDR] [--token-file FILE] [--timeout S] <command>
//! ```
//!
//! It prints the answer's body to stdout (JSON pretty-printed, `/metrics`
//! as is) and exits 0; an error answer prints `efd-lb ctl: <error> (HTTP
//! <status>)` to stderr and exits 1, as does a server it cannot reach; bad
//! usage exits 2.
//!
//! The HTTP client is a few dozen lines over `std::net` rather than a crate:
//! the API is plain HTTP/1.1 (no TLS: it listens on loopback, or on a
//! management network with a token), one request per connection, so all a
//! client needs is to write one request and read one response; a crate
//! would add a dependency tree to the appliance's binary for that.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The control API's address unless `--control` says.
pub const DEFAULT_CONTROL: &str = "127.0.0.1:9900";

/// Seconds to wait for an answer unless `--timeout` says.
pub const DEFAULT_TIMEOUT_S: u64 = 300;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `efd-lb ctl`'s command line.
#[derive(Debug, Parser)]
#[command(
    name = "efd-lb ctl",
    bin_name = "efd-lb ctl",
    about = "Sends one request to a running efd-lb's control API and prints the answer",
    after_help = "Keys are the flow key's text form (e.g. 10.0.0.1). Paths given with \
                  --server-path and to snapshot are on the appliance's file system."
)]
pub struct CtlCli {
    /// The control API's address, HOST:PORT.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_CONTROL, global = true)]
    pub control: String,
    /// A file whose first line is the API's bearer token.
    #[arg(long, value_name = "FILE", global = true)]
    pub token_file: Option<PathBuf>,
    /// Seconds to wait for an answer (0: no limit); a drain can take a while.
    #[arg(long, value_name = "S", default_value_t = DEFAULT_TIMEOUT_S, global = true)]
    pub timeout: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// A request.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One flow: get, set, rm.
    #[command(subcommand)]
    Flow(FlowCommand),
    /// Many flows: load, list.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Every node: state, weight, flows, counters (GET /nodes).
    Nodes,
    /// One node (GET /nodes/ID).
    Node {
        /// The node id.
        id: u16,
    },
    /// Moves every flow of a node to the active nodes and marks it out.
    Drain {
        /// The node id.
        id: u16,
    },
    /// Marks a node active and gives it back its share of flows.
    Restore {
        /// The node id.
        id: u16,
    },
    /// Sets a node's weight (its share of flows among active nodes).
    Weight {
        /// The node id.
        id: u16,
        /// The weight (0: takes no new share).
        weight: u32,
    },
    /// Writes a snapshot of the flows (to PATH on the appliance, or the
    /// configured file).
    Snapshot {
        /// Where, on the appliance's file system.
        path: Option<String>,
    },
    /// The stats, as JSON (GET /stats).
    Stats,
    /// The Prometheus metrics (GET /metrics).
    Metrics,
}

/// `flow ...`.
#[derive(Debug, Subcommand)]
pub enum FlowCommand {
    /// The node of a flow.
    Get {
        /// The flow key.
        key: String,
    },
    /// Adds a flow on NODE, or moves it there.
    Set {
        /// The flow key.
        key: String,
        /// The node id.
        node: u16,
    },
    /// Removes a flow.
    Rm {
        /// The flow key.
        key: String,
    },
}

/// `flows ...`.
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Adds or moves the flows of a flow file (key,node lines) as one change.
    Load {
        /// A flow file here: its text is sent.
        #[arg(required_unless_present = "server_path")]
        file: Option<PathBuf>,
        /// A flow file on the appliance's file system, read there.
        #[arg(long, value_name = "PATH", conflicts_with = "file")]
        server_path: Option<String>,
    },
    /// A page of a node's flows.
    List {
        /// The node id.
        node: u16,
        /// Flows to skip (server default 0).
        #[arg(long, value_name = "N")]
        offset: Option<u64>,
        /// Most flows to list (server default 1000, at most 100000).
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
}

/// Runs `efd-lb ctl` with the process's standard output and error; `args`
/// starts with `ctl` (in the place of the program name).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = run(args, &mut stdout.lock(), &mut stderr.lock());
    ExitCode::from(code)
}

/// Runs `efd-lb ctl`: `args` starts with the program name (`ctl`); the
/// answer goes to `out`, errors to `err`. Returns the exit status: 0 done,
/// 1 refused or failed, 2 bad usage.
pub fn run<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match CtlCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = e.exit_code();
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return u8::try_from(code).unwrap_or(2);
        }
    };
    match execute(&cli, out) {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "efd-lb ctl: {e}");
            1
        }
    }
}

fn execute(cli: &CtlCli, out: &mut dyn Write) -> Result<(), String> {
    let token = match &cli.token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    let client = Client::new(
        &cli.control,
        token,
        (cli.timeout > 0).then(|| Duration::from_secs(cli.timeout)),
    )?;
    let req = request_of(&cli.command)?;
    let resp = client.send(req.method, &req.path, req.content_type, &req.body)?;
    if !(200..300).contains(&resp.status) {
        return Err(format!("{} (HTTP {})", resp.error_text(), resp.status));
    }
    let is_metrics = matches!(cli.command, Command::Metrics);
    let text = if is_metrics {
        resp.body
    } else {
        match pretty_json(&resp.body) {
            Some(p) => p.into_bytes(),
            None => resp.body,
        }
    };
    out.write_all(&text)
        .and_then(|()| {
            if text.last().is_some_and(|&b| b != b'\n') {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the answer: {e}"))
}

/// The token: the file's first line, trimmed.
pub fn read_token(path: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(format!(
            "token file {}: its first line is empty",
            path.display()
        ));
    }
    Ok(token.to_string())
}

/// One HTTP request of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlRequest {
    /// `GET`, `PUT`, ...
    pub method: &'static str,
    /// Path and query, percent-encoded.
    pub path: String,
    /// The body's content type, if it has one.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: Vec<u8>,
}

fn json_body(method: &'static str, path: String, body: serde_json::Value) -> CtlRequest {
    CtlRequest {
        method,
        path,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
    }
}

fn bodyless(method: &'static str, path: String) -> CtlRequest {
    CtlRequest {
        method,
        path,
        content_type: None,
        body: Vec::new(),
    }
}

/// The HTTP request of `command` (`flows load FILE` reads FILE here).
pub fn request_of(command: &Command) -> Result<CtlRequest, String> {
    use serde_json::json;
    Ok(match command {
        Command::Flow(FlowCommand::Get { key }) => {
            bodyless("GET", format!("/flows/{}", encode_segment(key)))
        }
        Command::Flow(FlowCommand::Set { key, node }) => json_body(
            "PUT",
            format!("/flows/{}", encode_segment(key)),
            json!({ "node": node }),
        ),
        Command::Flow(FlowCommand::Rm { key }) => {
            bodyless("DELETE", format!("/flows/{}", encode_segment(key)))
        }
        Command::Flows(FlowsCommand::Load { file, server_path }) => match (file, server_path) {
            (_, Some(p)) => json_body("POST", "/flows".into(), json!({ "file": p })),
            (Some(f), None) => CtlRequest {
                method: "POST",
                path: "/flows".into(),
                content_type: Some("text/plain; charset=utf-8"),
                body: std::fs::read(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?,
            },
            (None, None) => return Err("flows load: FILE or --server-path PATH".into()),
        },
        Command::Flows(FlowsCommand::List {
            node,
            offset,
            limit,
        }) => {
            let mut q = Vec::new();
            if let Some(o) = offset {
                q.push(format!("offset={o}"));
            }
            if let Some(l) = limit {
                q.push(format!("limit={l}"));
            }
            let mut path = format!("/nodes/{node}/flows");
            if !q.is_empty() {
                path = format!("{path}?{}", q.join("&"));
            }
            bodyless("GET", path)
        }
        Command::Nodes => bodyless("GET", "/nodes".into()),
        Command::Node { id } => bodyless("GET", format!("/nodes/{id}")),
        Command::Drain { id } => bodyless("POST", format!("/nodes/{id}/drain")),
        Command::Restore { id } => bodyless("POST", format!("/nodes/{id}/restore")),
        Command::Weight { id, weight } => json_body(
            "PUT",
            format!("/nodes/{id}/weight"),
            json!({ "weight": weight }),
        ),
        Command::Snapshot { path: Some(p) } => {
            json_body("POST", "/snapshot".into(), json!({ "path": p }))
        }
        Command::Snapshot { path: None } => bodyless("POST", "/snapshot".into()),
        Command::Stats => bodyless("GET", "/stats".into()),
        Command::Metrics => bodyless("GET", "/metrics".into()),
    })
}

/// `text` as one path segment: every byte but `A-Z a-z 0-9 - . _ ~`
/// percent-encoded.
pub fn encode_segment(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Its status.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// Its body (chunked encoding removed).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The body's `{"error": ...}`, or its first line, or the status.
    pub fn error_text(&self) -> String {
        #[derive(serde::Deserialize)]
        struct E {
            error: String,
        }
        if let Ok(e) = serde_json::from_slice::<E>(&self.body) {
            return e.error;
        }
        let text = String::from_utf8_lossy(&self.body);
        match text.lines().map(str::trim).find(|l| !l.is_empty()) {
            Some(line) => line.to_string(),
            None => "the server gave no reason".to_string(),
        }
    }
}

/// A client of one control API: one request per connection.
#[derive(Debug, Clone)]
pub struct Client {
    addr: String,
    token: Option<String>,
    timeout: Option<Duration>,
}

impl Client {
    /// A client of the API at `addr` (`HOST:PORT`, `http://` allowed),
    /// sending `token` if any and waiting `timeout` for answers (`None`: no
    /// limit).
    pub fn new(
        addr: &str,
        token: Option<String>,
        timeout: Option<Duration>,
    ) -> Result<Client, String> {
        if addr.starts_with("https://") {
            return Err(format!(
                "{addr}: the control API speaks plain HTTP (tunnel it for TLS)"
            ));
        }
        let addr = addr.strip_prefix("http://").unwrap_or(addr);
        let addr = addr.trim_end_matches('/').to_string();
        if addr.is_empty() || addr.contains('/') {
            return Err(format!("--control {addr:?}: want HOST:PORT"));
        }
        Ok(Client {
            addr,
            token,
            timeout,
        })
    }

    /// Sends one request and reads the response.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<HttpResponse, String> {
        let mut stream = self.connect()?;
        let _ = stream.set_read_timeout(self.timeout);
        let _ = stream.set_write_timeout(self.timeout);
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: efd-lb-ctl/{}\r\n\
             Accept: application/json, text/plain\r\nConnection: close\r\n",
            self.addr,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let written = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .and_then(|()| stream.flush());
        // A server that refuses a body (413) may answer and close before it
        // has all of it: its answer is still worth reading.
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw);
        if raw.is_empty() {
            if let Err(e) = written {
                return Err(format!("{}: cannot send the request: {e}", self.addr));
            }
            if let Err(e) = read {
                return Err(format!("{}: no answer: {}", self.addr, io_text(&e)));
            }
        }
        parse_response(&raw).map_err(|e| format!("{}: bad answer: {e}", self.addr))
    }

    fn connect(&self) -> Result<TcpStream, String> {
        let addrs: Vec<_> = self
            .addr
            .to_socket_addrs()
            .map_err(|e| format!("cannot connect to {}: {e}", self.addr))?
            .collect();
        let mut last = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => format!("cannot connect to {}: {}", self.addr, io_text(&e)),
            None => format!("cannot connect to {}: no address", self.addr),
        })
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "timed out (see --timeout)".to_string()
        }
        _ => e.to_string(),
    }
}

/// Parses a whole HTTP/1.1 response (read until the server closed).
pub fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = find(raw, b"\r\n\r\n").ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "headers not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not HTTP: {status_line:?}"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut content_type = None;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_string()),
            "content-length" => content_length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = content_length {
        if rest.len() < n {
            return Err(format!("body cut short ({} of {n} bytes)", rest.len()));
        }
        rest[..n].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(HttpResponse {
        status,
        content_type,
        body,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = find(data, b"\r\n").ok_or("chunk size line cut short")?;
        let line = std::str::from_utf8(&data[..eol]).map_err(|_| "bad chunk size")?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size + 2 {
            return Err("chunk cut short".into());
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// `body` re-indented if it is JSON (object keys in the server's order),
/// with a final newline; `None` if it is not JSON.
pub fn pretty_json(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.trim().chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // Skip whitespace to see whether it is empty.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}') | Some(']')) {
                    out.push(chars.next().unwrap_or(' '));
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out.push('\n');
    Some(out)
}

#[cfg(test)]
mod tests;
