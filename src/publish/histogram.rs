//! Phase histograms whose `histogram_quantile` tells the truth with at most 40 buckets.
//!
//! Prometheus interpolates linearly inside a bucket, so a quantile read from a tight cluster
//! of samples (a target's latencies usually are one) can be off by the bucket's whole width:
//! fixed buckets fine enough everywhere would need hundreds. Instead every value is counted
//! on a fine logarithmic grid (24 steps per doubling, 2.9% apart, 1 µs to 100 s) and each
//! series shows at most 38 of the grid's boundaries: 25 one step apart over where its samples
//! are (its 5th to 96th percentile, with room around), the rest spaced ever wider out to the
//! grid's ends; when its samples spread wider than 25 steps cover, 13 over them and one-step
//! windows around its p10 and p95. Any boundary's cumulative count is exact (the grid holds
//! every sample), so a series may move its dense boundaries when its samples move without
//! telling a lie: it does so only when its percentiles leave them. Fixed boundaries, the same for every series (for
//! summing buckets across processes), are there when a scenario asks for them.

use std::sync::{Arc, OnceLock};

/// Grid steps per doubling: neighbouring boundaries are 2^(1/24) = 2.9% apart.
const STEPS: i32 = 24;
/// The grid's first boundary, 2^(-480/24) s = 0.95 µs, and its last, 2^(160/24) s = 101 s.
const K_MIN: i32 = -20 * STEPS;
const K_MAX: i32 = 160;
/// Dense boundaries shown over where a series' samples are.
const DENSE: usize = 25;
/// Finite boundaries a series shows at most (with +Inf: 40 buckets).
pub const MAX_BOUNDARIES: usize = 39;
/// The dense boundaries cover from this percentile to the next of a series' samples.
const CORE: (f64, f64) = (0.05, 0.96);

/// The grid's boundaries in seconds, rounded to four significant digits so that labels stay
/// short (`le="0.01043"`); the rounding moves none past its neighbour.
fn grid() -> &'static [f64] {
    static GRID: OnceLock<Vec<f64>> = OnceLock::new();
    GRID.get_or_init(|| {
        (K_MIN..=K_MAX)
            .map(|k| round4(2f64.powf(f64::from(k) / f64::from(STEPS))))
            .collect()
    })
}

fn round4(v: f64) -> f64 {
    let scale = 10f64.powi(3 - v.log10().floor() as i32);
    // Formatting the rounded value and parsing it back gives the f64 nearest the decimal, so
    // `le` reads as four digits in both expositions.
    format!("{:.0}", v * scale)
        .parse::<f64>()
        .map_or(v, |m| format!("{}", m / scale).parse().unwrap_or(v))
}

/// The grid index whose bucket holds `v`: the first boundary at or above it (values at or
/// below the first boundary, 0 included, are index 0; above the last, one past it).
fn index(v: f64) -> u16 {
    grid().partition_point(|b| *b < v) as u16
}

/// A fine entry's count takes the bits below its grid index (641 boundaries: 10 bits).
const COUNT_BITS: u32 = 54;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn fine_index(e: u64) -> u16 {
    (e >> COUNT_BITS) as u16
}

fn fine_count(e: u64) -> u64 {
    e & COUNT_MASK
}

/// How a phase's buckets are laid out.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// Dense where each series' samples are (the default).
    Adaptive,
    /// These boundaries (seconds, ascending), the same for every series.
    Fixed(Arc<[f64]>),
}

