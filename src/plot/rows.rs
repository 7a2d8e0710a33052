//! `--jsonl` rows to lines: the samples grouped by location (and URL, when the rows hold
//! several), cut into periods, and a nearest-rank percentile of each period's phase values, as
//! perftest computes its own (`stats::rank`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Series;

/// One sample row as `classic.json_row` prints it (docs/schema/sample.json); summary lines
/// (`"type": "summary"`, docs/schema/summary.json) are passed over.
#[derive(Deserialize)]
struct Line {
    timestamp: Option<f64>,
    dns: Option<f64>,
    tcp: Option<f64>,
    tls: Option<f64>,
    first: Option<f64>,
    lastb: Option<f64>,
    total: Option<f64>,
    http: Option<u16>,
    from_location: Option<String>,
    url: Option<String>,
    error: Option<String>,
}

/// A successful sample: when it started, where from, what, and its phases in ms.
struct Sample {
    start: f64,
    location: String,
    target: String,
    phases: [f64; 6],
}

/// Every successful sample read.
pub struct Rows {
    samples: Vec<Sample>,
    /// What was left out and why, for stderr.
    pub notes: Vec<String>,
}

/// The phases in the rows' order.
const PHASES: [&str; 6] = ["dns", "tcp", "tls", "first", "lastb", "total"];

