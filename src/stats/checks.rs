//! Named checks, k6-style: how often each passed and failed, over the run and, when the stats
//! keep a rolling window, over the window. The `checks` threshold metric reads their rate.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

/// One check's tally.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passes: u64,
    pub fails: u64,
}

/// One checked sample as a rolling window keeps it: its start, checks passed, checks failed.
type Checked = (f64, u32, u32);

/// Every named check of a stats object.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    by_name: BTreeMap<String, Tally>,
    total: Tally,
    /// Each sample checked within the span, for rolling windows.
    window: Option<(Duration, VecDeque<Checked>)>,
}

impl Checks {
    /// Empty; `window` keeps each sample's outcome that long for rolling queries.
    pub fn new(window: Option<Duration>) -> Checks {
        Checks {
            window: window.map(|span| (span, VecDeque::new())),
            ..Checks::default()
        }
    }

    /// Records the checks run on one sample that started at `start`.
    pub fn record<'a>(&mut self, start: f64, outcomes: impl IntoIterator<Item = (&'a str, bool)>) {
        let (mut passes, mut fails) = (0u32, 0u32);
        for (name, pass) in outcomes {
            let tally = match self.by_name.get_mut(name) {
                Some(t) => t,
                None => self.by_name.entry(name.to_string()).or_default(),
            };
            if pass {
                tally.passes += 1;
                passes += 1;
            } else {
                tally.fails += 1;
                fails += 1;
            }
        }
        self.total.passes += u64::from(passes);
        self.total.fails += u64::from(fails);
        if let Some((span, kept)) = &mut self.window {
            kept.push_back((start, passes, fails));
            let horizon = start - span.as_secs_f64();
            while kept.front().is_some_and(|k| k.0 < horizon) {
                kept.pop_front();
            }
        }
    }

    /// Each check by name, in name order.
    pub fn by_name(&self) -> &BTreeMap<String, Tally> {
        &self.by_name
    }

    /// Passes and failures of every check, over the run or the window ending at `now`.
    pub fn total(&self, window_now: Option<f64>) -> Tally {
        match (window_now, &self.window) {
            (None, _) => self.total,
            (Some(now), Some((span, kept))) => {
                let from = now - span.as_secs_f64();
                kept.iter()
                    .filter(|k| k.0 >= from && k.0 <= now)
                    .fold(Tally::default(), |t, k| Tally {
                        passes: t.passes + u64::from(k.1),
                        fails: t.fails + u64::from(k.2),
                    })
            }
            (Some(_), None) => Tally::default(),
        }
    }

    /// The share of checks that passed; None when none ran.
    pub fn rate(&self, window_now: Option<f64>) -> Option<f64> {
        let t = self.total(window_now);
        let n = t.passes + t.fails;
        (n > 0).then(|| t.passes as f64 / n as f64)
    }

    /// Adds every tally of `other` (its window is not merged, as with samples).
    pub fn merge(&mut self, other: &Checks) {
        for (name, t) in &other.by_name {
            let mine = self.by_name.entry(name.clone()).or_default();
            mine.passes += t.passes;
            mine.fails += t.fails;
        }
        self.total.passes += other.total.passes;
        self.total.fails += other.total.fails;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_by_name_and_rates_over_run_and_window() {
        let mut c = Checks::new(Some(Duration::from_secs(10)));
        assert_eq!(c.rate(None), None, "no check ran: no rate");
        for i in 0..20 {
            // The body check fails for the first ten samples only.
            c.record(i as f64, [("status", true), ("body", i >= 10)]);
        }
        assert_eq!(
            c.by_name()["body"],
            Tally {
                passes: 10,
                fails: 10
            }
        );
        assert_eq!(c.rate(None), Some(0.75));
        // Starts 9..=19: one failed body check among 22.
        assert_eq!(
            c.total(Some(19.0)),
            Tally {
                passes: 21,
                fails: 1
            }
        );
        let mut other = Checks::new(None);
        other.record(0.0, [("status", false)]);
        c.merge(&other);
        assert_eq!(c.by_name()["status"].fails, 1);
        assert_eq!(c.total(None).fails, 11);
    }
}
