//! Statistics of samples: per phase, exact values while they are few and a sparse log-linear
//! histogram once they are many; counts by outcome, error kind and status; rates over the whole run and over a
//! rolling window. Shared by summaries, thresholds and the metrics endpoint. Knows no Lua.
//!
//! Phase statistics count successful samples only (a refused connection's 0.1 ms "TCP" is not
//! a fast handshake), and samples whose response came whole but failed a check (their phases
//! are real measurements); failures are counted by kind and in the error rate.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

mod checks;
mod sparse;

pub use checks::Checks;

/// The error kind of a sample that only a check failed: a complete response, timed.
pub const CHECK_FAILED: &str = "check";
use sparse::Sparse;
pub use sparse::held_bytes as histogram_bytes;

/// The phases and the other trends a sample carries, in the order users read them.
pub const TRENDS: [&str; 7] = ["dns", "tcp", "tls", "first", "lastb", "total", "size"];

/// Exact values kept per trend before switching to the histogram: exact percentiles for a short
/// run, 1 KiB per trend at most, so a thousand targets stay light.
const EXACT_LIMIT: usize = 256;

/// One sample as statistics see it.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// Start, seconds since the epoch.
    pub start: f64,
    /// dns, tcp, tls, first, lastb, total in ms, then size in bytes (see [`TRENDS`]).
    pub values: [f64; 7],
    /// A complete response arrived.
    pub ok: bool,
    pub status: u16,
    /// "dns", "timeout"... when the sample failed.
    pub error_kind: Option<String>,
}

/// The distribution of one trend. Times are kept in microseconds, sizes in bytes.
#[derive(Clone, Debug, Default)]
pub struct Trend {
    n: u64,
    sum: f64,
    sum_sq: f64,
    min: u64,
    max: u64,
    exact: Vec<u32>,
    hist: Option<Sparse>,
}

impl Trend {
    fn record(&mut self, v: u64) {
        if self.n == 0 || v < self.min {
            self.min = v;
        }
        self.max = self.max.max(v);
        self.n += 1;
        self.sum += v as f64;
        self.sum_sq += (v as f64) * (v as f64);
        match &mut self.hist {
            Some(h) => h.record(v),
            None if self.exact.len() < EXACT_LIMIT => {
                self.exact.push(v.min(u32::MAX as u64) as u32)
            }
            None => {
                let mut h = Sparse::default();
                for &x in &self.exact {
                    h.record(u64::from(x));
                }
                h.record(v);
                self.exact = Vec::new();
                self.hist = Some(h);
            }
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Mean, in the trend's unit (µs or bytes).
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Population standard deviation.
    pub fn stddev(&self) -> Option<f64> {
        let mean = self.mean()?;
        Some((self.sum_sq / self.n as f64 - mean * mean).max(0.0).sqrt())
    }

    pub fn min(&self) -> Option<f64> {
        (self.n > 0).then_some(self.min as f64)
    }

    pub fn max(&self) -> Option<f64> {
        (self.n > 0).then_some(self.max as f64)
    }

    /// The value at percentile `p` (0..=100), nearest rank.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        match &self.hist {
            Some(h) => {
                let v = h.value_at_rank(rank(self.n, p)).unwrap_or(self.max);
                // The extremes are known exactly; a bucket's midpoint may lie past them.
                Some(v.clamp(self.min, self.max) as f64)
            }
            None => Some(nearest_rank(&mut self.exact.clone(), p) as f64),
        }
    }

    /// Adds every value of `other`.
    fn merge(&mut self, other: &Trend) {
        if other.n == 0 {
            return;
        }
        match &other.hist {
            Some(theirs) => {
                if self.hist.is_none() {
                    let mut h = Sparse::default();
                    for &x in &self.exact {
                        h.record(u64::from(x));
                    }
                    self.exact = Vec::new();
                    self.hist = Some(h);
                }
                self.hist.as_mut().expect("just set").merge(theirs);
                self.min = if self.n == 0 {
                    other.min
                } else {
                    self.min.min(other.min)
                };
                self.max = self.max.max(other.max);
                self.n += other.n;
                self.sum += other.sum;
                self.sum_sq += other.sum_sq;
            }
            None => {
                for &v in &other.exact {
                    self.record(u64::from(v));
                }
            }
        }
    }
}

