//! The HTTP exchange over an established (and maybe TLS) connection: hyper's connection-level
//! client, driven in the probe's own task so that no second task adds a hop.

use std::error::Error as _;
use std::future::Future;
use std::io;

use bytes::Bytes;
use http::header::{ACCEPT, CONNECTION, HOST, USER_AGENT};
use http::{HeaderValue, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Peer;
use super::request::ProbeRequest;
use super::result::{ErrorKind, ProbeError};
use super::target::Target;
use super::timed_io::{SharedStamps, TimedIo};

const AGENT: &str = concat!("perftest/", env!("CARGO_PKG_VERSION"));

/// What the exchange has learnt so far; kept by the caller so a timeout loses nothing.
#[derive(Debug, Default)]
pub struct Progress {
    pub status: u16,
    pub version: Option<&'static str>,
    pub headers: http::HeaderMap,
    pub size: u64,
    pub truncated: bool,
    /// The body's first bytes, when asked for (`keep_body`).
    pub body: Option<Vec<u8>>,
    /// Bytes arrived beyond what `keep_body` keeps.
    pub body_cut: bool,
    /// The response headers have arrived; the body is being read.
    pub in_body: bool,
}

/// How much of a body to read and how much of it to keep.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    pub max: Option<u64>,
    pub keep: Option<usize>,
}

impl BodyLimits {
    fn of(req: &ProbeRequest) -> BodyLimits {
        BodyLimits {
            max: req.max_body,
            keep: req.keep_body,
        }
    }
}

/// The request side of an open connection, kept for the next request (keep-alive).
pub enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Full<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    /// True once the connection can take no more requests (closed, or `Connection: close`).
    pub fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    /// Waits until the connection can take a request.
    pub async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(s) => s.ready().await,
            Sender::H2(s) => s.ready().await,
        }
    }

    async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<http::Response<hyper::body::Incoming>, hyper::Error> {
        match self {
            Sender::H1(s) => s.send_request(req).await,
            Sender::H2(s) => s.send_request(req).await,
        }
    }
}

/// Sends `req` over `io` and reads the response to its end (or to `max_body`). With `keep`,
/// the connection is driven by a task of its own and its sender returned for the next request.
#[allow(clippy::too_many_arguments)]
pub async fn exchange<S>(
    io: S,
    h2: bool,
    req: &ProbeRequest,
    target: &Target,
    peer: &Peer<'_>,
    stamps: SharedStamps,
    progress: &mut Progress,
    keep: bool,
) -> Result<Option<(Sender, tokio::task::JoinHandle<()>)>, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(TimedIo::new(io, stamps));
    let request = build(req, target, h2, !keep).map_err(|e| ProbeError::new(ErrorKind::Http, e))?;
    if h2 {
        let (sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
            .handshake(io)
            .await
            .map_err(|e| failure(&e, peer, progress))?;
        over(
            conn,
            Sender::H2(sender),
            keep,
            request,
            BodyLimits::of(req),
            peer,
            progress,
        )
        .await
    } else {
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| failure(&e, peer, progress))?;
        over(
            conn,
            Sender::H1(sender),
            keep,
            request,
            BodyLimits::of(req),
            peer,
            progress,
        )
        .await
    }
}

/// Sends `request` over a connection just set up, which `conn` drives: in this task, or with
/// `keep` in a task of its own so that the sender outlives the exchange.
async fn over<C>(
    conn: C,
    mut sender: Sender,
    keep: bool,
    request: Request<Full<Bytes>>,
    limits: BodyLimits,
    peer: &Peer<'_>,
    progress: &mut Progress,
) -> Result<Option<(Sender, tokio::task::JoinHandle<()>)>, ProbeError>
where
    C: Future<Output = Result<(), hyper::Error>> + Send + 'static,
{
    if keep {
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        send_and_read(&mut sender, request, limits, peer, progress).await?;
        return Ok(Some((sender, driver)));
    }
    drive(
        conn,
        send_and_read(&mut sender, request, limits, peer, progress),
    )
    .await?;
    Ok(None)
}

/// Another request on a kept connection.
pub async fn again(
    sender: &mut Sender,
    h2: bool,
    req: &ProbeRequest,
    target: &Target,
    peer: &Peer<'_>,
    progress: &mut Progress,
) -> Result<(), ProbeError> {
    let request = build(req, target, h2, false).map_err(|e| ProbeError::new(ErrorKind::Http, e))?;
    send_and_read(sender, request, BodyLimits::of(req), peer, progress).await
}

