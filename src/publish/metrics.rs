//! The series `/metrics` serves and remote write pushes: phase duration histograms, probe
//! counters, blackbox-style gauges of each target's last sample, and this process's figures,
//! labelled by target and location. Labels stay bounded: the target is the URL without its
//! query string, never an IP.
//!
//! Samples are kept per target and location in one table; [`Metrics::families`] reads it as
//! metric families, which the text exposition (prometheus-client's encoder) and remote write
//! both render, so the two cannot disagree.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::histogram::{Histogram, Layout};
use crate::figures::{Figures, Process};
use crate::probe::{ErrorKind, ProbeResult, epoch};

/// The phases, in the order their histograms are shown.
pub const PHASES: [&str; 6] = ["dns", "tcp", "tls", "first", "lastb", "total"];

/// Bucket layouts by phase (the default: adaptive for every phase).
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets(pub [Layout; 6]);

impl Default for Buckets {
    fn default() -> Buckets {
        Buckets(std::array::from_fn(|_| Layout::Adaptive))
    }
}

/// What kind of metric a family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One series' value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    /// Sum, count, and (upper bound, cumulative count) pairs ending with +Inf.
    Histogram {
        sum: f64,
        count: u64,
        buckets: Vec<(f64, u64)>,
    },
}

/// A metric family: its name (counters without `_total`), help, kind and series.
#[derive(Clone, Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub rows: Vec<(Vec<(&'static str, String)>, Value)>,
}

/// One sample flattened as remote write and the text format name it (`_total`, `_bucket`
/// with `le`, `_sum`, `_count`).
#[derive(Clone, Debug, PartialEq)]
pub struct Flat {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// `le` as the text exposition writes it (Go's `%g`, as client_golang does): the same
/// series whether Prometheus scrapes or is written to.
pub fn le_label(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{}", v as i64)
    } else if (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) => format!("{m}e{:+03}", e.parse::<i32>().unwrap_or(0)),
            None => s,
        }
    }
}

impl Family {
    /// The family's samples as separate series.
    pub fn flatten(&self, out: &mut Vec<Flat>) {
        let labels = |l: &[(&'static str, String)]| -> Vec<(String, String)> {
            l.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
        };
        for (l, v) in &self.rows {
            match v {
                Value::Scalar(x) => out.push(Flat {
                    name: match self.kind {
                        Kind::Counter => format!("{}_total", self.name),
                        _ => self.name.to_string(),
                    },
                    labels: labels(l),
                    value: *x,
                }),
                Value::Histogram {
                    sum,
                    count,
                    buckets,
                } => {
                    for (le, c) in buckets {
                        let mut with = labels(l);
                        with.push(("le".into(), le_label(*le)));
                        out.push(Flat {
                            name: format!("{}_bucket", self.name),
                            labels: with,
                            value: *c as f64,
                        });
                    }
                    out.push(Flat {
                        name: format!("{}_sum", self.name),
                        labels: labels(l),
                        value: *sum,
                    });
                    out.push(Flat {
                        name: format!("{}_count", self.name),
                        labels: labels(l),
                        value: *count as f64,
                    });
                }
            }
        }
    }
}

/// What one target has seen from one location.
struct Series {
    phases: [Option<Histogram>; 6],
    ok: u64,
    failed: u64,
    /// Responses by status class (2 for 2xx...).
    classes: BTreeMap<u16, u64>,
    errors: BTreeMap<&'static str, u64>,
    last_success: bool,
    last_status: u16,
    /// When the last sample ended, seconds since the epoch.
    last_time: f64,
    earliest_expiry: Option<i64>,
    /// The kernel's smoothed round trip at each sample's end (TCP_INFO).
    tcp_rtt: Option<Histogram>,
    /// Segments retransmitted, summed over samples.
    retransmits: u64,
}

impl Series {
    fn new() -> Series {
        Series {
            phases: Default::default(),
            ok: 0,
            failed: 0,
            classes: BTreeMap::new(),
            errors: BTreeMap::new(),
            last_success: false,
            last_status: 0,
            last_time: 0.0,
            earliest_expiry: None,
            tcp_rtt: None,
            retransmits: 0,
        }
    }
}

/// Every sample is recorded here while the web server or a remote write runs.
pub struct Metrics {
    buckets: Buckets,
    series: Mutex<BTreeMap<(String, String), Series>>,
    figures: Arc<Figures>,
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
    pub fn new(figures: Arc<Figures>, buckets: Buckets) -> Metrics {
        Metrics {
            buckets,
            series: Mutex::new(BTreeMap::new()),
            figures,
        }
    }

