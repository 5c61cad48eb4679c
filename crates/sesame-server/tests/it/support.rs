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
