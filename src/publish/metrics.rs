//! The `/metrics` exposition: phase duration histograms labelled by phase, target and
//! location, probe counters by result, status class and error kind, and this process's
//! figures. Labels stay bounded: the target is the URL without its query string, never an IP.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::figures::{Figures, Process};
use crate::probe::ProbeResult;

type Labels = Vec<(String, String)>;

/// Seconds, from 1 ms to 30 s: the range a phase lives in.
const BUCKETS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The registry every sample is recorded in while the web server runs.
pub struct Metrics {
    registry: Registry,
    phases: Family<Labels, Histogram, fn() -> Histogram>,
    probes: Family<Labels, Counter>,
    responses: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
}

/// The target as a label: scheme, host, port and path; no query string, user or fragment.
pub fn target_label(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or(url);
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            format!("{scheme}://{rest}")
        }
        None => without_query.to_string(),
    }
}

impl Metrics {
    pub fn new(figures: Arc<Figures>) -> Metrics {
        let mut registry = Registry::default();
        let phases =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(histogram);
        let probes = Family::<Labels, Counter>::default();
        let responses = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        registry.register(
            "perftest_phase_duration_seconds",
            "Duration of each phase of successful samples (dns, tcp, tls, first, lastb, total)",
            phases.clone(),
        );
        registry.register(
            "perftest_probes",
            "Samples by result (ok, error)",
            probes.clone(),
        );
        registry.register(
            "perftest_responses",
            "Responses by status class (2xx, 3xx, 4xx, 5xx)",
            responses.clone(),
        );
        registry.register(
            "perftest_probe_errors",
            "Failed samples by error kind",
            errors.clone(),
        );
        registry.register_collector(Box::new(RunCollector(figures)));
        Metrics {
            registry,
            phases,
            probes,
            responses,
            errors,
        }
    }

    /// Records one sample.
    pub fn observe(&self, r: &ProbeResult, location: &str) {
        if r.error
            .as_ref()
            .is_some_and(|e| e.kind == crate::probe::ErrorKind::Interrupted)
        {
            return;
        }
        let target = target_label(&r.url);
        let base = |extra: (&str, String)| -> Labels {
            vec![
                ("target".into(), target.clone()),
                ("location".into(), location.to_string()),
                (extra.0.to_string(), extra.1),
            ]
        };
        let result = if r.ok() { "ok" } else { "error" };
        self.probes
            .get_or_create(&base(("result", result.into())))
            .inc();
        if r.status != 0 {
            let class = format!("{}xx", r.status / 100);
            self.responses.get_or_create(&base(("code", class))).inc();
        }
        match &r.error {
            Some(e) => {
                self.errors
                    .get_or_create(&base(("kind", e.kind.as_str().into())))
                    .inc();
            }
            None => {
                let p = &r.phases;
                for (phase, d) in [
                    ("dns", p.dns),
                    ("tcp", p.tcp),
                    ("tls", p.tls),
                    ("first", p.first),
                    ("lastb", p.lastb),
                    ("total", p.total()),
                ] {
                    self.phases
                        .get_or_create(&base(("phase", phase.into())))
                        .observe(d.as_secs_f64());
                }
            }
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// This process's and this run's figures, read at each scrape.
#[derive(Debug)]
struct RunCollector(Arc<Figures>);

impl Collector for RunCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = Process::read();
        let fig = &self.0;
        let start = fig
            .started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let gauges: [(&str, &str, f64); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                p.rss_bytes as f64,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                p.virtual_bytes as f64,
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                p.open_fds as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time since the epoch, in seconds",
                start,
            ),
            (
                "perftest_lua_memory_bytes",
                "Memory held by the Lua state",
                fig.lua_bytes.load(std::sync::atomic::Ordering::Relaxed) as f64,
            ),
            (
                "perftest_tasks",
                "Lua tasks running",
                fig.tasks_alive.load(std::sync::atomic::Ordering::Relaxed) as f64,
            ),
        ];
        for (name, help, value) in gauges {
            let g = ConstGauge::new(value);
            g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        let cpu = ConstCounter::new(p.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let mut sent = Vec::new();
        let mut dropped = Vec::new();
        for (name, s, d, _) in fig.publishers() {
            let kind = name
                .split_whitespace()
                .next()
                .unwrap_or("publisher")
                .to_string();
            sent.push((kind.clone(), s));
            dropped.push((kind, d));
        }
        for (metric, help, rows) in [
            (
                "perftest_published",
                "Items a publisher delivered (samples, posts, messages)",
                sent,
            ),
            (
                "perftest_publish_dropped",
                "Items a publisher could not deliver",
                dropped,
            ),
        ] {
            if rows.is_empty() {
                continue;
            }
            let mut m = encoder.encode_descriptor(
                metric,
                help,
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (kind, v) in rows {
                let labels = [("publisher", kind.as_str())];
                ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn targets_lose_their_query_and_credentials() {
        assert_eq!(
            super::target_label("https://u:p@x.test:8443/a/b?token=1#f"),
            "https://x.test:8443/a/b"
        );
        assert_eq!(super::target_label("http://x.test/"), "http://x.test/");
    }
}
