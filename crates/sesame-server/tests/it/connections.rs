//! Connection hygiene (issue 15 part 1, review H1/M4/L3): header, idle and
//! body timeouts, the connection cap, the open-file limit and a bounded
//! shutdown, against real listeners. Each test prints what it measured.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::*;

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// Waits until the server closes `s` (EOF or a reset), reading and
/// discarding whatever it answers first; `None` if still open after `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
            Err(_) => return None,
        }
    }
}

/// A complete keep-alive request on `s`, and the start of its answer.
async fn get_healthz(s: &mut TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `sesame serve` on a free port with `env`, optionally under `ulimit -n`,
/// its log in `log`: the process and its base URL, once healthy.
async fn serve_logged(
    db: &str,
    env: &[(&str, &str)],
    nofile: Option<u32>,
    log: &std::path::Path,
) -> (Child, String) {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = match nofile {
        // `ulimit -n` sets the soft and the hard limit: the server cannot raise it.
        Some(n) => {
            let mut c = Command::new("bash");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    command
        .args(["--database", db, "serve", "--issuer", &base, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .env_remove("SESAME_CONFIG")
        .env("SESAME_LOG_LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    wait_healthy(&base).await;
    (child, base)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens up to `n` connections to `addr` that never send anything, 50 at a
/// time so that the server can accept them as they come (a burst overflows
/// the kernel's accept queue, and those connections exist only on the client
/// side): the ones that connected within 2 s.
async fn hold(addr: &str, n: usize) -> Vec<TcpStream> {
    // This process holds them: let it.
    let _ = sesame_server::connections::raise_fd_limit();
    let mut held = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let batch = left.min(50);
        left -= batch;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let addr = addr.to_owned();
            tasks.spawn(async move {
                tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            if let Ok(Ok(s)) = done.unwrap() {
                held.push(s);
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("held {} of {n} connections", held.len());
    held
}

/// H1: a client sending its headers one byte a second is disconnected
/// within the header timeout (2 s here; the idle timeout is out of the way).
#[tokio::test]
async fn a_slowloris_client_is_cut_off_by_the_header_timeout() {
    let dir = TempDir::new();
    let server = Server::spawn(&dir.db(), |c| {
        c.http.header_timeout_seconds = 2;
        c.http.idle_timeout_seconds = 600;
    })
    .await;
    let mut s = TcpStream::connect(addr(&server.base)).await.unwrap();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let start = Instant::now();
    let mut sent = 0;
    let closed = loop {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "a slowloris connection is still open after 20 s ({sent} bytes sent)"
        );
        let byte = head.get(sent).copied().unwrap_or(b'a');
        if s.write_all(&[byte]).await.is_err() {
            break start.elapsed();
        }
        sent += 1;
        if closed_within(&mut s, Duration::from_secs(1))
            .await
            .is_some()
        {
            break start.elapsed();
        }
    };
    eprintln!("slowloris: closed after {closed:?} ({sent} bytes sent, header timeout 2 s)");
    assert!(
        closed < Duration::from_secs(8),
        "closed after {closed:?}, header timeout 2 s"
    );
    // Everybody else is still served.
    let r = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

/// H1: idle connections (silent ones, and a keep-alive one after its
/// request) are closed by the idle timeout (2 s here; the header timeout is
/// out of the way at 600 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_by_the_idle_timeout() {
    let dir = TempDir::new();
    let server = Server::spawn(&dir.db(), |c| {
        c.http.header_timeout_seconds = 600;
        c.http.idle_timeout_seconds = 2;
    })
    .await;
    // run() has raised this process's soft limit to its hard limit; both
    // ends of each connection are in this process.
    let fds = sesame_server::connections::raise_fd_limit().unwrap_or(1024);
    let n = usize::try_from(fds.saturating_sub(400) / 2)
        .unwrap()
        .min(2000);
    let addr = addr(&server.base);
    let mut keep_alive = TcpStream::connect(&addr).await.unwrap();
    let answer = get_healthz(&mut keep_alive).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut held = hold(&addr, n).await;
    assert_eq!(held.len(), n);
    let start = Instant::now();
    let mut last = Duration::ZERO;
    for s in held.iter_mut().chain(std::iter::once(&mut keep_alive)) {
        let left = Duration::from_secs(15).saturating_sub(start.elapsed());
        let closed = closed_within(s, left).await;
        assert!(closed.is_some(), "an idle connection is open after 15 s");
        last = start.elapsed();
    }
    eprintln!(
        "idle: {n} silent connections and 1 keep-alive closed, the last after {last:?} (idle timeout 2 s)"
    );
    let r = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    server.stop().await;
}

fn gauge(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// H1: with `max_connections = 50` and 200 silent sockets held, at most 50
/// connections are open, and `/healthz` still answers long before the idle
/// timeout (30 s) would free a slot: a full server closes idle connections.
#[tokio::test]
async fn a_full_server_makes_room_by_closing_idle_connections() {
    let dir = TempDir::new();
    let log = dir.0.join("serve.log");
    let metrics = format!("127.0.0.1:{}", free_port());
    let (child, base) = serve_logged(
        &dir.db(),
        &[
            ("SESAME_HTTP__MAX_CONNECTIONS", "50"),
            ("SESAME_HTTP__HEADER_TIMEOUT_SECONDS", "600"),
            ("SESAME_HTTP__IDLE_TIMEOUT_SECONDS", "30"),
            ("SESAME_METRICS_LISTEN", &metrics),
        ],
        None,
        &log,
    )
    .await;
    let _child = Killed(child);
    let held = hold(&addr(&base), 200).await;
    assert!(held.len() > 50, "{} held", held.len());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = reqwest::get(format!("http://{metrics}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let open = gauge(&text, "sesame_http_connections{listener=\"public\"}").unwrap();
    assert!(open <= 50.0, "{open} connections open, max_connections 50");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let start = Instant::now();
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    let took = start.elapsed();
    assert_eq!(r.status(), 200);
    eprintln!(
        "full server: {open} connections open; /healthz answered in {took:?} with 200 idle sockets held (max 50)"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("connection limit reached"),
        "the wait is logged: {logged}"
    );
    assert!(logged.contains("max_connections=50"), "{logged}");
}

/// H1 as the review measured it: at an open-file limit of 1,024, one client
/// holding 1,100 idle sockets, `/healthz` still answers (the spec asks for
/// within a second; the figure is printed, and only an answer within 10 s is
/// asserted). The header timeout is set to 30 s so that waiting for it would
/// fail the test.
#[tokio::test]
async fn at_an_fd_limit_of_1024_healthz_answers_with_1100_idle_sockets_held() {
    let dir = TempDir::new();
    let log = dir.0.join("serve.log");
    let (child, base) = serve_logged(
        &dir.db(),
        &[("SESAME_HTTP__HEADER_TIMEOUT_SECONDS", "30")],
        Some(1024),
        &log,
    )
    .await;
    let _child = Killed(child);
    let held = hold(&addr(&base), 1100).await;
    assert!(held.len() > 896, "{} held", held.len());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = Instant::now();
    let r = http.get(format!("{base}/healthz")).send().await.unwrap();
    let took = start.elapsed();
    assert_eq!(r.status(), 200);
    eprintln!("fd limit 1024, 1,100 idle sockets held: /healthz answered in {took:?}");
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("connection limit") && l.contains("configured"))
        .unwrap_or_else(|| panic!("the effective limit is logged: {logged}"));
    eprintln!("{line}");
    assert!(line.contains("max_connections=896"), "{line}");
    assert!(
        logged.contains("connection limit reached"),
        "the server was full: {logged}"
    );
}

/// M4: SIGTERM with a half-sent request held exits within the grace period
/// (2 s; the header timeout is out of the way at 600 s), and closes an idle
/// keep-alive connection at once.
#[tokio::test]
async fn sigterm_with_a_half_sent_request_exits_within_the_grace_period() {
    let dir = TempDir::new();
    let log = dir.0.join("serve.log");
    let (mut child, base) = serve_logged(
        &dir.db(),
        &[
            ("SESAME_HTTP__SHUTDOWN_GRACE_SECONDS", "2"),
            ("SESAME_HTTP__HEADER_TIMEOUT_SECONDS", "600"),
            ("SESAME_HTTP__IDLE_TIMEOUT_SECONDS", "600"),
        ],
        None,
        &log,
    )
    .await;
    let addr = addr(&base);
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        .await
        .unwrap();
    let mut keep_alive = TcpStream::connect(&addr).await.unwrap();
    let answer = get_healthz(&mut keep_alive).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let idle_closed = closed_within(&mut keep_alive, Duration::from_secs(20)).await;
    let exited = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some((start.elapsed(), status));
        }
        if start.elapsed() > Duration::from_secs(20) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let Some((took, status)) = exited else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("still running 20 s after SIGTERM, grace 2 s");
    };
    eprintln!(
        "SIGTERM: idle keep-alive closed after {idle_closed:?}, exited after {took:?} (grace 2 s)"
    );
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(8), "exited after {took:?}");
    let idle_closed = idle_closed.unwrap();
    assert!(
        idle_closed < Duration::from_millis(1500),
        "the idle connection waited for the grace period: {idle_closed:?}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("grace period over"), "{logged}");
}

/// L3 and the body timeout: the login and consent forms take 8 KiB, every
/// other route 64 KiB (a larger declared length is refused before routing),
/// and a body that trickles in is cut off after the body timeout (2 s).
#[tokio::test]
async fn bodies_are_limited_and_must_arrive_in_time() {
    let dir = TempDir::new();
    let server = Server::spawn(&dir.db(), |c| {
        c.http.body_timeout_seconds = 2;
    })
    .await;
    let base = &server.base;
    let http = reqwest::Client::new();
    let form = |n: usize| format!("username={}&password=x&csrf_token=y", "u".repeat(n));
    for path in ["/login", sesame_op::paths::CONSENT] {
        let r = http
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(9 * 1024))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path} with 9 KiB");
        let r = http
            .post(format!("{base}{path}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(6 * 1024))
            .send()
            .await
            .unwrap();
        assert_ne!(r.status(), 413, "{path} with 6 KiB");
    }
    // Chunked (no declared length): refused once it grows past the limit.
    let mut s = TcpStream::connect(addr(base)).await.unwrap();
    let mut request = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..10 {
        request.extend_from_slice(format!("400\r\n{}\r\n", "a".repeat(1024)).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading it all.
    let _ = s.write_all(&request).await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "chunked login form over 8 KiB: {answer}"
    );
    let r = http
        .post(format!("{base}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a".repeat(65 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "/token with 65 KiB");
    let r = http
        .post(format!("{base}/nowhere"))
        .body("a".repeat(65 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "an unknown route with 65 KiB");

    // A body at one byte a second.
    let mut s = TcpStream::connect(addr(base)).await.unwrap();
    s.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while answer.is_empty() && start.elapsed() < Duration::from_secs(20) {
        if s.write_all(b"a").await.is_err() {
            break;
        }
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
        }
    }
    let took = start.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    eprintln!(
        "slow body: answered after {took:?}: {:?}",
        answer.lines().next()
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(took < Duration::from_secs(8), "answered after {took:?}");
    server.stop().await;
}