/// A URL as the Prometheus `target` label has it: without its query string.
fn target_of(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl Rows {
    /// Reads `files` (stdin for none or `-`). Lines that are not JSON objects are skipped and
    /// counted on stderr (a monitor killed mid-line leaves half a row); none at all with a
    /// sample in it is an error naming the input.
    pub fn read(files: &[PathBuf]) -> Result<Rows, String> {
        let stdin = [PathBuf::from("-")];
        let files = if files.is_empty() { &stdin[..] } else { files };
        let mut rows = Rows {
            samples: Vec::new(),
            notes: Vec::new(),
        };
        let mut skipped = 0usize;
        let mut first_skipped = None;
        let mut failed = 0usize;
        for file in files {
            let reader: Box<dyn BufRead> = if file == Path::new("-") {
                Box::new(std::io::stdin().lock())
            } else {
                let f = std::fs::File::open(file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                Box::new(std::io::BufReader::new(f))
            };
            let name = if file == Path::new("-") {
                "stdin".to_string()
            } else {
                file.display().to_string()
            };
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| format!("cannot read {name}: {e}"))?;
                if line.trim().is_empty() {
                    continue;
                }
                let parsed = serde_json::from_str::<serde_json::Value>(&line);
                if parsed.as_ref().is_ok_and(|v| v["type"] == "summary") {
                    continue;
                }
                let Ok(l) = parsed.and_then(Line::deserialize) else {
                    skipped += 1;
                    first_skipped.get_or_insert_with(|| format!("{name}:{}", i + 1));
                    continue;
                };
                let Some(start) = l.timestamp else { continue };
                let phases = [l.dns, l.tcp, l.tls, l.first, l.lastb, l.total];
                let ok = l.error.is_none() && l.http.is_some_and(|h| h < 400);
                match (ok, phases.iter().all(Option::is_some)) {
                    (true, true) => rows.samples.push(Sample {
                        start,
                        location: l.from_location.unwrap_or_default(),
                        target: target_of(&l.url.unwrap_or_default()).to_string(),
                        phases: phases.map(Option::unwrap_or_default),
                    }),
                    _ => failed += 1,
                }
            }
        }
        let inputs = files
            .iter()
            .map(|f| match f.to_str() {
                Some("-") => "stdin".to_string(),
                _ => f.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        if rows.samples.is_empty() {
            return Err(match first_skipped {
                Some(at) => format!(
                    "{inputs}: no sample rows ({at} is not JSON): give what perftest --jsonl or run monitor --jsonl prints"
                ),
                None if failed > 0 => format!(
                    "{inputs}: all {failed} samples failed; a chart of response times needs successful ones"
                ),
                None => format!(
                    "{inputs}: no sample rows: give what perftest --jsonl or run monitor --jsonl prints"
                ),
            });
        }
        if skipped > 0 {
            rows.notes.push(format!(
                "skipped {skipped} lines that are not JSON (the first at {})",
                first_skipped.unwrap_or_default()
            ));
        }
        if failed > 0 {
            rows.notes.push(format!(
                "left out {failed} failed samples (errors, HTTP 4xx and 5xx)"
            ));
        }
        Ok(rows)
    }

    /// The first and last sample's start.
    pub fn span(&self) -> (f64, f64) {
        self.samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                (a.min(s.start), b.max(s.start))
            })
    }

    /// One line per location (location and URL when there are several URLs) and percentile:
    /// each point the percentile of `phase` over the samples started in `[t, t + period)`,
    /// `t` a multiple of `period` (as CloudWatch's periods), drawn at the period's middle so
    /// that a mark at the moment something changed falls where the line changes.
    pub fn series(
        &self,
        phase: &str,
        percentiles: &[f64],
        period: f64,
        target: Option<&str>,
    ) -> Result<Vec<Series>, String> {
        let index = PHASES
            .iter()
            .position(|p| *p == phase)
            .ok_or_else(|| format!("no phase '{phase}'"))?;
        let wanted = target.map(target_of);
        let kept: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| wanted.is_none_or(|w| s.target == w))
            .collect();
        if kept.is_empty() {
            let targets: BTreeSet<&str> = self.samples.iter().map(|s| s.target.as_str()).collect();
            return Err(format!(
                "--target {}: no sample of it; the rows have {}",
                target.unwrap_or_default(),
                targets.into_iter().collect::<Vec<_>>().join(" ")
            ));
        }
        let several = kept
            .iter()
            .map(|s| &s.target)
            .collect::<BTreeSet<_>>()
            .len()
            > 1;
        let mut groups: BTreeMap<(String, String), BTreeMap<i64, Vec<f64>>> = BTreeMap::new();
        for s in kept {
            let key = (
                s.location.clone(),
                if several {
                    s.target.clone()
                } else {
                    String::new()
                },
            );
            let bucket = (s.start / period).floor() as i64;
            groups
                .entry(key)
                .or_default()
                .entry(bucket)
                .or_default()
                .push(s.phases[index]);
        }
        let mut out = Vec::new();
        for ((location, target), mut buckets) in groups {
            for v in buckets.values_mut() {
                v.sort_by(f64::total_cmp);
            }
            for &p in percentiles {
                let mut name = if location.is_empty() {
                    "(no location)".to_string()
                } else {
                    location.clone()
                };
                if several {
                    name = format!("{name} {target}");
                }
                if percentiles.len() > 1 {
                    name = format!("{name} p{p}");
                }
                let points = buckets
                    .iter()
                    .map(|(b, v)| {
                        let r = crate::stats::rank(v.len() as u64, p) as usize;
                        ((*b as f64 + 0.5) * period, v[r - 1])
                    })
                    .collect();
                out.push(Series { name, points });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: u32, loc: &str, total: f64) -> Sample {
        Sample {
            start: f64::from(t),
            location: loc.into(),
            target: "https://a.test/".into(),
            phases: [0.0, 0.0, 0.0, 0.0, 0.0, total],
        }
    }

    #[test]
    fn each_period_gets_its_own_nearest_rank_percentile() {
        let mut samples = Vec::new();
        // 20 samples in the minute starting at 60: 1..=20 ms; 10 at 120: 100 ms.
        for i in 1..=20 {
            samples.push(row(60 + i, "Paris,FR", f64::from(i)));
        }
        for i in 0..10 {
            samples.push(row(120 + i, "Paris,FR", 100.0));
            samples.push(row(120 + i, "Sydney,AU", 300.0));
        }
        let rows = Rows {
            samples,
            notes: Vec::new(),
        };
        let s = rows.series("total", &[95.0, 10.0], 60.0, None).unwrap();
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Paris,FR p95",
                "Paris,FR p10",
                "Sydney,AU p95",
                "Sydney,AU p10"
            ]
        );
        assert_eq!(s[0].points, [(90.0, 19.0), (150.0, 100.0)]);
        assert_eq!(s[1].points, [(90.0, 2.0), (150.0, 100.0)]);
        assert_eq!(s[2].points, [(150.0, 300.0)]);
        let e = rows
            .series("total", &[95.0], 60.0, Some("https://b.test/"))
            .unwrap_err();
        assert!(e.to_string().contains("https://a.test/"), "{e}");
    }
}
