//! `-W URL`: every sample POSTed as JSON, through a bounded queue that never holds up probing;
//! each POST is retried with backoff; what cannot be delivered is counted.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::http::{self, post_with};
use super::queue::{Attempt, Queue};

/// A webhook receiving one JSON document per sample.
pub struct Webhook {
    pub queue: Queue<Bytes>,
    url: String,
}

impl Webhook {
    /// Starts the sender on `runtime`; the URL must be http or https. `tls` verifies the
    /// receiver (the probe's --cacert or -k); without it, the system's CA certificates do.
    pub fn start(
        url: &str,
        tls: Option<rustls::ClientConfig>,
        runtime: &tokio::runtime::Handle,
    ) -> Result<Webhook, super::InvalidConfig> {
        let uri: ::http::Uri = url
            .parse()
            .map_err(|e| format!("webhook URL '{}': {e}", http::redact(url)))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(format!(
                "webhook URL '{}': use http:// or https://",
                http::redact(url)
            )
            .into());
        }
        let target = url.to_string();
        let client = match tls {
            Some(tls) => http::client_with(tls),
            None => http::shared_client().clone(),
        };
        let queue = Queue::start(10_000, 4, runtime, move |body: &Bytes| -> Attempt {
            let (url, body, client) = (target.clone(), body.clone(), client.clone());
            Box::pin(async move {
                let out = post_with(
                    &client,
                    &url,
                    &[("content-type", "application/json".into())],
                    body,
                    Duration::from_secs(10),
                )
                .await;
                if out.ok() {
                    Ok(())
                } else {
                    Err((
                        format!("webhook {}: {out:?}", http::redact(&url)),
                        out.retryable(),
                    ))
                }
            })
        });
        Ok(Webhook {
            queue,
            url: url.to_string(),
        })
    }

    /// Queues one JSON document.
    pub fn send(&self, json: String) {
        self.queue.push(Bytes::from(json));
    }

    /// The URL without its secrets, for reports.
    pub fn shown(&self) -> String {
        http::redact(&self.url)
    }
}

impl super::Publisher for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn name(&self) -> String {
        format!("webhook {}", self.shown())
    }

    fn counts(&self) -> super::Counts {
        self.queue.counts()
    }

    fn flush(
        &self,
        within: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = super::Flushed> + Send + '_>> {
        Box::pin(async move {
            self.queue.flush(within).await;
            let c = &self.queue.counters;
            super::Flushed {
                noun: "posts",
                verb: "delivered",
                delivered: c.sent.load(Ordering::Relaxed),
                undelivered: c.dropped.load(Ordering::Relaxed),
                of: Some(c.queued.load(Ordering::Relaxed)),
                why: self.queue.last_error().map(|e| format!("last error: {e}")),
                how: None,
            }
        })
    }
}