impl Layout {
    /// Checks a scenario's boundaries: positive, ascending, at most 39 of them.
    pub fn fixed(bounds: Vec<f64>) -> Result<Layout, super::InvalidConfig> {
        if bounds.is_empty() || bounds.len() > MAX_BOUNDARIES {
            return Err(format!(
                "give 1 to {MAX_BOUNDARIES} boundaries (with +Inf, at most 40 buckets), got {}",
                bounds.len()
            )
            .into());
        }
        if bounds.iter().any(|b| !b.is_finite() || *b <= 0.0) {
            return Err("boundaries are seconds above 0".into());
        }
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Err("boundaries must be in ascending order".into());
        }
        Ok(Layout::Fixed(bounds.into()))
    }

    /// `count` boundaries spaced evenly on a log scale from `from` to `to` seconds.
    pub fn log_spaced(from: f64, to: f64, count: usize) -> Result<Layout, super::InvalidConfig> {
        if !(from > 0.0 && to > from && from.is_finite() && to.is_finite()) {
            return Err(format!("from {from} to {to}: give 0 < from < to (seconds)").into());
        }
        if !(2..=MAX_BOUNDARIES).contains(&count) {
            return Err(format!("count {count}: 2 to {MAX_BOUNDARIES}").into());
        }
        let ratio = (to / from).powf(1.0 / (count - 1) as f64);
        let bounds: Vec<f64> = (0..count)
            .map(|i| round4(from * ratio.powi(i as i32)))
            .collect();
        Layout::fixed(bounds)
    }
}

/// One series' counts.
#[derive(Clone, Debug)]
pub struct Histogram {
    count: u64,
    sum: f64,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Adaptive {
        /// `grid index << COUNT_BITS | count`, in index order: only the buckets seen, 8
        /// bytes each rather than a tuple's padded 16 (a monitor keeps six per target).
        fine: Vec<u64>,
        /// Grid indices of the boundaries shown, ascending.
        shown: Vec<u16>,
        /// The dense part of `shown`.
        dense: Dense,
    },
    Fixed {
        bounds: Arc<[f64]>,
        /// Per bucket (not cumulative), +Inf last.
        counts: Vec<u64>,
    },
}

impl Histogram {
    pub fn new(layout: &Layout) -> Histogram {
        let kind = match layout {
            Layout::Adaptive => Kind::Adaptive {
                fine: Vec::new(),
                shown: Vec::new(),
                dense: Dense::default(),
            },
            Layout::Fixed(b) => Kind::Fixed {
                bounds: b.clone(),
                counts: vec![0; b.len() + 1],
            },
        };
        Histogram {
            count: 0,
            sum: 0.0,
            kind,
        }
    }

    /// Counts one value (seconds).
    pub fn observe(&mut self, v: f64) {
        let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
        self.count += 1;
        self.sum += v;
        match &mut self.kind {
            Kind::Adaptive { fine, .. } => {
                let i = index(v);
                match fine.binary_search_by_key(&i, |e| fine_index(*e)) {
                    // 2^54 samples in one bucket: the count stops rather than spills.
                    Ok(at) => fine[at] += u64::from(fine_count(fine[at]) < COUNT_MASK),
                    Err(at) => {
                        if fine.len() == fine.capacity() {
                            // A quarter more, not twice as many: a series' buckets come a few
                            // at a time for hours, and doubling leaves up to half unused.
                            fine.reserve_exact(fine.len() / 4 + 4);
                        }
                        fine.insert(at, (u64::from(i) << COUNT_BITS) | 1)
                    }
                }
            }
            Kind::Fixed { bounds, counts } => {
                counts[bounds.partition_point(|b| *b < v)] += 1;
            }
        }
    }

    /// Samples counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Their sum, seconds.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// The boundaries shown with their cumulative counts, +Inf last. An adaptive series first
    /// moves its dense boundaries if its samples have left them.
    pub fn buckets(&mut self) -> Vec<(f64, u64)> {
        let total = self.count;
        match &mut self.kind {
            Kind::Adaptive { fine, shown, dense } => {
                if let Some(m) = marks(fine, total) {
                    if needs_layout(*dense, m) {
                        let (s, d) = layout(m);
                        *shown = s;
                        *dense = d;
                    }
                }
                let g = grid();
                let mut out = Vec::with_capacity(shown.len() + 1);
                let (mut seen, mut f) = (0, 0);
                for &b in shown.iter() {
                    while f < fine.len() && fine_index(fine[f]) <= b {
                        seen += fine_count(fine[f]);
                        f += 1;
                    }
                    out.push((g[usize::from(b)], seen));
                }
                out.push((f64::INFINITY, total));
                out
            }
            Kind::Fixed { bounds, counts } => {
                let mut seen = 0;
                bounds
                    .iter()
                    .copied()
                    .chain([f64::INFINITY])
                    .zip(counts.iter())
                    .map(|(b, c)| {
                        seen += c;
                        (b, seen)
                    })
                    .collect()
            }
        }
    }
}

