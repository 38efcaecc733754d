//! The control API over HTTP and JSON: an axum server on a single-threaded
//! tokio runtime, on its own thread (optionally pinned to a CPU), that turns
//! each route into a [`Request`] for the control thread ([`ControlHandle`])
//! and its answer into JSON. `/stats` and `/metrics` are rendered by
//! [`Views`] on this thread, without the control thread, so they answer
//! while a long change (a drain) is running.
//!
//! Every error is `{"error":"<one line>"}` with a 4xx or 5xx status: the
//! control thread's [`ApiError`]s, and this layer's own refusals (bad path
//! parameter or body: 400, no or wrong token: 401, unknown path: 404, wrong
//! method: 405, body over [`HttpConfig::max_body`]: 413, body of the wrong
//! content type: 415). The routes are listed in the README ("Control plane", "API").
//!
//! With a token ([`HttpConfig::token`]) every route, `/metrics` included,
//! wants `Authorization: Bearer <token>`. A listen address that is not a
//! loopback address is refused without a token.

#![forbid(unsafe_code)]

use super::api::{ApiError, BulkSource, ControlHandle, Reply, Request};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The control API's default listen address (loopback: no token needed).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9900";

/// The default largest request body: a bulk load of about a million flows
/// as text.
pub const DEFAULT_MAX_BODY: usize = 64 << 20;

/// Flows per page of `GET /nodes/{id}/flows` unless `limit` says.
pub const DEFAULT_PAGE: u64 = 1000;

/// The largest `limit` of `GET /nodes/{id}/flows`.
pub const MAX_PAGE: u64 = 100_000;

/// How long [`HttpServer::stop`] lets requests in flight finish before it
/// drops them.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// The content type of `/metrics` (Prometheus text format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How the server listens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// The address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The bearer token every request must carry, if any (required when
    /// `listen` is not a loopback address).
    pub token: Option<String>,
    /// The largest request body, bytes (larger: 413).
    pub max_body: usize,
    /// The CPU to pin the server's thread to, if any.
    pub cpu: Option<usize>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            token: None,
            max_body: DEFAULT_MAX_BODY,
            cpu: None,
        }
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token itself: configurations get logged.
        f.debug_struct("HttpConfig")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("max_body", &self.max_body)
            .field("cpu", &self.cpu)
            .finish()
    }
}

/// The renderings served without the control thread.
#[derive(Clone)]
pub struct Views {
    /// The body of `GET /stats` (a JSON document).
    pub stats_json: Arc<dyn Fn() -> String + Send + Sync>,
    /// The body of `GET /metrics` (Prometheus text format).
    pub metrics_text: Arc<dyn Fn() -> String + Send + Sync>,
}

impl Views {
    /// Views from two functions.
    pub fn new(
        stats_json: impl Fn() -> String + Send + Sync + 'static,
        metrics_text: impl Fn() -> String + Send + Sync + 'static,
    ) -> Views {
        Views {
            stats_json: Arc::new(stats_json),
            metrics_text: Arc::new(metrics_text),
        }
    }
}

impl fmt::Debug for Views {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Views")
    }
}

/// True if `addr` is a loopback address (`127.0.0.0/8`, `::1`, or
/// `::ffff:127.x.y.z`): only local processes can reach it.
pub fn is_loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The running server; [`HttpServer::stop`] (or dropping it) shuts it down.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// The address it listens on (the real port when the configured one was
    /// 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets requests in flight finish (at most
    /// [`STOP_GRACE`]) and joins the server's thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the control API's thread panicked");
            }
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the server: checks the configuration, binds `config.listen` (here,
/// so that a taken port is reported now), and runs the server on a thread
/// of its own. Errors are one line.
pub fn start(
    config: HttpConfig,
    handle: ControlHandle,
    views: Views,
) -> Result<HttpServer, String> {
    if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err("control API: the token is empty".to_string());
    }
    if config.token.is_none() && !is_loopback(&config.listen) {
        return Err(format!(
            "control API: refusing to listen on {} without a token: \
             set a token, or listen on a loopback address (127.0.0.1)",
            config.listen
        ));
    }
    // The CPU is checked where it is set, on the server's thread: the
    // caller's own affinity (an lcore's single CPU) says nothing about it.
    // Beyond a cpu_set_t, core_affinity would index out of bounds.
    if let Some(cpu) = config.cpu.filter(|&c| c >= 1024) {
        return Err(format!(
            "control API: cannot pin to CPU {cpu}: not a CPU this process may run on"
        ));
    }
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| format!("control API: cannot listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("control API: {}: {e}", config.listen))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("control API: {addr}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("control API: cannot start its runtime: {e}"))?;
    let app = router(&config, handle, views);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let cpu = config.cpu;
    let thread = std::thread::Builder::new()
        .name("efd-lb-http".to_string())
        .spawn(move || {
            if let Some(cpu) = cpu {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                    let _ = ready_tx.send(Err(format!("control API: cannot pin to CPU {cpu}")));
                    return;
                }
            }
            let listener = {
                let _guard = runtime.enter();
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("control API: {addr}: {e}")));
                        return;
                    }
                }
            };
            let _ = ready_tx.send(Ok(()));
            runtime.block_on(serve(listener, app, stop_rx));
            // Dropping the runtime drops whatever is still in flight.
        })
        .map_err(|e| format!("control API: cannot start its thread: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = thread.join();
            return Err(e);
        }
        Err(_) => {
            let _ = thread.join();
            return Err("control API: its thread stopped at start".to_string());
        }
    }
    tracing::info!("control API listening on http://{addr}");
    Ok(HttpServer {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

/// Serves until `stop` turns true (or its sender is gone), then lets
/// requests in flight finish for at most [`STOP_GRACE`].
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut graceful = stop.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|&s| s).await;
    });
    let task = tokio::spawn(std::future::IntoFuture::into_future(server));
    let _ = stop.wait_for(|&s| s).await;
    match tokio::time::timeout(STOP_GRACE, task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!("control API: {e}"),
        Ok(Err(e)) => tracing::error!("control API: {e}"),
        Err(_) => tracing::warn!(
            "control API: requests still in flight after {}s were dropped",
            STOP_GRACE.as_secs()
        ),
    }
}

