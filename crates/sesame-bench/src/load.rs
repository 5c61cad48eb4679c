//! `sesame-bench run`: virtual users on one tokio runtime, each with its own kept-alive
//! connection and cookie jar, repeating one operation until the clock runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;

use crate::error::{Error, Result, err};
use crate::oidc::{self, ClientConfig, Discovery};
use crate::peer::{Credentials, Peer};
use crate::stats::{self, Recorder, RunResult, Usage, Window};
use crate::{Mode, RunArgs, out};

/// What a virtual user holds before the clock starts.
struct Vu {
    http: reqwest::Client,
    /// token-code: codes (with their PKCE verifiers) minted in advance, used from the back.
    codes: Vec<(String, String)>,
    /// userinfo / introspect: an access token.
    access_token: String,
    bearer: Option<HeaderValue>,
    /// The endpoints this virtual user calls (with `--instance`, on two instances).
    d: Discovery,
}

struct Shared {
    mode: Mode,
    peer: Peer,
    d: Discovery,
    c: ClientConfig,
    who: Credentials,
    codes_per_vu: usize,
    /// `--instance` origins (empty: the issuer's).
    instances: Vec<String>,
}

/// Runs the benchmark described by `args`, prints the table, writes the JSON.
pub(crate) fn main(args: RunArgs) -> Result<()> {
    if args.concurrency == 0 || args.seconds <= 0.0 || args.warmup < 0.0 {
        return err("-c must be at least 1, -t positive and --warmup not negative");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(&args))?;
    out::println(&stats::table(&result));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&result)?)
            .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

