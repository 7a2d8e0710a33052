//! CloudWatch: samples gathered per metric and dimension set into `Values`/`Counts` (so that
//! CloudWatch's percentiles are computed from every sample), sent from a task of its own in
//! calls within the API's limits, retried with backoff, kept in a bounded buffer while
//! CloudWatch is unreachable, and flushed when the run ends. What cannot be sent is counted
//! and reported; recording never waits for the network.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

/// The unit of a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    Milliseconds,
    Count,
    Bytes,
}

/// One datum as PutMetricData takes it: a metric, its dimensions, and values with counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Datum {
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub unit: Unit,
    /// 1 (high resolution) or 60 seconds.
    pub resolution: u32,
    pub timestamp: SystemTime,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
}

impl Datum {
    /// Samples this datum carries.
    pub fn samples(&self) -> u64 {
        self.counts.iter().sum::<f64>() as u64
    }

    /// A generous estimate of its size on the wire (query protocol, form-encoded).
    fn wire_size(&self) -> usize {
        let dims: usize = self
            .dimensions
            .iter()
            .map(|(k, v)| k.len() + v.len() + 90)
            .sum();
        300 + self.metric.len() + dims + self.values.len() * 100
    }
}

/// Why a call failed: worth retrying, or never going to work.
#[derive(Clone, Debug)]
pub enum SinkError {
    Retry(String),
    Reject(String),
}

/// Where datums go. Behind a trait so the SDK (pinned for moto's sake) can move, and so the
/// batching can be tested on its own.
pub trait MetricSink: Send + Sync + 'static {
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        data: &'a [Datum],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;
}

/// How the publisher batches and buffers.
#[derive(Clone, Debug)]
pub struct Config {
    pub namespace: String,
    /// How often gathered samples are sent.
    pub interval: Duration,
    /// Samples kept while CloudWatch is unreachable; beyond, the oldest are dropped (counted).
    pub max_pending: u64,
}

/// CloudWatch's limits for one PutMetricData call.
const MAX_DATUMS: usize = 1000;
const MAX_BYTES: usize = 900_000;
const MAX_VALUES: usize = 150;

/// Counters of what happened to samples, for reports and /memstats.
#[derive(Debug, Default)]
pub struct Counters {
    pub recorded: AtomicU64,
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed_calls: AtomicU64,
    pub calls: AtomicU64,
}

/// What a flush achieved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub sent: u64,
    pub dropped: u64,
    /// Still waiting when the flush gave up (counted as dropped from then on).
    pub left: u64,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    metric: String,
    dimensions: Vec<(String, String)>,
    unit: Unit,
    resolution: u32,
    /// Start of the period (resolution) the samples fall in, epoch seconds.
    period: i64,
}

#[derive(Default)]
struct State {
    /// Samples gathered since the last send, by key and value (µs resolution).
    gathering: BTreeMap<Key, BTreeMap<i64, u64>>,
    /// Datums waiting to be sent, oldest first.
    pending: VecDeque<Datum>,
    pending_samples: u64,
    last_error: Option<String>,
}

/// A running publisher: `record` from anywhere, sends from its own task.
pub struct CloudWatch {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    sink: Arc<dyn MetricSink>,
    state: Mutex<State>,
    counters: Counters,
    wake: Notify,
    flushed: Notify,
    closing: std::sync::atomic::AtomicBool,
}

impl CloudWatch {
    /// Starts the sending task on `runtime`.
    pub fn start(
        sink: Arc<dyn MetricSink>,
        config: Config,
        runtime: &tokio::runtime::Handle,
    ) -> CloudWatch {
        let shared = Arc::new(Shared {
            config,
            sink,
            state: Mutex::new(State::default()),
            counters: Counters::default(),
            wake: Notify::new(),
            flushed: Notify::new(),
            closing: Default::default(),
        });
        runtime.spawn(run(shared.clone()));
        CloudWatch { shared }
    }

