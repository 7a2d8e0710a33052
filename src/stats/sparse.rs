//! A log-linear histogram that stores only the buckets it has seen. A thousand monitored
//! targets each keep seven of these for months: HDR's dense counts array (tens of KiB per
//! trend at 0.1%) would cost hundreds of MiB there, while a target's latencies fill a few
//! dozen buckets. Values below 256 are exact; above, a bucket spans at most 1/128 of its
//! values, and the midpoint reported is within 0.4% of any value in it.
//!
//! Its memory is what bounds a monitor's: a bucket is 4 bytes, so a trend whose values
//! spread over every bucket from 1 µs to 10 s (2,200 of them) holds 10.4 KiB. The soak
//! (bench/RESULTS.md) saw a hundred targets' tails reach new buckets all hour: at 256 buckets
//! per doubling, 8 bytes each and capacities doubled (0.2%; 64 KiB for that spread), that
//! grew the process by over a MiB an hour.

use std::sync::atomic::{AtomicU64, Ordering};

/// Sub-buckets per power of two, as a power of two.
const GROUPING: u32 = 7;
/// An entry packs the bucket index (13 bits: the last bucket, u64::MAX's, is 7,423) above
/// this many bits of count.
const COUNT_BITS: u32 = 19;
const COUNT_MAX: u32 = (1 << COUNT_BITS) - 1;

/// The heap every histogram in the process holds, for /memstats: what a soak reads to tell
/// the statistics' growth from the rest.
static HELD: AtomicU64 = AtomicU64::new(0);

/// Bytes the process's statistics histograms hold.
pub fn held_bytes() -> u64 {
    HELD.load(Ordering::Relaxed)
}

fn bytes(entries: &Vec<u32>) -> u64 {
    (entries.capacity() * std::mem::size_of::<u32>()) as u64
}

/// Counts of values by bucket.
#[derive(Debug, Default)]
pub struct Sparse {
    /// `index << COUNT_BITS | count`, in index order. A bucket counted past COUNT_MAX goes on
    /// in the next entry (same index): 4 more bytes per half a million of its values.
    entries: Vec<u32>,
}

impl Clone for Sparse {
    fn clone(&self) -> Sparse {
        let entries = self.entries.clone();
        HELD.fetch_add(bytes(&entries), Ordering::Relaxed);
        Sparse { entries }
    }
}

impl Drop for Sparse {
    fn drop(&mut self) {
        HELD.fetch_sub(bytes(&self.entries), Ordering::Relaxed);
    }
}

impl Sparse {
    /// Counts `v` once.
    pub fn record(&mut self, v: u64) {
        self.add(index(v), 1);
    }

