//! The control plane's requests and answers, independent of how they
//! arrive (HTTP, tests call [`ControlHandle`] directly).
//!
//! Keys travel as text (the key kind's text form) and are parsed by the
//! control thread, which knows the key kind. Every answer is JSON-ready;
//! every refusal is an [`ApiError`]: an HTTP status and one line.

#![forbid(unsafe_code)]

use crossbeam_channel::{Sender, TrySendError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// A request to the control thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The node of one flow.
    GetFlow {
        /// The flow key, text form.
        key: String,
    },
    /// Adds a flow on `node`, or moves it there if it exists.
    PutFlow {
        /// The flow key, text form.
        key: String,
        /// Its node.
        node: u16,
    },
    /// Removes one flow.
    DeleteFlow {
        /// The flow key, text form.
        key: String,
    },
    /// Adds or moves many flows as one all-or-nothing change.
    Bulk(BulkSource),
    /// A page of a node's flows.
    NodeFlows {
        /// The node.
        node: u16,
        /// Flows to skip.
        offset: u64,
        /// Most flows to return.
        limit: u64,
    },
    /// Every node.
    Nodes,
    /// One node.
    Node {
        /// The node.
        node: u16,
    },
    /// Moves every flow of the node to the active nodes (by weight), then
    /// marks it `out`.
    Drain {
        /// The node.
        node: u16,
    },
    /// Marks the node `active` and moves its fair share of flows back.
    Restore {
        /// The node.
        node: u16,
    },
    /// Sets a node's weight and moves the fewest flows to match.
    SetWeight {
        /// The node.
        node: u16,
        /// The new weight (0 = takes no new share).
        weight: u32,
    },
    /// Writes a snapshot to `path` (or the configured snapshot file).
    Snapshot {
        /// Where; `None` = the configured file.
        path: Option<PathBuf>,
    },
}

/// Where a bulk load's flows come from.
#[derive(Debug, Clone, PartialEq)]
pub enum BulkSource {
    /// Flow-file text (`key,node` lines).
    Text(String),
    /// A flow file on the appliance's file system.
    File(PathBuf),
}

/// One flow in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowEntry {
    /// The flow key, text form.
    pub key: String,
    /// Its node.
    pub node: u16,
}

/// The answer to [`Request::PutFlow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutFlowReply {
    /// The flow key, text form.
    pub key: String,
    /// Its node now.
    pub node: u16,
    /// Its node before (`None`: the flow is new).
    pub previous: Option<u16>,
}

/// The answer to a change of many flows (bulk, drain, restore, weight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChangeReply {
    /// Flows added.
    pub added: u64,
    /// Flows moved to another node.
    pub moved: u64,
    /// Flows that were already where asked.
    pub unchanged: u64,
}

/// A page of a node's flows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowPage {
    /// The node.
    pub node: u16,
    /// All its flows.
    pub total: u64,
    /// Flows skipped.
    pub offset: u64,
    /// This page's keys, text form.
    pub flows: Vec<String>,
}

/// The answer to [`Request::Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReply {
    /// The file written.
    pub path: PathBuf,
    /// Flows in it.
    pub flows: u64,
    /// Its size.
    pub bytes: u64,
}

/// A node in an answer: its control state and its counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReply {
    /// Its id.
    pub id: u16,
    /// `active`, `draining` or `out`.
    pub state: String,
    /// Its weight.
    pub weight: u32,
    /// Flows it owns.
    pub flows: u64,
    /// Packets enqueued to its ring.
    pub rx: u64,
    /// Packets dropped on its full ring.
    pub rx_drop: u64,
    /// Packets of its flows.
    pub filter_passed: u64,
    /// Packets of flows it does not own.
    pub filter_drop: u64,
    /// Packets transmitted.
    pub tx: u64,
    /// Packets the port refused.
    pub tx_drop: u64,
}