async fn send_and_read(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
    limits: BodyLimits,
    peer: &Peer<'_>,
    progress: &mut Progress,
) -> Result<(), ProbeError> {
    let resp = sender
        .send(request)
        .await
        .map_err(|e| failure(&e, peer, progress))?;
    read(resp, limits, peer, progress).await
}

/// The request as hyper sends it. `last`: the connection closes after it, and HTTP/1.1 says so
/// (`Connection: close`, as Go's client without keep-alive sends), so that the server, not
/// the prober, holds the closed connection's TIME_WAIT: a monitor opening thousands of
/// connections does not run out of local ports.
fn build(
    req: &ProbeRequest,
    target: &Target,
    h2: bool,
    last: bool,
) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::builder()
        .method(req.method.clone())
        .uri(if h2 {
            target.absolute_form.clone()
        } else {
            target.origin_form.clone()
        })
        .version(if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        })
        .body(Full::new(req.body.clone()))
        .map_err(|e| format!("building the request: {e}"))?;
    let headers = request.headers_mut();
    // HTTP/2 takes :authority from the URI; HTTP/1.1 wants a Host header.
    if !h2 {
        headers.insert(HOST, target.host_header.clone());
    }
    headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    if last && !h2 {
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
    }
    // The user's headers win, a Connection header among them; a name given twice is sent
    // twice, as curl does.
    for (i, (name, value)) in req.headers.iter().enumerate() {
        if req.headers[..i].iter().any(|(earlier, _)| earlier == name) {
            headers.append(name.clone(), value.clone());
        } else {
            headers.insert(name.clone(), value.clone());
        }
    }
    Ok(request)
}

/// Polls the connection and the exchange together until the exchange is over.
async fn drive<C, W>(conn: C, work: W) -> Result<(), ProbeError>
where
    C: Future<Output = Result<(), hyper::Error>>,
    W: Future<Output = Result<(), ProbeError>>,
{
    tokio::pin!(conn);
    tokio::pin!(work);
    let mut conn_done = false;
    loop {
        tokio::select! {
            biased;
            r = &mut work => return r,
            // A failed connection fails the exchange too, which reports it with more context.
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

async fn read(
    resp: http::Response<hyper::body::Incoming>,
    limits: BodyLimits,
    peer: &Peer<'_>,
    progress: &mut Progress,
) -> Result<(), ProbeError> {
    progress.status = resp.status().as_u16();
    progress.version = Some(match resp.version() {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    });
    // Moved, not copied: a load reads thousands of responses a second and looks at none of
    // their headers.
    let (parts, body) = resp.into_parts();
    progress.headers = parts.headers;
    progress.in_body = true;
    let mut body = body;
    if let Some(keep) = limits.keep {
        // Sized for what the server announced, within the limit: no regrowth for most bodies.
        let announced = hyper::body::Body::size_hint(&body).lower();
        progress.body = Some(Vec::with_capacity(keep.min(announced as usize)));
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| failure(&e, peer, progress))?;
        if let Some(data) = frame.data_ref() {
            progress.size += data.len() as u64;
            if let (Some(kept), Some(keep)) = (progress.body.as_mut(), limits.keep) {
                let room = keep - kept.len();
                if data.len() > room {
                    progress.body_cut = true;
                }
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
            if limits.max.is_some_and(|max| progress.size >= max) {
                progress.truncated = true;
                break;
            }
        }
    }
    Ok(())
}

/// Classifies a hyper error: socket trouble is `io`, protocol trouble is `http`.
fn failure(e: &hyper::Error, peer: &Peer<'_>, progress: &Progress) -> ProbeError {
    let mut io_cause = None;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            io_cause = Some(io);
            break;
        }
        source = s.source();
    }
    let when = if progress.in_body {
        format!(" after {} body bytes", progress.size)
    } else {
        String::new()
    };
    if let Some(io) = io_cause {
        return ProbeError::new(
            ErrorKind::Io,
            format!("io {peer}: {}{when}", super::connect::describe_io(io)),
        );
    }
    let what = if e.is_incomplete_message() {
        if progress.in_body {
            "connection closed before the body was complete".to_string()
        } else {
            "server closed the connection before sending a response".to_string()
        }
    } else if e.is_parse() {
        format!("invalid response ({e})")
    } else {
        let mut s = e.to_string();
        if let Some(src) = e.source() {
            s = format!("{s}: {src}");
        }
        s
    };
    ProbeError::new(ErrorKind::Http, format!("http {peer}: {what}{when}"))
}
