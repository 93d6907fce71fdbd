//! `eventsource token` and `eventsource serve`: a token made by the one is
//! accepted by the other over real HTTP, tenants stay apart, and SIGTERM
//! stops the service cleanly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;

use crate::support::Workspace;

const SECRET: &str = "a-development-secret-of-more-than-32-bytes";

/// Sends one HTTP/1.1 request and returns the status and the body.
fn request(port: u16, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the service accepts connections");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().expect("an HTTP status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn token_for(workspace: &Workspace, tenant: &str) -> String {
    let secret = workspace.file("jwt-secret", SECRET);
    let stdout = workspace.ok(&[
        "token",
        "--tenant",
        tenant,
        "--jwt-secret-file",
        secret.to_str().unwrap(),
    ]);
    stdout
        .lines()
        .last()
        .expect("the token on the last line")
        .trim()
        .to_owned()
}

#[test]
fn a_token_from_the_cli_opens_the_service_to_its_tenant_only() {
    let workspace = Workspace::new();
    let (acme, globex) = (
        "6513270e-269e-4d37-b2a7-4de452e6b438",
        "9531985d-5d9d-49f8-9818-e811892f902b",
    );
    let (acme_token, globex_token) = (token_for(&workspace, acme), token_for(&workspace, globex));
    assert_eq!(acme_token.split('.').count(), 3, "a JWT: {acme_token}");

    let secret = workspace.path("jwt-secret");
    let mut service = workspace.spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--jwt-secret-file",
        secret.to_str().unwrap(),
    ]);
    let mut stdout = BufReader::new(service.stdout.take().expect("piped stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let port: u16 = first
        .trim()
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("expected `listening on http://127.0.0.1:PORT`, got {first:?}"));

    assert_eq!(request(port, "GET", "/healthz", None, None).0, 200);
    assert_eq!(request(port, "GET", "/orders", None, None).0, 401);
    let order = r#"{"customer_id":"0f21ddb6-6cad-4a26-8d11-6ece1738f7d9","total_amount":"12.50"}"#;
    let (status, created) = request(port, "POST", "/orders", Some(&acme_token), Some(order));
    assert_eq!(status, 201, "{created}");
    let created: serde_json::Value =
        serde_json::from_str(&created).unwrap_or_else(|_| panic!("JSON: {created:?}"));
    let id = created["order_id"]
        .as_str()
        .unwrap_or_else(|| panic!("an order id: {created}"))
        .to_owned();

    let (status, body) = request(port, "GET", &format!("/orders/{id}"), Some(&acme_token), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("12.50"), "{body}");
    let (status, body) = request(port, "GET", &format!("/orders/{id}"), Some(&globex_token), None);
    assert_eq!(status, 404, "another tenant's order is not found: {body}");
    assert!(!body.contains(acme), "{body}");

    let status = Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = service.wait().unwrap();
    assert!(exit.success(), "SIGTERM stops the service cleanly: {exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("stopped"), "{rest}");
}

#[test]
fn a_short_secret_or_a_bad_tenant_is_refused_in_one_line() {
    let workspace = Workspace::new();
    let short = workspace.file("short-secret", "too short");
    let line = workspace
        .run(&[
            "token",
            "--tenant",
            "6513270e-269e-4d37-b2a7-4de452e6b438",
            "--jwt-secret-file",
            short.to_str().unwrap(),
        ])
        .assert_one_line_error();
    assert!(line.contains("32"), "{line}");
    let line = workspace
        .run(&["token", "--tenant", "acme", "--jwt-secret-file", "x"])
        .assert_one_line_error();
    assert!(line.contains("--tenant") && line.contains("not a UUID"), "{line}");
}