/// The 1-based nearest rank of percentile `p` among `n` values: every percentile perftest
/// prints is the value at this rank.
pub fn rank(n: u64, p: f64) -> u64 {
    ((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as u64
}

/// Nearest-rank percentile of `values` (reordered in place).
fn nearest_rank<T: Copy + Ord>(values: &mut [T], p: f64) -> T {
    let rank = rank(values.len() as u64, p) as usize;
    *values.select_nth_unstable(rank - 1).1
}

/// A sample as the rolling window keeps it: 40 bytes.
#[derive(Clone, Debug)]
struct WindowSample {
    start: f64,
    values: [u32; 7],
    ok: bool,
    /// Its phases count (see [`CHECK_FAILED`]).
    timed: bool,
    status: u16,
    kind: Option<u8>,
}

/// Every statistic of a set of samples (one target, or several aggregated).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub name: String,
    samples: u64,
    ok: u64,
    first_start: Option<f64>,
    last_start: Option<f64>,
    errors: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    trends: [Trend; 7],
    window: Option<Window>,
    /// Named checks run on the samples (stats:check), by name.
    pub checks: Checks,
}

#[derive(Clone, Debug)]
struct Window {
    span: Duration,
    kept: VecDeque<WindowSample>,
    kinds: Vec<String>,
}

/// Which samples a query covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scope {
    /// Every sample since the start.
    Run,
    /// The samples that started within the rolling window, counted back from `now`.
    Window { now: f64 },
}

/// A trend's unit: phases are kept in microseconds and shown in ms; size in bytes.
fn scale(trend: usize) -> f64 {
    if TRENDS[trend] == "size" { 1.0 } else { 1000.0 }
}

/// Index of a trend by name.
pub fn trend_index(name: &str) -> Option<usize> {
    TRENDS.iter().position(|t| *t == name)
}

impl Stats {
    /// Empty statistics; `window` keeps the samples of the last `window` for rolling queries.
    pub fn new(name: &str, window: Option<Duration>) -> Stats {
        Stats {
            name: name.to_string(),
            window: window.map(|span| Window {
                span,
                kept: VecDeque::new(),
                kinds: Vec::new(),
            }),
            checks: Checks::new(window),
            ..Stats::default()
        }
    }

    /// Adds a sample.
    pub fn add(&mut self, s: &Sample) {
        self.samples += 1;
        self.first_start = Some(self.first_start.map_or(s.start, |f| f.min(s.start)));
        self.last_start = Some(self.last_start.map_or(s.start, |l| l.max(s.start)));
        if s.status != 0 {
            *self.statuses.entry(s.status).or_default() += 1;
        }
        let mut units = [0u32; 7];
        let timed = s.ok || s.error_kind.as_deref() == Some(CHECK_FAILED);
        if timed {
            for (i, v) in s.values.iter().enumerate() {
                let u = (v.max(0.0) * scale(i)).round() as u64;
                units[i] = u.min(u32::MAX as u64) as u32;
                self.trends[i].record(u);
            }
        }
        if s.ok {
            self.ok += 1;
        } else {
            let kind = s.error_kind.clone().unwrap_or_else(|| "error".to_string());
            *self.errors.entry(kind).or_default() += 1;
        }
        if let Some(w) = &mut self.window {
            let kind = s
                .error_kind
                .as_ref()
                .map(|k| match w.kinds.iter().position(|x| x == k) {
                    Some(i) => i as u8,
                    None => {
                        w.kinds.push(k.clone());
                        (w.kinds.len() - 1) as u8
                    }
                });
            w.kept.push_back(WindowSample {
                start: s.start,
                values: units,
                ok: s.ok,
                timed,
                status: s.status,
                kind,
            });
            let horizon = s.start - w.span.as_secs_f64();
            while w.kept.front().is_some_and(|k| k.start < horizon) {
                w.kept.pop_front();
            }
        }
    }

    /// True if a rolling window was asked for.
    pub fn has_window(&self) -> bool {
        self.window.is_some()
    }

    /// The rolling window's span.
    pub fn window_span(&self) -> Option<Duration> {
        self.window.as_ref().map(|w| w.span)
    }

    fn kept(&self, now: f64) -> impl Iterator<Item = &WindowSample> {
        let (span, kept) = match &self.window {
            Some(w) => (w.span.as_secs_f64(), Some(&w.kept)),
            None => (0.0, None),
        };
        kept.into_iter()
            .flatten()
            .filter(move |k| k.start >= now - span && k.start <= now)
    }

