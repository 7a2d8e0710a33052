//! One HTTP(S) client for everything perftest sends (webhooks, Twilio, Slack): hyper with
//! rustls and ring, kept-alive connections, a timeout per request. Not for probes: those
//! measure a new connection each time.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Legacy;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A kept-alive HTTP(S) client.
pub type Client = Legacy<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The shared client: the system's CA certificates (Mozilla's built in when there are none).
pub fn shared_client() -> &'static Client {
    static CLIENT: OnceLock<Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if added == 0 {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_with(tls)
    })
}

/// A client of its own that verifies servers as `tls` says (the probe's --cacert or -k).
pub fn client_with(tls: rustls::ClientConfig) -> Client {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Legacy::builder(TokioExecutor::new()).build(https)
}

/// What a request came back with: the status, or why there was none.
#[derive(Debug)]
pub enum Outcome {
    Status(u16),
    Failed(String),
}

impl Outcome {
    /// 2xx.
    pub fn ok(&self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(s))
    }

    /// Worth another try: no answer, a 5xx or 429.
    pub fn retryable(&self) -> bool {
        match self {
            Outcome::Failed(_) => true,
            Outcome::Status(s) => *s >= 500 || *s == 429,
        }
    }
}

/// POSTs `body` to `url` with `headers`; the response body is read and dropped.
pub async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: Bytes,
    timeout: Duration,
) -> Outcome {
    post_with(shared_client(), url, headers, body, timeout).await
}

/// [`post`] through `client`.
pub async fn post_with(
    client: &Client,
    url: &str,
    headers: &[(&str, String)],
    body: Bytes,
    timeout: Duration,
) -> Outcome {
    let mut req = http::Request::post(url);
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    let req = match req.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("bad request: {e}")),
    };
    let send = async {
        let resp = client.request(req).await.map_err(|e| {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(&e) {
                s = format!("{s}: {src}");
            }
            s
        })?;
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await;
        Ok::<u16, String>(status)
    };
    match tokio::time::timeout(timeout, send).await {
        Ok(Ok(status)) => Outcome::Status(status),
        Ok(Err(e)) => Outcome::Failed(e),
        Err(_) => Outcome::Failed(format!("no answer within {}s", timeout.as_secs())),
    }
}

/// GETs `url`: the status and the body (at most `limit` bytes), or why there was none.
pub async fn get(url: &str, limit: usize, timeout: Duration) -> Result<(u16, Bytes), String> {
    let req = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("bad request: {e}"))?;
    let send = async {
        let resp = shared_client().request(req).await.map_err(|e| {
            let mut s = e.to_string();
            if let Some(src) = std::error::Error::source(&e) {
                s = format!("{s}: {src}");
            }
            s
        })?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), limit)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    tokio::time::timeout(timeout, send)
        .await
        .map_err(|_| format!("no answer within {} s", timeout.as_secs()))?
}

/// A URL as it may appear in a log: scheme and host only. Webhook URLs often carry secrets in
/// their path (Slack's do) or in their user info.
pub fn redact(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(u) => format!(
            "{}://{}/…",
            u.scheme_str().unwrap_or("?"),
            u.host().unwrap_or("?")
        ),
        Err(_) => "<url>".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redaction_keeps_only_scheme_and_host() {
        assert_eq!(
            super::redact("https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            super::redact("http://user:pw@10.0.0.1:9000/p"),
            "http://10.0.0.1/…"
        );
    }
}
