//! Thresholds in k6's grammar: `"p(95) < 300"` over a phase, `"rate < 0.01"` over errors.
//! Parsed when a script declares them (an unknown metric or a malformed expression is an error
//! then, never a silent pass) and evaluated over a [`Stats`] during and at the end of a run.

input_error!(
    /// A threshold expression that is not in k6's grammar, or names an unknown metric.
    InvalidThreshold
);

use crate::stats::{Agg, Scope, Stats, TRENDS, trend_index};

/// What a threshold measures.
#[derive(Clone, Debug, PartialEq)]
enum Measure {
    /// An aggregation of a trend (dns ... total, size).
    Trend(usize, Agg),
    /// The fraction of samples that failed.
    ErrorRate,
    /// The fraction of samples that succeeded.
    OkRate,
    /// How many samples.
    SampleCount,
    /// Samples per second.
    SampleRate,
    /// The share of named checks that passed.
    CheckRate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// One pass/fail criterion.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    /// The metric's name, as written ("total", "errors").
    pub metric: String,
    /// The expression, as written ("p(95) < 300").
    pub expr: String,
    /// Stop the run as soon as this fails.
    pub abort_on_fail: bool,
    measure: Measure,
    op: Op,
    limit: f64,
}

/// Every metric a threshold can name.
pub fn metric_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = TRENDS.to_vec();
    v.extend(["errors", "ok", "samples", "checks"]);
    v
}

impl Threshold {
    /// Parses `expr` for `metric`; the error names both and says what is expected.
    pub fn parse(
        metric: &str,
        expr: &str,
        abort_on_fail: bool,
    ) -> Result<Threshold, InvalidThreshold> {
        let bad = |why: &str| format!("threshold {metric}: \"{expr}\": {why}");
        let known = || metric_names().join(", ");
        let (left, op, right) = split_op(expr).ok_or_else(|| {
            bad("expected AGGREGATION OPERATOR NUMBER, such as \"p(95) < 300\" or \"rate < 0.01\"")
        })?;
        let limit: f64 = right
            .trim()
            .parse()
            .map_err(|_| bad(&format!("'{}' is not a number", right.trim())))?;
        let left = left.trim();
        let measure = match metric {
            "errors" | "ok" => match left {
                "rate" if metric == "errors" => Measure::ErrorRate,
                "rate" => Measure::OkRate,
                _ => {
                    return Err(
                        bad(&format!("{metric} takes 'rate', such as \"rate < 0.01\"")).into(),
                    );
                }
            },
            "checks" => match left {
                "rate" => Measure::CheckRate,
                _ => {
                    return Err(bad(
                        "checks takes 'rate' (the share that passed), such as \"rate > 0.99\"",
                    )
                    .into());
                }
            },
            "samples" => match left {
                "count" => Measure::SampleCount,
                "rate" => Measure::SampleRate,
                _ => return Err(bad("samples takes 'count' or 'rate' (per second)").into()),
            },
            _ => {
                let trend = trend_index(metric).ok_or_else(|| {
                    format!("threshold '{metric}': unknown metric (known: {})", known())
                })?;
                let agg = Agg::parse(left).ok_or_else(|| {
                    bad(&format!(
                        "unknown aggregation '{left}' (avg, min, med, max, stddev, count, p(N))"
                    ))
                })?;
                Measure::Trend(trend, agg)
            }
        };
        Ok(Threshold {
            metric: metric.to_string(),
            expr: expr.trim().to_string(),
            abort_on_fail,
            measure,
            op,
            limit,
        })
    }

    /// The first `abort_on_fail` threshold of `all` that fails over the whole run, with its
    /// value; one without data yet does not abort (the run has only begun). Loads and stats
    /// objects check this at most once a second.
    pub fn aborting<'a>(
        all: &'a [Threshold],
        stats: &Stats,
        now: f64,
    ) -> Option<(&'a Threshold, Option<f64>)> {
        all.iter().filter(|th| th.abort_on_fail).find_map(|th| {
            let (v, pass) = th.evaluate(stats, Scope::Run, now);
            (!pass && v.is_some()).then_some((th, v))
        })
    }

    /// The measured value (None without data) and whether the threshold holds. No data fails:
    /// a gate that saw no sample must not pass.
    pub fn evaluate(&self, stats: &Stats, scope: Scope, now: f64) -> (Option<f64>, bool) {
        let value = match &self.measure {
            Measure::Trend(t, agg) => stats.aggregate(*t, agg, scope),
            Measure::ErrorRate => (stats.count(scope) > 0).then(|| stats.error_rate(scope)),
            Measure::OkRate => (stats.count(scope) > 0).then(|| 1.0 - stats.error_rate(scope)),
            Measure::SampleCount => Some(stats.count(scope) as f64),
            Measure::SampleRate => Some(stats.rate(scope, now)),
            Measure::CheckRate => stats.checks.rate(match scope {
                Scope::Run => None,
                Scope::Window { now } => Some(now),
            }),
        };
        let pass = value.is_some_and(|v| self.op.holds(v, self.limit));
        (value, pass)
    }

    /// "total p(95) < 300".
    pub fn label(&self) -> String {
        format!("{} {}", self.metric, self.expr)
    }
}

