//! `perftest plot`: percentiles over time, one line per location, as the seed's CloudWatch
//! graphs (p95 and p10 of the response time per city), drawn from `--jsonl` rows ([`rows`])
//! or a Prometheus range query ([`query`]) into PNG, SVG ([`chart`]) or CSV. Runs apart from
//! everything a probe runs: nothing here is reached before `perftest plot` is asked for, so
//! a probe neither maps nor starts any of it (bench/RESULTS.md: "What plotting costs").

pub mod chart;
pub mod query;
pub mod rows;
pub mod time;

use std::io::Write;
use std::path::Path;

use crate::cli::PlotArgs;

/// One line: (epoch seconds, value) in time order.
#[derive(Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A vertical line at a moment, named.
pub struct Mark {
    pub at: f64,
    pub label: String,
}

/// What is drawn.
pub struct Chart {
    pub title: String,
    pub y_label: String,
    /// Seconds between points: farther apart than 1.5 steps is a gap in the line.
    pub step: f64,
    pub series: Vec<Series>,
    pub marks: Vec<Mark>,
}

impl Chart {
    /// The first and last point's time (a step around a lone one).
    pub fn span(&self) -> (f64, f64) {
        let (a, b) = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
                (a.min(t), b.max(t))
            });
        if a < b {
            (a, b)
        } else {
            (a - self.step, a + self.step)
        }
    }

    /// The points as CSV: `time,epoch_s,line,value` (the unit is the y axis's).
    pub fn csv(&self) -> String {
        let mut out = format!("time,epoch_s,line,{}\n", csv_field(&self.y_label));
        for s in &self.series {
            for (t, v) in &s.points {
                out.push_str(&format!(
                    "{},{t},{},{v}\n",
                    time::rfc3339_text(*t),
                    csv_field(&s.name)
                ));
            }
        }
        out
    }
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The phase as the y axis names it.
fn phase_name(phase: &str) -> &'static str {
    match phase {
        "dns" => "DNS",
        "tcp" => "TCP",
        "tls" => "TLS",
        "first" => "First byte",
        "lastb" => "LastB",
        _ => "Total",
    }
}

/// `5-minute`, `10-second`, `1-hour`.
fn period_text(period: f64) -> String {
    let s = period.round() as u64;
    if s % 3600 == 0 {
        format!("{}-hour", s / 3600)
    } else if s % 60 == 0 {
        format!("{}-minute", s / 60)
    } else {
        format!("{s}-second")
    }
}

/// A round period giving about a hundred points over `span` seconds.
fn auto_period(span: f64) -> f64 {
    time::ticks(0.0, span.max(1.0), 100).1
}

/// `p95`, `p95 and p10`, `p50, p95 and p99`.
fn percentiles_text(ps: &[f64]) -> String {
    let names: Vec<String> = ps.iter().map(|p| format!("p{p}")).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

enum Output<'a> {
    File(&'a Path, Option<chart::Format>),
    Stdout,
}

fn output(path: &Path) -> Result<Output<'_>, String> {
    if path == Path::new("-") {
        return Ok(Output::Stdout);
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(Output::File(path, Some(chart::Format::Png))),
        Some("svg") => Ok(Output::File(path, Some(chart::Format::Svg))),
        Some("csv") => Ok(Output::File(path, None)),
        _ => Err(format!(
            "-o {}: name a .png, .svg or .csv file (or - for CSV on stdout)",
            path.display()
        )),
    }
}

/// Runs `perftest plot`; the exit status: 0 drawn, 1 nothing to draw or not written, 2 bad
/// input.
pub fn run(args: PlotArgs, quiet: bool) -> i32 {
    let out = match output(&args.output) {
        Ok(o) => o,
        Err(e) => {
            errln!("perftest plot: {e}");
            return 2;
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let chart = match gather(&args, now, quiet) {
        Ok(c) => c,
        Err((code, e)) => {
            errln!("perftest plot: {e}");
            return code;
        }
    };
    let bytes = match &out {
        Output::File(_, Some(format)) => match chart::render(&chart, *format, args.size) {
            Ok(b) => b,
            Err(e) => {
                errln!("perftest plot: cannot draw the chart: {e}");
                return 1;
            }
        },
        _ => chart.csv().into_bytes(),
    };
    let written = match &out {
        Output::File(path, _) => std::fs::write(path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        Output::Stdout => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&bytes).and_then(|_| stdout.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| format!("cannot write stdout: {e}")),
            }
        }
    };
    if let Err(e) = written {
        errln!("perftest plot: {e}");
        return 1;
    }
    if !quiet && let Output::File(path, _) = &out {
        let (t0, t1) = chart.span();
        let points: usize = chart.series.iter().map(|s| s.points.len()).sum();
        errln!(
            "perftest plot: wrote {}: {} lines, {points} points, {} {} to {} UTC",
            path.display(),
            chart.series.len(),
            time::date(t0),
            time::clock_text(t0, false),
            time::clock_text(t1, false)
        );
    }
    0
}

