//! An HTTP(S) receiver on 127.0.0.1 that records what is POSTed to it (webhooks, Twilio,
//! Slack) and can answer 503 to the next N requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::target::{Seen, read_request};

/// A running receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    scheme: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
    failures: Arc<AtomicU32>,
}

/// Answers the requests of one connection: 201 and recorded, or 503 while failures are due.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    log: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<AtomicU32>,
) {
    while let Ok(Some(req)) = read_request(&mut s).await {
        let failing = fail
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        let head = if failing {
            "HTTP/1.1 503 Busy"
        } else {
            "HTTP/1.1 201 Created"
        };
        if !failing {
            log.lock().unwrap().push(req);
        }
        let body = "{\"sid\":\"SM123\"}";
        let resp = format!(
            "{head}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if s.write_all(resp.as_bytes()).await.is_err() {
            return;
        }
    }
}

impl Receiver {
    /// Plain HTTP.
    pub fn start() -> Receiver {
        Self::start_with(None)
    }

    /// HTTPS with `tls`'s certificate.
    pub fn https(tls: Arc<rustls::ServerConfig>) -> Receiver {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<Arc<rustls::ServerConfig>>) -> Receiver {
        let tls_used = tls.is_some();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(AtomicU32::new(0));
        let (log, fail) = (seen.clone(), failures.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let Ok((s, _)) = listener.accept().await else {
                        continue;
                    };
                    let (log, fail, acceptor) = (log.clone(), fail.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        match acceptor {
                            None => answer(s, log, fail).await,
                            Some(a) => {
                                if let Ok(tls) = a.accept(s).await {
                                    answer(tls, log, fail).await
                                }
                            }
                        }
                    });
                }
            });
        });
        Receiver {
            addr,
            scheme: if tls_used { "https" } else { "http" },
            seen,
            failures,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Answers 503 to the next `n` requests.
    pub fn fail_next(&self, n: u32) {
        self.failures.store(n, Ordering::Relaxed);
    }

    /// The requests accepted so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits up to `within` for at least `n` accepted requests.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.requests();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