fn split_op(expr: &str) -> Option<(&str, Op, &str)> {
    for (tok, op) in [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ] {
        if let Some(i) = expr.find(tok) {
            let (l, r) = (&expr[..i], &expr[i + tok.len()..]);
            if l.trim().is_empty() || r.trim().is_empty() {
                return None;
            }
            return Some((l, op, r));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Sample;

    fn stats(totals: &[f64], failures: usize) -> Stats {
        let mut s = Stats::new("t", None);
        for (i, t) in totals.iter().enumerate() {
            let mut v = [0.0; 7];
            v[5] = *t;
            s.add(&Sample {
                start: i as f64,
                values: v,
                ok: true,
                status: 200,
                error_kind: None,
            });
        }
        for _ in 0..failures {
            s.add(&Sample {
                error_kind: Some("timeout".into()),
                ..Sample::default()
            });
        }
        s
    }

    #[test]
    fn trend_and_rate_thresholds_pass_and_fail() {
        let s = stats(&(1..=100).map(f64::from).collect::<Vec<_>>(), 0);
        let t = Threshold::parse("total", "p(95) < 96", false).unwrap();
        assert_eq!(t.evaluate(&s, Scope::Run, 100.0), (Some(95.0), true));
        let t = Threshold::parse("total", "avg <= 50", false).unwrap();
        assert_eq!(t.evaluate(&s, Scope::Run, 100.0), (Some(50.5), false));
        let s = stats(&[1.0; 99], 1);
        let t = Threshold::parse("errors", "rate < 0.01", false).unwrap();
        assert_eq!(t.evaluate(&s, Scope::Run, 100.0), (Some(0.01), false));
        let t = Threshold::parse("samples", "count >= 100", false).unwrap();
        assert_eq!(t.evaluate(&s, Scope::Run, 100.0), (Some(100.0), true));
    }

    #[test]
    fn the_checks_rate_is_the_share_of_checks_passed() {
        let mut s = stats(&[1.0; 4], 0);
        let t = Threshold::parse("checks", "rate > 0.99", false).unwrap();
        assert_eq!(
            t.evaluate(&s, Scope::Run, 4.0),
            (None, false),
            "no check ran"
        );
        for i in 0..4 {
            s.checks
                .record(i as f64, [("status is 200", true), ("body", i != 3)]);
        }
        assert_eq!(t.evaluate(&s, Scope::Run, 4.0), (Some(0.875), false));
        let t = Threshold::parse("checks", "rate >= 0.875", false).unwrap();
        assert!(t.evaluate(&s, Scope::Run, 4.0).1);
    }

    #[test]
    fn no_data_fails() {
        let s = stats(&[], 3);
        let t = Threshold::parse("first", "p(99) < 500", false).unwrap();
        assert_eq!(t.evaluate(&s, Scope::Run, 0.0), (None, false));
    }

    #[test]
    fn mistakes_are_named_when_declared() {
        let e = Threshold::parse("totl", "p(95) < 300", false).unwrap_err();
        assert!(
            e.contains("'totl': unknown metric") && e.contains("total"),
            "{e}"
        );
        let e = Threshold::parse("total", "p(95) << 300", false).unwrap_err();
        assert!(e.contains("\"p(95) << 300\""), "{e}");
        let e = Threshold::parse("total", "p95 < soon", false).unwrap_err();
        assert!(e.contains("'soon' is not a number"), "{e}");
        let e = Threshold::parse("total", "mode < 3", false).unwrap_err();
        assert!(e.contains("unknown aggregation 'mode'"), "{e}");
        let e = Threshold::parse("checks", "count > 1", false).unwrap_err();
        assert!(e.contains("checks takes 'rate'"), "{e}");
        let e = Threshold::parse("errors", "p(95) < 1", false).unwrap_err();
        assert!(e.contains("errors takes 'rate'"), "{e}");
        assert!(Threshold::parse("total", "< 3", false).is_err());
    }
}
