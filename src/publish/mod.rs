//! What leaves the process: CloudWatch, webhooks, alert notifications, Prometheus metrics.
//! Knows no Lua: the engine turns script calls into calls here. Every send runs on a task of
//! its own behind a bounded queue, so publishing never delays a probe, and what cannot be
//! delivered is counted.

input_error!(
    /// A publisher's configuration that cannot work (a URL, a bucket layout, credentials).
    InvalidConfig
);

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Every publisher as the run sees it: a name for reports and /memstats, its counts, and a
/// last flush when the run ends. CloudWatch, webhooks, alert notifications and remote write
/// are each one; the end of a run is one loop over them.
pub trait Publisher: Send + Sync {
    /// What it is, as the `publisher` label of /metrics says: `cloudwatch`, `remote_write`.
    fn kind(&self) -> &'static str;
    /// How reports and /memstats name it: `cloudwatch`, `webhook https://host/…`.
    fn name(&self) -> String;
    /// What it has sent, dropped, and holds still.
    fn counts(&self) -> Counts;
    /// Sends what it holds, for at most `within`; what is left then is dropped.
    fn flush(&self, within: Duration) -> Pin<Box<dyn Future<Output = Flushed> + Send + '_>>;
}

/// A publisher's figures for /memstats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub dropped: u64,
    pub waiting: u64,
}

/// What a run's last flush reports about a publisher.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// What is counted: "samples", "posts", "notifications".
    pub noun: &'static str,
    /// What was done to them: "sent", "delivered".
    pub verb: &'static str,
    pub delivered: u64,
    /// What could not be delivered (0: nothing to report).
    pub undelivered: u64,
    /// Out of how many ("3 of 5"), when the publisher counts what it was given.
    pub of: Option<u64>,
    /// Why, in parentheses after a failure: the last error, or what held it up.
    pub why: Option<String>,
    /// For -v after a success: where and in how many calls; None says nothing.
    pub how: Option<String>,
}

impl Flushed {
    /// `NAME: 3 of 5 samples could not be sent (last error: ...)`, if anything was lost.
    pub fn failure(&self, name: &str) -> Option<String> {
        (self.undelivered > 0).then(|| {
            format!(
                "{name}: {}{} {} could not be {}{}",
                self.undelivered,
                self.of.map(|n| format!(" of {n}")).unwrap_or_default(),
                self.noun,
                self.verb,
                self.why
                    .as_ref()
                    .map(|w| format!(" ({w})"))
                    .unwrap_or_default()
            )
        })
    }

    /// `NAME: 5 samples sent in 2 calls`, when the publisher has something to say.
    pub fn success(&self, name: &str) -> Option<String> {
        let how = self.how.as_ref()?;
        Some(format!(
            "{name}: {} {} {}{how}",
            self.delivered, self.noun, self.verb
        ))
    }
}

pub mod cloudwatch;
pub mod histogram;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod remote_write;
pub mod webhook;
