//! The end-of-run summary, in the spirit of k6's: counts, rates, errors and statuses, a line of
//! percentiles per phase, and each threshold with ✓ or ✗ and the value measured.

use std::fmt::Write as _;

use nu_ansi_term::{Color, Style};

use crate::stats::{Agg, Scope, Stats, TRENDS};
use crate::thresholds::Threshold;

/// The aggregations a summary shows, in order.
pub const COLUMNS: [(&str, Agg); 7] = [
    ("avg", Agg::Avg),
    ("min", Agg::Min),
    ("med", Agg::Med),
    ("p90", Agg::P(90.0)),
    ("p95", Agg::P(95.0)),
    ("p99", Agg::P(99.0)),
    ("max", Agg::Max),
];

/// A threshold's verdict: the value measured and whether it passed.
pub struct Verdict {
    pub threshold: Threshold,
    pub value: Option<f64>,
    pub pass: bool,
}

impl Verdict {
    /// Evaluates `threshold` over `stats` at `now`.
    pub fn of(threshold: &Threshold, stats: &Stats, scope: Scope, now: f64) -> Verdict {
        let (value, pass) = threshold.evaluate(stats, scope, now);
        Verdict {
            threshold: threshold.clone(),
            value,
            pass,
        }
    }
}

fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        style.paint(text).to_string()
    } else {
        text.to_string()
    }
}

/// "19.5s", "3m07s".
pub fn duration(secs: f64) -> String {
    if secs < 60.0 {
        format!("{secs:.1}s")
    } else {
        let s = secs.round() as u64;
        if s < 3600 {
            format!("{}m{:02}s", s / 60, s % 60)
        } else {
            format!("{}h{:02}m{:02}s", s / 3600, s % 3600 / 60, s % 60)
        }
    }
}