    /// Samples in scope.
    pub fn count(&self, scope: Scope) -> u64 {
        match scope {
            Scope::Run => self.samples,
            Scope::Window { now } => self.kept(now).count() as u64,
        }
    }

    /// Successful samples in scope.
    pub fn ok(&self, scope: Scope) -> u64 {
        match scope {
            Scope::Run => self.ok,
            Scope::Window { now } => self.kept(now).filter(|k| k.ok).count() as u64,
        }
    }

    /// Failed samples in scope.
    pub fn failed(&self, scope: Scope) -> u64 {
        self.count(scope) - self.ok(scope)
    }

    /// Failures by kind.
    pub fn errors(&self, scope: Scope) -> BTreeMap<String, u64> {
        match scope {
            Scope::Run => self.errors.clone(),
            Scope::Window { now } => {
                let kinds = self.window.as_ref().map(|w| &w.kinds);
                let mut out = BTreeMap::new();
                for k in self.kept(now).filter(|k| !k.ok) {
                    let name = k
                        .kind
                        .and_then(|i| kinds.and_then(|ks| ks.get(i as usize)))
                        .cloned()
                        .unwrap_or_else(|| "error".to_string());
                    *out.entry(name).or_default() += 1;
                }
                out
            }
        }
    }

    /// Responses by status code.
    pub fn statuses(&self, scope: Scope) -> BTreeMap<u16, u64> {
        match scope {
            Scope::Run => self.statuses.clone(),
            Scope::Window { now } => {
                let mut out = BTreeMap::new();
                for k in self.kept(now).filter(|k| k.status != 0) {
                    *out.entry(k.status).or_default() += 1;
                }
                out
            }
        }
    }

    /// The fraction of samples that failed (0 when there are none).
    pub fn error_rate(&self, scope: Scope) -> f64 {
        let n = self.count(scope);
        if n == 0 {
            0.0
        } else {
            self.failed(scope) as f64 / n as f64
        }
    }

    /// Samples per second: over the run, from the first start to `now`; over the window, its
    /// span (or the time since the first sample, if shorter).
    pub fn rate(&self, scope: Scope, now: f64) -> f64 {
        let n = self.count(scope) as f64;
        let Some(first) = self.first_start else {
            return 0.0;
        };
        let elapsed = match scope {
            Scope::Run => now - first,
            Scope::Window { .. } => {
                let span = self.window_span().map_or(0.0, |s| s.as_secs_f64());
                span.min(now - first)
            }
        };
        if elapsed <= 0.0 { 0.0 } else { n / elapsed }
    }

    /// When the first and last samples started (epoch seconds).
    pub fn time_span(&self) -> Option<(f64, f64)> {
        Some((self.first_start?, self.last_start?))
    }

    /// An aggregate of a trend, in ms (bytes for size): "avg", "min", "max", "med", "stddev",
    /// "count" or "p(N)". None when no successful sample is in scope.
    pub fn aggregate(&self, trend: usize, agg: &Agg, scope: Scope) -> Option<f64> {
        let unit = scale(trend);
        match scope {
            Scope::Run => {
                let t = &self.trends[trend];
                let v = match agg {
                    Agg::Count => return Some(t.count() as f64),
                    Agg::Avg => t.mean(),
                    Agg::Min => t.min(),
                    Agg::Max => t.max(),
                    Agg::Med => t.percentile(50.0),
                    Agg::P(p) => t.percentile(*p),
                    Agg::Stddev => t.stddev(),
                }?;
                Some(v / unit)
            }
            Scope::Window { now } => {
                let mut values: Vec<u32> = self
                    .kept(now)
                    .filter(|k| k.timed)
                    .map(|k| k.values[trend])
                    .collect();
                if let Agg::Count = agg {
                    return Some(values.len() as f64);
                }
                if values.is_empty() {
                    return None;
                }
                let n = values.len() as f64;
                let v = match agg {
                    Agg::Count => unreachable!("handled above"),
                    Agg::Avg => values.iter().map(|&x| f64::from(x)).sum::<f64>() / n,
                    Agg::Min => f64::from(*values.iter().min().expect("not empty")),
                    Agg::Max => f64::from(*values.iter().max().expect("not empty")),
                    Agg::Med => f64::from(nearest_rank(&mut values, 50.0)),
                    Agg::P(p) => f64::from(nearest_rank(&mut values, *p)),
                    Agg::Stddev => {
                        let mean = values.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
                        let var = values
                            .iter()
                            .map(|&x| (f64::from(x) - mean).powi(2))
                            .sum::<f64>()
                            / n;
                        var.sqrt()
                    }
                };
                Some(v / unit)
            }
        }
    }

