//! Prometheus remote write 1.0: every `interval` the series `/metrics` serves are read
//! ([`Metrics::flat`]), stamped with the time, and queued; a task of its own sends them
//! oldest first as snappy-compressed protobuf `WriteRequest`s, retrying with backoff while
//! the receiver is unreachable or answers 5xx/429, keeping at most `max_pending` samples
//! (beyond, the oldest are dropped and counted), and flushing when the run ends. A city
//! behind NAT that cannot be scraped pushes this way.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::Notify;

use super::http::{Outcome, post, redact};
use super::metrics::{Flat, Metrics};

/// The remote-write 1.0 messages (prometheus/prompb's types.proto and remote.proto).
pub mod proto {
    /// A batch of series.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// A series: its labels (sorted by name, `__name__` among them) and samples.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    #[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
    pub struct Label {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// A value at a time in milliseconds since the epoch.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(double, tag = "1")]
        pub value: f64,
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

/// How the publisher reads, batches and buffers.
#[derive(Clone, Debug)]
pub struct Config {
    pub url: String,
    /// How often the series are read and sent.
    pub interval: Duration,
    /// Added to every series (a series' own label of the same name wins).
    pub labels: Vec<(String, String)>,
    /// Sent with every request (Authorization, X-Scope-OrgID...).
    pub headers: Vec<(String, String)>,
    /// Samples kept while the receiver is unreachable; beyond, the oldest are dropped.
    pub max_pending: u64,
    /// How long one request may take.
    pub timeout: Duration,
}

/// Samples in one request at most.
const MAX_SAMPLES: usize = 5000;

/// What happened to samples, for reports, /memstats and /metrics.
#[derive(Debug, Default)]
pub struct Counters {
    pub recorded: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub calls: AtomicU64,
    pub failed_calls: AtomicU64,
}

/// What a flush achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: u64,
    pub dropped: u64,
    pub last_error: Option<String>,
}

#[derive(Default)]
struct State {
    /// Requests waiting, oldest first, each with its sample count.
    pending: VecDeque<(proto::WriteRequest, u64)>,
    pending_samples: u64,
    last_error: Option<String>,
    /// The series of the last read, to mark those gone from the next one.
    last_series: HashSet<Vec<proto::Label>>,
}

/// Prometheus' staleness marker: a series read before and not now (a histogram whose dense
/// boundaries moved) ends at once, as it would when scraped, instead of lingering at its
/// last value for five minutes of instant queries.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// A running publisher.
pub struct RemoteWrite {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    metrics: Arc<Metrics>,
    state: Mutex<State>,
    counters: Counters,
    wake: Notify,
    flushed: Notify,
    closing: AtomicBool,
}

impl RemoteWrite {
    /// Checks the URL and starts the task on `runtime`; the first read is one interval away.
    pub fn start(
        metrics: Arc<Metrics>,
        config: Config,
        runtime: &tokio::runtime::Handle,
    ) -> Result<RemoteWrite, super::InvalidConfig> {
        let uri: http::Uri = config
            .url
            .parse()
            .map_err(|e| format!("url '{}': {e}", redact(&config.url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(format!(
                "url '{}': give http(s)://HOST[:PORT]/api/v1/write",
                redact(&config.url)
            )
            .into());
        }
        for (k, v) in &config.headers {
            http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("header '{k}': not a header name"))?;
            http::HeaderValue::from_str(v)
                .map_err(|_| format!("header {k}: not a header value"))?;
        }
        let shared = Arc::new(Shared {
            config,
            metrics,
            state: Mutex::new(State::default()),
            counters: Counters::default(),
            wake: Notify::new(),
            flushed: Notify::new(),
            closing: AtomicBool::new(false),
        });
        runtime.spawn(read(shared.clone()));
        runtime.spawn(run(shared.clone()));
        Ok(RemoteWrite { shared })
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// Samples read and not yet sent or dropped.
    pub fn pending(&self) -> u64 {
        self.lock().pending_samples
    }

    /// The URL as it may be shown: scheme and host.
    pub fn shown(&self) -> String {
        redact(&self.shared.config.url)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the series one last time and sends everything, retrying until `within` has
    /// passed; what is left then is counted as dropped. Used when the run ends.
    pub async fn flush(&self, within: Duration) -> FlushReport {
        let s = &self.shared;
        let (sent0, dropped0) = (
            s.counters.sent.load(Ordering::Relaxed),
            s.counters.dropped.load(Ordering::Relaxed),
        );
        if !s.closing.swap(true, Ordering::Relaxed) {
            s.metrics.settle();
            snapshot(s, SystemTime::now());
        }
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let waiting = s.flushed.notified();
            if self.lock().pending.is_empty() {
                break;
            }
            s.wake.notify_one();
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                break;
            }
        }
        let mut st = self.lock();
        let left = st.pending_samples;
        st.pending.clear();
        st.pending_samples = 0;
        s.counters.dropped.fetch_add(left, Ordering::Relaxed);
        FlushReport {
            sent: s.counters.sent.load(Ordering::Relaxed) - sent0,
            dropped: s.counters.dropped.load(Ordering::Relaxed) - dropped0,
            last_error: st.last_error.clone(),
        }
    }
}

/// The series as remote-write series at `at`: labels sorted, the config's added.
pub fn series(
    flat: Vec<Flat>,
    extra: &[(String, String)],
    at: SystemTime,
) -> Vec<proto::TimeSeries> {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    flat.into_iter()
        .map(|f| {
            let mut labels: Vec<proto::Label> =
                Vec::with_capacity(f.labels.len() + 1 + extra.len());
            labels.push(proto::Label {
                name: "__name__".into(),
                value: f.name,
            });
            for (name, value) in f.labels {
                labels.push(proto::Label { name, value });
            }
            for (name, value) in extra {
                if !labels.iter().any(|l| &l.name == name) {
                    labels.push(proto::Label {
                        name: name.clone(),
                        value: value.clone(),
                    });
                }
            }
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            proto::TimeSeries {
                labels,
                samples: vec![proto::Sample {
                    value: f.value,
                    timestamp: ms,
                }],
            }
        })
        .collect()
}

/// Reads the series and queues them, keeping the queue within its bound.
fn snapshot(s: &Shared, at: SystemTime) {
    let mut all = series(s.metrics.flat(), &s.config.labels, at);
    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
    let now: HashSet<Vec<proto::Label>> = all.iter().map(|t| t.labels.clone()).collect();
    let timestamp = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for gone in st.last_series.difference(&now) {
        all.push(proto::TimeSeries {
            labels: gone.clone(),
            samples: vec![proto::Sample {
                value: f64::from_bits(STALE_NAN),
                timestamp,
            }],
        });
    }
    st.last_series = now;
    let n = all.len() as u64;
    s.counters.recorded.fetch_add(n, Ordering::Relaxed);
    let mut rest = all;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(MAX_SAMPLES));
        let samples = rest.len() as u64;
        st.pending
            .push_back((proto::WriteRequest { timeseries: rest }, samples));
        st.pending_samples += samples;
        rest = tail;
    }
    while st.pending_samples > s.config.max_pending {
        let Some((_, old)) = st.pending.pop_front() else {
            break;
        };
        st.pending_samples -= old;
        s.counters.dropped.fetch_add(old, Ordering::Relaxed);
    }
}

