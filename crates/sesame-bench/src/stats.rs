//! Latency samples and their summary.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The measured window: operations that complete inside it count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: Instant,
    pub(crate) end: Instant,
}

impl Window {
    pub(crate) fn contains(&self, t: Instant) -> bool {
        t >= self.start && t <= self.end
    }
}

/// What one virtual user saw. Latencies in microseconds, per series (`flow`, `authorize`, …).
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) series: BTreeMap<&'static str, Vec<u32>>,
    pub(crate) errors: u64,
    pub(crate) error_samples: Vec<String>,
}

impl Recorder {
    pub(crate) fn record(&mut self, series: &'static str, took: Duration) {
        let micros = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.series.entry(series).or_default().push(micros);
    }

    pub(crate) fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_samples.len() < 5 && !self.error_samples.contains(&message) {
            self.error_samples.push(message);
        }
    }

    pub(crate) fn merge(&mut self, other: Recorder) {
        for (k, mut v) in other.series {
            self.series.entry(k).or_default().append(&mut v);
        }
        self.errors += other.errors;
        for e in other.error_samples {
            if self.error_samples.len() < 10 && !self.error_samples.contains(&e) {
                self.error_samples.push(e);
            }
        }
    }
}

/// Percentiles of one series, in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Latency {
    pub(crate) count: u64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
}

/// Nearest-rank percentiles of `samples` (microseconds).
pub(crate) fn latency(samples: &mut [u32]) -> Latency {
    samples.sort_unstable();
    let n = samples.len();
    let at = |q: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        // Nearest rank: the smallest sample with at least q of the samples at or below it.
        let rank = (q * n as f64).ceil().max(1.0) as usize;
        f64::from(samples[rank.min(n) - 1]) / 1000.0
    };
    let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
    Latency {
        count: n as u64,
        mean_ms: if n == 0 {
            0.0
        } else {
            sum as f64 / n as f64 / 1000.0
        },
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: at(1.0),
    }
}

/// The provider's processes (summed over `--pid`s): resident memory in KiB and CPU time.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Usage {
    pub(crate) pids: Vec<u32>,
    /// Before any virtual user signed in.
    pub(crate) idle_kb: u64,
    /// After sign-in, before the measured load.
    pub(crate) after_login_kb: u64,
    /// The largest sample during the load.
    pub(crate) peak_kb: u64,
    /// At the end of the load.
    pub(crate) end_kb: u64,
    /// CPU seconds (user + system) the provider spent in the measured window.
    pub(crate) cpu_s: f64,
    /// `cpu_s` over the window's length: 1.0 is one core kept busy.
    pub(crate) cores_busy: f64,
    /// CPU milliseconds per operation (flow or request).
    pub(crate) cpu_ms_per_op: f64,
}

/// `VmRSS` of `pid` in KiB (0 when it cannot be read).
pub(crate) fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The sum over `pids`.
pub(crate) fn rss_total_kb(pids: &[u32]) -> u64 {
    pids.iter().map(|&p| rss_kb(p)).sum()
}

/// User + system CPU time of `pid` (all its threads) in clock ticks, from `/proc/PID/stat`.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| parse_cpu_ticks(&stat))
        .unwrap_or(0)
}

fn parse_cpu_ticks(stat: &str) -> u64 {
    // The command name is in parentheses and may hold spaces; fields follow the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(11) + field(12)
}

/// CPU seconds used so far by `pids` (Linux counts in USER_HZ = 100 ticks a second).
pub(crate) fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter().map(|&p| cpu_ticks(p)).sum::<u64>() as f64 / 100.0
}

/// One run's result: what `--json` writes and `report` reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunResult {
    pub(crate) label: String,
    pub(crate) peer: String,
    pub(crate) mode: String,
    pub(crate) issuer: String,
    pub(crate) vus: usize,
    pub(crate) warmup_s: f64,
    /// The measured window.
    pub(crate) duration_s: f64,
    /// Operations (flows, or requests) completed in the window.
    pub(crate) ops: u64,
    pub(crate) throughput: f64,
    pub(crate) latency: Latency,
    /// Errors in the window.
    pub(crate) errors: u64,
    pub(crate) error_samples: Vec<String>,
    /// Per-request latencies inside a flow.
    pub(crate) steps: BTreeMap<String, Latency>,
    /// The `alg` of the ID tokens received, when any.
    pub(crate) id_token_alg: Option<String>,
    /// The driver's own CPU over the window: near 1.0 on one core means the driver, not the
    /// provider, may be the limit.
    #[serde(default)]
    pub(crate) driver_cores_busy: f64,
    pub(crate) provider: Option<Usage>,
}