    /// Adds `n` (at most COUNT_MAX) to bucket `idx`.
    fn add(&mut self, idx: u32, n: u32) {
        debug_assert!(n <= COUNT_MAX);
        // After the bucket's last entry, if it has any.
        let at = self.entries.partition_point(|e| e >> COUNT_BITS <= idx);
        let mut rest = n;
        if at > 0 && self.entries[at - 1] >> COUNT_BITS == idx {
            let e = &mut self.entries[at - 1];
            let put = rest.min(COUNT_MAX - (*e & COUNT_MAX));
            *e += put;
            rest -= put;
        }
        if rest > 0 {
            if self.entries.len() == self.entries.capacity() {
                // A quarter more, not twice as many: a trend's buckets come a few at a time
                // for hours, and doubling would leave up to half of them allocated unused.
                let before = bytes(&self.entries);
                self.entries.reserve_exact(self.entries.len() / 4 + 8);
                HELD.fetch_add(bytes(&self.entries) - before, Ordering::Relaxed);
            }
            self.entries.insert(at, (idx << COUNT_BITS) | rest);
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Sparse) {
        for e in &other.entries {
            self.add(e >> COUNT_BITS, e & COUNT_MAX);
        }
    }

    /// The value of nearest rank `rank` (1-based) among the values counted: its bucket's
    /// midpoint, or None past the last one.
    pub fn value_at_rank(&self, rank: u64) -> Option<u64> {
        let mut seen = 0;
        for e in &self.entries {
            seen += u64::from(e & COUNT_MAX);
            if seen >= rank {
                let (lo, hi) = bounds(e >> COUNT_BITS);
                return Some(lo + (hi - 1 - lo) / 2);
            }
        }
        None
    }

    /// Buckets in use.
    #[cfg(test)]
    pub fn buckets(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for e in &self.entries {
            if last != Some(e >> COUNT_BITS) {
                n += 1;
                last = Some(e >> COUNT_BITS);
            }
        }
        n
    }

    /// The heap it holds (what the memory is).
    #[cfg(test)]
    pub fn heap_bytes(&self) -> usize {
        bytes(&self.entries) as usize
    }
}

/// The bucket of `v`.
fn index(v: u64) -> u32 {
    if v < (2 << GROUPING) {
        return v as u32;
    }
    let shift = 63 - v.leading_zeros() - GROUPING;
    ((shift << GROUPING) as u64 + (v >> shift)) as u32
}

/// The values of bucket `idx`: `lo..hi`.
fn bounds(idx: u32) -> (u64, u64) {
    if idx < (2 << GROUPING) {
        return (u64::from(idx), u64::from(idx) + 1);
    }
    let shift = (idx >> GROUPING) - 1;
    let sub = u64::from(idx & ((1 << GROUPING) - 1)) + (1 << GROUPING);
    let lo = sub << shift;
    // The last bucket ends at u64::MAX rather than past it.
    (lo, lo.saturating_add(1 << shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_values_and_stay_within_their_precision() {
        let mut last_hi = 0;
        for v in (0..1_000_000u64).chain([u32::MAX as u64, u64::MAX / 3, u64::MAX]) {
            let (lo, hi) = bounds(index(v));
            assert!(lo <= v && (v < hi || hi == u64::MAX), "{v} in {lo}..{hi}");
            assert!(
                index(v) >> (32 - COUNT_BITS) == 0,
                "{v}: index fits its bits"
            );
            if v < 1_000_000 {
                assert!(lo <= last_hi, "no gap below {v}");
                last_hi = last_hi.max(hi);
            }
            if v < 256 {
                assert_eq!((lo, hi), (v, v + 1), "exact below 256");
            } else {
                assert!(
                    (hi - lo) as f64 / lo as f64 <= 1.0 / 128.0,
                    "{v}: {lo}..{hi}"
                );
            }
        }
    }

    #[test]
    fn ranks_find_their_bucket_and_merging_adds_counts() {
        let mut a = Sparse::default();
        for v in [10, 10, 20, 100_000, 100_001] {
            a.record(v);
        }
        assert_eq!(a.buckets(), 3, "100000 and 100001 share a bucket");
        assert_eq!(a.value_at_rank(2), Some(10));
        assert_eq!(a.value_at_rank(3), Some(20));
        let top = a.value_at_rank(5).unwrap();
        assert!((top as f64 - 100_000.0).abs() / 100_000.0 < 0.004, "{top}");
        assert_eq!(a.value_at_rank(6), None);

        let mut b = Sparse::default();
        b.record(15);
        b.record(10);
        b.merge(&a);
        assert_eq!(b.value_at_rank(3), Some(10));
        assert_eq!(b.value_at_rank(4), Some(15));
        assert_eq!(b.buckets(), 4);
    }

    #[test]
    fn a_bucket_counts_past_its_entry_s_width() {
        let mut a = Sparse::default();
        a.record(5);
        a.add(index(1000), COUNT_MAX);
        a.add(index(1000), COUNT_MAX);
        a.record(1000);
        a.record(2000);
        assert_eq!(a.buckets(), 3);
        assert_eq!(a.entries.len(), 5, "1000's bucket spans three entries");
        let n = 2 * u64::from(COUNT_MAX) + 1;
        let mid = a.value_at_rank(2).unwrap();
        assert_eq!(a.value_at_rank(1 + n), Some(mid), "the bucket's last value");
        assert!(a.value_at_rank(2 + n).unwrap() > mid, "then 2000's");
        assert_eq!(a.value_at_rank(3 + n), None);

        let mut b = Sparse::default();
        b.record(1000);
        b.merge(&a);
        b.merge(&a);
        assert_eq!(
            b.value_at_rank(1 + 2 * (1 + n)),
            Some(mid),
            "counts add across entries"
        );
        assert!(b.value_at_rank(2 + 2 * (1 + n)).unwrap() > mid);
    }

    #[test]
    fn the_process_total_follows_growth_clones_and_drops() {
        // Other tests' histograms come and go meanwhile: only this one's share is certain,
        // so it is read as at least what this one holds.
        let mut a = Sparse::default();
        for v in 0..5000 {
            a.record(v);
        }
        let held = a.heap_bytes() as u64;
        assert!(held >= a.buckets() as u64 * 4);
        assert!(held_bytes() >= held);
        let b = a.clone();
        assert!(held_bytes() >= held + b.heap_bytes() as u64);
        drop(b);
        drop(a);
    }

    /// A million values spread evenly on a log scale over 1 µs to 10 s: every bucket there
    /// in use, the most a trend of such latencies can ever hold.
    fn spread() -> Vec<u64> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..1_000_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                10f64.powf(7.0 * u).round() as u64
            })
            .collect()
    }

    #[test]
    fn a_trend_spread_over_every_bucket_stays_small_and_precise() {
        let values = spread();
        let mut h = Sparse::default();
        for &v in &values {
            h.record(v);
        }
        // 255 exact buckets, 15 doublings of 128 and part of one more.
        let buckets = h.buckets();
        assert!((2100..=2300).contains(&buckets), "{buckets} buckets");
        assert!(h.heap_bytes() <= 11 * 1024, "{} bytes", h.heap_bytes());
        assert!(
            h.heap_bytes() <= buckets * 4 * 5 / 4 + 64,
            "allocated {} for {buckets} buckets",
            h.heap_bytes()
        );

        let mut sorted = values.clone();
        sorted.sort_unstable();
        for p in [
            0.1, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0,
        ] {
            let rank = crate::stats::rank(sorted.len() as u64, p);
            let exact = sorted[rank as usize - 1];
            let got = h.value_at_rank(rank).unwrap();
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(
                err <= 1.0 / 256.0,
                "p{p}: {got} for {exact} ({:.3}%)",
                err * 100.0
            );
        }
    }
}
