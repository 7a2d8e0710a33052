//! A stream wrapper that timestamps the socket events First and LastB are measured from.
//!
//! It sits between hyper and the connection (above TLS, so TLS 1.3 session tickets and other
//! handshake records that arrive after the handshake are never taken for response bytes).
//! Stamps are taken in the read and write calls themselves, not when hyper has parsed
//! something, so header parsing and scheduling do not leak into the figures.
//!
//! HTTP/1.1: the request starts with the first byte written, the response with the first byte
//! read, and the body ends with the last read that carried bytes. HTTP/2 multiplexes frames, so
//! a small frame scanner picks out the HEADERS frame of stream 1 in each direction and the frame
//! that carries END_STREAM on the way back; SETTINGS, WINDOW_UPDATE and PING do not count.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::tcp_info::TcpInfo;

/// The instants that bound First and LastB, filled in as bytes move.
#[derive(Debug, Default)]
pub struct Stamps {
    /// First byte of the request written.
    pub request: Option<Instant>,
    /// First byte of the response read.
    pub first: Option<Instant>,
    /// Most recent read that returned bytes.
    pub last_read: Option<Instant>,
    /// HTTP/2 only: the read that completed the frame carrying END_STREAM for our stream.
    pub end_stream: Option<Instant>,
    /// When the data of the latest raw read reached this host (kernel receive time).
    pub wire_rx: Option<Instant>,
    /// How long that data waited in the kernel before it was read.
    pub wire_lag: std::time::Duration,
    h2: Option<(FrameScanner, FrameScanner)>,
    /// HTTP/2: the stream of the request being timed (set by its HEADERS frame going out).
    stream: Option<u32>,
    /// The TCP socket's descriptor while it is open, when TCP_INFO was asked for.
    pub tcp_fd: Option<std::os::fd::RawFd>,
    /// The last TCP_INFO reading, taken as the socket closed.
    pub tcp_info_at_close: Option<TcpInfo>,
    /// `total_retrans` as the previous sample on this connection reported it.
    retrans_reported: u32,
}

/// The stamps shared between the wrapper (inside hyper) and the probe.
pub type SharedStamps = Arc<Mutex<Stamps>>;

impl Stamps {
    /// New stamps, shared by the socket wrapper below TLS and the one above it.
    pub fn shared() -> SharedStamps {
        Arc::new(Mutex::new(Stamps::default()))
    }

    /// Follows HTTP/2 frames from now on (the connection negotiated h2).
    pub fn enable_h2(&mut self) {
        self.h2 = Some((
            FrameScanner::after_preface(0),
            FrameScanner::after_preface(24),
        ));
    }

    /// Clears the request's stamps before the next request on a kept connection.
    pub fn reset_for_next(&mut self) {
        self.request = None;
        self.first = None;
        self.last_read = None;
        self.end_stream = None;
        self.wire_rx = None;
        self.stream = None;
    }

    /// The connection's TCP_INFO now if its socket is open, else as it closed; the lock held
    /// by the caller keeps the socket from closing meanwhile.
    pub fn tcp_info(&mut self) -> Option<TcpInfo> {
        let mut info = match self.tcp_fd {
            Some(fd) => super::tcp_info::read(fd),
            None => self.tcp_info_at_close,
        }?;
        info.sample_retrans = info.total_retrans.saturating_sub(self.retrans_reported);
        self.retrans_reported = info.total_retrans;
        Some(info)
    }

    /// When the body's last byte arrived, as far as is known now.
    pub fn last_byte(&self) -> Option<Instant> {
        self.end_stream.or(self.last_read)
    }

    fn on_read(&mut self, data: &[u8], read_at: Instant) {
        // The bytes count from when they reached the host, if the kernel said.
        let now = self.wire_rx.unwrap_or(read_at);
        self.last_read = Some(now);
        match &mut self.h2 {
            None => {
                self.first.get_or_insert(now);
            }
            Some((reader, _)) => {
                let (mut first, mut end, ours) = (self.first, self.end_stream, self.stream);
                reader.feed(data, |event| match event {
                    Frame::Start(h) if h.is_headers() && Some(h.stream) == ours => {
                        first.get_or_insert(now);
                    }
                    Frame::End(h) if h.ends_stream() && Some(h.stream) == ours => end = Some(now),
                    _ => {}
                });
                self.first = first;
                self.end_stream = end;
            }
        }
    }

    fn on_write(&mut self, data: &[u8], now: Instant) {
        match &mut self.h2 {
            None => {
                self.request.get_or_insert(now);
            }
            Some((_, writer)) => {
                let (mut request, mut stream) = (self.request, self.stream);
                writer.feed(data, |event| {
                    // The first HEADERS frame out after a reset opens the stream being timed.
                    if let Frame::Start(h) = event
                        && h.is_headers()
                        && stream.is_none()
                    {
                        stream = Some(h.stream);
                        request.get_or_insert(now);
                    }
                });
                self.request = request;
                self.stream = stream;
            }
        }
    }
}

/// Wraps a connection and stamps reads and writes into shared [`Stamps`].
pub struct TimedIo<S> {
    inner: S,
    stamps: SharedStamps,
}

impl<S> TimedIo<S> {
    pub fn new(inner: S, stamps: SharedStamps) -> Self {
        TimedIo { inner, stamps }
    }

