//! What leaves the process: CloudWatch, webhooks, alert notifications, Prometheus metrics.
//! Knows no Lua: the engine turns script calls into calls here. Every send runs on a task of
//! its own behind a bounded queue, so publishing never delays a probe, and what cannot be
//! delivered is counted.

input_error!(
    /// A publisher's configuration that cannot work (a URL, a bucket layout, credentials).
    InvalidConfig
);

pub mod cloudwatch;
pub mod histogram;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod queue;
pub mod remote_write;
pub mod webhook;