/// The request body: protobuf, then snappy's block format (not its framed one).
pub fn encode(req: &proto::WriteRequest) -> Vec<u8> {
    use prost::Message;
    let raw = req.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy compresses any input under 4 GiB")
}

/// Reads the series every interval, on a task of its own: a slow or hanging send never delays
/// a read (a gap in the data), it only makes the queue longer.
async fn read(s: Arc<Shared>) {
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + s.config.interval,
        s.config.interval,
    );
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if s.closing.load(Ordering::Relaxed) {
            return;
        }
        snapshot(&s, SystemTime::now());
        s.wake.notify_one();
    }
}

async fn run(s: Arc<Shared>) {
    let mut backoff = Duration::ZERO;
    let mut retry_at: Option<tokio::time::Instant> = None;
    let far = || tokio::time::Instant::now() + Duration::from_secs(86400);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(retry_at.unwrap_or_else(far)), if retry_at.is_some() => {
                retry_at = None;
            }
            _ = s.wake.notified() => {
                if s.closing.load(Ordering::Relaxed) {
                    // The flush has a deadline: a retry a long backoff away comes sooner.
                    let soon = tokio::time::Instant::now() + Duration::from_millis(500);
                    retry_at = retry_at.map(|t| t.min(soon));
                }
            }
        }
        if retry_at.is_some_and(|t| t > tokio::time::Instant::now()) {
            // Backing off: what was read waits in the queue.
            continue;
        }
        retry_at = None;
        backoff = match send_all(&s).await {
            None => Duration::ZERO,
            Some(()) => {
                // 0.5 s, 1 s, 2 s ... at most 30 s; half a second when the run is ending (the
                // flush has a deadline of its own).
                let next = (backoff * 2).clamp(Duration::from_millis(500), Duration::from_secs(30));
                let wait = if s.closing.load(Ordering::Relaxed) {
                    next.min(Duration::from_millis(500))
                } else {
                    next
                };
                retry_at = Some(tokio::time::Instant::now() + wait);
                next
            }
        };
        s.flushed.notify_waiters();
    }
}

