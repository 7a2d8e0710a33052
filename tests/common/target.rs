//! An HTTP/1.1 target on 127.0.0.1 written at the socket level, so it can delay its first byte,
//! trickle its body, answer any status, reset mid-body, close early or never answer; the same
//! behind TLS; and an HTTP/2 target (hyper) behind TLS.
//!
//! Routes (query parameters in ms and bytes):
//!   /page?ttfb=MS&trickle=MS&size=N&chunks=K   (any path not below)
//!   /status/NNN   /redirect?to=PATH   /reset?after=N   /hang   /close   /garbage   /echo
//!   /mirror (answers with the request's body)
//!   /flaky (the 1st, 3rd, 5th... request to it gets a page, the others a reset)

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::tls::TestPki;

/// A request as the target saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// How long the target really held the first byte (`?ttfb=`): a loaded machine wakes its
    /// timer late, and a phase's upper bound is this truth, not the nominal hold.
    pub held: Option<Duration>,
    /// How long the target really took to trickle the body (`?trickle=`).
    pub trickled: Option<Duration>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running target; it lives until the test process ends.
pub struct Target {
    pub addr: SocketAddr,
    pub scheme: &'static str,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Target {
    /// Plain HTTP on 127.0.0.1.
    pub fn http() -> Target {
        Self::start("127.0.0.1:0", None)
    }

    /// HTTPS (HTTP/1.1) on 127.0.0.1 with the PKI's certificate.
    pub fn https(pki: &TestPki) -> Target {
        Self::start("127.0.0.1:0", Some(pki.server_config.clone()))
    }

    /// Plain HTTP on another address (e.g. "[::1]:0").
    pub fn http_on(bind: &str) -> Target {
        Self::start(bind, None)
    }

    /// `scheme://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn start(bind: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Target {
        let std_listener = listen(bind);
        let addr = std_listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let (log, acceptor) = (log.clone(), acceptor.clone());
                    tokio::spawn(async move {
                        let _ = tcp.set_nodelay(true);
                        match acceptor {
                            None => {
                                let mut tcp = tcp;
                                if let Ok(After::Reset) = serve(&mut tcp, &log).await {
                                    reset(tcp);
                                }
                            }
                            Some(acceptor) => {
                                let Ok(mut tls) = acceptor.accept(tcp).await else {
                                    return;
                                };
                                if let Ok(After::Reset) = serve(&mut tls, &log).await {
                                    reset(tls.into_inner().0);
                                }
                            }
                        }
                    });
                }
            });
        });
        Target { addr, scheme, seen }
    }
}

/// A listener with a backlog deep enough for a thousand simultaneous connects.
fn listen(bind: &str) -> std::net::TcpListener {
    let addr: SocketAddr = bind.parse().expect("bind address");
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.set_reuse_address(true).unwrap();
    socket.bind(&addr.into()).expect("bind target");
    socket.listen(4096).expect("listen");
    socket.set_nonblocking(true).unwrap();
    socket.into()
}

/// Closes with RST instead of FIN.
fn reset(tcp: TcpStream) {
    let _ = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
    drop(tcp);
}

enum After {
    Close,
    Reset,
}

fn query(path: &str) -> HashMap<String, String> {
    path.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Reads one request (head and Content-Length body); None at end of stream.
pub async fn read_request<S: AsyncRead + Unpin>(s: &mut S) -> io::Result<Option<Seen>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Seen {
        method,
        path,
        headers,
        body,
        held: None,
        trickled: None,
    }))
}

fn head(status: u16, len: usize, extra: &str) -> String {
    format!(
        "HTTP/1.1 {status} Test\r\nContent-Length: {len}\r\nContent-Type: text/plain\r\n{extra}\r\n"
    )
}

/// Serves requests on one connection (HTTP/1.1 keep-alive) until the client closes it or a
/// route ends it.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    log: &Mutex<Vec<Seen>>,
) -> io::Result<After> {
    loop {
        match serve_one(s, log).await? {
            Some(after) => return Ok(after),
            None => continue,
        }
    }
}