struct AppState {
    handle: ControlHandle,
    views: Views,
    max_body: usize,
}

type Shared = State<Arc<AppState>>;

/// The routes, the JSON fallbacks, the body limit and (with a token) the
/// token check in front of everything.
fn router(config: &HttpConfig, handle: ControlHandle, views: Views) -> Router {
    let state = Arc::new(AppState {
        handle,
        views,
        max_body: config.max_body,
    });
    let app = Router::new()
        .route("/flows", post(bulk))
        .route(
            "/flows/:key",
            get(get_flow).put(put_flow).delete(delete_flow),
        )
        .route("/nodes", get(nodes))
        .route("/nodes/:id", get(node))
        .route("/nodes/:id/flows", get(node_flows))
        .route("/nodes/:id/drain", post(drain))
        .route("/nodes/:id/restore", post(restore))
        .route("/nodes/:id/weight", put(weight))
        .route("/snapshot", post(snapshot))
        .route("/stats", get(stats))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(|| async {
            ApiError::new(405, "method not allowed on this path")
        })
        .fallback(|| async { ApiError::not_found("no such path") })
        .layer(DefaultBodyLimit::max(config.max_body))
        .with_state(state);
    match &config.token {
        Some(token) => {
            let expected: Arc<[u8]> = format!("Bearer {token}").into_bytes().into();
            app.layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: Next| {
                    let expected = Arc::clone(&expected);
                    async move { authorize(&expected, req, next).await }
                },
            ))
        }
        None => app,
    }
}

async fn authorize(expected: &[u8], req: axum::extract::Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match given {
        Some(given) if constant_time_eq(given, expected) => next.run(req).await,
        Some(_) => unauthorized("wrong token"),
        None => unauthorized("missing Authorization: Bearer <token>"),
    }
}

fn unauthorized(msg: &str) -> Response {
    let mut r = ApiError::new(401, msg).into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// Compares without stopping at the first difference (the time taken does
/// not tell how much of a guess was right).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        let body = serde_json::json!({ "error": one_line(&self.error) });
        json_response(status, body.to_string())
    }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body + "\n",
    )
        .into_response()
}

/// Sends `request` to the control thread and answers its reply as JSON.
async fn call(state: &AppState, request: Request) -> Response {
    match state.handle.call(request).await {
        Ok(reply) => reply_response(&reply),
        Err(e) => e.into_response(),
    }
}

fn reply_response(reply: &Reply) -> Response {
    match serde_json::to_string(reply) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => ApiError::new(500, format!("cannot encode the answer: {e}")).into_response(),
    }
}

/// A path's node id.
fn node_id(text: &str) -> Result<u16, ApiError> {
    text.parse::<u16>().map_err(|_| {
        ApiError::bad_request(format!(
            "node id {text:?} is not a number from 0 to {}",
            u16::MAX
        ))
    })
}

/// A path parameter, percent-decoded.
struct Param(String);

#[axum::async_trait]
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Param {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(p)) => Ok(Param(p)),
            Err(e) => Err(ApiError::bad_request(format!(
                "bad path parameter: {}",
                e.body_text()
            ))),
        }
    }
}

/// A request body, within the size limit.
struct Body {
    content_type: Option<String>,
    bytes: Bytes,
}

#[axum::async_trait]
impl FromRequest<Arc<AppState>> for Body {
    type Rejection = ApiError;

    async fn from_request(
        req: axum::extract::Request,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let content_type = content_type(req.headers());
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(Body {
                content_type,
                bytes,
            }),
            Err(e) => Err(body_error(e, state.max_body)),
        }
    }
}

