use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_sesame");

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(format!(
            "sesame-srv-{}",
            sesame_core::random::token().unwrap()
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    pub fn db(&self) -> String {
        format!("sqlite://{}/sesame.db", self.0.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `sesame ARGS…` to completion: (exit code, stdout, stderr).
pub fn sesame(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("SESAME_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A background `sesame` process, killed on drop.
pub struct Running {
    pub child: Child,
    pub lines: Vec<String>,
}

impl Running {
    /// Starts `sesame ARGS…` and reads stdout until `until` matches a line.
    pub fn start(args: &[&str], until: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("sesame exited before printing {until:?}: {lines:?}");
            }
            let done = line.contains(until);
            lines.push(line.trim_end().to_owned());
            if done {
                break;
            }
        }
        Self { child, lines }
    }

    pub fn line_with(&self, needle: &str) -> &str {
        self.lines.iter().find(|l| l.contains(needle)).unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location, status {}", r.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Absolute URL of a Location relative to `base`.
pub fn absolute(base: &str, location: &str) -> String {
    if location.starts_with('/') {
        let u = url::Url::parse(base).unwrap();
        format!(
            "{}://{}:{}{location}",
            u.scheme(),
            u.host_str().unwrap(),
            u.port().unwrap()
        )
    } else {
        location.to_owned()
    }
}

pub fn hidden(html: &str, name: &str) -> String {
    let m = format!("name=\"{name}\" value=\"");
    let s = html
        .find(&m)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + m.len();
    html[s..s + html[s..].find('"').unwrap()].to_owned()
}

/// A free port on 127.0.0.1, for a `sesame serve` process (an in-process
/// [`Server`] listens on port 0 instead).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `base/healthz` answers 200; panics after ~10 s.
pub async fn wait_healthy(base: &str) {
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{base} did not start");
}

/// `sesame_server::run` on 127.0.0.1:0 in this process, healthy once spawned.
pub struct Server {
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// The server on database `db`, its configuration adjusted by `edit`.
    pub async fn spawn(db: &str, edit: impl FnOnce(&mut sesame_server::Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut config = sesame_server::Config {
            issuer: base.clone(),
            database: db.to_owned(),
            ..sesame_server::Config::default()
        };
        edit(&mut config);
        Self::spawn_with(config, listener).await
    }

    /// The server with `config` on `listener` (whose address the issuer names).
    pub async fn spawn_with(
        config: sesame_server::Config,
        listener: tokio::net::TcpListener,
    ) -> Self {
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            sesame_server::run(config, listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        wait_healthy(&base).await;
        Self {
            base,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Shuts down gracefully and waits for `run` to return (it must succeed).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Running {
    /// `sesame --database DB serve` on a free port with `env` set, healthy
    /// once started: the process and its base URL.
    pub async fn serve(db: &str, env: &[(&str, &str)]) -> (Self, String) {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let running = Self::serve_on(db, &base, port, env);
        wait_healthy(&base).await;
        (running, base)
    }

    /// `sesame --database DB serve --issuer ISSUER --listen 127.0.0.1:PORT`,
    /// not waited for.
    pub fn serve_on(db: &str, issuer: &str, port: u16, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(BIN);
        command
            .args(["--database", db, "serve", "--issuer", issuer, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("SESAME_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        Self {
            child: command.spawn().unwrap(),
            lines: Vec::new(),
        }
    }
}

/// The login form at `login_url` filled in and posted to `post_base/login`
/// (another instance, behind a load balancer, may answer it): the answer.
pub async fn submit_login(
    b: &reqwest::Client,
    login_url: &str,
    post_base: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let html = b.get(login_url).send().await.unwrap().text().await.unwrap();
    let return_to = hidden(&html, "return_to")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    b.post(format!("{post_base}/login"))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf_token", hidden(&html, "csrf_token").as_str()),
            ("return_to", return_to.as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// A code flow with PKCE for a client that skips consent, signing in as
/// `username`: the token response.
pub async fn code_flow(
    base: &str,
    (client_id, secret): (&str, &str),
    redirect: &str,
    scope: &str,
    (username, password): (&str, &str),
) -> serde_json::Value {
    let b = browser();
    let verifier = sesame_core::CodeVerifier::random().unwrap();
    let challenge = verifier.challenge(sesame_core::PkceMethod::S256);
    let r = b
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect),
            ("scope", scope),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    let login = absolute(base, &location(&r));
    let r = submit_login(&b, &login, base, username, password).await;
    let r = b.get(absolute(base, &location(&r))).send().await.unwrap();
    let cb = url::Url::parse(&location(&r)).unwrap();
    let code = cb
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The PostgreSQL URL for a test: `SESAME_TEST_DATABASE_URL`, else a local server answering
/// on 127.0.0.1:5432. Without either the test FAILS with instructions, so a missing database
/// never passes as "ok"; `SESAME_TEST_SKIP_MISSING=1` skips it instead (said on stderr).
pub fn pg_url(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("SESAME_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 5432));
    if std::net::TcpStream::connect_timeout(&local, std::time::Duration::from_millis(500)).is_ok() {
        return Some("postgres://postgres@127.0.0.1:5432/test".to_owned());
    }
    missing(
        test,
        "PostgreSQL: set SESAME_TEST_DATABASE_URL=postgres://USER@HOST:PORT/DB or run one on 127.0.0.1:5432",
    )
}

/// A part the test needs is missing: fail, or skip loudly with `SESAME_TEST_SKIP_MISSING=1`.
pub fn missing<T>(test: &str, what: &str) -> Option<T> {
    if std::env::var("SESAME_TEST_SKIP_MISSING").as_deref() == Ok("1") {
        eprintln!("\n*** SKIPPED {test}: needs {what} (SESAME_TEST_SKIP_MISSING=1) ***\n");
        return None;
    }
    panic!(
        "{test} needs {what}; or set SESAME_TEST_SKIP_MISSING=1 to skip the tests whose parts are missing"
    );
}

/// A fresh PostgreSQL schema for one test on the server at `base`.
pub struct PgSchema {
    /// The database URL with the schema as its search path.
    pub url: String,
    base: String,
    schema: String,
}

impl PgSchema {
    pub async fn new(base: &str) -> Self {
        use sqlx::Connection as _;
        let schema = format!(
            "sesame_srv_{}",
            &sesame_core::random::token()
                .unwrap()
                .to_lowercase()
                .replace(['-', '_'], "")[..12]
        );
        let mut conn = sqlx::PgConnection::connect(base).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
            base: base.to_owned(),
            schema,
        }
    }

    /// Drops the schema.
    pub async fn drop_now(self) {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.base).await.unwrap();
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            self.schema
        )))
        .execute(&mut conn)
        .await;
    }
}

/// The TOTP code an authenticator app shows now for `secret` (base32;
/// SHA-1, 6 digits, 30 s: what `sesame users totp` enrols).
pub fn totp_code_now(secret: &str) -> String {
    use sesame_core::Clock as _;
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    );
    totp.generate(u64::try_from(sesame_core::SystemClock.now()).unwrap())
}