/// The result as a small table.
pub(crate) fn table(r: &RunResult) -> String {
    let mut s = String::new();
    let row = |name: &str, count: u64, rate: Option<f64>, l: &Latency, errors: Option<u64>| {
        format!(
            "{name:<12} {count:>9} {rate:>11} {p50:>9.2} {p90:>9.2} {p99:>9.2} {max:>9.2} {errors:>7}\n",
            rate = rate.map_or_else(String::new, |r| format!("{r:.1}")),
            p50 = l.p50_ms,
            p90 = l.p90_ms,
            p99 = l.p99_ms,
            max = l.max_ms,
            errors = errors.map_or_else(String::new, |e| e.to_string()),
        )
    };
    s.push_str(&format!(
        "{} — {} mode, {} virtual users, {:.1} s measured (after {:.1} s warm-up){}\n",
        r.label,
        r.mode,
        r.vus,
        r.duration_s,
        r.warmup_s,
        r.id_token_alg
            .as_ref()
            .map_or_else(String::new, |a| format!(", ID tokens {a}"))
    ));
    s.push_str(&format!(
        "{:<12} {:>9} {:>11} {:>9} {:>9} {:>9} {:>9} {:>7}\n",
        "", "count", "per second", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    ));
    s.push_str(&row(
        &r.mode,
        r.ops,
        Some(r.throughput),
        &r.latency,
        Some(r.errors),
    ));
    for (name, l) in &r.steps {
        s.push_str(&row(&format!("  {name}"), l.count, None, l, None));
    }
    if let Some(m) = &r.provider {
        s.push_str(&format!(
            "provider RSS: idle {:.1} MiB, signed in {:.1} MiB, peak {:.1} MiB, end {:.1} MiB\n",
            m.idle_kb as f64 / 1024.0,
            m.after_login_kb as f64 / 1024.0,
            m.peak_kb as f64 / 1024.0,
            m.end_kb as f64 / 1024.0
        ));
        s.push_str(&format!(
            "provider CPU: {:.2} s in the window = {:.2} cores busy, {:.3} ms per {}\n",
            m.cpu_s, m.cores_busy, m.cpu_ms_per_op, r.mode
        ));
    }
    if r.driver_cores_busy > 0.0 {
        s.push_str(&format!(
            "driver CPU: {:.2} cores busy\n",
            r.driver_cores_busy
        ));
    }
    for e in &r.error_samples {
        s.push_str(&format!("error: {e}\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        samples.reverse();
        let l = latency(&mut samples);
        assert_eq!(l.count, 100);
        assert_eq!(l.p50_ms, 50.0);
        assert_eq!(l.p90_ms, 90.0);
        assert_eq!(l.p99_ms, 99.0);
        assert_eq!(l.max_ms, 100.0);
        assert_eq!(l.mean_ms, 50.5);
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(latency(&mut []).p99_ms, 0.0);
        let l = latency(&mut [1500]);
        assert_eq!((l.p50_ms, l.p99_ms), (1.5, 1.5));
    }

    #[test]
    fn cpu_ticks_from_proc_stat() {
        // utime 1234 and stime 56, after a command name with a space and a parenthesis.
        let stat = "42 (tokio (rt) x) S 1 42 42 0 -1 4194560 100 0 0 0 1234 56 0 0 20 0 9 0 100";
        assert_eq!(parse_cpu_ticks(stat), 1290);
        assert_eq!(parse_cpu_ticks("garbage"), 0);
    }

    #[test]
    fn error_samples_are_bounded_and_distinct() {
        let mut r = Recorder::default();
        for i in 0..20 {
            r.error(format!("e{}", i % 7));
        }
        assert_eq!(r.errors, 20);
        assert_eq!(r.error_samples.len(), 5);
    }
}