/// Where a series' samples are: grid indices of the CORE percentiles, of p10 and of p95.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Marks {
    core: (u16, u16),
    p10: u16,
    p95: u16,
}

/// The dense part of a layout: its run (first, last, step) and, when the step is wider than
/// one, the one-step windows around p10 and p95.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Dense {
    first: u16,
    last: u16,
    step: u16,
    windows: Option<[(u16, u16); 2]>,
}

/// One-step boundaries on each side of p10's and p95's buckets when the core is spread.
const WINDOW: i32 = 4;
/// Boundaries over the core when it has windows too.
const SPREAD_DENSE: usize = 13;

fn marks(fine: &[u64], total: u64) -> Option<Marks> {
    if total == 0 {
        return None;
    }
    let rank = |p: f64| ((p * total as f64).ceil() as u64).clamp(1, total);
    let at = |r: u64| {
        let mut seen = 0;
        for &e in fine {
            seen += fine_count(e);
            if seen >= r {
                return fine_index(e);
            }
        }
        fine.last().map_or(0, |&e| fine_index(e))
    };
    Some(Marks {
        core: (at(rank(CORE.0)), at(rank(CORE.1))),
        p10: at(rank(0.10)),
        p95: at(rank(0.95)),
    })
}

fn needs_layout(d: Dense, m: Marks) -> bool {
    if d.step == 0 {
        return true;
    }
    // The core's lowest bucket starts at the boundary below it, which must be shown too.
    let outside = (m.core.0 <= d.first && d.first > 0) || m.core.1 > d.last;
    // Spread out once and narrow since: a finer step now fits.
    let finer = d.step > 1 && step_for(m.core, DENSE) < d.step / 2;
    // p10 or p95 has walked to the edge of its window.
    let walked = d.windows.is_some_and(|[a, b]| {
        let inside = |q: u16, (lo, hi): (u16, u16)| q > lo + 1 && q < hi;
        !inside(m.p10, a) || !inside(m.p95, b)
    }) || (d.windows.is_none() && step_for(m.core, DENSE) > 1);
    outside || finer || walked
}

/// The step that fits the core's buckets (and the boundary below them) in `n` boundaries.
fn step_for(core: (u16, u16), n: usize) -> u16 {
    let span = usize::from(core.1 - core.0) + 1;
    span.div_ceil(n - 1).max(1) as u16
}