/// Sends until the queue is empty (None) or a request must be retried (Some).
async fn send_all(s: &Shared) -> Option<()> {
    loop {
        let front = {
            let st = s.state.lock().unwrap_or_else(|p| p.into_inner());
            st.pending.front().map(|(req, n)| (encode(req), *n))
        };
        let (body, samples) = front?;
        let mut headers: Vec<(&str, String)> = vec![
            ("content-type", "application/x-protobuf".into()),
            ("content-encoding", "snappy".into()),
            ("x-prometheus-remote-write-version", "0.1.0".into()),
            (
                "user-agent",
                format!("perftest/{}", env!("CARGO_PKG_VERSION")),
            ),
        ];
        for (k, v) in &s.config.headers {
            headers.push((k.as_str(), v.clone()));
        }
        s.counters.calls.fetch_add(1, Ordering::Relaxed);
        let outcome = post(&s.config.url, &headers, Bytes::from(body), s.config.timeout).await;
        let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
        if outcome.ok() {
            st.pending.pop_front();
            st.pending_samples -= samples;
            s.counters.sent.fetch_add(samples, Ordering::Relaxed);
            continue;
        }
        s.counters.failed_calls.fetch_add(1, Ordering::Relaxed);
        let why = match &outcome {
            Outcome::Status(code) => format!("HTTP {code}"),
            Outcome::Failed(e) => e.clone(),
        };
        st.last_error = Some(why.clone());
        if outcome.retryable() {
            tracing::debug!("remote write failed, will retry: {why}");
            return Some(());
        }
        // The receiver refuses these samples (a 400 for a sample out of order, say):
        // sending them again would not help.
        tracing::warn!("remote write rejected {samples} samples: {why}");
        st.pending.pop_front();
        st.pending_samples -= samples;
        s.counters.dropped.fetch_add(samples, Ordering::Relaxed);
    }
}

impl super::Publisher for RemoteWrite {
    fn kind(&self) -> &'static str {
        "remote_write"
    }

    fn name(&self) -> String {
        format!("remote write {}", self.shown())
    }

    fn counts(&self) -> super::Counts {
        let c = self.counters();
        super::Counts {
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            waiting: self.pending(),
        }
    }

    fn flush(
        &self,
        within: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = super::Flushed> + Send + '_>> {
        Box::pin(async move {
            let report = RemoteWrite::flush(self, within).await;
            let c = self.counters();
            super::Flushed {
                noun: "samples",
                verb: "sent",
                delivered: c.sent.load(Ordering::Relaxed),
                // Over the whole run: those the bound dropped during an outage count too.
                undelivered: c.dropped.load(Ordering::Relaxed),
                of: Some(c.recorded.load(Ordering::Relaxed)),
                why: report.last_error.map(|e| format!("last error: {e}")),
                how: Some(format!(" in {} requests", c.calls.load(Ordering::Relaxed))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_through_snappy_and_protobuf() {
        use prost::Message;
        let flat = vec![Flat {
            name: "perftest_probes_total".into(),
            labels: vec![
                ("target".into(), "https://x.test/".into()),
                ("location".into(), "Oslo".into()),
                ("result".into(), "ok".into()),
            ],
            value: 3.0,
        }];
        let at = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let extra = vec![("job".to_string(), "perftest".to_string())];
        let req = proto::WriteRequest {
            timeseries: series(flat, &extra, at),
        };
        let body = encode(&req);
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let back = proto::WriteRequest::decode(raw.as_slice()).unwrap();
        assert_eq!(back, req);
        let names: Vec<&str> = back.timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, ["__name__", "job", "location", "result", "target"]);
        assert_eq!(back.timeseries[0].samples[0].timestamp, 1_800_000_000_123);
    }
}