async fn run(args: &RunArgs) -> Result<RunResult> {
    let probe = oidc::http_client()?;
    let d = oidc::discover(&probe, &args.issuer).await?;
    drop(probe);
    let idle_kb = stats::rss_total_kb(&args.pids);
    let shared = Arc::new(Shared {
        mode: args.mode,
        peer: args.peer,
        d,
        c: {
            let c = ClientConfig::new(
                &args.client_id,
                &args.client_secret,
                &args.redirect_uri,
                &args.scope,
            )?;
            if args.dpop { c.with_dpop()? } else { c }
        },
        who: Credentials {
            username: args.username.clone(),
            password: args.password.clone(),
        },
        codes_per_vu: args.codes_per_vu,
        instances: args.instances.clone(),
    });

    let vus = prepare_all(&shared, args.concurrency).await?;
    let after_login_kb = stats::rss_total_kb(&args.pids);

    let start = Instant::now();
    let warmup = if args.mode == Mode::TokenCode {
        // Codes are minted in advance; spend none of them warming up.
        Duration::ZERO
    } else {
        Duration::from_secs_f64(args.warmup)
    };
    let window = Window {
        start: start + warmup,
        end: start + warmup + Duration::from_secs_f64(args.seconds),
    };

    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(after_login_kb));
    let sampler = (!args.pids.is_empty()).then(|| {
        let (done, peak, pids) = (Arc::clone(&done), Arc::clone(&peak), args.pids.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(stats::rss_total_kb(&pids), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });

    // CPU time at the window's edges: the provider's, and the driver's own (is it the bottleneck?).
    let cpu = {
        let pids = args.pids.clone();
        let me = [std::process::id()];
        tokio::spawn(async move {
            tokio::time::sleep_until(window.start.into()).await;
            let at_start = (stats::cpu_seconds(&pids), stats::cpu_seconds(&me));
            tokio::time::sleep_until(window.end.into()).await;
            (
                stats::cpu_seconds(&pids) - at_start.0,
                stats::cpu_seconds(&me) - at_start.1,
            )
        })
    };

    let mut running = Vec::with_capacity(vus.len());
    for vu in vus {
        running.push(tokio::spawn(drive(Arc::clone(&shared), vu, window)));
    }
    let mut all = Recorder::default();
    let mut alg = None;
    let mut last_exit = window.start;
    for r in running {
        let (rec, vu_alg, exit) = r
            .await
            .map_err(|e| Error(format!("a virtual user failed: {e}")))?;
        all.merge(rec);
        alg = alg.or(vu_alg);
        last_exit = last_exit.max(exit);
    }
    done.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    let end_kb = stats::rss_total_kb(&args.pids);
    // token-code may stop early; then the window's end was not reached and there is no figure.
    let (cpu_s, driver_cpu_s) = if last_exit >= window.end {
        cpu.await.unwrap_or((0.0, 0.0))
    } else {
        cpu.abort();
        (0.0, 0.0)
    };

    // token-code ends early when the codes run out.
    let measured = last_exit.min(window.end).duration_since(window.start);
    let usage = (!args.pids.is_empty()).then(|| Usage {
        pids: args.pids.clone(),
        idle_kb,
        after_login_kb,
        peak_kb: peak.load(Ordering::Relaxed).max(end_kb),
        end_kb,
        cpu_s,
        cores_busy: 0.0,
        cpu_ms_per_op: 0.0,
    });
    Ok(summarize(
        args,
        &shared,
        all,
        alg,
        warmup,
        measured,
        driver_cpu_s,
        usage,
    ))
}

/// Signs in and prepares every virtual user, concurrently, before the clock starts.
async fn prepare_all(shared: &Arc<Shared>, concurrency: usize) -> Result<Vec<Vu>> {
    let mut preparing = Vec::with_capacity(concurrency);
    for i in 0..concurrency {
        preparing.push(tokio::spawn(prepare(Arc::clone(shared), i)));
    }
    let mut vus = Vec::with_capacity(concurrency);
    for p in preparing {
        vus.push(
            p.await
                .map_err(|e| Error(format!("a virtual user failed: {e}")))??,
        );
    }
    Ok(vus)
}

/// The run's figures from what the virtual users recorded.
#[allow(clippy::too_many_arguments)]
fn summarize(
    args: &RunArgs,
    shared: &Shared,
    mut all: Recorder,
    alg: Option<String>,
    warmup: Duration,
    measured: Duration,
    driver_cpu_s: f64,
    usage: Option<Usage>,
) -> RunResult {
    let mode = args.mode.as_str();
    let mut series = std::mem::take(&mut all.series);
    let mut main_series = series.remove(mode).unwrap_or_default();
    let ops = main_series.len() as u64;
    let secs = measured.as_secs_f64().max(1e-9);
    let steps: BTreeMap<String, stats::Latency> = series
        .into_iter()
        .map(|(k, mut v)| (k.to_owned(), stats::latency(&mut v)))
        .collect();
    RunResult {
        label: args
            .label
            .clone()
            .unwrap_or_else(|| format!("{} {mode}", args.peer.as_str())),
        peer: args.peer.as_str().to_owned(),
        mode: mode.to_owned(),
        issuer: shared.d.issuer.clone(),
        vus: args.concurrency,
        warmup_s: warmup.as_secs_f64(),
        duration_s: measured.as_secs_f64(),
        ops,
        throughput: ops as f64 / secs,
        latency: stats::latency(&mut main_series),
        errors: all.errors,
        error_samples: all.error_samples,
        steps,
        id_token_alg: alg,
        driver_cores_busy: driver_cpu_s / secs,
        provider: usage.map(|u| Usage {
            cores_busy: u.cpu_s / secs,
            cpu_ms_per_op: if ops > 0 {
                1000.0 * u.cpu_s / ops as f64
            } else {
                0.0
            },
            ..u
        }),
    }
}

/// Virtual user `i`'s endpoints with `--instance` origins: it authorizes at
/// instance `i` and redeems its codes and calls userinfo at the next one, so
/// every code and token crosses instances through the shared database.
fn on_instances(d: &Discovery, instances: &[String], i: usize) -> Discovery {
    if instances.is_empty() {
        return d.clone();
    }
    let front = &instances[i % instances.len()];
    let back = &instances[(i + 1) % instances.len()];
    Discovery {
        issuer: d.issuer.clone(),
        authorization_endpoint: rebase(&d.authorization_endpoint, front),
        token_endpoint: rebase(&d.token_endpoint, back),
        userinfo_endpoint: d.userinfo_endpoint.as_deref().map(|u| rebase(u, back)),
        jwks_uri: rebase(&d.jwks_uri, back),
        introspection_endpoint: d.introspection_endpoint.as_deref().map(|u| rebase(u, back)),
    }
}

/// `url` with its scheme, host and port replaced by `origin`'s.
fn rebase(url: &str, origin: &str) -> String {
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    format!("{}{path}", origin.trim_end_matches('/'))
}

fn stage(name: &str) -> impl FnOnce(Error) -> Error + '_ {
    move |e| Error(format!("{name}: {e}"))
}

