//! The HTTP layer against a fake control thread: every route's status, body
//! and the request it produced, and every error.

use super::testkit::*;
use super::*;
use crate::control::api::{BulkSource, Request};
use crate::ctl::{encode_segment, Client, HttpResponse};
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

fn send(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: &[u8],
) -> HttpResponse {
    Client::new(
        &addr.to_string(),
        token.map(str::to_string),
        Some(Duration::from_secs(20)),
    )
    .unwrap()
    .send(method, path, ct, body)
    .unwrap()
}

fn call(fake: &Fake, method: &str, path: &str, ct: Option<&str>, body: &[u8]) -> HttpResponse {
    send(fake.addr(), None, method, path, ct, body)
}

fn get(fake: &Fake, path: &str) -> HttpResponse {
    call(fake, "GET", path, None, b"")
}

const JSON: Option<&str> = Some("application/json");

/// A 200 with a JSON body equal to `want`.
fn ok_json(r: &HttpResponse, want: Value) {
    assert_eq!(r.status, 200, "body: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    let got: Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(got, want);
}

/// `status` with a body `{"error": "..."}` of one line containing `part`.
fn error(r: &HttpResponse, status: u16, part: &str) {
    let text = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, status, "body: {text}");
    assert_eq!(
        r.content_type.as_deref(),
        Some("application/json"),
        "{text}"
    );
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
    let v: Value = serde_json::from_slice(&r.body).expect("JSON error body");
    let obj = v.as_object().expect("an object");
    assert_eq!(obj.len(), 1, "only \"error\": {text}");
    let msg = obj["error"].as_str().expect("a string");
    assert!(!msg.contains('\n'));
    assert!(msg.contains(part), "{msg:?} should contain {part:?}");
}