    /// Adds every sample of `other` (for a total across targets). The rolling window is not merged.
    pub fn merge(&mut self, other: &Stats) {
        self.samples += other.samples;
        self.ok += other.ok;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        self.first_start = match (self.first_start, other.first_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_start = match (self.last_start, other.last_start) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for (mine, theirs) in self.trends.iter_mut().zip(&other.trends) {
            mine.merge(theirs);
        }
        self.checks.merge(&other.checks);
    }
}

/// How a trend is summarised in a threshold or a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Agg {
    Avg,
    Min,
    Max,
    Med,
    Stddev,
    Count,
    /// A percentile, 0..=100.
    P(f64),
}

impl Agg {
    /// Parses "avg", "min", "max", "med", "stddev", "count", "p(95)", "p(99.9)", "p95".
    pub fn parse(s: &str) -> Option<Agg> {
        let s = s.trim();
        Some(match s {
            "avg" | "mean" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "med" | "median" => Agg::Med,
            "stddev" => Agg::Stddev,
            "count" => Agg::Count,
            _ => {
                let inner = s
                    .strip_prefix("p(")
                    .and_then(|r| r.strip_suffix(')'))
                    .or_else(|| s.strip_prefix('p'))?;
                let p: f64 = inner.trim().parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                Agg::P(p)
            }
        })
    }
}