/// Signs in (when the mode needs a user), checks that an authorization request now gets a code,
/// and mints what the mode consumes.
async fn prepare(s: Arc<Shared>, i: usize) -> Result<Vu> {
    let http = oidc::http_client()?;
    let mut vu = Vu {
        http,
        codes: Vec::new(),
        access_token: String::new(),
        bearer: None,
        d: on_instances(&s.d, &s.instances, i),
    };
    if !s.mode.needs_login() {
        return Ok(vu);
    }
    s.peer
        .login(&vu.http, &vu.d, &s.c, &s.who)
        .await
        .map_err(stage("sign-in"))?;
    let (code, verifier) = oidc::authorize(&vu.http, &vu.d, &s.c)
        .await
        .map_err(stage("authorize after sign-in"))?;
    match s.mode {
        Mode::TokenCode => {
            vu.codes.push((code, verifier));
            while vu.codes.len() < s.codes_per_vu {
                vu.codes.push(
                    oidc::authorize(&vu.http, &vu.d, &s.c)
                        .await
                        .map_err(stage("minting codes"))?,
                );
            }
        }
        Mode::Userinfo | Mode::Introspect => {
            let t = oidc::redeem(&vu.http, &vu.d, &s.c, &code, &verifier)
                .await
                .map_err(stage("token"))?;
            vu.bearer = Some(oidc::bearer(&t.access_token)?);
            vu.access_token = t.access_token;
        }
        Mode::Flow | Mode::TokenCc | Mode::Jwks | Mode::Login => {}
    }
    Ok(vu)
}

/// One virtual user's loop. Returns its samples, the ID-token `alg` it saw, and when it stopped.
async fn drive(s: Arc<Shared>, mut vu: Vu, window: Window) -> (Recorder, Option<String>, Instant) {
    let mut rec = Recorder::default();
    let mut alg = None;
    let mode = s.mode.as_str();
    while Instant::now() < window.end {
        let started = Instant::now();
        let outcome = match s.mode {
            Mode::Flow => flow(&s, &vu, &mut alg).await,
            Mode::TokenCode => match vu.codes.pop() {
                Some((code, verifier)) => oidc::redeem(&vu.http, &vu.d, &s.c, &code, &verifier)
                    .await
                    .map_err(stage("token"))
                    .map(|t| {
                        if alg.is_none() {
                            alg = t.id_token.as_deref().and_then(oidc::jws_alg);
                        }
                        Vec::new()
                    }),
                None => break,
            },
            Mode::TokenCc => oidc::client_credentials(&vu.http, &vu.d, &s.c)
                .await
                .map_err(stage("token"))
                .map(|_| Vec::new()),
            Mode::Userinfo => match &vu.bearer {
                Some(b) => oidc::userinfo(&vu.http, &vu.d, &s.c, &vu.access_token, b)
                    .await
                    .map_err(stage("userinfo"))
                    .map(|()| Vec::new()),
                None => break,
            },
            Mode::Introspect => oidc::introspect(&vu.http, &vu.d, &s.c, &vu.access_token)
                .await
                .map_err(stage("introspect"))
                .map(|()| Vec::new()),
            Mode::Jwks => oidc::jwks(&vu.http, &vu.d)
                .await
                .map_err(stage("jwks"))
                .map(|()| Vec::new()),
            Mode::Login => sign_in_afresh(&s).await.map(|()| Vec::new()),
        };
        let finished = Instant::now();
        match outcome {
            Ok(steps) => {
                if window.contains(finished) {
                    rec.record(mode, finished - started);
                    for (name, took) in steps {
                        rec.record(name, took);
                    }
                }
            }
            Err(e) => {
                if window.contains(finished) {
                    rec.error(e.0);
                }
                // Do not spin on a failing provider.
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    vu.codes.clear();
    (rec, alg, Instant::now())
}

/// One sign-in with a new cookie jar (and so a new connection): authorize → login form → code.
async fn sign_in_afresh(s: &Shared) -> Result<()> {
    let http = oidc::http_client()?;
    s.peer
        .login(&http, &s.d, &s.c, &s.who)
        .await
        .map_err(stage("sign-in"))
}

/// One complete flow: GET /authorize → POST /token → GET /userinfo, each step timed.
async fn flow(
    s: &Shared,
    vu: &Vu,
    alg: &mut Option<String>,
) -> Result<Vec<(&'static str, Duration)>> {
    let t0 = Instant::now();
    let (code, verifier) = oidc::authorize(&vu.http, &vu.d, &s.c)
        .await
        .map_err(stage("authorize"))?;
    let t1 = Instant::now();
    let tokens = oidc::redeem(&vu.http, &vu.d, &s.c, &code, &verifier)
        .await
        .map_err(stage("token"))?;
    let t2 = Instant::now();
    if alg.is_none() {
        *alg = tokens.id_token.as_deref().and_then(oidc::jws_alg);
    }
    let bearer = oidc::bearer(&tokens.access_token)?;
    oidc::userinfo(&vu.http, &vu.d, &s.c, &tokens.access_token, &bearer)
        .await
        .map_err(stage("userinfo"))?;
    let t3 = Instant::now();
    Ok(vec![
        ("authorize", t1 - t0),
        ("token", t2 - t1),
        ("userinfo", t3 - t2),
    ])
}