#[test]
fn flow_routes() {
    let fake = start_fake(local_config());
    ok_json(
        &get(&fake, "/flows/10.0.0.1"),
        json!({"key": "10.0.0.1", "node": 2}),
    );
    assert_eq!(
        fake.take(),
        [Request::GetFlow {
            key: "10.0.0.1".into()
        }]
    );

    let r = call(&fake, "PUT", "/flows/10.0.0.1", JSON, br#"{"node":3}"#);
    ok_json(&r, json!({"key": "10.0.0.1", "node": 3, "previous": 1}));
    assert_eq!(
        fake.take(),
        [Request::PutFlow {
            key: "10.0.0.1".into(),
            node: 3
        }]
    );

    // No content type is taken for JSON.
    let r = call(&fake, "PUT", "/flows/10.0.0.1", None, br#"{"node":0}"#);
    assert_eq!(r.status, 200);
    assert_eq!(
        fake.take(),
        [Request::PutFlow {
            key: "10.0.0.1".into(),
            node: 0
        }]
    );

    let r = call(&fake, "DELETE", "/flows/10.0.0.1", None, b"");
    ok_json(&r, json!({"key": "10.0.0.1", "node": 1}));
    assert_eq!(
        fake.take(),
        [Request::DeleteFlow {
            key: "10.0.0.1".into()
        }]
    );
}

#[test]
fn keys_are_percent_decoded() {
    let fake = start_fake(local_config());
    for key in [
        "2001:db8::1",
        "[2001:db8::1]:443 tcp",
        "10.0.0.1 10.0.0.2 6 1234 80",
        "a/b%c?d#e+f",
        "é",
    ] {
        let r = get(&fake, &format!("/flows/{}", encode_segment(key)));
        ok_json(&r, json!({"key": key, "node": 2}));
        assert_eq!(fake.take(), [Request::GetFlow { key: key.into() }]);
    }
    // Colons and brackets as they are (curl sends them so).
    let r = get(&fake, "/flows/[::1]:80");
    assert_eq!(r.status, 200);
    assert_eq!(
        fake.take(),
        [Request::GetFlow {
            key: "[::1]:80".into()
        }]
    );
    // A percent escape that is not UTF-8.
    let r = get(&fake, "/flows/%FF");
    error(&r, 400, "path");
    assert_eq!(fake.take(), []);
}

#[test]
fn bulk_routes() {
    let fake = start_fake(local_config());
    let text = "10.0.0.1,1\n10.0.0.2,2\n10.0.0.3,0\n";
    let r = call(
        &fake,
        "POST",
        "/flows",
        Some("text/plain; charset=utf-8"),
        text.as_bytes(),
    );
    ok_json(&r, json!({"added": 3, "moved": 0, "unchanged": 0}));
    assert_eq!(fake.take(), [Request::Bulk(BulkSource::Text(text.into()))]);

    // No content type: text.
    let r = call(&fake, "POST", "/flows", None, b"10.0.0.1,1\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        fake.take(),
        [Request::Bulk(BulkSource::Text("10.0.0.1,1\n".into()))]
    );

    let r = call(
        &fake,
        "POST",
        "/flows",
        JSON,
        br#"{"file":"/srv/flows.csv"}"#,
    );
    ok_json(&r, json!({"added": 10, "moved": 2, "unchanged": 1}));
    assert_eq!(
        fake.take(),
        [Request::Bulk(BulkSource::File("/srv/flows.csv".into()))]
    );

    // Errors: not UTF-8, a form, JSON without "file".
    error(
        &call(
            &fake,
            "POST",
            "/flows",
            Some("text/plain"),
            b"10.0.0.1,\xff\n",
        ),
        400,
        "UTF-8",
    );
    error(
        &call(
            &fake,
            "POST",
            "/flows",
            Some("application/x-www-form-urlencoded"),
            b"a=b",
        ),
        415,
        "text/plain",
    );
    error(
        &call(&fake, "POST", "/flows", JSON, br#"{"path":"/x"}"#),
        400,
        "unknown field",
    );
    assert_eq!(fake.take(), []);
}

#[test]
fn node_routes() {
    let fake = start_fake(local_config());
    let r = get(&fake, "/nodes");
    let want = serde_json::to_value([node_reply(0), node_reply(1)]).unwrap();
    assert!(want.is_array());
    ok_json(&r, want);
    assert_eq!(fake.take(), [Request::Nodes]);

    ok_json(
        &get(&fake, "/nodes/2"),
        serde_json::to_value(node_reply(2)).unwrap(),
    );
    assert_eq!(fake.take(), [Request::Node { node: 2 }]);
    let r = get(&fake, "/nodes/2");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    for field in [
        "id",
        "state",
        "weight",
        "flows",
        "rx",
        "rx_drop",
        "filter_passed",
        "filter_drop",
        "tx",
        "tx_drop",
    ] {
        assert!(v.get(field).is_some(), "{field} in {v}");
    }
    fake.take();

    ok_json(
        &call(&fake, "POST", "/nodes/1/drain", None, b""),
        json!({"added": 0, "moved": 7, "unchanged": 0}),
    );
    assert_eq!(fake.take(), [Request::Drain { node: 1 }]);
    ok_json(
        &call(&fake, "POST", "/nodes/1/restore", None, b""),
        json!({"added": 0, "moved": 3, "unchanged": 0}),
    );
    assert_eq!(fake.take(), [Request::Restore { node: 1 }]);
    ok_json(
        &call(
            &fake,
            "PUT",
            "/nodes/65535/weight",
            JSON,
            br#"{"weight":5}"#,
        ),
        json!({"added": 0, "moved": 5, "unchanged": 0}),
    );
    assert_eq!(
        fake.take(),
        [Request::SetWeight {
            node: 65535,
            weight: 5
        }]
    );
}

#[test]
fn node_flow_pages() {
    let fake = start_fake(local_config());
    ok_json(
        &get(&fake, "/nodes/2/flows"),
        json!({"node": 2, "total": 5, "offset": 0,
               "flows": ["10.0.0.0", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]}),
    );
    assert_eq!(
        fake.take(),
        [Request::NodeFlows {
            node: 2,
            offset: 0,
            limit: DEFAULT_PAGE
        }]
    );
    ok_json(
        &get(&fake, "/nodes/2/flows?offset=1&limit=2"),
        json!({"node": 2, "total": 5, "offset": 1, "flows": ["10.0.0.1", "10.0.0.2"]}),
    );
    assert_eq!(
        fake.take(),
        [Request::NodeFlows {
            node: 2,
            offset: 1,
            limit: 2
        }]
    );
    assert_eq!(get(&fake, "/nodes/2/flows?limit=100000").status, 200);
    assert_eq!(
        fake.take(),
        [Request::NodeFlows {
            node: 2,
            offset: 0,
            limit: MAX_PAGE
        }]
    );
    error(&get(&fake, "/nodes/2/flows?limit=100001"), 400, "100000");
    error(&get(&fake, "/nodes/2/flows?limit=ten"), 400, "query");
    error(&get(&fake, "/nodes/2/flows?offset=-1"), 400, "query");
    error(&get(&fake, "/nodes/2/flows?limt=5"), 400, "limt");
    error(&get(&fake, "/nodes/x/flows"), 400, "node id");
    assert_eq!(fake.take(), []);
}

#[test]
fn snapshot_route() {
    let fake = start_fake(local_config());
    ok_json(
        &call(&fake, "POST", "/snapshot", None, b""),
        json!({"path": "/var/lib/efd-lb/snapshot", "flows": 5, "bytes": 100}),
    );
    assert_eq!(fake.take(), [Request::Snapshot { path: None }]);
    ok_json(
        &call(
            &fake,
            "POST",
            "/snapshot",
            JSON,
            br#"{"path":"/tmp/s.snap"}"#,
        ),
        json!({"path": "/tmp/s.snap", "flows": 5, "bytes": 100}),
    );
    assert_eq!(
        fake.take(),
        [Request::Snapshot {
            path: Some("/tmp/s.snap".into())
        }]
    );
    assert_eq!(call(&fake, "POST", "/snapshot", JSON, b"{}").status, 200);
    assert_eq!(fake.take(), [Request::Snapshot { path: None }]);
    error(
        &call(&fake, "POST", "/snapshot", JSON, br#"{"pth":"/x"}"#),
        400,
        "unknown field",
    );
    assert_eq!(fake.take(), []);
}

#[test]
fn stats_and_metrics_skip_the_control_thread() {
    let fake = start_fake(local_config());
    let r = get(&fake, "/stats");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert_eq!(r.body, STATS.as_bytes());
    let r = get(&fake, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some(METRICS_CONTENT_TYPE));
    assert_eq!(r.body, METRICS.as_bytes());
    assert_eq!(fake.take(), []);
}

#[test]
fn stats_answer_while_the_control_thread_is_busy() {
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let (handle, requests) = fake_control(move |req| {
        if matches!(req, Request::Drain { .. }) {
            // A long drain.
            let _ = release_rx
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(30));
        }
        testkit::canned(req)
    });
    let server = start(local_config(), handle, views()).unwrap();
    let addr = server.local_addr();
    let drain = std::thread::spawn(move || send(addr, None, "POST", "/nodes/0/drain", None, b""));
    // Wait until the control thread is in the drain.
    let t0 = std::time::Instant::now();
    while requests.lock().unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = send(addr, None, "GET", "/stats", None, b"");
    assert_eq!(r.body, STATS.as_bytes());
    let r = send(addr, None, "GET", "/metrics", None, b"");
    assert_eq!(r.body, METRICS.as_bytes());
    assert!(!drain.is_finished(), "the drain is still running");
    release_tx.send(()).unwrap();
    assert_eq!(drain.join().unwrap().status, 200);
    server.stop();
}

#[test]
fn control_errors_pass_through() {
    let fake = start_fake(local_config());
    error(
        &get(&fake, "/flows/10.9.9.9"),
        404,
        "flow 10.9.9.9 not found",
    );
    error(&get(&fake, "/nodes/9"), 404, "node 9 out of range");
    error(
        &call(&fake, "POST", "/nodes/3/drain", None, b""),
        409,
        "last active node",
    );
    assert_eq!(fake.take().len(), 3);
}

#[test]
fn a_stopped_control_thread_is_503() {
    let (handle, rx) = ControlHandle::channel();
    drop(rx);
    let server = start(local_config(), handle, views()).unwrap();
    let r = send(server.local_addr(), None, "GET", "/nodes", None, b"");
    error(&r, 503, "control thread has stopped");
    // /stats does not need it.
    let r = send(server.local_addr(), None, "GET", "/stats", None, b"");
    assert_eq!(r.status, 200);
}

#[test]
fn an_error_of_several_lines_is_one() {
    let (handle, _requests) = fake_control(|_| Err(ApiError::new(500, "first\nsecond\r\nthird")));
    let server = start(local_config(), handle, views()).unwrap();
    let r = send(server.local_addr(), None, "GET", "/nodes", None, b"");
    error(&r, 500, "first");
    // A status that is not an error is not passed on as a success.
    let (handle, _requests) = fake_control(|_| Err(ApiError::new(200, "odd")));
    let server = start(local_config(), handle, views()).unwrap();
    let r = send(server.local_addr(), None, "GET", "/nodes", None, b"");
    error(&r, 500, "odd");
}

#[test]
fn bad_json_bodies_are_400() {
    let fake = start_fake(local_config());
    let put = |body: &[u8]| call(&fake, "PUT", "/flows/10.0.0.1", JSON, body);
    error(&put(br#"{"node":"#), 400, "bad JSON body");
    error(&put(b"not json"), 400, "bad JSON body");
    error(&put(br#"{"node":"3"}"#), 400, "invalid type");
    error(&put(br#"{"node":70000}"#), 400, "bad JSON body");
    error(&put(br#"{"node":-1}"#), 400, "bad JSON body");
    error(&put(br#"{}"#), 400, "missing field `node`");
    error(&put(br#"{"node":1,"extra":2}"#), 400, "unknown field");
    error(&put(b""), 400, "bad JSON body");
    let weight = |body: &[u8]| call(&fake, "PUT", "/nodes/1/weight", JSON, body);
    error(&weight(br#"{"weight":1.5}"#), 400, "invalid type");
    error(&weight(br#"{"node":1}"#), 400, "unknown field");
    // Wrong content type.
    error(
        &call(
            &fake,
            "PUT",
            "/flows/10.0.0.1",
            Some("text/plain"),
            br#"{"node":1}"#,
        ),
        415,
        "application/json",
    );
    error(
        &call(
            &fake,
            "PUT",
            "/flows/10.0.0.1",
            Some("application/x-www-form-urlencoded"),
            br#"{"node":1}"#,
        ),
        415,
        "application/json",
    );
    // application/json with parameters, and +json, are JSON.
    let r = call(
        &fake,
        "PUT",
        "/flows/10.0.0.1",
        Some("application/json; charset=utf-8"),
        br#"{"node":1}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(fake.take().len(), 1);
}

#[test]
fn node_ids_must_be_u16() {
    let fake = start_fake(local_config());
    for id in ["abc", "-1", "65536", "1.5", "0x10", "%20"] {
        error(&get(&fake, &format!("/nodes/{id}")), 400, "node id");
        error(
            &call(&fake, "POST", &format!("/nodes/{id}/drain"), None, b""),
            400,
            "node id",
        );
        error(
            &call(&fake, "POST", &format!("/nodes/{id}/restore"), None, b""),
            400,
            "node id",
        );
        error(
            &call(
                &fake,
                "PUT",
                &format!("/nodes/{id}/weight"),
                JSON,
                br#"{"weight":1}"#,
            ),
            400,
            "node id",
        );
    }
    assert_eq!(fake.take(), []);
}

#[test]
fn oversized_bodies_are_413() {
    let fake = start_fake(HttpConfig {
        max_body: 64,
        ..local_config()
    });
    let text = "10.0.0.1,1\n".repeat(10); // 110 bytes
    error(
        &call(&fake, "POST", "/flows", Some("text/plain"), text.as_bytes()),
        413,
        "64 bytes",
    );
    let json = format!(r#"{{"node":1,"pad":"{}"}}"#, "x".repeat(100));
    error(
        &call(&fake, "PUT", "/flows/10.0.0.1", JSON, json.as_bytes()),
        413,
        "max_body",
    );
    // Chunked, so the size is only known while reading.
    let mut req = b"POST /flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                    Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for _ in 0..4 {
        req.extend_from_slice(b"20\r\n");
        req.extend_from_slice(&[b'a'; 0x20]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    error(&raw(fake.addr(), &req), 413, "64 bytes");
    // At the limit it passes.
    let text = "10.0.0.1,1\n".repeat(5); // 55 bytes
    assert_eq!(
        call(&fake, "POST", "/flows", Some("text/plain"), text.as_bytes()).status,
        200
    );
    assert_eq!(fake.take().len(), 1);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let fake = start_fake(local_config());
    error(&get(&fake, "/"), 404, "no such path");
    error(&get(&fake, "/nope"), 404, "no such path");
    error(&get(&fake, "/flows/a/b"), 404, "no such path");
    error(&get(&fake, "/nodes/1/other"), 404, "no such path");
    error(
        &call(&fake, "POST", "/nope", None, b""),
        404,
        "no such path",
    );
    let r = get(&fake, "/flows");
    error(&r, 405, "method not allowed");
    error(&call(&fake, "POST", "/nodes", None, b""), 405, "method");
    error(
        &call(&fake, "GET", "/nodes/1/drain", None, b""),
        405,
        "method",
    );
    error(&call(&fake, "POST", "/flows/k", None, b""), 405, "method");
    error(&call(&fake, "DELETE", "/stats", None, b""), 405, "method");
    error(&call(&fake, "POST", "/metrics", None, b""), 405, "method");
    error(&get(&fake, "/snapshot"), 405, "method");
    assert_eq!(fake.take(), []);
}

#[test]
fn the_405_names_the_allowed_methods() {
    let fake = start_fake(local_config());
    let r = raw(
        fake.addr(),
        b"PATCH /nodes/1/weight HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    let r = raw(
        fake.addr(),
        b"GET /flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    // (parse_response keeps no other headers; check the raw text.)
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /flows HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(
        text.to_ascii_lowercase().contains("\r\nallow: post\r\n"),
        "{text}"
    );
}

#[test]
fn the_token_guards_every_route() {
    let fake = start_fake(HttpConfig {
        token: Some("s3cret".into()),
        ..local_config()
    });
    let a = fake.addr();
    for (method, path) in [
        ("GET", "/nodes"),
        ("GET", "/flows/10.0.0.1"),
        ("POST", "/nodes/1/drain"),
        ("GET", "/stats"),
        ("GET", "/metrics"),
        ("GET", "/nope"),
        ("DELETE", "/nodes"),
    ] {
        let r = send(a, None, method, path, None, b"");
        error(&r, 401, "missing Authorization");
        let r = send(a, Some("wrong"), method, path, None, b"");
        error(&r, 401, "wrong token");
        let r = send(a, Some("s3cre"), method, path, None, b"");
        error(&r, 401, "wrong token");
        let r = send(a, Some("s3cret2"), method, path, None, b"");
        error(&r, 401, "wrong token");
    }
    assert_eq!(fake.take(), []);
    // Another scheme, and the header's case.
    let r = raw(
        a,
        b"GET /nodes HTTP/1.1\r\nHost: x\r\nAuthorization: Basic czNjcmV0\r\nConnection: close\r\n\r\n",
    );
    error(&r, 401, "wrong token");
    let r = raw(
        a,
        b"GET /nodes HTTP/1.1\r\nHost: x\r\nauthorization: Bearer s3cret\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    // With it.
    let r = send(a, Some("s3cret"), "GET", "/nodes", None, b"");
    assert_eq!(r.status, 200);
    let r = send(a, Some("s3cret"), "GET", "/metrics", None, b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, METRICS.as_bytes());
    let r = send(a, Some("s3cret"), "GET", "/nope", None, b"");
    error(&r, 404, "no such path");
    assert_eq!(fake.take(), [Request::Nodes, Request::Nodes]);
}

#[test]
fn a_401_asks_for_a_bearer_token() {
    let fake = start_fake(HttpConfig {
        token: Some("t".into()),
        ..local_config()
    });
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    use std::io::{Read, Write};
    s.write_all(b"GET /nodes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\nwww-authenticate: bearer\r\n"),
        "{text}"
    );
}

#[test]
fn loopback_addresses() {
    for a in [
        "127.0.0.1:1",
        "127.3.2.1:1",
        "[::1]:1",
        "[::ffff:127.0.0.1]:1",
    ] {
        assert!(is_loopback(&a.parse().unwrap()), "{a}");
    }
    for a in [
        "0.0.0.0:1",
        "10.0.0.1:1",
        "[::]:1",
        "[2001:db8::1]:1",
        "[::ffff:10.0.0.1]:1",
    ] {
        assert!(!is_loopback(&a.parse().unwrap()), "{a}");
    }
}

#[test]
fn start_refuses_a_public_address_without_a_token() {
    let (handle, _r) = fake_control(canned);
    let config = HttpConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..HttpConfig::default()
    };
    let e = start(config.clone(), handle.clone(), views()).unwrap_err();
    assert!(e.contains("0.0.0.0:0") && e.contains("token"), "{e}");
    assert!(!e.contains('\n'));
    // With a token it starts.
    let server = start(
        HttpConfig {
            token: Some("t".into()),
            ..config.clone()
        },
        handle.clone(),
        views(),
    )
    .unwrap();
    server.stop();
    // An empty token is no token.
    let e = start(
        HttpConfig {
            token: Some(" ".into()),
            ..local_config()
        },
        handle,
        views(),
    )
    .unwrap_err();
    assert!(e.contains("token is empty"), "{e}");
}

#[test]
fn a_used_port_is_reported_at_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (handle, _r) = fake_control(canned);
    let e = start(
        HttpConfig {
            listen: addr,
            ..HttpConfig::default()
        },
        handle,
        views(),
    )
    .unwrap_err();
    assert!(e.contains(&addr.to_string()), "{e}");
    assert!(e.contains("cannot listen"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn pinning() {
    let cpus = core_affinity::get_core_ids().unwrap_or_default();
    let (handle, _r) = fake_control(canned);
    if let Some(cpu) = cpus.first() {
        let server = start(
            HttpConfig {
                cpu: Some(cpu.id),
                ..local_config()
            },
            handle.clone(),
            views(),
        )
        .unwrap();
        let r = send(server.local_addr(), None, "GET", "/nodes", None, b"");
        assert_eq!(r.status, 200);
        server.stop();
    }
    let e = start(
        HttpConfig {
            cpu: Some(1 << 20),
            ..local_config()
        },
        handle,
        views(),
    )
    .unwrap_err();
    assert!(e.contains("CPU 1048576"), "{e}");
}

#[test]
fn stop_closes_the_port() {
    let fake = start_fake(local_config());
    let addr = fake.addr();
    assert_eq!(get(&fake, "/nodes").status, 200);
    // An idle keep-alive connection does not hold the stop.
    let idle = std::net::TcpStream::connect(addr).unwrap();
    let t0 = std::time::Instant::now();
    fake.server.stop();
    assert!(t0.elapsed() < STOP_GRACE + Duration::from_secs(2));
    drop(idle);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

/// The same routes with curl: a client that is not ours.
#[test]
fn with_curl() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("with_curl: skipped: curl is not installed");
        return;
    }
    let fake = start_fake(HttpConfig {
        token: Some("tok".into()),
        ..local_config()
    });
    let base = format!("http://{}", fake.addr());
    // (status, body)
    let curl = |args: &[&str]| -> (u16, String) {
        let out = std::process::Command::new("curl")
            .args([
                "-sS",
                "-H",
                "Authorization: Bearer tok",
                "-w",
                "\n%{http_code}",
            ])
            .args(args)
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "curl {args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_string())
    };
    let (code, body) = curl(&[&format!("{base}/nodes")]);
    assert_eq!(code, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    assert_eq!(fake.take(), [Request::Nodes]);

    let (code, body) = curl(&[
        "-X",
        "PUT",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"node":3}"#,
        &format!("{base}/flows/10.0.0.7"),
    ]);
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"key": "10.0.0.7", "node": 3, "previous": 1})
    );
    assert_eq!(
        fake.take(),
        [Request::PutFlow {
            key: "10.0.0.7".into(),
            node: 3
        }]
    );

    let file = temp_file("curl-flows.csv", b"10.0.0.1,1\n10.0.0.2,0\n");
    let (code, body) = curl(&[
        "-H",
        "Content-Type: text/plain",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("{base}/flows"),
    ]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        fake.take(),
        [Request::Bulk(BulkSource::Text(
            "10.0.0.1,1\n10.0.0.2,0\n".into()
        ))]
    );

    // curl's own percent-encoding of a key.
    let (code, _) = curl(&[&format!("{base}/flows/%5B2001%3Adb8%3A%3A1%5D%3A80")]);
    assert_eq!(code, 200);
    assert_eq!(
        fake.take(),
        [Request::GetFlow {
            key: "[2001:db8::1]:80".into()
        }]
    );

    let (code, body) = curl(&[&format!("{base}/nodes/abc")]);
    assert_eq!(code, 400);
    assert!(body.contains("\"error\""), "{body}");
    let (code, body) = curl(&["-X", "PUT", "-d", "x=1", &format!("{base}/flows/k")]);
    assert_eq!(code, 415, "{body}");
    let (code, metrics) = curl(&[&format!("{base}/metrics")]);
    assert_eq!((code, metrics.as_str()), (200, METRICS));
    // Without the token.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("{base}/metrics"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    assert_eq!(fake.take(), []);
}

#[test]
fn what_is_not_http_gets_a_400_from_hyper() {
    let fake = start_fake(local_config());
    let r = raw(fake.addr(), b"HELLO THERE\r\n\r\n");
    assert_eq!(r.status, 400);
    // And the server goes on.
    assert_eq!(get(&fake, "/nodes").status, 200);
}
