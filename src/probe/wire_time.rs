//! When bytes reached this host, as the kernel saw it: receive timestamps (SO_TIMESTAMPNS) and
//! the handshake round trip the kernel measured (TCP_INFO). A phase that ends when data
//! arrives is timed at its arrival, not at the moment a busy thread got round to reading it.
//! Where the kernel offers neither, the caller falls back to the time of the read.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use super::timed_io::SharedStamps;

/// Holds one timestamping socket open for the life of the process (idempotent). The kernel switches packet
/// timestamping on when the first socket asks and off when the last one closes, each time by
/// patching its code on every CPU from a worker thread: a lone probe after another (a monitor,
/// a load at concurrency 1) paid that twice per sample (its close took 84 µs, wrk's 28),
/// and interrupted every CPU of the machine.
pub fn keep_timestamping_on() {
    static KEEPER: OnceLock<Option<OwnedFd>> = OnceLock::new();
    KEEPER.get_or_init(|| {
        // SAFETY: socket() has no memory arguments; a valid fd is owned from here on.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd was just opened and is owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        enable_rx_timestamps(fd.as_raw_fd()).then_some(fd)
    });
}

/// Asks the kernel to timestamp every received segment of `fd`.
pub fn enable_rx_timestamps(fd: RawFd) -> bool {
    let on: libc::c_int = 1;
    // SAFETY: a valid fd and a pointer to a c_int that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            &on as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// The handshake's round trip as the kernel measured it (SYN sent to SYN-ACK received), if the
/// SYN was not retransmitted (a retransmit is real delay the wall clock must keep).
pub fn handshake_rtt(stream: &TcpStream) -> Option<Duration> {
    // SAFETY: tcp_info is plain data; getsockopt writes at most `len` bytes into it.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut libc::tcp_info as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 || info.tcpi_rtt == 0 || info.tcpi_total_retrans != 0 {
        return None;
    }
    Some(Duration::from_micros(u64::from(info.tcpi_rtt)))
}

/// Reads into `buf` and returns the kernel's receive time of the data, if it gave one.
fn recv_stamped(
    fd: RawFd,
    buf: &mut [std::mem::MaybeUninit<u8>],
) -> io::Result<(usize, Option<SystemTime>)> {
    recv_stamped_from(fd, buf, std::ptr::null_mut())
}

/// Like [`recv_stamped`], also filling `from` (a sockaddr_storage, or null) with the sender.
fn recv_stamped_from(
    fd: RawFd,
    buf: &mut [std::mem::MaybeUninit<u8>],
    from: *mut libc::sockaddr_storage,
) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // Room for one timespec control message, aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; every pointer in it refers to memory that outlives recvmsg.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    if !from.is_null() {
        msg.msg_name = from as *mut libc::c_void;
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    }
    // SAFETY: fd is an open socket; msg describes valid, writable memory.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: the CMSG_* walk stays within msg_controllen, which the kernel set.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                let ts: libc::timespec =
                    std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                stamp = Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((n as usize, stamp))
}

/// The monotonic and the wall clock read at one moment. Read one after the other, a thread
/// preempted between the two readings would shift every arrival it converts by the pause:
/// a test with a thousand probes in flight read a First phase below the server's own hold,
/// which such a pause explains. So the wall reading is bracketed by two monotonic ones and
/// paired with their middle, retried when the bracket shows a pause.
fn clock_pair() -> (Instant, SystemTime) {
    let read = || {
        let before = Instant::now();
        let wall = SystemTime::now();
        let gap = before.elapsed();
        (before + gap / 2, wall, gap)
    };
    let mut best = read();
    for _ in 0..2 {
        if best.2 < Duration::from_micros(20) {
            break;
        }
        let next = read();
        if next.2 < best.2 {
            best = next;
        }
    }
    (best.0, best.1)
}

/// A kernel receive time as an `Instant`: the read's own instant minus how long ago, by the
/// wall clock, the data arrived. A nonsensical gap (clock stepped) falls back to the read.
fn arrival(kernel: Option<SystemTime>, read_at: Instant, read_wall: SystemTime) -> Instant {
    match kernel.and_then(|k| read_wall.duration_since(k).ok()) {
        Some(lag) if lag < Duration::from_secs(10) => read_at.checked_sub(lag).unwrap_or(read_at),
        _ => read_at,
    }
}

/// A UDP socket for the resolver whose reads record when each answer arrived (the latest
/// arrival, in `last_answer`).
pub struct StampedUdp {
    inner: tokio::net::UdpSocket,
    last_answer: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
}

impl StampedUdp {
    pub fn new(
        inner: tokio::net::UdpSocket,
        last_answer: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
    ) -> StampedUdp {
        enable_rx_timestamps(inner.as_raw_fd());
        StampedUdp { inner, last_answer }
    }