    /// Gathers one sample; never blocks on the network.
    pub fn record(
        &self,
        metric: &str,
        dimensions: &[(String, String)],
        unit: Unit,
        value: f64,
        resolution: u32,
        at: SystemTime,
    ) {
        let secs = at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let resolution = if resolution == 1 { 1 } else { 60 };
        let mut dims = dimensions.to_vec();
        dims.sort();
        let key = Key {
            metric: metric.to_string(),
            dimensions: dims,
            unit,
            resolution,
            period: secs - secs.rem_euclid(i64::from(resolution)),
        };
        let micro = (value * 1000.0).round() as i64;
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        *st.gathering
            .entry(key)
            .or_default()
            .entry(micro)
            .or_default() += 1;
        drop(st);
        self.shared
            .counters
            .recorded
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The namespace published to.
    pub fn namespace(&self) -> &str {
        &self.shared.config.namespace
    }

    /// Sends everything gathered now, retrying until `within` has passed; what is left then is
    /// counted as dropped. Used when the run ends.
    pub async fn flush(&self, within: Duration) -> FlushReport {
        let s = &self.shared;
        let (sent0, dropped0) = (
            s.counters.sent.load(Ordering::Relaxed),
            s.counters.dropped.load(Ordering::Relaxed),
        );
        s.closing.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let waiting = s.flushed.notified();
            s.wake.notify_one();
            // Samples leave the count only once CloudWatch has accepted them, so a batch in
            // flight still counts: the flush waits for its answer.
            let empty = {
                let st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                st.gathering.is_empty() && st.pending_samples == 0
            };
            if empty {
                break;
            }
            if tokio::time::timeout_at(deadline, waiting).await.is_err() {
                break;
            }
        }
        let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
        let gathering: u64 = st.gathering.values().flat_map(|m| m.values()).sum();
        let left = st.pending_samples + gathering;
        st.pending.clear();
        st.pending_samples = 0;
        st.gathering.clear();
        s.counters.dropped.fetch_add(left, Ordering::Relaxed);
        FlushReport {
            sent: s.counters.sent.load(Ordering::Relaxed) - sent0,
            dropped: s.counters.dropped.load(Ordering::Relaxed) - dropped0,
            left,
            last_error: st.last_error.clone(),
        }
    }
}

/// Turns what was gathered into datums of at most MAX_VALUES values each.
fn datums(gathering: BTreeMap<Key, BTreeMap<i64, u64>>) -> Vec<Datum> {
    let mut out = Vec::new();
    for (key, values) in gathering {
        let pairs: Vec<(i64, u64)> = values.into_iter().collect();
        for chunk in pairs.chunks(MAX_VALUES) {
            out.push(Datum {
                metric: key.metric.clone(),
                dimensions: key.dimensions.clone(),
                unit: key.unit,
                resolution: key.resolution,
                timestamp: UNIX_EPOCH + Duration::from_secs(key.period.max(0) as u64),
                values: chunk.iter().map(|(v, _)| *v as f64 / 1000.0).collect(),
                counts: chunk.iter().map(|(_, c)| *c as f64).collect(),
            });
        }
    }
    out
}

/// Takes the next call's worth of datums off the front of `pending`.
fn next_batch(pending: &mut VecDeque<Datum>) -> Vec<Datum> {
    let (mut batch, mut bytes) = (Vec::new(), 0);
    while let Some(d) = pending.front() {
        let size = d.wire_size();
        if batch.len() == MAX_DATUMS || (!batch.is_empty() && bytes + size > MAX_BYTES) {
            break;
        }
        bytes += size;
        batch.push(pending.pop_front().expect("front exists"));
    }
    batch
}