    /// The bucket layouts in use.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// Records one sample.
    pub fn observe(&self, r: &ProbeResult, location: &str) {
        if r.error
            .as_ref()
            .is_some_and(|e| e.kind == ErrorKind::Interrupted)
        {
            return;
        }
        let key = (target_label(&r.url), location.to_string());
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.entry(key).or_insert_with(Series::new);
        let p = &r.phases;
        let ended = r.start + p.dns + p.total() + r.redirect_time();
        s.last_time = epoch(ended);
        s.last_status = r.status;
        if let Some(exp) = r.tls.as_ref().and_then(|t| t.earliest_expiry) {
            s.earliest_expiry = Some(exp);
        }
        if r.status != 0 {
            *s.classes.entry(r.status / 100).or_default() += 1;
        }
        // Failed samples too: a timeout's retransmissions are the point.
        if let Some(tcp) = &r.tcp_info {
            s.tcp_rtt
                .get_or_insert_with(|| Histogram::new(&Layout::Adaptive))
                .observe(tcp.rtt.as_secs_f64());
            s.retransmits += u64::from(tcp.sample_retrans);
        }
        match &r.error {
            Some(e) => {
                s.failed += 1;
                s.last_success = false;
                *s.errors.entry(e.kind.as_str()).or_default() += 1;
            }
            None => {
                s.ok += 1;
                s.last_success = r.status < 400;
                // Only the phases that happened: no lookup for an IP literal, no handshake
                // for http, neither nor a connect on a kept connection. A LastB of 0 did
                // happen (the body came with the first read).
                let happened = [
                    r.looked_up,
                    !r.reused,
                    !r.reused && r.tls.is_some(),
                    true,
                    true,
                    true,
                ];
                let values = [p.dns, p.tcp, p.tls, p.first, p.lastb, p.total()];
                for i in 0..PHASES.len() {
                    if happened[i] {
                        s.phases[i]
                            .get_or_insert_with(|| Histogram::new(&self.buckets.0[i]))
                            .observe(values[i].as_secs_f64());
                    }
                }
            }
        }
    }

    /// Decides every histogram still warming up (see [`Histogram::settle`]): the run is ending.
    pub fn settle(&self) {
        let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
        for s in all.values_mut() {
            s.phases.iter_mut().flatten().for_each(Histogram::settle);
            if let Some(h) = &mut s.tcp_rtt {
                h.settle();
            }
        }
    }