    /// Receives one datagram, noting its arrival.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, std::net::SocketAddr)>> {
        loop {
            ready!(self.inner.poll_recv_ready(cx))?;
            let fd = self.inner.as_raw_fd();
            // SAFETY: sockaddr_storage is plain data, large enough for any address.
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            // SAFETY: u8 and MaybeUninit<u8> have the same layout; recvmsg only writes into buf.
            let slice = unsafe { &mut *(buf as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
            match self.inner.try_io(Interest::READABLE, || {
                recv_stamped_from(fd, slice, &mut from)
            }) {
                Ok((n, kernel)) => {
                    let (read_at, read_wall) = clock_pair();
                    let at = arrival(kernel, read_at, read_wall);
                    let mut last = self.last_answer.lock().unwrap_or_else(|p| p.into_inner());
                    *last = Some(last.map_or(at, |prev| prev.max(at)));
                    let addr = sockaddr_to_std(&from).ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "datagram from an unknown address family",
                        )
                    })?;
                    return Poll::Ready(Ok((n, addr)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Sends one datagram.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: std::net::SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_send_to(cx, buf, target)
    }
}

fn sockaddr_to_std(s: &libc::sockaddr_storage) -> Option<std::net::SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a = unsafe { &*(s as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddrV4::new(ip, u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(
                SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )
                .into(),
            )
        }
        _ => None,
    }
}

/// The TCP connection under TLS and HTTP: reads record when their data arrived.
pub struct StampedTcp {
    inner: TcpStream,
    stamps: SharedStamps,
    kernel: bool,
    /// Whether a short read may mark the socket drained (see `poll_read`).
    one_driver_thread: bool,
    /// The descriptor is registered in the stamps for TCP_INFO (see `tcp_info.rs`).
    tcp_info: bool,
}

impl StampedTcp {
    /// Wraps `inner`; with `tcp_info`, its descriptor is registered in `stamps` so that the
    /// sample's end can read TCP_INFO while the socket is open.
    pub fn new(inner: TcpStream, stamps: SharedStamps, tcp_info: bool) -> StampedTcp {
        let kernel = enable_rx_timestamps(inner.as_raw_fd());
        let one_driver_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if tcp_info {
            stamps.lock().unwrap_or_else(|p| p.into_inner()).tcp_fd = Some(inner.as_raw_fd());
        }
        StampedTcp {
            inner,
            stamps,
            kernel,
            one_driver_thread,
            tcp_info,
        }
    }
}

impl Drop for StampedTcp {
    fn drop(&mut self) {
        // Before the socket closes (its fields drop after this): withdraw the descriptor,
        // under the lock a reader holds, keeping a last reading for a sample not yet finished.
        if self.tcp_info {
            let mut s = self.stamps.lock().unwrap_or_else(|p| p.into_inner());
            s.tcp_info_at_close = super::tcp_info::read(self.inner.as_raw_fd());
            s.tcp_fd = None;
        }
    }
}

impl AsyncRead for StampedTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.kernel {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        loop {
            ready!(this.inner.poll_read_ready(cx))?;
            let fd = this.inner.as_raw_fd();
            // SAFETY: recv_stamped only writes into the unfilled part and reports how much.
            let unfilled = unsafe { buf.unfilled_mut() };
            let wanted = unfilled.len();
            match this
                .inner
                .try_io(Interest::READABLE, || recv_stamped(fd, unfilled))
            {
                Ok((n, kernel)) => {
                    if n > 0 && n < wanted && this.one_driver_thread {
                        // A short read drained the socket: forget its readiness, as tokio's own
                        // TcpStream does, so the next read waits for epoll instead of costing a
                        // recvmsg that says EAGAIN (one syscall in three on a kept connection).
                        // Safe only where no other thread can record a newer event meanwhile.
                        let _ = this.inner.try_io(Interest::READABLE, || {
                            Err::<(), _>(io::ErrorKind::WouldBlock.into())
                        });
                    }
                    let (read_at, read_wall) = clock_pair();
                    // SAFETY: the kernel initialised exactly n bytes of the unfilled part.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if n > 0 {
                        let at = arrival(kernel, read_at, read_wall);
                        let mut s = this.stamps.lock().unwrap_or_else(|p| p.into_inner());
                        s.wire_rx = Some(at);
                        s.wire_lag = read_at.saturating_duration_since(at);
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for StampedTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_read_late_carries_its_arrival_time() {
        keep_timestamping_on();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(enable_rx_timestamps(rx.as_raw_fd()));
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        // The kernel switches timestamping on from a worker a moment after the first ask, later
        // on a busy machine: wait for a stamped datagram, not for a fixed time.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            tx.send_to(b"warm", rx.local_addr().unwrap()).unwrap();
            let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16];
            if recv_stamped(rx.as_raw_fd(), &mut buf).unwrap().1.is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "no kernel timestamps after 10 s");
            std::thread::sleep(Duration::from_millis(5));
        }
        tx.send_to(b"ping", rx.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 16];
        let (n, stamp) = recv_stamped(rx.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(n, 4);
        let waited = SystemTime::now()
            .duration_since(stamp.expect("a kernel timestamp"))
            .unwrap();
        assert!(
            waited >= Duration::from_millis(45),
            "stamped {waited:?} before the read"
        );
    }

    #[test]
    fn arrival_is_the_read_minus_the_time_the_data_waited() {
        let read_at = Instant::now();
        let wall = SystemTime::now();
        let kernel = wall - Duration::from_millis(30);
        assert_eq!(
            arrival(Some(kernel), read_at, wall),
            read_at - Duration::from_millis(30)
        );
        // No timestamp, or a clock that stepped backwards or far: the read's own time.
        assert_eq!(arrival(None, read_at, wall), read_at);
        assert_eq!(
            arrival(Some(wall + Duration::from_secs(1)), read_at, wall),
            read_at
        );
        assert_eq!(
            arrival(Some(wall - Duration::from_secs(60)), read_at, wall),
            read_at
        );
    }
}
