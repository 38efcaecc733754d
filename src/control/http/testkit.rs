//! For the tests of the HTTP layer and of `efd-lb ctl`: a fake control
//! thread (records the requests, answers canned replies) behind a server on
//! 127.0.0.1:0, and a raw HTTP helper.

use super::{start, HttpConfig, HttpServer, Views};
use crate::control::api::{
    ApiError, BulkSource, ChangeReply, ControlHandle, FlowEntry, FlowPage, NodeReply, PutFlowReply,
    Reply, Request, SnapshotReply,
};
use crate::ctl::{parse_response, HttpResponse};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The body of the fake `/stats`.
pub(crate) const STATS: &str = r#"{"ports":[{"rx":10,"tx":9}],"flows":5}"#;

/// The body of the fake `/metrics`.
pub(crate) const METRICS: &str =
    "# TYPE efd_lb_flows gauge\nefd_lb_flows 5\nefd_lb_node_rx{node=\"0\"} 12\n";

/// The flow the fake does not know.
pub(crate) const UNKNOWN_FLOW: &str = "10.9.9.9";

/// The node the fake refuses to drain (409).
pub(crate) const LAST_NODE: u16 = 3;

/// The fake's nodes (0..NODES; others: 404).
pub(crate) const NODES: u16 = 4;

pub(crate) fn node_reply(id: u16) -> NodeReply {
    NodeReply {
        id,
        state: "active".into(),
        weight: 1,
        flows: 10 + u64::from(id),
        rx: 100,
        rx_drop: 0,
        filter_passed: 99,
        filter_drop: 1,
        tx: 98,
        tx_drop: 1,
    }
}

/// The fake control thread's answers.
pub(crate) fn canned(req: &Request) -> Result<Reply, ApiError> {
    Ok(match req {
        Request::GetFlow { key } if key == UNKNOWN_FLOW => {
            return Err(ApiError::not_found(format!("flow {key} not found")))
        }
        Request::GetFlow { key } => Reply::Flow(FlowEntry {
            key: key.clone(),
            node: 2,
        }),
        Request::PutFlow { key, node } => Reply::Put(PutFlowReply {
            key: key.clone(),
            node: *node,
            previous: Some(1),
        }),
        Request::DeleteFlow { key } => Reply::Flow(FlowEntry {
            key: key.clone(),
            node: 1,
        }),
        Request::Bulk(BulkSource::Text(t)) => Reply::Changed(ChangeReply {
            added: t.lines().count() as u64,
            moved: 0,
            unchanged: 0,
        }),
        Request::Bulk(BulkSource::File(_)) => Reply::Changed(ChangeReply {
            added: 10,
            moved: 2,
            unchanged: 1,
        }),
        Request::NodeFlows {
            node,
            offset,
            limit,
        } => Reply::Page(FlowPage {
            node: *node,
            total: 5,
            offset: *offset,
            flows: (0..5u64)
                .skip(*offset as usize)
                .take(*limit as usize)
                .map(|i| format!("10.0.0.{i}"))
                .collect(),
        }),
        Request::Nodes => Reply::Nodes((0..2).map(node_reply).collect()),
        Request::Node { node } if *node >= NODES => {
            return Err(ApiError::not_found(format!(
                "node {node} out of range ({NODES} nodes)"
            )))
        }
        Request::Node { node } => Reply::Node(node_reply(*node)),
        Request::Drain { node } if *node == LAST_NODE => {
            return Err(ApiError::conflict(format!(
                "node {node} is the last active node"
            )))
        }
        Request::Drain { .. } => Reply::Changed(ChangeReply {
            added: 0,
            moved: 7,
            unchanged: 0,
        }),
        Request::Restore { .. } => Reply::Changed(ChangeReply {
            added: 0,
            moved: 3,
            unchanged: 0,
        }),
        Request::SetWeight { weight, .. } => Reply::Changed(ChangeReply {
            added: 0,
            moved: u64::from(*weight),
            unchanged: 0,
        }),
        Request::Snapshot { path } => Reply::Snapshot(SnapshotReply {
            path: path
                .clone()
                .unwrap_or_else(|| PathBuf::from("/var/lib/efd-lb/snapshot")),
            flows: 5,
            bytes: 100,
        }),
    })
}

/// A server in front of a fake control thread.
pub(crate) struct Fake {
    pub server: HttpServer,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Fake {
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The requests received so far, taken (the record is emptied).
    pub fn take(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// A fake control thread answering with `answer`: its handle and its
/// record of requests.
pub(crate) fn fake_control(
    answer: impl Fn(&Request) -> Result<Reply, ApiError> + Send + 'static,
) -> (ControlHandle, Arc<Mutex<Vec<Request>>>) {
    let (handle, rx) = ControlHandle::channel();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&requests);
    std::thread::spawn(move || {
        // Ends when the server (every handle) is gone.
        for env in rx {
            record.lock().unwrap().push(env.request.clone());
            let _ = env.reply.send(answer(&env.request));
        }
    });
    (handle, requests)
}

pub(crate) fn views() -> Views {
    Views::new(|| STATS.to_string(), || METRICS.to_string())
}

/// A config on 127.0.0.1:0.
pub(crate) fn local_config() -> HttpConfig {
    HttpConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..HttpConfig::default()
    }
}

/// The canned fake behind a server started with `config`.
pub(crate) fn start_fake(config: HttpConfig) -> Fake {
    let (handle, requests) = fake_control(canned);
    let server = start(config, handle, views()).expect("server starts");
    Fake { server, requests }
}

/// Sends `request` (the whole text of an HTTP request) and reads the
/// response until the server closes.
pub(crate) fn raw(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
        .unwrap_or_else(|e| panic!("bad response ({e}): {:?}", String::from_utf8_lossy(&buf)))
}

/// A file in the temporary directory, unique to this process and `name`,
/// holding `contents`.
pub(crate) fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("efd-lb-test-{}-{name}", std::process::id()));
    std::fs::write(&p, contents).unwrap();
    p
}
