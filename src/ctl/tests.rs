//! `efd-lb ctl` against the HTTP layer and a fake control thread.

use super::*;
use crate::control::api::{BulkSource, Request};
use crate::control::http::testkit::*;
use crate::control::http::HttpConfig;

/// Runs `efd-lb ctl ARGS`: (exit status, stdout, stderr).
fn ctl(args: &[&str]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = run(
        std::iter::once("ctl").chain(args.iter().copied()),
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Runs `efd-lb ctl --control ADDR ARGS` and expects success: stdout.
fn ok(fake: &Fake, args: &[&str]) -> String {
    let addr = fake.addr().to_string();
    let mut all = vec!["--control", addr.as_str()];
    all.extend_from_slice(args);
    let (code, out, err) = ctl(&all);
    assert_eq!((code, err.as_str()), (0, ""), "ctl {args:?}");
    out
}

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

#[test]
fn every_command() {
    let fake = start_fake(local_config());
    let out = ok(&fake, &["flow", "get", "10.0.0.1"]);
    assert_eq!(out, "{\n  \"key\": \"10.0.0.1\",\n  \"node\": 2\n}\n");
    assert_eq!(
        fake.take(),
        [Request::GetFlow {
            key: "10.0.0.1".into()
        }]
    );

    let out = ok(&fake, &["flow", "set", "[2001:db8::1]:80 tcp", "3"]);
    assert_eq!(json_of(&out)["previous"], 1);
    assert_eq!(
        fake.take(),
        [Request::PutFlow {
            key: "[2001:db8::1]:80 tcp".into(),
            node: 3
        }]
    );

    ok(&fake, &["flow", "rm", "10.0.0.1"]);
    assert_eq!(
        fake.take(),
        [Request::DeleteFlow {
            key: "10.0.0.1".into()
        }]
    );

    let text = "10.0.0.1,1\n10.0.0.2,0\n";
    let file = temp_file("ctl-flows.csv", text.as_bytes());
    let out = ok(&fake, &["flows", "load", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(json_of(&out)["added"], 2);
    assert_eq!(fake.take(), [Request::Bulk(BulkSource::Text(text.into()))]);

    ok(&fake, &["flows", "load", "--server-path", "/srv/flows.csv"]);
    assert_eq!(
        fake.take(),
        [Request::Bulk(BulkSource::File("/srv/flows.csv".into()))]
    );

    let out = ok(&fake, &["flows", "list", "2"]);
    assert_eq!(json_of(&out)["flows"].as_array().unwrap().len(), 5);
    ok(
        &fake,
        &["flows", "list", "2", "--offset", "1", "--limit", "2"],
    );
    assert_eq!(
        fake.take(),
        [
            Request::NodeFlows {
                node: 2,
                offset: 0,
                limit: 1000
            },
            Request::NodeFlows {
                node: 2,
                offset: 1,
                limit: 2
            }
        ]
    );

    let out = ok(&fake, &["nodes"]);
    assert_eq!(json_of(&out).as_array().unwrap().len(), 2);
    let out = ok(&fake, &["node", "1"]);
    assert_eq!(json_of(&out)["id"], 1);
    ok(&fake, &["drain", "1"]);
    ok(&fake, &["restore", "1"]);
    ok(&fake, &["weight", "1", "4"]);
    assert_eq!(
        fake.take(),
        [
            Request::Nodes,
            Request::Node { node: 1 },
            Request::Drain { node: 1 },
            Request::Restore { node: 1 },
            Request::SetWeight { node: 1, weight: 4 },
        ]
    );

    let out = ok(&fake, &["snapshot"]);
    assert_eq!(json_of(&out)["path"], "/var/lib/efd-lb/snapshot");
    ok(&fake, &["snapshot", "/tmp/x.snap"]);
    assert_eq!(
        fake.take(),
        [
            Request::Snapshot { path: None },
            Request::Snapshot {
                path: Some("/tmp/x.snap".into())
            }
        ]
    );

    let out = ok(&fake, &["stats"]);
    assert_eq!(json_of(&out), json_of(STATS));
    assert!(out.contains("\n  \"ports\": [\n"), "pretty: {out}");
    assert_eq!(ok(&fake, &["metrics"]), METRICS);
    assert_eq!(fake.take(), []);
}

#[test]
fn global_options_go_anywhere() {
    let fake = start_fake(local_config());
    let addr = fake.addr().to_string();
    let (code, _, err) = ctl(&["nodes", "--control", &addr]);
    assert_eq!((code, err.as_str()), (0, ""));
    let url = format!("http://{addr}/");
    let (code, _, err) = ctl(&["--control", &url, "nodes"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(fake.take(), [Request::Nodes, Request::Nodes]);
}

#[test]
fn http_errors_exit_1() {
    let fake = start_fake(local_config());
    let addr = fake.addr().to_string();
    let (code, out, err) = ctl(&["--control", &addr, "flow", "get", UNKNOWN_FLOW]);
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!("efd-lb ctl: flow {UNKNOWN_FLOW} not found (HTTP 404)\n")
    );
    let (code, _, err) = ctl(&["--control", &addr, "drain", &LAST_NODE.to_string()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("efd-lb ctl: node {LAST_NODE} is the last active node (HTTP 409)\n")
    );
    // A 400 of the HTTP layer.
    let (code, _, err) = ctl(&[
        "--control",
        &addr,
        "flows",
        "list",
        "1",
        "--limit",
        "100001",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.ends_with("(HTTP 400)\n") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn cannot_connect_is_one_line() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let (code, out, err) = ctl(&["--control", &addr, "nodes"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(&format!("efd-lb ctl: cannot connect to {addr}: ")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    // A host name (resolved from /etc/hosts, no DNS), the port closed.
    let port = addr.rsplit_once(':').unwrap().1;
    let named = format!("localhost:{port}");
    let (code, _, err) = ctl(&["--control", &named, "nodes"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with(&format!("efd-lb ctl: cannot connect to {named}: ")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    let (code, _, err) = ctl(&["--control", "https://127.0.0.1:9900", "nodes"]);
    assert_eq!(code, 1);
    assert!(err.contains("plain HTTP"), "{err}");
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &[][..],
        &["node", "abc"],
        &["node", "65536"],
        &["weight", "1"],
        &["weight", "1", "-2"],
        &["flow", "set", "10.0.0.1"],
        &["flow", "get"],
        &["flows", "load"],
        &["flows", "load", "f.csv", "--server-path", "/x"],
        &["flows", "list", "1", "--limit", "many"],
        &["bogus"],
        &["--control"],
    ] {
        let (code, out, err) = ctl(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "");
        // An error line, or the usage when no command is given.
        assert!(
            err.starts_with("error: ") || err.contains("Usage: efd-lb ctl"),
            "{args:?}: {err}"
        );
    }
    let (code, out, err) = ctl(&["--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("efd-lb ctl [OPTIONS] <COMMAND>"), "{out}");
}

#[test]
fn a_file_that_cannot_be_read_exits_1() {
    let (code, _, err) = ctl(&["flows", "load", "/nonexistent/flows.csv"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("efd-lb ctl: cannot read /nonexistent/flows.csv: "),
        "{err}"
    );
}

#[test]
fn the_token_file() {
    let fake = start_fake(HttpConfig {
        token: Some("s3cret".into()),
        ..local_config()
    });
    let addr = fake.addr().to_string();
    let good = temp_file("token-good", b"  s3cret  \nsomething else\n");
    let (code, _, err) = ctl(&[
        "--control",
        &addr,
        "--token-file",
        good.to_str().unwrap(),
        "nodes",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    let (code, _, err) = ctl(&["--control", &addr, "nodes"]);
    assert_eq!(code, 1);
    assert!(err.ends_with("(HTTP 401)\n"), "{err}");
    let wrong = temp_file("token-wrong", b"nope\n");
    let (code, _, err) = ctl(&[
        "--control",
        &addr,
        "--token-file",
        wrong.to_str().unwrap(),
        "metrics",
    ]);
    assert_eq!(code, 1);
    assert_eq!(err, "efd-lb ctl: wrong token (HTTP 401)\n");
    let empty = temp_file("token-empty", b"\nsecret on line 2\n");
    let (code, _, err) = ctl(&[
        "--control",
        &addr,
        "--token-file",
        empty.to_str().unwrap(),
        "nodes",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("first line is empty"), "{err}");
    let (code, _, err) = ctl(&["--token-file", "/nonexistent/token", "nodes"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("efd-lb ctl: cannot read token file /nonexistent/token"),
        "{err}"
    );
    for f in [good, wrong, empty] {
        let _ = std::fs::remove_file(f);
    }
    assert_eq!(fake.take(), [Request::Nodes]);
}

#[test]
fn segments_are_percent_encoded() {
    assert_eq!(encode_segment("10.0.0.1"), "10.0.0.1");
    assert_eq!(encode_segment("a-b_c~d"), "a-b_c~d");
    assert_eq!(
        encode_segment("[::1]:80 tcp/x%"),
        "%5B%3A%3A1%5D%3A80%20tcp%2Fx%25"
    );
    assert_eq!(encode_segment("é"), "%C3%A9");
}

#[test]
fn pretty_json_keeps_the_order() {
    let body = br#"{"z":1,"a":[1,2,{}],"s":"x,{\"y\":[]}\\","e":[],"n":null}"#;
    let p = pretty_json(body).unwrap();
    assert_eq!(
        p,
        "{\n  \"z\": 1,\n  \"a\": [\n    1,\n    2,\n    {}\n  ],\n  \
         \"s\": \"x,{\\\"y\\\":[]}\\\\\",\n  \"e\": [],\n  \"n\": null\n}\n"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&p).unwrap(),
        serde_json::from_slice::<serde_json::Value>(body).unwrap()
    );
    assert_eq!(pretty_json(b"[ ]").unwrap(), "[]\n");
    assert_eq!(pretty_json(b"not json"), None);
}

#[test]
fn responses_are_parsed() {
    let r = parse_response(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type.as_deref(), Some("text/plain"));
    assert_eq!(r.body, b"hello world");
    let r = parse_response(b"HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nabcdef").unwrap();
    assert_eq!((r.status, r.body.as_slice()), (404, &b"abc"[..]));
    assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc").is_err());
    assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    let e = HttpResponse {
        status: 502,
        content_type: None,
        body: b"<html>\nbad gateway\n".to_vec(),
    };
    assert_eq!(e.error_text(), "<html>");
}
