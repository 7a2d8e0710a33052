//! Lines from Prometheus: one range query (`/api/v1/query_range`) over its HTTP API, each
//! series a line named by one of its labels.

use std::time::Duration;

use serde::Deserialize;

use super::Series;

/// The query `perftest plot` draws without `--query`: percentile `p` of perftest's own
/// phase histogram per location, over a window of `window` seconds.
pub fn default_query(p: f64, phase: &str, window: f64, target: Option<&str>) -> String {
    let target = target
        .map(|t| {
            let t = t.split('?').next().unwrap_or(t);
            format!(
                ",target=\"{}\"",
                t.replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .unwrap_or_default();
    format!(
        "histogram_quantile({}, sum by (le, location) (rate(perftest_phase_duration_seconds_bucket{{phase=\"{phase}\"{target}}}[{}s])))",
        p / 100.0,
        window.round()
    )
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Found>,
}

#[derive(Deserialize)]
struct Found {
    metric: std::collections::BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

/// A range query's question.
pub struct Range<'a> {
    pub base: &'a str,
    pub promql: &'a str,
    pub start: f64,
    pub end: f64,
    pub step: f64,
}

/// Runs `range` and names each series by `label` (all its labels when it has not that one);
/// values are multiplied by `scale`, and NaN (no samples in the window) leaves a gap.
pub fn lines(range: &Range, label: &str, scale: f64, suffix: &str) -> Result<Vec<Series>, String> {
    let base = range.base.trim_end_matches('/');
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("query", range.promql)
        .append_pair("start", &format!("{:.3}", range.start))
        .append_pair("end", &format!("{:.3}", range.end))
        .append_pair("step", &format!("{}", range.step));
    let url = format!("{base}/api/v1/query_range?{}", q.finish());
    if url.parse::<http::Uri>().is_err()
        || !(base.starts_with("http://") || base.starts_with("https://"))
    {
        return Err(format!(
            "--prometheus {base}: give Prometheus's base URL, such as http://127.0.0.1:9090"
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let (status, body) = runtime
        .block_on(crate::publish::http::get(
            &url,
            64 << 20,
            Duration::from_secs(60),
        ))
        .map_err(|e| format!("cannot reach Prometheus at {base}: {e}"))?;
    let answer: Answer = serde_json::from_slice(&body).map_err(|_| {
        format!(
            "{base} answered HTTP {status} without Prometheus's JSON: is it Prometheus's base URL?"
        )
    })?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus at {base} refused the query ({}): {}",
            range.promql,
            answer.error.unwrap_or_default()
        ));
    }
    let found = answer.data.map(|d| d.result).unwrap_or_default();
    let mut out = Vec::new();
    for f in found {
        let name = match f.metric.get(label) {
            Some(v) => v.clone(),
            None if f.metric.is_empty() => "value".to_string(),
            None => {
                let all: Vec<String> = f
                    .metric
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{v}\""))
                    .collect();
                format!("{{{}}}", all.join(","))
            }
        };
        let points = f
            .values
            .iter()
            .filter_map(|(t, v)| {
                let v: f64 = v.parse().ok()?;
                v.is_finite().then_some((*t, v * scale))
            })
            .collect::<Vec<_>>();
        if !points.is_empty() {
            out.push(Series {
                name: format!("{name}{suffix}"),
                points,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_query_reads_perftests_histogram_per_location() {
        assert_eq!(
            super::default_query(95.0, "total", 300.0, Some("https://a.test/x?q=1")),
            "histogram_quantile(0.95, sum by (le, location) (rate(perftest_phase_duration_seconds_bucket{phase=\"total\",target=\"https://a.test/x\"}[300s])))"
        );
    }
}