    /// Every family, read now.
    pub fn families(&self) -> Vec<Family> {
        let mut phases = Vec::new();
        let mut probes = Vec::new();
        let mut responses = Vec::new();
        let mut errors = Vec::new();
        let mut success = Vec::new();
        let mut status = Vec::new();
        let mut expiry = Vec::new();
        let mut last = Vec::new();
        let mut tcp_rtt = Vec::new();
        let mut retransmits = Vec::new();
        {
            let mut all = self.series.lock().unwrap_or_else(|p| p.into_inner());
            for ((target, location), s) in all.iter_mut() {
                let base = || vec![("target", target.clone()), ("location", location.clone())];
                let with = |k: &'static str, v: String| {
                    let mut l = base();
                    l.push((k, v));
                    l
                };
                // A histogram still warming up (its layout undecided) is not shown yet.
                for (i, h) in s.phases.iter_mut().enumerate() {
                    let Some(h) = h else { continue };
                    let Some(buckets) = h.buckets() else { continue };
                    phases.push((
                        with("phase", PHASES[i].into()),
                        Value::Histogram {
                            sum: h.sum(),
                            count: h.count(),
                            buckets,
                        },
                    ));
                }
                // Both, zero included: a rule's `error / all` needs the error series to exist.
                for (result, n) in [("ok", s.ok), ("error", s.failed)] {
                    probes.push((with("result", result.into()), Value::Scalar(n as f64)));
                }
                for (class, n) in &s.classes {
                    responses.push((with("code", format!("{class}xx")), Value::Scalar(*n as f64)));
                }
                for (kind, n) in &s.errors {
                    errors.push((with("kind", kind.to_string()), Value::Scalar(*n as f64)));
                }
                success.push((base(), Value::Scalar(f64::from(u8::from(s.last_success)))));
                status.push((base(), Value::Scalar(f64::from(s.last_status))));
                if let Some(e) = s.earliest_expiry {
                    expiry.push((base(), Value::Scalar(e as f64)));
                }
                last.push((base(), Value::Scalar(s.last_time)));
                if let Some(h) = &mut s.tcp_rtt {
                    if let Some(buckets) = h.buckets() {
                        tcp_rtt.push((
                            base(),
                            Value::Histogram {
                                sum: h.sum(),
                                count: h.count(),
                                buckets,
                            },
                        ));
                    }
                    retransmits.push((base(), Value::Scalar(s.retransmits as f64)));
                }
            }
        }
        let mut out = vec![
            Family {
                name: "perftest_phase_duration_seconds",
                help: "Duration of each phase of complete responses (dns, tcp, tls, first, lastb, total); a phase that did not happen is not observed",
                kind: Kind::Histogram,
                rows: phases,
            },
            Family {
                name: "perftest_probes",
                help: "Samples by result (ok: a complete response, error: none)",
                kind: Kind::Counter,
                rows: probes,
            },
            Family {
                name: "perftest_responses",
                help: "Responses by status class (2xx, 3xx, 4xx, 5xx)",
                kind: Kind::Counter,
                rows: responses,
            },
            Family {
                name: "perftest_probe_errors",
                help: "Failed samples by error kind",
                kind: Kind::Counter,
                rows: errors,
            },
            Family {
                name: "perftest_probe_success",
                help: "1 if the last sample got a complete response with a status below 400, else 0 (blackbox_exporter's probe_success)",
                kind: Kind::Gauge,
                rows: success,
            },
            Family {
                name: "perftest_probe_http_status_code",
                help: "HTTP status of the last sample, 0 without a response (blackbox_exporter's probe_http_status_code)",
                kind: Kind::Gauge,
                rows: status,
            },
            Family {
                name: "perftest_probe_ssl_earliest_cert_expiry",
                help: "Earliest expiry among the certificates the server last sent, seconds since the epoch (blackbox_exporter's probe_ssl_earliest_cert_expiry)",
                kind: Kind::Gauge,
                rows: expiry,
            },
            Family {
                name: "perftest_last_sample_timestamp_seconds",
                help: "When the last sample ended, seconds since the epoch",
                kind: Kind::Gauge,
                rows: last,
            },
            Family {
                name: "perftest_tcp_rtt_seconds",
                help: "The kernel's smoothed round trip of the connection as each sample ended (TCP_INFO tcpi_rtt)",
                kind: Kind::Histogram,
                rows: tcp_rtt,
            },
            Family {
                name: "perftest_tcp_retransmits",
                help: "TCP segments retransmitted during samples (TCP_INFO tcpi_total_retrans, per sample)",
                kind: Kind::Counter,
                rows: retransmits,
            },
        ];
        out.retain(|f| !f.rows.is_empty());
        out.extend(run_families(&self.figures));
        out
    }

    /// Every series as a flat list, as remote write sends them.
    pub fn flat(&self) -> Vec<Flat> {
        let mut out = Vec::new();
        for f in self.families() {
            f.flatten(&mut out);
        }
        out
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Encode(self.families())));
        let mut out = String::new();
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
        out
    }
}