/// One request; `Some` ends the connection.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    log: &Mutex<Vec<Seen>>,
) -> io::Result<Option<After>> {
    let Some(req) = read_request(s).await? else {
        return Ok(Some(After::Close));
    };
    let (flaky_seen, index) = {
        let mut log = log.lock().unwrap();
        log.push(req.clone());
        let flaky = log.iter().filter(|r| r.path.starts_with("/flaky")).count();
        (flaky, log.len() - 1)
    };
    let q = query(&req.path);
    let num = |k: &str, d: u64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let route = req.path.split('?').next().unwrap_or("/").to_string();
    match route.as_str() {
        "/hang" => {
            // Never answer; hold the connection until the client gives up.
            let mut sink = [0u8; 1024];
            while s.read(&mut sink).await.unwrap_or(0) > 0 {}
            return Ok(Some(After::Close));
        }
        "/close" => return Ok(Some(After::Close)),
        "/flaky" if flaky_seen % 2 == 0 => return Ok(Some(After::Reset)),
        "/garbage" => {
            s.write_all(b"SPDY/9 what is this\r\n\r\n").await?;
            s.flush().await?;
            return Ok(Some(After::Close));
        }
        "/reset" => {
            let after = num("after", 1000) as usize;
            s.write_all(head(200, 100_000, "").as_bytes()).await?;
            s.write_all(&vec![b'x'; after]).await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(20)).await;
            return Ok(Some(After::Reset));
        }
        "/echo" => {
            let body = format!("{} {}", req.method, req.body.len());
            s.write_all(head(200, body.len(), "").as_bytes()).await?;
            s.write_all(body.as_bytes()).await?;
        }
        "/mirror" => {
            s.write_all(head(200, req.body.len(), "").as_bytes())
                .await?;
            s.write_all(&req.body).await?;
        }
        "/redirect" => {
            let to = q.get("to").cloned().unwrap_or_else(|| "/page".into());
            s.write_all(head(302, 0, &format!("Location: {to}\r\n")).as_bytes())
                .await?;
        }
        r if r.starts_with("/status/") => {
            let status: u16 = r[8..].parse().unwrap_or(500);
            s.write_all(head(status, 2, "").as_bytes()).await?;
            s.write_all(b"ok").await?;
        }
        _ => {
            let (ttfb, trickle, size) = (
                num("ttfb", 0),
                num("trickle", 0),
                num("size", 1000) as usize,
            );
            let chunks = num("chunks", 4).max(1) as usize;
            let read = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(ttfb)).await;
            let body = vec![b'p'; size];
            let held = read.elapsed();
            let mut trickled = None;
            if trickle == 0 {
                let mut all = head(200, size, "").into_bytes();
                all.extend_from_slice(&body);
                s.write_all(&all).await?;
            } else {
                s.write_all(head(200, size, "").as_bytes()).await?;
                s.flush().await?;
                let began = std::time::Instant::now();
                let step = Duration::from_micros(trickle * 1000 / chunks as u64);
                for piece in body.chunks(size.div_ceil(chunks).max(1)) {
                    tokio::time::sleep(step).await;
                    s.write_all(piece).await?;
                    s.flush().await?;
                }
                trickled = Some(began.elapsed());
            }
            if let Some(seen) = log.lock().unwrap().get_mut(index) {
                seen.held = Some(held);
                seen.trickled = trickled;
            }
        }
    }
    s.flush().await?;
    if req
        .header("connection")
        .is_some_and(|c| c.eq_ignore_ascii_case("close"))
    {
        s.shutdown().await.ok();
        return Ok(Some(After::Close));
    }
    Ok(None)
}

/// An HTTP/2 target (hyper, TLS with ALPN h2) that holds each response `?ttfb=MS`.
pub fn h2(pki: &TestPki) -> Target {
    use http_body_util::Full;
    use hyper::service::service_fn;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    let std_listener = listen("127.0.0.1:0");
    let addr = std_listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(std_listener).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service =
                        service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                            let q = query(&req.uri().to_string());
                            let ttfb = q.get("ttfb").and_then(|v| v.parse().ok()).unwrap_or(0);
                            tokio::time::sleep(Duration::from_millis(ttfb)).await;
                            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(
                                bytes::Bytes::from(vec![b'h'; 2000]),
                            )))
                        });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
    });
    Target {
        addr,
        scheme: "https",
        seen: Arc::new(Mutex::new(Vec::new())),
    }
}
