//! `sesame-bench report`: the comparison table and the chart, from the JSON of several runs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::out;
use crate::sign::SignBound;
use crate::stats::RunResult;

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Error(format!("{}: {e}", path.display())))
}

/// Reads the inputs, prints the table, writes the markdown and the SVG.
pub(crate) fn main(
    sign: &Path,
    runs: &[PathBuf],
    endpoint_runs: &[PathBuf],
    markdown: Option<&Path>,
    svg: Option<&Path>,
) -> Result<()> {
    let bound: SignBound = read_json(sign)?;
    let runs: Vec<RunResult> = runs.iter().map(|p| read_json(p)).collect::<Result<_>>()?;
    let endpoint_runs: Vec<RunResult> = endpoint_runs
        .iter()
        .map(|p| read_json(p))
        .collect::<Result<_>>()?;
    let mut table = markdown_table(&bound, &runs);
    if !endpoint_runs.is_empty() {
        table.push('\n');
        table.push_str(&endpoint_table(&endpoint_runs));
    }
    out::println(&table);
    if let Some(path) = markdown {
        std::fs::write(path, &table).map_err(|e| Error(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = svg {
        std::fs::write(path, chart(&bound, &runs))
            .map_err(|e| Error(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}

/// The single-core signing rate for the algorithm a run's ID tokens used.
fn bound_for(bound: &SignBound, alg: Option<&str>) -> Option<f64> {
    match alg? {
        "RS256" => Some(bound.rs256_per_s),
        "ES256" => Some(bound.es256_per_s),
        "EdDSA" => Some(bound.eddsa_per_s),
        _ => None,
    }
}

fn mib(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// The peers to compare against: the first run of each non-Sesame provider.
fn peers(runs: &[RunResult]) -> Vec<&RunResult> {
    let mut seen: Vec<&RunResult> = Vec::new();
    for r in runs {
        if r.peer != "sesame" && !seen.iter().any(|s| s.peer == r.peer) {
            seen.push(r);
        }
    }
    seen
}

pub(crate) fn markdown_table(bound: &SignBound, runs: &[RunResult]) -> String {
    let peers = peers(runs);
    let mut s = String::new();
    let _ = write!(
        s,
        "| provider | ID token | flows/s | p50 ms | p99 ms | errors |"
    );
    for p in &peers {
        let _ = write!(s, " × {} |", p.peer);
    }
    let _ = writeln!(
        s,
        " of 1-core signing bound | cores busy | CPU ms/flow | RSS idle / peak MiB | driver cores busy |"
    );
    let _ = write!(s, "|---|---|--:|--:|--:|--:|");
    for _ in &peers {
        s.push_str("--:|");
    }
    s.push_str("--:|--:|--:|--:|--:|\n");
    for r in runs {
        let errors = if r.ops + r.errors > 0 && r.errors > 0 {
            format!(
                "{} ({:.1}%)",
                r.errors,
                100.0 * r.errors as f64 / (r.ops + r.errors) as f64
            )
        } else {
            r.errors.to_string()
        };
        let _ = write!(
            s,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            r.label,
            r.id_token_alg.as_deref().unwrap_or("—"),
            r.throughput,
            r.latency.p50_ms,
            r.latency.p99_ms,
            errors
        );
        for p in &peers {
            if p.throughput > 0.0 {
                let _ = write!(s, " {:.1}× |", r.throughput / p.throughput);
            } else {
                s.push_str(" — |");
            }
        }
        match bound_for(bound, r.id_token_alg.as_deref()) {
            Some(b) if b > 0.0 => {
                let _ = write!(s, " {:.0}% of {b:.0} |", 100.0 * r.throughput / b);
            }
            _ => s.push_str(" — |"),
        }
        match &r.provider {
            Some(m) => {
                let _ = write!(
                    s,
                    " {:.2} | {:.2} | {:.1} / {:.1} |",
                    m.cores_busy,
                    m.cpu_ms_per_op,
                    mib(m.idle_kb),
                    mib(m.peak_kb)
                );
            }
            None => s.push_str(" — | — | — |"),
        }
        let _ = writeln!(s, " {:.2} |", r.driver_cores_busy);
    }
    let _ = writeln!(
        s,
        "\nSingle-core signing bound (aws-lc-rs): RS256 {:.0}/s, ES256 {:.0}/s, EdDSA {:.0}/s.",
        bound.rs256_per_s, bound.es256_per_s, bound.eddsa_per_s
    );
    s
}

/// One endpoint at a time: requests per second and the provider's CPU per request.
pub(crate) fn endpoint_table(runs: &[RunResult]) -> String {
    let mut s = String::from(
        "| run | requests/s | p50 ms | p99 ms | errors | cores busy | CPU ms/request | driver cores busy |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for r in runs {
        let (busy, per_op) = r
            .provider
            .as_ref()
            .map_or((0.0, 0.0), |m| (m.cores_busy, m.cpu_ms_per_op));
        let _ = writeln!(
            s,
            "| {} | {:.0} | {:.2} | {:.2} | {} | {busy:.2} | {per_op:.3} | {:.2} |",
            r.label,
            r.throughput,
            r.latency.p50_ms,
            r.latency.p99_ms,
            r.errors,
            r.driver_cores_busy
        );
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A horizontal bar chart of flows/s per run on a logarithmic axis, with the single-core
/// RS256 and ES256 signing bounds as vertical lines. Self-contained: no fonts or scripts.
pub(crate) fn chart(bound: &SignBound, runs: &[RunResult]) -> String {
    let (left, right, top, row, bar) = (300.0, 40.0, 96.0, 34.0, 22.0);
    let width = 960.0;
    let plot = width - left - right;
    let height = top + row * runs.len() as f64 + 60.0;
    let values = runs
        .iter()
        .map(|r| r.throughput)
        .chain([bound.rs256_per_s, bound.es256_per_s])
        .filter(|v| *v > 0.0);
    let max = values.clone().fold(1.0_f64, f64::max);
    let min = values.fold(f64::INFINITY, f64::min).min(max);
    let lo_exp = min.max(1.0).log10().floor();
    let hi_exp = (max * 1.5).log10().ceil();
    let x = |v: f64| -> f64 {
        let v = v.max(10f64.powf(lo_exp));
        left + plot * (v.log10() - lo_exp) / (hi_exp - lo_exp)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{left}" y="24" font-size="16" font-weight="bold">Complete authorization-code flows per second (log scale)</text>
<text x="{left}" y="44" fill="#555">authorize → token → userinfo; dashed lines: one core's signing rate through aws-lc-rs</text>"##
    );
    // Grid: 1, 2, 5 × 10^k.
    let bottom = top + row * runs.len() as f64;
    let mut e = lo_exp;
    while e <= hi_exp {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(e);
            if v.log10() > hi_exp + 1e-9 {
                continue;
            }
            let gx = x(v);
            let strong = m == 1.0;
            let _ = writeln!(
                s,
                r##"<line x1="{gx:.1}" y1="{y1}" x2="{gx:.1}" y2="{bottom}" stroke="{}" stroke-width="1"/>"##,
                if strong { "#cccccc" } else { "#eeeeee" },
                y1 = top - 8.0
            );
            if strong || hi_exp - lo_exp <= 3.0 {
                let _ = writeln!(
                    s,
                    r##"<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555" font-size="11">{}</text>"##,
                    bottom + 16.0,
                    format_count(v)
                );
            }
        }
        e += 1.0;
    }
    for (i, r) in runs.iter().enumerate() {
        let y = top + row * i as f64;
        let colour = match (r.peer.as_str(), r.id_token_alg.as_deref()) {
            ("sesame", Some("ES256")) => "#2b8a3e",
            ("sesame", _) => "#1c64b0",
            _ => "#8a8a8a",
        };
        let w = (x(r.throughput) - left).max(1.0);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + bar / 2.0 + 4.5,
            esc(&format!(
                "{} ({})",
                r.label,
                r.id_token_alg.as_deref().unwrap_or("?")
            ))
        );
        let _ = writeln!(
            s,
            r#"<rect x="{left}" y="{y}" width="{w:.1}" height="{bar}" fill="{colour}"/>"#
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{}" fill="#222">{:.0}/s</text>"##,
            left + w + 5.0,
            y + bar / 2.0 + 4.5,
            r.throughput
        );
    }
    for (name, v, colour) in [
        ("RS256 bound", bound.rs256_per_s, "#c92a2a"),
        ("ES256 bound", bound.es256_per_s, "#e67700"),
    ] {
        if v <= 0.0 {
            continue;
        }
        let bx = x(v);
        let _ = writeln!(
            s,
            r#"<line x1="{bx:.1}" y1="{}" x2="{bx:.1}" y2="{bottom}" stroke="{colour}" stroke-width="2" stroke-dasharray="6,4"/>"#,
            top - 14.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{bx:.1}" y="{}" text-anchor="middle" fill="{colour}" font-size="12">{name} {}/s</text>"#,
            top - 18.0,
            format_count(v)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{left}" y="{}" fill="#555" font-size="11">flows per second</text>"##,
        bottom + 36.0
    );
    s.push_str("</svg>\n");
    s
}

fn format_count(v: f64) -> String {
    if v >= 1000.0 {
        let k = v / 1000.0;
        if (k - k.round()).abs() < 0.05 {
            format!("{k:.0}k")
        } else {
            format!("{k:.1}k")
        }
    } else {
        format!("{v:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Latency, Usage};

    fn run(label: &str, peer: &str, alg: &str, throughput: f64) -> RunResult {
        RunResult {
            label: label.into(),
            peer: peer.into(),
            mode: "flow".into(),
            issuer: "http://127.0.0.1:1".into(),
            vus: 16,
            warmup_s: 1.0,
            duration_s: 10.0,
            ops: (throughput * 10.0) as u64,
            throughput,
            latency: Latency {
                count: 1,
                mean_ms: 1.0,
                p50_ms: 1.0,
                p90_ms: 2.0,
                p99_ms: 3.0,
                max_ms: 4.0,
            },
            errors: 0,
            error_samples: vec![],
            steps: Default::default(),
            id_token_alg: Some(alg.into()),
            driver_cores_busy: 0.5,
            provider: Some(Usage {
                idle_kb: 10240,
                peak_kb: 20480,
                cores_busy: 0.98,
                cpu_ms_per_op: 1.09,
                ..Usage::default()
            }),
        }
    }

    fn bound() -> SignBound {
        SignBound {
            rs256_per_s: 1000.0,
            es256_per_s: 20000.0,
            eddsa_per_s: 30000.0,
            message_bytes: 620,
            threads: 1,
        }
    }

    #[test]
    fn table_has_ratios_and_bound_fraction() {
        let runs = vec![
            run("sesame sqlite", "sesame", "RS256", 900.0),
            run("node", "node-oidc-provider", "RS256", 300.0),
            run("django", "django-oidc-provider", "RS256", 30.0),
        ];
        let t = markdown_table(&bound(), &runs);
        let first = t.lines().nth(2).unwrap();
        assert!(first.contains("| 3.0× | 30.0× |"), "{first}");
        assert!(first.contains("90% of 1000"), "{first}");
        assert!(
            first.contains("| 0.98 | 1.09 | 10.0 / 20.0 | 0.50 |"),
            "{first}"
        );
    }

    #[test]
    fn endpoint_table_rows() {
        let mut r = run("sesame userinfo", "sesame", "RS256", 3000.0);
        r.mode = "userinfo".into();
        let t = endpoint_table(&[r]);
        let row = t.lines().nth(2).unwrap();
        assert_eq!(
            row,
            "| sesame userinfo | 3000 | 1.00 | 3.00 | 0 | 0.98 | 1.090 | 0.50 |"
        );
    }

    #[test]
    fn chart_is_self_contained_svg() {
        let runs = vec![
            run("a <b>", "sesame", "ES256", 5000.0),
            run("c", "django-oidc-provider", "RS256", 40.0),
        ];
        let svg = chart(&bound(), &runs);
        assert!(svg.starts_with("<svg"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt;b&gt; (ES256)"));
        assert!(!svg.contains("http://") || svg.matches("http://").count() == 1);
        assert!(!svg.contains("@import"));
    }
}