/// A value as a summary prints it: ms with two decimals, rates with four.
pub fn number(v: f64) -> String {
    if v.abs() >= 100_000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The summary of `stats` over `scope`, with the threshold verdicts.
pub fn render(stats: &Stats, scope: Scope, now: f64, verdicts: &[Verdict], color: bool) -> String {
    let mut out = String::new();
    let bold = Style::new().bold();
    let dim = Style::new().dimmed();
    let title = if stats.name.is_empty() {
        "all samples"
    } else {
        stats.name.as_str()
    };
    let _ = writeln!(
        out,
        "{} {}",
        paint(color, bold, "█"),
        paint(color, bold, title)
    );

    let n = stats.count(scope);
    let span = match scope {
        Scope::Run => stats
            .time_span()
            .map(|(first, _)| now - first)
            .unwrap_or(0.0),
        Scope::Window { .. } => stats.window_span().map_or(0.0, |s| s.as_secs_f64()),
    };
    let mut line = format!(
        "  samples   {n} in {}, {}/s · ok {}",
        duration(span.max(0.0)),
        number(stats.rate(scope, now)),
        stats.ok(scope)
    );
    let errors = stats.errors(scope);
    if !errors.is_empty() {
        let kinds: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let failed = format!("failed {} ({})", stats.failed(scope), kinds.join(", "));
        let _ = write!(line, " · {}", paint(color, Color::Red.normal(), &failed));
    }
    let _ = writeln!(out, "{line}");
    let statuses = stats.statuses(scope);
    if !statuses.is_empty() {
        let s: Vec<String> = statuses.iter().map(|(k, v)| format!("{k} ×{v}")).collect();
        let _ = writeln!(out, "  status    {}", s.join(", "));
    }

    let shown: Vec<usize> = (0..TRENDS.len() - 1)
        .filter(|&t| {
            stats
                .aggregate(t, &Agg::Max, scope)
                .is_some_and(|m| m > 0.0)
        })
        .collect();
    if shown.is_empty() {
        let _ = writeln!(out, "  {}", paint(color, dim, "no successful sample"));
    } else {
        let mut head = format!("  {:<8}", "");
        for (name, _) in COLUMNS {
            let _ = write!(head, "{name:>10}");
        }
        let _ = writeln!(out, "{}", paint(color, dim, &format!("{head}   (ms)")));
        for t in shown {
            let _ = write!(out, "  {:<8}", TRENDS[t]);
            for (_, agg) in &COLUMNS {
                let v = stats
                    .aggregate(t, agg, scope)
                    .map_or("-".to_string(), number);
                let _ = write!(out, "{v:>10}");
            }
            out.push('\n');
        }
        if let Some(size) = stats.aggregate(TRENDS.len() - 1, &Agg::Avg, scope) {
            let _ = writeln!(
                out,
                "  {:<8}{:>10} bytes on average",
                "size",
                format!("{size:.0}")
            );
        }
    }

    render_checks(&mut out, stats, scope, color);

    if !verdicts.is_empty() {
        let _ = writeln!(out, "  thresholds");
        for v in verdicts {
            let mark = if v.pass {
                paint(color, Color::Green.normal(), "✓")
            } else {
                paint(color, Color::Red.normal(), "✗")
            };
            let value = v.value.map_or("no data".to_string(), |x| {
                if x.abs() < 1.0 && x != 0.0 {
                    format!("{x:.4}")
                } else {
                    number(x)
                }
            });
            let _ = writeln!(out, "    {mark} {:<32} {value}", v.threshold.label());
        }
    }
    out
}

/// The checks as k6 prints them: the share passed, then each check with ✓ when it never
/// failed, or ✗ and its passes and failures.
fn render_checks(out: &mut String, stats: &Stats, scope: Scope, color: bool) {
    let window_now = match scope {
        Scope::Run => None,
        Scope::Window { now } => Some(now),
    };
    let total = stats.checks.total(window_now);
    let Some(rate) = stats.checks.rate(window_now) else {
        return;
    };
    let (green, red) = (Color::Green.normal(), Color::Red.normal());
    let _ = writeln!(
        out,
        "  checks    {:.2}% · {} {} {} {}",
        rate * 100.0,
        paint(color, green, "✓"),
        total.passes,
        paint(color, red, "✗"),
        total.fails
    );
    // Per check over the run only: a window keeps each sample's totals, not every name's.
    if window_now.is_some() {
        return;
    }
    for (name, t) in stats.checks.by_name() {
        if t.fails == 0 {
            let _ = writeln!(out, "    {} {name}", paint(color, green, "✓"));
        } else {
            let share = 100.0 * t.passes as f64 / (t.passes + t.fails) as f64;
            let _ = writeln!(out, "    {} {name}", paint(color, red, "✗"));
            let _ = writeln!(out, "      ↳ {share:.0}% — ✓ {} / ✗ {}", t.passes, t.fails);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Sample;

    #[test]
    fn a_summary_has_counts_phases_and_verdicts() {
        let mut s = Stats::new("https://x.test/", None);
        for i in 0..10 {
            let mut v = [0.0; 7];
            v[1] = 1.0 + i as f64;
            v[5] = 10.0 + i as f64;
            v[6] = 100.0;
            s.add(&Sample {
                start: i as f64,
                values: v,
                ok: true,
                status: 200,
                error_kind: None,
            });
        }
        s.add(&Sample {
            start: 10.0,
            error_kind: Some("connect".into()),
            ..Sample::default()
        });
        let t = Threshold::parse("total", "p(95) < 15", false).unwrap();
        let text = render(
            &s,
            Scope::Run,
            10.0,
            &[Verdict::of(&t, &s, Scope::Run, 10.0)],
            false,
        );
        assert!(text.starts_with("█ https://x.test/\n"), "{text}");
        assert!(
            text.contains("samples   11 in 10.0s, 1.10/s · ok 10 · failed 1 (connect 1)"),
            "{text}"
        );
        assert!(text.contains("status    200 ×10"), "{text}");
        assert!(text.contains("  total        14.50     10.00"), "{text}");
        assert!(
            !text.contains("\n  dns "),
            "a phase that never happened is left out: {text}"
        );
        assert!(text.contains("✗ total p(95) < 15"), "{text}");
        assert!(text.contains("19.00"), "{text}");
        assert!(!text.contains("checks"), "no check ran: {text}");
    }

    #[test]
    fn a_summary_lists_each_check_with_its_passes_and_failures() {
        let mut s = Stats::new("flow", None);
        for i in 0..4 {
            s.checks
                .record(i as f64, [("status is 200", true), ("body has UP", i != 0)]);
        }
        let text = render(&s, Scope::Run, 4.0, &[], false);
        assert!(text.contains("  checks    87.50% · ✓ 7 ✗ 1\n"), "{text}");
        assert!(text.contains("    ✓ status is 200\n"), "{text}");
        assert!(
            text.contains("    ✗ body has UP\n      ↳ 75% — ✓ 3 / ✗ 1\n"),
            "{text}"
        );
    }
}