/// This process's and this run's figures, read at each scrape.
fn run_families(fig: &Figures) -> Vec<Family> {
    let p = Process::read();
    let start = epoch(fig.started_wall);
    let gauge = |name, help, v: f64| Family {
        name,
        help,
        kind: Kind::Gauge,
        rows: vec![(Vec::new(), Value::Scalar(v))],
    };
    let mut out = vec![
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            p.rss_bytes as f64,
        ),
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            p.virtual_bytes as f64,
        ),
        gauge(
            "process_open_fds",
            "Open file descriptors",
            p.open_fds as f64,
        ),
        gauge(
            "process_start_time_seconds",
            "Start time since the epoch, in seconds",
            start,
        ),
        gauge(
            "perftest_lua_memory_bytes",
            "Memory held by the Lua state",
            fig.lua_bytes.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
        gauge(
            "perftest_tasks",
            "Lua tasks running",
            fig.tasks_alive.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
        Family {
            name: "process_cpu_seconds",
            help: "User and system CPU time, in seconds",
            kind: Kind::Counter,
            rows: vec![(Vec::new(), Value::Scalar(p.cpu_seconds))],
        },
    ];
    let mut sent = Vec::new();
    let mut dropped = Vec::new();
    for (kind, _, c) in fig.publishers() {
        let kind = kind.to_string();
        sent.push((
            vec![("publisher", kind.clone())],
            Value::Scalar(c.sent as f64),
        ));
        dropped.push((vec![("publisher", kind)], Value::Scalar(c.dropped as f64)));
    }
    if !sent.is_empty() {
        out.push(Family {
            name: "perftest_published",
            help: "Items a publisher delivered (samples, posts, messages)",
            kind: Kind::Counter,
            rows: sent,
        });
        out.push(Family {
            name: "perftest_publish_dropped",
            help: "Items a publisher could not deliver",
            kind: Kind::Counter,
            rows: dropped,
        });
    }
    out
}

/// Families handed to prometheus-client's text encoder.
#[derive(Debug)]
struct Encode(Vec<Family>);

impl Collector for Encode {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let kind = match f.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut family = encoder.encode_descriptor(f.name, f.help, None, kind)?;
            for (labels, value) in &f.rows {
                let labels: Vec<(&str, &str)> =
                    labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let m = family.encode_family(&labels)?;
                match (f.kind, value) {
                    (Kind::Counter, Value::Scalar(v)) => ConstCounter::new(*v).encode(m)?,
                    (Kind::Gauge, Value::Scalar(v)) => ConstGauge::new(*v).encode(m)?,
                    (
                        Kind::Histogram,
                        Value::Histogram {
                            sum,
                            count,
                            buckets,
                        },
                    ) => {
                        // The encoder adds the counts up itself.
                        let mut below = 0;
                        let each: Vec<(f64, u64)> = buckets
                            .iter()
                            .map(|(le, c)| {
                                let n = c - below;
                                below = *c;
                                (*le, n)
                            })
                            .collect();
                        let mut m = m;
                        m.encode_histogram::<NoLabelSet>(*sum, *count, &each, None)?;
                    }
                    _ => return Err(std::fmt::Error),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ProbeError, ProbeResult, TlsInfo};
    use std::time::{Duration, SystemTime};

    #[test]
    fn targets_lose_their_query_and_credentials() {
        assert_eq!(
            super::target_label("https://u:p@x.test:8443/a/b?token=1#f"),
            "https://x.test:8443/a/b"
        );
        assert_eq!(super::target_label("http://x.test/"), "http://x.test/");
    }

    fn sample(url: &str) -> ProbeResult {
        let mut r = ProbeResult::new(url.into());
        r.status = 200;
        r.phases.dns = Duration::from_millis(3);
        r.phases.tcp = Duration::from_millis(10);
        r.phases.first = Duration::from_millis(20);
        r
    }

    fn counts(m: &Metrics) -> BTreeMap<String, f64> {
        m.flat()
            .into_iter()
            .filter(|f| f.name.ends_with("_count"))
            .map(|f| {
                let phase = f
                    .labels
                    .iter()
                    .find(|(k, _)| k == "phase")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (phase, f.value)
            })
            .collect()
    }

    /// Samples a histogram takes before it is shown (its layout decided).
    const N: u64 = crate::publish::histogram::WARM_UP;

    #[test]
    fn a_run_that_ends_before_the_warm_up_still_shows_its_samples() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        for _ in 0..3 {
            m.observe(&sample("http://127.0.0.1:8080/"), "Oslo");
        }
        assert_eq!(counts(&m).get("tcp"), None, "still warming up");
        m.settle();
        let c = counts(&m);
        assert_eq!(c["tcp"], 3.0);
        assert_eq!(c["total"], 3.0);
        let inf = m
            .flat()
            .into_iter()
            .filter(|f| {
                f.name.ends_with("_bucket") && f.labels.contains(&("le".into(), "+Inf".into()))
            })
            .count();
        assert!(inf >= 4, "every phase that happened has its buckets: {inf}");
    }