async fn run(s: Arc<Shared>) {
    let mut backoff = Duration::ZERO;
    loop {
        let wait = if backoff.is_zero() {
            s.config.interval
        } else {
            backoff
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = s.wake.notified() => {}
        }
        // Move what was gathered to the queue, keeping the queue within its bound.
        {
            let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
            let gathered = std::mem::take(&mut st.gathering);
            for d in datums(gathered) {
                st.pending_samples += d.samples();
                st.pending.push_back(d);
            }
            while st.pending_samples > s.config.max_pending {
                let Some(old) = st.pending.pop_front() else {
                    break;
                };
                st.pending_samples -= old.samples();
                s.counters
                    .dropped
                    .fetch_add(old.samples(), Ordering::Relaxed);
            }
        }
        // Send until the queue is empty or a call fails.
        backoff = loop {
            let batch = {
                let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                next_batch(&mut st.pending)
            };
            if batch.is_empty() {
                break Duration::ZERO;
            }
            let samples: u64 = batch.iter().map(Datum::samples).sum();
            s.counters.calls.fetch_add(1, Ordering::Relaxed);
            match s.sink.put(&s.config.namespace, &batch).await {
                Ok(()) => {
                    s.counters.sent.fetch_add(samples, Ordering::Relaxed);
                    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.pending_samples -= samples;
                }
                Err(SinkError::Reject(why)) => {
                    tracing::warn!("cloudwatch rejected {samples} samples: {why}");
                    s.counters.failed_calls.fetch_add(1, Ordering::Relaxed);
                    s.counters.dropped.fetch_add(samples, Ordering::Relaxed);
                    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.pending_samples -= samples;
                    st.last_error = Some(why);
                }
                Err(SinkError::Retry(why)) => {
                    tracing::debug!("cloudwatch call failed, will retry: {why}");
                    s.counters.failed_calls.fetch_add(1, Ordering::Relaxed);
                    let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
                    for d in batch.into_iter().rev() {
                        st.pending.push_front(d);
                    }
                    st.last_error = Some(why);
                    // 1 s, 2 s, 4 s ... at most a minute, never longer than the interval when
                    // closing (the flush has a deadline of its own).
                    let next = (backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
                    break if s.closing.load(Ordering::Relaxed) {
                        next.min(Duration::from_millis(500))
                    } else {
                        next
                    };
                }
            }
        };
        s.flushed.notify_waiters();
    }
}

/// The AWS SDK as a [`MetricSink`]: aws-config's whole credential chain, rustls with ring.
pub struct SdkSink {
    client: aws_sdk_cloudwatch::Client,
}

impl SdkSink {
    /// Loads the AWS configuration from the environment (AWS_REGION, AWS_ENDPOINT_URL,
    /// credentials from the environment, profiles, SSO, web identity, ECS or IMDS) and checks
    /// that there is a region and credentials.
    pub async fn from_env() -> Result<SdkSink, super::InvalidConfig> {
        use aws_config::BehaviorVersion;
        use aws_credential_types::provider::ProvideCredentials;
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let conf = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .load()
            .await;
        if conf.region().is_none_or(|r| r.as_ref().trim().is_empty()) {
            return Err("no AWS region: set AWS_REGION (or a region in your AWS profile)".into());
        }
        let Some(provider) = conf.credentials_provider() else {
            return Err("no AWS credentials provider".into());
        };
        match tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(format!(
                    "no AWS credentials ({e}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role"
                ).into());
            }
            Err(_) => return Err("looking for AWS credentials took over 10 s".into()),
        }
        Ok(SdkSink {
            client: aws_sdk_cloudwatch::Client::new(&conf),
        })
    }
}

impl MetricSink for SdkSink {
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        data: &'a [Datum],
    ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        Box::pin(async move {
            let datums: Vec<MetricDatum> = data
                .iter()
                .map(|d| {
                    let dims = d
                        .dimensions
                        .iter()
                        .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                        .collect();
                    MetricDatum::builder()
                        .metric_name(&d.metric)
                        .set_dimensions(Some(dims))
                        .set_values(Some(d.values.clone()))
                        .set_counts(Some(d.counts.clone()))
                        .unit(match d.unit {
                            Unit::Milliseconds => StandardUnit::Milliseconds,
                            Unit::Count => StandardUnit::Count,
                            Unit::Bytes => StandardUnit::Bytes,
                        })
                        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from(d.timestamp))
                        .storage_resolution(d.resolution as i32)
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(datums))
                .send()
                .await;
            match out {
                Ok(_) => Ok(()),
                Err(e) => Err(classify(e)),
            }
        })
    }
}