/// What the control thread answers. Its JSON is the inner value's (the
/// HTTP API's answer bodies; [`Reply::Nodes`] is an array).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    /// [`Request::GetFlow`], [`Request::DeleteFlow`] (the node it had).
    Flow(FlowEntry),
    /// [`Request::PutFlow`].
    Put(PutFlowReply),
    /// [`Request::Bulk`], [`Request::Drain`], [`Request::Restore`],
    /// [`Request::SetWeight`].
    Changed(ChangeReply),
    /// [`Request::NodeFlows`].
    Page(FlowPage),
    /// [`Request::Nodes`].
    Nodes(Vec<NodeReply>),
    /// [`Request::Node`].
    Node(NodeReply),
    /// [`Request::Snapshot`].
    Snapshot(SnapshotReply),
}

/// A refused or failed request: the HTTP status and one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// HTTP status (4xx: the request is wrong; 5xx: the appliance is).
    pub status: u16,
    /// What is wrong, one line.
    pub error: String,
}

impl ApiError {
    /// 400: malformed request (bad key, bad body, node id out of range).
    pub fn bad_request(msg: impl Into<String>) -> ApiError {
        ApiError::new(400, msg)
    }
    /// 404: no such flow or node.
    pub fn not_found(msg: impl Into<String>) -> ApiError {
        ApiError::new(404, msg)
    }
    /// 409: the request conflicts with the state (table full, node out).
    pub fn conflict(msg: impl Into<String>) -> ApiError {
        ApiError::new(409, msg)
    }
    /// 503: the control thread is busy or gone, or an lcore did not answer.
    pub fn unavailable(msg: impl Into<String>) -> ApiError {
        ApiError::new(503, msg)
    }
    /// Any status.
    pub fn new(status: u16, msg: impl Into<String>) -> ApiError {
        let mut error: String = msg.into();
        // One line, always.
        if error.contains('\n') {
            error = error.replace('\n', " ");
        }
        ApiError { status, error }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.error, self.status)
    }
}

impl std::error::Error for ApiError {}

/// A request and where its answer goes.
#[derive(Debug)]
pub struct Envelope {
    /// The request.
    pub request: Request,
    /// The answer's way back.
    pub reply: tokio::sync::oneshot::Sender<Result<Reply, ApiError>>,
}

/// Requests queued for the control thread before new ones get 503.
pub const REQUEST_QUEUE: usize = 256;

/// The sending side of the control thread's request queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlHandle {
    tx: Sender<Envelope>,
}

impl ControlHandle {
    /// A handle on the queue `tx` (the control thread holds the receiver).
    pub fn new(tx: Sender<Envelope>) -> ControlHandle {
        ControlHandle { tx }
    }

    /// A queue: the handle and the control thread's end.
    pub fn channel() -> (ControlHandle, crossbeam_channel::Receiver<Envelope>) {
        let (tx, rx) = crossbeam_channel::bounded(REQUEST_QUEUE);
        (ControlHandle { tx }, rx)
    }

    fn enqueue(
        &self,
        request: Request,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Reply, ApiError>>, ApiError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        match self.tx.try_send(Envelope { request, reply }) {
            Ok(()) => Ok(answer),
            Err(TrySendError::Full(_)) => Err(ApiError::unavailable(format!(
                "the control thread has {REQUEST_QUEUE} requests queued; retry later"
            ))),
            Err(TrySendError::Disconnected(_)) => {
                Err(ApiError::unavailable("the control thread has stopped"))
            }
        }
    }

    /// Sends `request` and waits (asynchronously) for the answer.
    pub async fn call(&self, request: Request) -> Result<Reply, ApiError> {
        let answer = self.enqueue(request)?;
        answer
            .await
            .unwrap_or_else(|_| Err(ApiError::unavailable("the control thread has stopped")))
    }

    /// Sends `request` and blocks the calling thread for the answer (for
    /// callers outside an async runtime: tests, the supervisor).
    pub fn call_blocking(&self, request: Request) -> Result<Reply, ApiError> {
        let answer = self.enqueue(request)?;
        answer
            .blocking_recv()
            .unwrap_or_else(|_| Err(ApiError::unavailable("the control thread has stopped")))
    }
}