impl std::fmt::Display for Agg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agg::Avg => f.write_str("avg"),
            Agg::Min => f.write_str("min"),
            Agg::Max => f.write_str("max"),
            Agg::Med => f.write_str("med"),
            Agg::Stddev => f.write_str("stddev"),
            Agg::Count => f.write_str("count"),
            Agg::P(p) => write!(f, "p({p})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: f64, total: f64, ok: bool) -> Sample {
        Sample {
            start,
            values: [1.0, 2.0, 0.0, total - 3.0, 0.0, total, 100.0],
            ok,
            status: if ok { 200 } else { 0 },
            error_kind: (!ok).then(|| "timeout".to_string()),
        }
    }

    #[test]
    fn percentiles_are_exact_while_few_and_close_once_many() {
        let mut s = Stats::new("t", None);
        for i in 1..=100 {
            s.add(&sample(i as f64, i as f64, true));
        }
        let total = trend_index("total").unwrap();
        assert_eq!(s.aggregate(total, &Agg::P(95.0), Scope::Run), Some(95.0));
        assert_eq!(s.aggregate(total, &Agg::Med, Scope::Run), Some(50.0));
        assert_eq!(s.aggregate(total, &Agg::Avg, Scope::Run), Some(50.5));
        assert_eq!(s.aggregate(total, &Agg::Max, Scope::Run), Some(100.0));

        // Past the exact limit the histogram answers, within 0.4%.
        let mut big = Stats::new("big", None);
        for i in 1..=20_000 {
            big.add(&sample(0.0, i as f64 / 100.0, true));
        }
        let p99 = big.aggregate(total, &Agg::P(99.0), Scope::Run).unwrap();
        assert!((p99 - 198.0).abs() / 198.0 <= 1.0 / 256.0, "{p99}");
        let mean = big.aggregate(total, &Agg::Avg, Scope::Run).unwrap();
        assert!((mean - 100.005).abs() < 1e-6, "means stay exact: {mean}");
    }

    #[test]
    fn failures_count_by_kind_not_in_the_phases() {
        let mut s = Stats::new("t", None);
        s.add(&sample(0.0, 10.0, true));
        s.add(&sample(1.0, 0.5, false));
        assert_eq!(s.count(Scope::Run), 2);
        assert_eq!(s.failed(Scope::Run), 1);
        assert_eq!(s.errors(Scope::Run).get("timeout"), Some(&1));
        assert_eq!(s.error_rate(Scope::Run), 0.5);
        let total = trend_index("total").unwrap();
        assert_eq!(s.aggregate(total, &Agg::Min, Scope::Run), Some(10.0));
    }

    #[test]
    fn a_sample_only_a_check_failed_keeps_its_phases() {
        let mut s = Stats::new("t", Some(Duration::from_secs(60)));
        s.add(&sample(0.0, 10.0, true));
        s.add(&Sample {
            ok: false,
            error_kind: Some(CHECK_FAILED.into()),
            ..sample(1.0, 30.0, true)
        });
        s.add(&sample(2.0, 0.5, false));
        let total = trend_index("total").unwrap();
        for scope in [Scope::Run, Scope::Window { now: 2.0 }] {
            assert_eq!(s.failed(scope), 2);
            assert_eq!(s.errors(scope).get(CHECK_FAILED), Some(&1));
            assert_eq!(s.aggregate(total, &Agg::Max, scope), Some(30.0));
            assert_eq!(s.aggregate(total, &Agg::Min, scope), Some(10.0));
        }
    }

    #[test]
    fn the_window_keeps_only_recent_samples() {
        let mut s = Stats::new("t", Some(Duration::from_secs(10)));
        for i in 0..30 {
            s.add(&sample(
                i as f64,
                if i < 20 { 500.0 } else { 10.0 },
                i % 10 != 0,
            ));
        }
        let now = Scope::Window { now: 29.0 };
        assert_eq!(s.count(now), 11, "starts 19..=29");
        let total = trend_index("total").unwrap();
        assert_eq!(s.aggregate(total, &Agg::P(50.0), now), Some(10.0));
        assert_eq!(s.aggregate(total, &Agg::Max, now), Some(500.0));
        assert_eq!(s.errors(now).get("timeout"), Some(&1));
        assert_eq!(s.count(Scope::Run), 30);
        assert!((s.rate(now, 29.0) - 1.1).abs() < 1e-9);
    }

    #[test]
    fn aggregations_parse_as_k6_writes_them() {
        assert_eq!(Agg::parse("p(95)"), Some(Agg::P(95.0)));
        assert_eq!(Agg::parse("p(99.9)"), Some(Agg::P(99.9)));
        assert_eq!(Agg::parse("med"), Some(Agg::Med));
        assert_eq!(Agg::parse("p(101)"), None);
        assert_eq!(Agg::parse("mode"), None);
    }

    #[test]
    fn merging_adds_everything() {
        let mut a = Stats::new("a", None);
        let mut b = Stats::new("b", None);
        a.add(&sample(0.0, 10.0, true));
        b.add(&sample(5.0, 30.0, true));
        b.add(&sample(6.0, 1.0, false));
        a.merge(&b);
        assert_eq!(a.count(Scope::Run), 3);
        let total = trend_index("total").unwrap();
        assert_eq!(a.aggregate(total, &Agg::Max, Scope::Run), Some(30.0));
        assert_eq!(a.time_span(), Some((0.0, 6.0)));
    }

    #[test]
    fn merging_histograms_keeps_percentiles_and_exact_moments() {
        let total = trend_index("total").unwrap();
        let (mut a, mut b, mut both) = (
            Stats::new("a", None),
            Stats::new("b", None),
            Stats::new("both", None),
        );
        for i in 1..=3000 {
            let s = sample(0.0, 10.0 + (i % 97) as f64, true);
            if i % 3 == 0 { &mut a } else { &mut b }.add(&s);
            both.add(&s);
        }
        a.merge(&b);
        for agg in [Agg::Count, Agg::Min, Agg::Max, Agg::Med, Agg::P(99.0)] {
            assert_eq!(
                a.aggregate(total, &agg, Scope::Run),
                both.aggregate(total, &agg, Scope::Run),
                "{agg}"
            );
        }
        let (x, y) = (
            a.aggregate(total, &Agg::Avg, Scope::Run).unwrap(),
            both.aggregate(total, &Agg::Avg, Scope::Run).unwrap(),
        );
        assert!((x - y).abs() < 1e-9, "{x} {y}");
    }

    #[test]
    fn a_long_run_keeps_few_buckets() {
        let mut s = Stats::new("t", None);
        // A day of one sample a second around 40 ms, with jitter.
        for i in 0..86_400u64 {
            let jitter = ((i * 7919) % 1000) as f64 / 100.0;
            s.add(&sample(i as f64, 40.0 + jitter, true));
        }
        let buckets = s.trends[trend_index("total").unwrap()]
            .hist
            .as_ref()
            .unwrap()
            .buckets();
        assert!(buckets < 100, "{buckets} buckets for 40..50 ms");
    }
}