/// The chart `args` ask for, or the exit status and why not.
fn gather(args: &PlotArgs, now: f64, quiet: bool) -> Result<Chart, (i32, String)> {
    let usage = |e: String| (2, e);
    let phase = phase_name(&args.phase);
    let (series, step, default_title) = match &args.prometheus {
        Some(base) => {
            let instant = |flag: &str, text: &str| {
                time::instant(text, now, now).ok_or_else(|| {
                    usage(format!(
                        "{flag} {text}: give epoch seconds, 2026-12-02T09:00:00Z, 09:00, now or now-1h"
                    ))
                })
            };
            let end = instant("--end", args.end.as_deref().unwrap_or("now"))?;
            let start = instant("--start", args.start.as_deref().unwrap_or("now-1h"))?;
            if start >= end {
                return Err(usage(format!(
                    "--start {} is not before --end {}",
                    time::rfc3339_text(start),
                    time::rfc3339_text(end)
                )));
            }
            let step = args.period.unwrap_or_else(|| auto_period(end - start));
            if (end - start) / step > 11_000.0 {
                return Err(usage(format!(
                    "--period {step}: {} points per line, more than Prometheus answers (11000): give a longer period",
                    ((end - start) / step).round()
                )));
            }
            let mut series = Vec::new();
            let queries: Vec<(String, String)> = match &args.query {
                Some(q) => vec![(q.clone(), String::new())],
                None => args
                    .percentiles
                    .iter()
                    .map(|p| {
                        let window = step.max(60.0);
                        let suffix = if args.percentiles.len() > 1 {
                            format!(" p{p}")
                        } else {
                            String::new()
                        };
                        (
                            query::default_query(*p, &args.phase, window, args.target.as_deref()),
                            suffix,
                        )
                    })
                    .collect(),
            };
            for (promql, suffix) in &queries {
                let range = query::Range {
                    base,
                    promql,
                    start,
                    end,
                    step,
                };
                series.extend(
                    query::lines(&range, &args.label, args.scale, suffix).map_err(|e| (1, e))?,
                );
            }
            if series.is_empty() {
                return Err((
                    1,
                    format!(
                        "Prometheus at {base} has no points for {} between {} and {}",
                        queries[0].0,
                        time::rfc3339_text(start),
                        time::rfc3339_text(end)
                    ),
                ));
            }
            let title = match &args.query {
                Some(q) => q.clone(),
                None => format!(
                    "{} of {phase} by location, {} windows (Prometheus)",
                    percentiles_text(&args.percentiles),
                    period_text(step.max(60.0))
                ),
            };
            (series, step, title)
        }
        None => {
            let rows = rows::Rows::read(&args.files).map_err(|e| (1, e))?;
            if !quiet {
                for note in &rows.notes {
                    errln!("perftest plot: {note}");
                }
            }
            let (a, b) = rows.span();
            let period = args.period.unwrap_or_else(|| auto_period(b - a));
            let series = rows
                .series(
                    &args.phase,
                    &args.percentiles,
                    period,
                    args.target.as_deref(),
                )
                .map_err(|e| (1, e))?;
            let title = format!(
                "{} of {phase} by location, {} periods",
                percentiles_text(&args.percentiles),
                period_text(period)
            );
            (series, period, title)
        }
    };
    // The legend lists the lines top to bottom, as the eye finds them: by their median.
    let mut series = series;
    let median = |s: &Series| {
        let mut v: Vec<f64> = s.points.iter().map(|p| p.1).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    series.sort_by(|a, b| median(b).total_cmp(&median(a)).then(a.name.cmp(&b.name)));
    let mut chart = Chart {
        title: args.title.clone().unwrap_or(default_title),
        y_label: args.ylabel.clone().unwrap_or_else(|| match &args.query {
            Some(_) if args.scale != 1000.0 => "value".to_string(),
            Some(_) => "ms".to_string(),
            None => format!("{phase} (ms)"),
        }),
        step,
        series,
        marks: Vec::new(),
    };
    let (t0, t1) = chart.span();
    for m in &args.marks {
        let fix = "write a mark as TIME=LABEL, such as 09:00=deploy or 2026-12-02T09:00:00Z=spike";
        let (at, label) = m
            .split_once('=')
            .ok_or_else(|| usage(format!("--mark {m}: {fix}")))?;
        let at = time::instant(at, now, t0)
            .ok_or_else(|| usage(format!("--mark {m}: '{at}' is not a time; {fix}")))?;
        if !(t0..=t1).contains(&at) && !quiet {
            errln!(
                "perftest plot: --mark {m}: {} is outside the chart ({} to {}); not drawn",
                time::rfc3339_text(at),
                time::rfc3339_text(t0),
                time::rfc3339_text(t1)
            );
        }
        chart.marks.push(Mark {
            at,
            label: label.to_string(),
        });
    }
    Ok(chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_location_names_with_commas() {
        let chart = Chart {
            title: String::new(),
            y_label: "Total (ms)".into(),
            step: 60.0,
            series: vec![Series {
                name: "Paris,FR".into(),
                points: vec![(1_764_666_000.0, 12.5)],
            }],
            marks: Vec::new(),
        };
        assert_eq!(
            chart.csv(),
            "time,epoch_s,line,Total (ms)\n2025-12-02T09:00:00Z,1764666000,\"Paris,FR\",12.5\n"
        );
    }

    #[test]
    fn titles_name_the_percentiles_and_period() {
        assert_eq!(percentiles_text(&[95.0]), "p95");
        assert_eq!(percentiles_text(&[95.0, 10.0]), "p95 and p10");
        assert_eq!(percentiles_text(&[50.0, 95.0, 99.9]), "p50, p95 and p99.9");
        assert_eq!(period_text(300.0), "5-minute");
        assert_eq!(period_text(10.0), "10-second");
        assert_eq!(period_text(7200.0), "2-hour");
        assert_eq!(auto_period(12.0 * 3600.0), 600.0);
    }
}