/// Boundaries for a series: over its core, DENSE of them `step` apart (the step as fine as
/// fits); when that step is wider than one, fewer over the core and one-step windows around
/// p10 and p95; then gaps doubling from 3 steps out to the grid's ends.
fn layout(m: Marks) -> (Vec<u16>, Dense) {
    let last = (grid().len() - 1) as i32;
    let spread = step_for(m.core, DENSE) > 1;
    let n = if spread { SPREAD_DENSE } else { DENSE } as i32;
    let step = i32::from(step_for(m.core, n as usize));
    let (lo, hi) = (i32::from(m.core.0) - 1, i32::from(m.core.1));
    let used = (hi - lo + step - 1) / step;
    let spare = n - 1 - used;
    // Room on both sides, shifted where the grid ends.
    let mut first = lo - spare / 2 * step;
    first = first.min(last - (n - 1) * step).max(0);
    let dense_last = (first + (n - 1) * step).min(last);
    let mut shown: Vec<i32> = (0..n)
        .map(|i| first + i * step)
        .filter(|b| *b <= last)
        .collect();
    let mut windows = None;
    if spread {
        let window = |q: u16| {
            let q = i32::from(q);
            ((q - WINDOW).max(0), (q + WINDOW).min(last))
        };
        let (a, b) = (window(m.p10), window(m.p95));
        shown.extend(a.0..=a.1);
        shown.extend(b.0..=b.1);
        shown.sort_unstable();
        shown.dedup();
        windows = Some([(a.0 as u16, a.1 as u16), (b.0 as u16, b.1 as u16)]);
    }
    let (low, high) = (shown[0], *shown.last().expect("dense boundaries"));
    let side = (MAX_BOUNDARIES - shown.len()) / 2;
    let mut below = Vec::new();
    let (mut at, mut gap) = (low, 3 * step);
    while below.len() < side && at > 0 {
        at = (at - gap).max(0);
        below.push(at);
        gap *= 2;
    }
    let room = MAX_BOUNDARIES - shown.len() - below.len();
    let mut above = Vec::new();
    let (mut at, mut gap) = (high, 3 * step);
    while above.len() < room && at < last {
        at = (at + gap).min(last);
        // The last boundary shown above is the grid's end, whatever the gaps reached.
        if above.len() + 1 == room {
            at = last;
        }
        above.push(at);
        gap *= 2;
    }
    shown.extend(below);
    shown.extend(above);
    shown.sort_unstable();
    shown.dedup();
    (
        shown.into_iter().map(|b| b as u16).collect(),
        Dense {
            first: first as u16,
            last: dense_last as u16,
            step: step as u16,
            windows,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Prometheus' histogram_quantile computes from cumulative buckets (linear inside the
    /// bucket, 0 as the lowest bucket's lower edge).
    fn prom_quantile(q: f64, buckets: &[(f64, u64)]) -> f64 {
        let total = buckets.last().unwrap().1 as f64;
        let rank = q * total;
        let at = buckets.iter().position(|(_, c)| *c as f64 >= rank).unwrap();
        if at == buckets.len() - 1 {
            return buckets[at - 1].0;
        }
        let (lo, below) = if at == 0 {
            (0.0, 0.0)
        } else {
            (buckets[at - 1].0, buckets[at - 1].1 as f64)
        };
        let (hi, count) = (buckets[at].0, buckets[at].1 as f64);
        lo + (hi - lo) * (rank - below) / (count - below)
    }

    fn nearest_rank(values: &mut [f64], q: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let r = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[r - 1]
    }

    #[test]
    fn the_grid_is_ascending_short_and_fine() {
        let g = grid();
        assert!(g.windows(2).all(|w| w[0] < w[1]));
        assert!(g[0] < 1e-6 && *g.last().unwrap() > 100.0);
        for w in g.windows(2) {
            assert!(w[1] / w[0] < 1.031, "{} {}", w[0], w[1]);
        }
        assert!(g.iter().all(|b| round4(*b) == *b), "four digits");
        assert_eq!(index(0.0), 0);
        assert_eq!(g[usize::from(index(0.01043))], 0.01043);
    }

    #[test]
    fn tight_clusters_read_within_5_percent_wherever_they_sit() {
        // Clusters 1% wide from 50 µs to 20 s, at offsets that put them anywhere in a bucket.
        let mut v0 = 50e-6;
        while v0 < 20.0 {
            let mut h = Histogram::new(&Layout::Adaptive);
            let mut values: Vec<f64> = (0..500)
                .map(|i| v0 * (1.0 + 0.01 * f64::from((i * 37) % 100) / 100.0))
                .collect();
            for v in &values {
                h.observe(*v);
            }
            let b = h.buckets();
            assert!(b.len() <= 40, "{} buckets", b.len());
            for q in [0.10, 0.50, 0.95] {
                let truth = nearest_rank(&mut values, q);
                let read = prom_quantile(q, &b);
                assert!(
                    (read / truth - 1.0).abs() < 0.035,
                    "p{} of a cluster at {v0}: {read} vs {truth}",
                    q * 100.0
                );
            }
            v0 *= 1.37;
        }
    }

    #[test]
    fn a_first_sample_far_off_moves_the_dense_boundaries_to_the_rest() {
        let mut h = Histogram::new(&Layout::Adaptive);
        h.observe(0.350); // a cold first sample
        let first = h.buckets();
        let mut values = vec![0.350];
        for i in 0..200 {
            let v = 0.120 + 0.004 * f64::from(i % 10) / 10.0;
            values.push(v);
            h.observe(v);
        }
        let b = h.buckets();
        assert_ne!(first, b, "the dense boundaries moved");
        for q in [0.10, 0.95] {
            let truth = nearest_rank(&mut values, q);
            let read = prom_quantile(q, &b);
            assert!((read / truth - 1.0).abs() < 0.035, "{q}: {read} vs {truth}");
        }
        // And stay put while the samples do.
        for _ in 0..100 {
            h.observe(0.121);
        }
        let again: Vec<f64> = h.buckets().iter().map(|(le, _)| *le).collect();
        let before: Vec<f64> = b.iter().map(|(le, _)| *le).collect();
        assert_eq!(again, before);
    }

    #[test]
    fn few_samples_spread_wide_read_within_5_percent() {
        // 60 samples from one value to up to 9 times it, most near the low end (a CPU-bound
        // handshake on a loaded machine): p10 and p95 get one-step windows of their own.
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..2000 {
            let spread = 1.0 + 8.0 * rnd();
            let mut values: Vec<f64> = (0..60)
                .map(|_| 0.003 * spread.powf(rnd() * rnd()))
                .collect();
            let mut h = Histogram::new(&Layout::Adaptive);
            for v in &values {
                h.observe(*v);
            }
            let b = h.buckets();
            assert!(b.len() <= 40);
            for q in [0.10, 0.95] {
                let truth = nearest_rank(&mut values, q);
                let read = prom_quantile(q, &b);
                assert!((read / truth - 1.0).abs() < 0.035, "{q}: {read} vs {truth}");
            }
        }
    }

    #[test]
    fn wide_spreads_and_zeros_stay_within_bounds() {
        let mut h = Histogram::new(&Layout::Adaptive);
        let mut values = Vec::new();
        for i in 0..1000 {
            // 1 ms to 1 s, evenly on a log scale.
            let v = 1e-3 * 1000f64.powf(f64::from(i) / 999.0);
            values.push(v);
            h.observe(v);
        }
        let b = h.buckets();
        assert!(b.len() <= 40);
        for q in [0.10, 0.50, 0.95] {
            let truth = nearest_rank(&mut values, q);
            let read = prom_quantile(q, &b);
            assert!((read / truth - 1.0).abs() < 0.05, "{q}: {read} vs {truth}");
        }
        let mut z = Histogram::new(&Layout::Adaptive);
        for _ in 0..10 {
            z.observe(0.0);
        }
        let b = z.buckets();
        assert_eq!(b[0].1, 10, "zeros in the first bucket");
        assert!(b[0].0 < 1e-6);
        assert!(b.len() <= 40);
    }

    #[test]
    fn every_layout_has_at_most_40_buckets() {
        for k in 0..grid().len() as u16 {
            for w in [0u16, 5, 30, 100, 400] {
                let core = (k, (k + w).min(grid().len() as u16 - 1));
                let m = Marks {
                    core,
                    p10: core.0 + (core.1 - core.0) / 8,
                    p95: core.1 - (core.1 - core.0) / 20,
                };
                let (shown, _) = layout(m);
                assert!(shown.len() <= MAX_BOUNDARIES, "{core:?}: {}", shown.len());
                assert!(shown.windows(2).all(|p| p[0] < p[1]));
                assert!(shown.iter().any(|b| *b < core.0) || core.0 == 0);
                assert!(shown.iter().any(|b| *b >= core.1));
            }
        }
    }

    #[test]
    fn fixed_layouts_are_checked_and_counted() {
        assert!(Layout::fixed(vec![]).is_err());
        assert!(Layout::fixed(vec![0.2, 0.1]).is_err());
        assert!(Layout::fixed(vec![0.0, 0.1]).is_err());
        assert!(Layout::fixed((1..=40).map(f64::from).collect()).is_err());
        let l = Layout::log_spaced(0.001, 10.0, 5).unwrap();
        assert_eq!(
            l,
            Layout::Fixed(vec![0.001, 0.01, 0.1, 1.0, 10.0].into()),
            "decades"
        );
        let mut h = Histogram::new(&l);
        for v in [0.0005, 0.001, 0.05, 20.0] {
            h.observe(v);
        }
        assert_eq!(
            h.buckets(),
            vec![
                (0.001, 2),
                (0.01, 2),
                (0.1, 3),
                (1.0, 3),
                (10.0, 3),
                (f64::INFINITY, 4)
            ]
        );
    }
}