fn classify<
    E: std::error::Error + aws_sdk_cloudwatch::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
>(
    e: aws_sdk_cloudwatch::error::SdkError<E, R>,
) -> SinkError {
    use aws_sdk_cloudwatch::error::SdkError;
    let text = one_line(&e);
    match &e {
        SdkError::ServiceError(se) => {
            let raw = format!("{:?}", se.raw());
            // Throttling and server errors pass; a request CloudWatch refuses does not.
            if raw.contains("status: StatusCode(5") || text.contains("Throttl") {
                SinkError::Retry(text)
            } else {
                SinkError::Reject(text)
            }
        }
        SdkError::ConstructionFailure(_) => SinkError::Reject(text),
        _ => SinkError::Retry(text),
    }
}

/// An SDK error as one line a user reads: each cause in the chain once, outermost first
/// (`dispatch failure: io error: tcp connect error: Connection refused (os error 111)`), the
/// service's code and message for a refused call; never the Debug dump.
fn one_line<
    E: std::error::Error + aws_sdk_cloudwatch::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
>(
    e: &aws_sdk_cloudwatch::error::SdkError<E, R>,
) -> String {
    use aws_sdk_cloudwatch::error::{ProvideErrorMetadata, SdkError};
    if let SdkError::ServiceError(se) = e {
        let meta = ProvideErrorMetadata::meta(se.err());
        let status = format!("{:?}", se.raw())
            .split("status: StatusCode(")
            .nth(1)
            .and_then(|rest| rest.split(')').next())
            .map(|code| format!("HTTP {code}: "))
            .unwrap_or_default();
        return match (meta.code(), meta.message()) {
            (Some(code), Some(message)) => format!("{status}{code}: {message}"),
            (Some(code), None) => format!("{status}{code}"),
            _ => format!("{status}{}", chain(e)),
        };
    }
    chain(e)
}

/// `e` and its sources, each said once.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