fn body_error(e: BytesRejection, max_body: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            413,
            format!("request body larger than {max_body} bytes (the control API's max_body)"),
        )
    } else {
        ApiError::bad_request(format!("cannot read the request body: {}", e.body_text()))
    }
}

/// The media type (lower case, without parameters), if any.
fn content_type(headers: &HeaderMap) -> Option<String> {
    headers.get(header::CONTENT_TYPE).map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

impl Body {
    /// The body as JSON of type `T` (a missing content type is taken for
    /// JSON).
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if let Some(ct) = &self.content_type {
            if !is_json(ct) {
                return Err(unsupported(ct, "application/json"));
            }
        }
        serde_json::from_slice(&self.bytes)
            .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
    }
}

fn unsupported(got: &str, want: &str) -> ApiError {
    ApiError::new(
        415,
        format!("Content-Type {got:?} not supported here: send {want}"),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeBody {
    node: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    file: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightBody {
    weight: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SnapshotBody {
    path: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    offset: Option<u64>,
    limit: Option<u64>,
}

async fn get_flow(State(s): Shared, Param(key): Param) -> Response {
    call(&s, Request::GetFlow { key }).await
}

async fn put_flow(State(s): Shared, Param(key): Param, body: Body) -> Response {
    match body.json::<NodeBody>() {
        Ok(b) => call(&s, Request::PutFlow { key, node: b.node }).await,
        Err(e) => e.into_response(),
    }
}

async fn delete_flow(State(s): Shared, Param(key): Param) -> Response {
    call(&s, Request::DeleteFlow { key }).await
}

/// `POST /flows`: flow-file text (`text/plain`, or no content type), or
/// `{"file":"/path"}` (`application/json`).
async fn bulk(State(s): Shared, body: Body) -> Response {
    let source = match body.content_type.as_deref() {
        Some(ct) if is_json(ct) => body.json::<FileBody>().map(|b| BulkSource::File(b.file)),
        None | Some("text/plain") | Some("text/csv") => {
            match String::from_utf8(body.bytes.into()) {
                Ok(text) => Ok(BulkSource::Text(text)),
                Err(e) => Err(ApiError::bad_request(format!(
                    "the flow text is not UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                ))),
            }
        }
        Some(ct) => Err(unsupported(
            ct,
            "text/plain (key,node lines) or application/json ({\"file\":\"/path\"})",
        )),
    };
    match source {
        Ok(source) => call(&s, Request::Bulk(source)).await,
        Err(e) => e.into_response(),
    }
}

async fn nodes(State(s): Shared) -> Response {
    call(&s, Request::Nodes).await
}

async fn node(State(s): Shared, Param(id): Param) -> Response {
    match node_id(&id) {
        Ok(node) => call(&s, Request::Node { node }).await,
        Err(e) => e.into_response(),
    }
}

async fn node_flows(
    State(s): Shared,
    Param(id): Param,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let node = match node_id(&id) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return ApiError::bad_request(format!("bad query: {}", e.body_text())).into_response()
        }
    };
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if limit > MAX_PAGE {
        return ApiError::bad_request(format!("limit {limit} is over {MAX_PAGE}")).into_response();
    }
    let offset = q.offset.unwrap_or(0);
    call(
        &s,
        Request::NodeFlows {
            node,
            offset,
            limit,
        },
    )
    .await
}

async fn drain(State(s): Shared, Param(id): Param) -> Response {
    match node_id(&id) {
        Ok(node) => call(&s, Request::Drain { node }).await,
        Err(e) => e.into_response(),
    }
}

async fn restore(State(s): Shared, Param(id): Param) -> Response {
    match node_id(&id) {
        Ok(node) => call(&s, Request::Restore { node }).await,
        Err(e) => e.into_response(),
    }
}

async fn weight(State(s): Shared, Param(id): Param, body: Body) -> Response {
    let node = match node_id(&id) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    match body.json::<WeightBody>() {
        Ok(b) => {
            call(
                &s,
                Request::SetWeight {
                    node,
                    weight: b.weight,
                },
            )
            .await
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /snapshot`: no body (the configured file) or `{"path":"..."}`.
async fn snapshot(State(s): Shared, body: Body) -> Response {
    let parsed = if body.bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(SnapshotBody::default())
    } else {
        body.json::<SnapshotBody>()
    };
    match parsed {
        Ok(b) => call(&s, Request::Snapshot { path: b.path }).await,
        Err(e) => e.into_response(),
    }
}

async fn stats(State(s): Shared) -> Response {
    let body = (s.views.stats_json)();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn metrics(State(s): Shared) -> Response {
    let body = (s.views.metrics_text)();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        body,
    )
        .into_response()
}

#[cfg(test)]
pub(crate) mod testkit;

#[cfg(test)]
mod tests;