    fn stamps(&self) -> std::sync::MutexGuard<'_, Stamps> {
        self.stamps.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let got = &buf.filled()[before..];
        if !got.is_empty() {
            let read_at = Instant::now();
            this.stamps().on_read(got, read_at);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        // Taken before the write: the request starts when its first byte goes to the socket.
        let now = Instant::now();
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        if n > 0 {
            this.stamps().on_write(&data[..n], now);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let now = Instant::now();
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        let mut left = n;
        let mut stamps = this.stamps();
        for buf in bufs {
            if left == 0 {
                break;
            }
            let take = left.min(buf.len());
            stamps.on_write(&buf[..take], now);
            left -= take;
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// An HTTP/2 frame header (RFC 9113 section 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameHeader {
    kind: u8,
    flags: u8,
    stream: u32,
}

impl FrameHeader {
    const DATA: u8 = 0x0;
    const HEADERS: u8 = 0x1;
    const END_STREAM: u8 = 0x1;

    fn is_headers(&self) -> bool {
        self.kind == Self::HEADERS
    }

    fn ends_stream(&self) -> bool {
        (self.kind == Self::DATA || self.kind == Self::HEADERS)
            && self.flags & Self::END_STREAM != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    Start(FrameHeader),
    End(FrameHeader),
}

/// Follows frame boundaries in a byte stream that arrives in arbitrary pieces.
#[derive(Debug, Default)]
struct FrameScanner {
    /// Bytes still to skip before the first frame (the client's connection preface).
    skip: usize,
    header: [u8; 9],
    have: usize,
    current: Option<(FrameHeader, usize)>,
}

impl FrameScanner {
    fn after_preface(preface: usize) -> Self {
        FrameScanner {
            skip: preface,
            ..FrameScanner::default()
        }
    }

    fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(Frame)) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            if let Some((header, remaining)) = self.current {
                let n = remaining.min(data.len());
                data = &data[n..];
                if n == remaining {
                    self.current = None;
                    on(Frame::End(header));
                } else {
                    self.current = Some((header, remaining - n));
                }
                continue;
            }
            let n = (9 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 9 {
                self.have = 0;
                let h = &self.header;
                let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
                let header = FrameHeader {
                    kind: h[3],
                    flags: h[4],
                    stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                };
                on(Frame::Start(header));
                if len == 0 {
                    on(Frame::End(header));
                } else {
                    self.current = Some((header, len));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut v = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        v.extend_from_slice(&stream.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn scanner_finds_frames_split_at_every_byte() {
        let mut bytes = frame(0x4, 0, 0, &[0; 6]); // SETTINGS
        bytes.extend(frame(0x1, 0x4, 1, &[1, 2, 3])); // HEADERS, END_HEADERS
        bytes.extend(frame(0x0, 0x1, 1, &[9; 10])); // DATA, END_STREAM
        for split in 1..bytes.len() {
            let mut s = FrameScanner::default();
            let mut events = vec![];
            for chunk in bytes.chunks(split) {
                s.feed(chunk, |e| events.push(e));
            }
            let starts: Vec<u8> = events
                .iter()
                .filter_map(|e| match e {
                    Frame::Start(h) => Some(h.kind),
                    _ => None,
                })
                .collect();
            assert_eq!(starts, vec![0x4, 0x1, 0x0], "split {split}");
            let last = events.last().unwrap();
            assert!(matches!(last, Frame::End(h) if h.ends_stream() && h.stream == 1));
        }
    }

    #[test]
    fn h2_stamps_ignore_settings_and_find_headers_and_end_stream() {
        let stamps = Stamps::shared();
        let mut s = stamps.lock().unwrap();
        s.enable_h2();
        let t0 = Instant::now();
        let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        out.extend(frame(0x1, 0x5, 1, &[0; 8]));
        s.on_write(&out, t0);
        let t1 = t0 + std::time::Duration::from_millis(1);
        s.on_read(&frame(0x4, 0, 0, &[0; 6]), t1);
        assert_eq!(s.first, None, "a SETTINGS frame is not the response");
        let t2 = t1 + std::time::Duration::from_millis(5);
        s.on_read(&frame(0x1, 0x4, 1, &[0; 4]), t2);
        assert_eq!(s.first, Some(t2));
        let t3 = t2 + std::time::Duration::from_millis(5);
        s.on_read(&frame(0x0, 0x1, 1, &[0; 4]), t3);
        assert_eq!(s.end_stream, Some(t3));
    }

    #[test]
    fn h2_request_stamp_skips_the_preface() {
        let stamps = Stamps::shared();
        let mut s = stamps.lock().unwrap();
        s.enable_h2();
        let t1 = Instant::now();
        let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        preface.extend(frame(0x4, 0, 0, &[0; 12]));
        s.on_write(&preface, t1);
        assert_eq!(s.request, None);
        let t2 = t1 + std::time::Duration::from_millis(1);
        s.on_write(&frame(0x1, 0x5, 1, &[0; 20]), t2);
        assert_eq!(s.request, Some(t2));

        // The next request on the same connection is stream 3; stream 1's frames are history.
        s.reset_for_next();
        let t3 = t2 + std::time::Duration::from_millis(1);
        s.on_write(&frame(0x1, 0x5, 3, &[0; 20]), t3);
        assert_eq!(s.request, Some(t3));
        s.on_read(&frame(0x1, 0x4, 3, &[0; 4]), t3);
        assert_eq!(s.first, Some(t3));
    }
}