impl super::Publisher for CloudWatch {
    fn kind(&self) -> &'static str {
        "cloudwatch"
    }

    fn name(&self) -> String {
        "cloudwatch".into()
    }

    fn counts(&self) -> super::Counts {
        let k = self.counters();
        let (recorded, sent, dropped) = (
            k.recorded.load(Ordering::Relaxed),
            k.sent.load(Ordering::Relaxed),
            k.dropped.load(Ordering::Relaxed),
        );
        super::Counts {
            sent,
            dropped,
            waiting: recorded.saturating_sub(sent + dropped),
        }
    }

    fn flush(&self, within: Duration) -> Pin<Box<dyn Future<Output = super::Flushed> + Send + '_>> {
        Box::pin(async move {
            let report = CloudWatch::flush(self, within).await;
            let c = self.counters();
            super::Flushed {
                noun: "samples",
                verb: "sent",
                delivered: c.sent.load(Ordering::Relaxed),
                undelivered: report.dropped,
                of: Some(c.recorded.load(Ordering::Relaxed)),
                why: Some(report.last_error.map_or_else(
                    || {
                        format!(
                            "no call completed within the {}s flush window, PERFTEST_FLUSH_SECONDS",
                            within.as_secs_f64()
                        )
                    },
                    |e| format!("last error: {e}"),
                )),
                how: Some(format!(
                    " to namespace {:?} in {} calls",
                    self.namespace(),
                    c.calls.load(Ordering::Relaxed)
                )),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that records calls, failing while `down` is set.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<Vec<Datum>>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl MetricSink for Fake {
        fn put<'a>(
            &'a self,
            _: &'a str,
            data: &'a [Datum],
        ) -> Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>> {
            Box::pin(async move {
                if self.down.load(Ordering::Relaxed) {
                    return Err(SinkError::Retry("down".into()));
                }
                self.calls.lock().unwrap().push(data.to_vec());
                Ok(())
            })
        }
    }

    fn config() -> Config {
        Config {
            namespace: "T".into(),
            interval: Duration::from_millis(50),
            max_pending: 100_000,
        }
    }

    #[tokio::test]
    async fn samples_are_gathered_into_values_and_counts() {
        let sink = Arc::new(Fake::default());
        let cw = CloudWatch::start(sink.clone(), config(), &tokio::runtime::Handle::current());
        let dims = vec![("TestUrl".to_string(), "u".to_string())];
        let t = UNIX_EPOCH + Duration::from_secs(1_800_000_030);
        for v in [10.0, 20.0, 10.0, 30.5] {
            cw.record("RespTime", &dims, Unit::Milliseconds, v, 60, t);
        }
        let report = cw.flush(Duration::from_secs(2)).await;
        assert_eq!(
            report,
            FlushReport {
                sent: 4,
                ..Default::default()
            }
        );
        let calls = sink.calls.lock().unwrap();
        let d = &calls[0][0];
        assert_eq!(d.values, vec![10.0, 20.0, 30.5]);
        assert_eq!(d.counts, vec![2.0, 1.0, 1.0]);
        assert_eq!(
            d.timestamp,
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            "the minute"
        );
    }

    #[tokio::test]
    async fn calls_stay_within_the_api_limits() {
        let sink = Arc::new(Fake::default());
        let cw = CloudWatch::start(sink.clone(), config(), &tokio::runtime::Handle::current());
        let t = SystemTime::now();
        // 300 dimension sets with 200 distinct values each: 600 datums of at most 150 values.
        for i in 0..300 {
            let dims = vec![("TestUrl".to_string(), format!("u{i}"))];
            for v in 0..200 {
                cw.record("RespTime", &dims, Unit::Milliseconds, f64::from(v), 60, t);
            }
        }
        let report = cw.flush(Duration::from_secs(5)).await;
        assert_eq!(report.sent, 60_000);
        let calls = sink.calls.lock().unwrap();
        assert!(calls.len() > 1, "split by size");
        for call in calls.iter() {
            assert!(call.len() <= MAX_DATUMS);
            assert!(call.iter().map(Datum::wire_size).sum::<usize>() <= MAX_BYTES);
            assert!(call.iter().all(|d| d.values.len() <= MAX_VALUES));
        }
    }

    #[tokio::test]
    async fn an_outage_keeps_samples_until_cloudwatch_returns() {
        let sink = Arc::new(Fake::default());
        sink.down.store(true, Ordering::Relaxed);
        let cw = CloudWatch::start(sink.clone(), config(), &tokio::runtime::Handle::current());
        let dims = vec![("TestUrl".to_string(), "u".to_string())];
        for v in 0..10 {
            cw.record(
                "RespTime",
                &dims,
                Unit::Milliseconds,
                f64::from(v),
                60,
                SystemTime::now(),
            );
        }
        // Until the sender has tried and failed: no fixed sleep racing it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while cw.counters().failed_calls.load(Ordering::Relaxed) == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no call in 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(cw.counters().sent.load(Ordering::Relaxed), 0);
        sink.down.store(false, Ordering::Relaxed);
        let report = cw.flush(Duration::from_secs(5)).await;
        assert_eq!(report.sent, 10);
        assert_eq!(report.dropped, 0);
    }

    #[tokio::test]
    async fn what_cannot_be_sent_is_counted() {
        let sink = Arc::new(Fake::default());
        sink.down.store(true, Ordering::Relaxed);
        let mut c = config();
        c.max_pending = 5;
        let cw = CloudWatch::start(sink, c, &tokio::runtime::Handle::current());
        let dims = vec![("TestUrl".to_string(), "u".to_string())];
        let t = SystemTime::now();
        for v in 0..8u32 {
            // Different minutes: separate datums, so the bound drops whole old ones.
            cw.record(
                "RespTime",
                &dims,
                Unit::Milliseconds,
                f64::from(v),
                60,
                t - Duration::from_secs(60 * u64::from(v)),
            );
        }
        let report = cw.flush(Duration::from_millis(600)).await;
        assert_eq!(report.sent, 0);
        assert_eq!(
            report.dropped, 8,
            "3 over the bound, 5 left at the deadline"
        );
        assert!(report.last_error.is_some());
    }
}