    #[test]
    fn only_the_phases_that_happened_are_observed() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        // An IP literal over http: no lookup, no handshake.
        let r = sample("http://127.0.0.1:8080/");
        for _ in 0..N {
            m.observe(&r, "Oslo");
        }
        let c = counts(&m);
        assert_eq!(c.get("dns"), None);
        assert_eq!(c.get("tls"), None);
        assert_eq!(c["tcp"], N as f64);
        assert_eq!(c["lastb"], N as f64, "a LastB of 0 is a reading");
        // A name over https: all of them.
        let mut r = sample("https://x.test/");
        r.looked_up = true;
        r.tls = Some(TlsInfo {
            version: "TLSv1.3".into(),
            cipher: String::new(),
            alpn: None,
            cert: None,
            earliest_expiry: Some(2_000_000_000),
        });
        for _ in 0..N {
            m.observe(&r, "Oslo");
        }
        // The same over a kept connection: no lookup, connect or handshake.
        r.reused = true;
        r.looked_up = false;
        for _ in 0..N {
            m.observe(&r, "Oslo");
        }
        let https: Vec<Flat> = m
            .flat()
            .into_iter()
            .filter(|f| {
                f.name.ends_with("_count")
                    && f.labels
                        .contains(&("target".into(), "https://x.test/".into()))
            })
            .collect();
        let by_phase = |p: &str| {
            https
                .iter()
                .find(|f| f.labels.contains(&("phase".into(), p.into())))
                .map(|f| f.value)
        };
        let n = N as f64;
        assert_eq!(by_phase("dns"), Some(n));
        assert_eq!(by_phase("tls"), Some(n));
        assert_eq!(by_phase("tcp"), Some(n));
        assert_eq!(by_phase("total"), Some(2.0 * n));
        let flat = m.flat();
        let expiry = flat
            .iter()
            .find(|f| f.name == "perftest_probe_ssl_earliest_cert_expiry")
            .unwrap();
        assert_eq!(expiry.value, 2e9);
    }

    #[test]
    fn tcp_info_feeds_a_round_trip_histogram_and_a_retransmit_counter() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        m.observe(&sample("http://x.test/"), "Oslo");
        assert!(
            !m.render().contains("perftest_tcp_"),
            "no series without readings"
        );
        let readings = (0..N).map(|i| (40 + i, 0, false)).chain([(52, 2, true)]);
        for (rtt, retrans, failed) in readings {
            let mut r = sample("http://x.test/");
            r.tcp_info = Some(crate::probe::TcpInfo {
                rtt: Duration::from_millis(rtt),
                total_retrans: retrans + 5,
                sample_retrans: retrans,
                ..Default::default()
            });
            if failed {
                r.error = Some(crate::probe::ProbeError::new(ErrorKind::Timeout, "timeout"));
            }
            m.observe(&r, "Oslo");
        }
        let flat = m.flat();
        let value = |name: &str| flat.iter().find(|f| f.name == name).map(|f| f.value);
        assert_eq!(
            value("perftest_tcp_rtt_seconds_count"),
            Some(N as f64 + 1.0)
        );
        let sum = (0..N).map(|i| 0.040 + i as f64 / 1000.0).sum::<f64>() + 0.052;
        assert!((value("perftest_tcp_rtt_seconds_sum").unwrap() - sum).abs() < 1e-9);
        assert_eq!(
            value("perftest_tcp_retransmits_total"),
            Some(2.0),
            "the samples' own retransmissions, not the connection's running total"
        );
        let text = m.render();
        assert!(
            text.contains("# TYPE perftest_tcp_rtt_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE perftest_tcp_retransmits_total counter"),
            "{text}"
        );
    }

    #[test]
    fn the_last_sample_sets_success_status_and_time() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        let mut r = sample("http://x.test/");
        r.status = 503;
        m.observe(&r, "Oslo");
        let get = |name: &str| m.flat().into_iter().find(|f| f.name == name).unwrap().value;
        assert_eq!(get("perftest_probe_success"), 0.0, "a 503 is no success");
        assert_eq!(get("perftest_probe_http_status_code"), 503.0);
        let mut r = sample("http://x.test/");
        r.status = 0;
        r.error = Some(ProbeError::new(ErrorKind::Connect, "refused"));
        m.observe(&r, "Oslo");
        assert_eq!(get("perftest_probe_success"), 0.0);
        assert_eq!(get("perftest_probe_http_status_code"), 0.0);
        m.observe(&sample("http://x.test/"), "Oslo");
        assert_eq!(get("perftest_probe_success"), 1.0);
        let t = get("perftest_last_sample_timestamp_seconds");
        assert!((t - epoch(SystemTime::now())).abs() < 60.0, "{t}");
        assert_eq!(
            m.flat()
                .iter()
                .find(|f| f.name == "perftest_probe_errors_total")
                .map(|f| f.value),
            Some(1.0)
        );
    }

    #[test]
    fn the_text_and_the_flat_series_agree() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        for ms in (0..N).map(|i| 10 + i % 3).chain([30]) {
            let mut r = sample("http://x.test/");
            r.phases.first = Duration::from_millis(ms);
            m.observe(&r, "Oslo");
        }
        let text = m.render();
        for f in m.flat() {
            if f.name.starts_with("process_") || f.name == "perftest_last_sample_timestamp_seconds"
            {
                continue;
            }
            let labels: Vec<String> = f
                .labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let line = if labels.is_empty() {
                format!("{} ", f.name)
            } else {
                format!("{}{{{}}} ", f.name, labels.join(","))
            };
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        let buckets = text
            .lines()
            .filter(|l| {
                l.starts_with("perftest_phase_duration_seconds_bucket")
                    && l.contains("phase=\"first\"")
            })
            .count();
        assert!(buckets > 20 && buckets <= 40, "{buckets}");
    }

    #[test]
    fn a_histogram_is_shown_once_its_layout_is_decided_and_the_counters_at_once() {
        let m = Metrics::new(Arc::new(Figures::default()), Buckets::default());
        let r = sample("http://x.test/");
        for _ in 1..N {
            m.observe(&r, "Oslo");
        }
        let names = |m: &Metrics| m.flat().into_iter().map(|f| f.name).collect::<Vec<_>>();
        let before = names(&m);
        assert!(before.contains(&"perftest_probes_total".to_string()));
        assert!(
            !before
                .iter()
                .any(|n| n.starts_with("perftest_phase_duration")),
            "{before:?}"
        );
        m.observe(&r, "Oslo");
        assert_eq!(counts(&m)["total"], N as f64);
        // A fixed layout needs no warm-up.
        let fixed = Buckets(std::array::from_fn(|_| {
            Layout::log_spaced(0.001, 1.0, 4).unwrap()
        }));
        let m = Metrics::new(Arc::new(Figures::default()), fixed);
        m.observe(&r, "Oslo");
        assert_eq!(counts(&m)["total"], 1.0);
    }

    #[test]
    fn le_reads_as_go_writes_it() {
        assert_eq!(le_label(1.0), "1");
        assert_eq!(le_label(0.01043), "0.01043");
        assert_eq!(le_label(9.537e-7), "9.537e-07");
        assert_eq!(le_label(f64::INFINITY), "+Inf");
    }
}
