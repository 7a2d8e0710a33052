//! A log-linear histogram that stores only the buckets it has seen. A thousand monitored
//! targets each keep seven of these for months: HDR's dense counts array (tens of KiB per
//! trend at 0.1%) would cost hundreds of MiB there, while a target's latencies fill a few
//! dozen buckets. Values below 512 are exact; above, a bucket spans at most 1/256 of its
//! values, and the midpoint reported is within 0.2% of any value in it.

/// Sub-buckets per power of two, as a power of two.
const GROUPING: u32 = 8;
/// An entry packs the bucket index above this many bits of count.
const COUNT_BITS: u32 = 40;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// Counts of values by bucket.
#[derive(Clone, Debug, Default)]
pub struct Sparse {
    /// `index << COUNT_BITS | count`, in index order.
    entries: Vec<u64>,
}

impl Sparse {
    /// Counts `v` once.
    pub fn record(&mut self, v: u64) {
        self.add(index(v), 1);
    }

    fn add(&mut self, idx: u32, n: u64) {
        match self
            .entries
            .binary_search_by_key(&idx, |e| (e >> COUNT_BITS) as u32)
        {
            Ok(i) => {
                let e = &mut self.entries[i];
                // A trillion samples in one bucket: the count stops rather than spills.
                let count = ((*e & COUNT_MASK) + n).min(COUNT_MASK);
                *e = (*e & !COUNT_MASK) | count;
            }
            Err(i) => self
                .entries
                .insert(i, (u64::from(idx) << COUNT_BITS) | n.min(COUNT_MASK)),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Sparse) {
        for e in &other.entries {
            self.add((e >> COUNT_BITS) as u32, e & COUNT_MASK);
        }
    }

    /// The value of nearest rank `rank` (1-based) among the values counted: its bucket's
    /// midpoint, or None past the last one.
    pub fn value_at_rank(&self, rank: u64) -> Option<u64> {
        let mut seen = 0;
        for e in &self.entries {
            seen += e & COUNT_MASK;
            if seen >= rank {
                let (lo, hi) = bounds((e >> COUNT_BITS) as u32);
                return Some(lo + (hi - 1 - lo) / 2);
            }
        }
        None
    }

    /// Buckets in use (what the memory is).
    #[cfg(test)]
    pub fn buckets(&self) -> usize {
        self.entries.len()
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
            if v < 1_000_000 {
                assert!(lo <= last_hi, "no gap below {v}");
                last_hi = last_hi.max(hi);
            }
            if v < 512 {
                assert_eq!((lo, hi), (v, v + 1), "exact below 512");
            } else {
                assert!(
                    (hi - lo) as f64 / lo as f64 <= 1.0 / 256.0,
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
        assert!((top as f64 - 100_000.0).abs() / 100_000.0 < 0.002, "{top}");
        assert_eq!(a.value_at_rank(6), None);

        let mut b = Sparse::default();
        b.record(15);
        b.record(10);
        b.merge(&a);
        assert_eq!(b.value_at_rank(3), Some(10));
        assert_eq!(b.value_at_rank(4), Some(15));
        assert_eq!(b.buckets(), 4);
    }
}
