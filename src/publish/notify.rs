//! Alert notifications: SMS through Twilio's Messages API, a webhook with a body template, a
//! Slack-compatible webhook, or a command. Sent from a queue of their own, retried; secrets
//! (tokens, webhook paths) never appear in what perftest prints.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;

use super::http::{self, post};
use super::queue::{Attempt, Queue};

/// Where a notification goes.
#[derive(Clone, Debug)]
pub enum Channel {
    /// Twilio's Messages API: one SMS per receiver.
    Twilio {
        api: String,
        sid: String,
        token: String,
        from: String,
        to: Vec<String>,
    },
    /// A POST of `template` with `{{field}}` replaced (JSON-escaped when the template is JSON),
    /// or of a JSON object of every field.
    Webhook {
        url: String,
        template: Option<String>,
    },
    /// A Slack-compatible incoming webhook: `{"text": message}`.
    Slack { url: String },
    /// A command, run with the message on stdin and the fields as PERFTEST_ALERT_* variables.
    Command { argv: Vec<String> },
}

impl Channel {
    /// A name for reports, without secrets.
    pub fn shown(&self) -> String {
        match self {
            Channel::Twilio { to, .. } => format!("twilio ({} receivers)", to.len()),
            Channel::Webhook { url, .. } => format!("webhook {}", http::redact(url)),
            Channel::Slack { url } => format!("slack {}", http::redact(url)),
            Channel::Command { argv } => {
                format!("command {}", argv.first().cloned().unwrap_or_default())
            }
        }
    }
}

/// What is sent: the text, and named fields for templates and commands.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub text: String,
    pub fields: Vec<(String, String)>,
}

impl Message {
    fn field(&self, name: &str) -> Option<&str> {
        if name == "message" {
            return Some(&self.text);
        }
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Replaces `{{name}}` in `template`; values are JSON-escaped when `json`.
pub fn render(template: &str, msg: &Message, json: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                let value = msg.field(name).unwrap_or("");
                if json {
                    let quoted = serde_json::to_string(value).unwrap_or_default();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                } else {
                    out.push_str(value);
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// One delivery: a channel, a message, and for Twilio which receiver.
pub struct Delivery {
    channel: Arc<Channel>,
    message: Arc<Message>,
    receiver: usize,
}

/// The notification queue.
pub struct Notifier {
    pub queue: Queue<Delivery>,
}

impl Notifier {
    /// Starts the sender on `runtime`.
    pub fn start(runtime: &tokio::runtime::Handle) -> Notifier {
        let queue = Queue::start(1_000, 4, runtime, |d: &Delivery| -> Attempt {
            let (channel, message, receiver) = (d.channel.clone(), d.message.clone(), d.receiver);
            Box::pin(async move { deliver(&channel, &message, receiver).await })
        });
        Notifier { queue }
    }

    /// Queues `message` for `channel` (for Twilio, once per receiver).
    pub fn send(&self, channel: Arc<Channel>, message: Arc<Message>) {
        let n = match &*channel {
            Channel::Twilio { to, .. } => to.len(),
            _ => 1,
        };
        for receiver in 0..n {
            self.queue.push(Delivery {
                channel: channel.clone(),
                message: message.clone(),
                receiver,
            });
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(15);

async fn deliver(channel: &Channel, msg: &Message, receiver: usize) -> Result<(), (String, bool)> {
    let (out, what) = match channel {
        Channel::Twilio {
            api,
            sid,
            token,
            from,
            to,
        } => {
            let url = format!(
                "{}/2010-04-01/Accounts/{sid}/Messages.json",
                api.trim_end_matches('/')
            );
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("To", &to[receiver])
                .append_pair("From", from)
                .append_pair("Body", &msg.text)
                .finish();
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{token}"));
            let headers = [
                (
                    "content-type",
                    "application/x-www-form-urlencoded".to_string(),
                ),
                ("accept", "application/json".to_string()),
                ("authorization", format!("Basic {auth}")),
            ];
            (
                post(&url, &headers, Bytes::from(body), TIMEOUT).await,
                format!("twilio {}", http::redact(&url)),
            )
        }
        Channel::Webhook { url, template } => {
            let (body, json) = match template {
                Some(t) => {
                    let json = t.trim_start().starts_with(['{', '[']);
                    (render(t, msg, json), json)
                }
                None => {
                    let mut m = serde_json::Map::new();
                    m.insert("message".into(), msg.text.clone().into());
                    for (k, v) in &msg.fields {
                        m.insert(k.clone(), v.clone().into());
                    }
                    (serde_json::Value::Object(m).to_string(), true)
                }
            };
            let ctype = if json {
                "application/json"
            } else {
                "text/plain; charset=utf-8"
            };
            let out = post(
                url,
                &[("content-type", ctype.to_string())],
                Bytes::from(body),
                TIMEOUT,
            )
            .await;
            (out, format!("webhook {}", http::redact(url)))
        }
        Channel::Slack { url } => {
            let body = serde_json::json!({ "text": msg.text }).to_string();
            let out = post(
                url,
                &[("content-type", "application/json".to_string())],
                Bytes::from(body),
                TIMEOUT,
            )
            .await;
            (out, format!("slack {}", http::redact(url)))
        }
        Channel::Command { argv } => return run_command(argv, msg).await,
    };
    if out.ok() {
        Ok(())
    } else {
        Err((format!("{what}: {out:?}"), out.retryable()))
    }
}

async fn run_command(argv: &[String], msg: &Message) -> Result<(), (String, bool)> {
    use tokio::io::AsyncWriteExt;
    let Some((program, args)) = argv.split_first() else {
        return Err(("command: empty".into(), false));
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env("PERFTEST_ALERT_MESSAGE", &msg.text)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in &msg.fields {
        cmd.env(format!("PERFTEST_ALERT_{}", k.to_ascii_uppercase()), v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| (format!("command {program}: {e}"), false))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(msg.text.as_bytes()).await;
    }
    match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err((format!("command {program}: {status}"), true)),
        Ok(Err(e)) => Err((format!("command {program}: {e}"), true)),
        Err(_) => Err((format!("command {program}: still running after 30 s"), true)),
    }
}

impl super::Publisher for Notifier {
    fn kind(&self) -> &'static str {
        "alerts"
    }

    fn name(&self) -> String {
        "alerts".into()
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
                noun: "notifications",
                verb: "delivered",
                delivered: c.sent.load(Ordering::Relaxed),
                undelivered: c.dropped.load(Ordering::Relaxed),
                of: None,
                why: self.queue.last_error().map(|e| format!("last error: {e}")),
                how: None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_fields_and_escape_json() {
        let msg = Message {
            text: "total \"412\" ms".into(),
            fields: vec![("url".into(), "https://x/".into())],
        };
        assert_eq!(
            render(
                r#"{"t": "{{message}}", "u": "{{ url }}", "n": "{{none}}"}"#,
                &msg,
                true
            ),
            r#"{"t": "total \"412\" ms", "u": "https://x/", "n": ""}"#
        );
        assert_eq!(
            render("{{url}} {{message", &msg, false),
            "https://x/ {{message"
        );
    }
}
