//! The socket's own view of the connection, read with `getsockopt(TCP_INFO)` when a sample
//! ends: the kernel's smoothed round trip, retransmissions, congestion window. No HTTP checker
//! exports these (blackbox_exporter declined: "would require sniffing"); the socket already
//! knows them.
//!
//! The read happens under the sample's [`Stamps`](super::timed_io::Stamps) lock while the
//! socket is provably open: the socket's wrapper registers its descriptor there and withdraws
//! it, under the same lock, before closing (taking a last reading on the way out). So a
//! descriptor number the kernel has handed to another socket is never asked.

use std::os::fd::RawFd;
use std::time::Duration;

/// The kernel's `struct tcp_info` (include/uapi/linux/tcp.h) up to `tcpi_delivery_rate`, the
/// last field read here. libc's copy stops at `tcpi_total_retrans` (Linux 2.6), without
/// `min_rtt` (4.6) and `delivery_rate` (4.9). A kernel fills what it has and says how much.
#[repr(C)]
#[derive(Default)]
struct Raw {
    state: u8,
    ca_state: u8,
    retransmits: u8,
    probes: u8,
    backoff: u8,
    options: u8,
    wscale: u8,
    rate_flags: u8,
    rto: u32,
    ato: u32,
    snd_mss: u32,
    rcv_mss: u32,
    unacked: u32,
    sacked: u32,
    lost: u32,
    retrans: u32,
    fackets: u32,
    last_data_sent: u32,
    last_ack_sent: u32,
    last_data_recv: u32,
    last_ack_recv: u32,
    pmtu: u32,
    rcv_ssthresh: u32,
    rtt: u32,
    rttvar: u32,
    snd_ssthresh: u32,
    snd_cwnd: u32,
    advmss: u32,
    reordering: u32,
    rcv_rtt: u32,
    rcv_space: u32,
    total_retrans: u32,
    pacing_rate: u64,
    max_pacing_rate: u64,
    bytes_acked: u64,
    bytes_received: u64,
    segs_out: u32,
    segs_in: u32,
    notsent_bytes: u32,
    min_rtt: u32,
    data_segs_in: u32,
    data_segs_out: u32,
    delivery_rate: u64,
}

/// What the kernel said about a connection as a sample ended. Counters are the connection's
/// since it opened: on a kept connection they include earlier samples'.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Smoothed round trip (srtt).
    pub rtt: Duration,
    /// Its mean deviation.
    pub rttvar: Duration,
    /// The lowest round trip seen; None on a kernel before 4.6.
    pub min_rtt: Option<Duration>,
    /// Consecutive retransmission timeouts not yet recovered from (0 on a healthy connection).
    pub retransmits: u8,
    /// Segments retransmitted over the connection's life.
    pub total_retrans: u32,
    /// Segments the kernel presumes lost now.
    pub lost: u32,
    /// Congestion window, in segments.
    pub cwnd: u32,
    /// Path MTU, bytes.
    pub pmtu: u32,
    /// Most recent delivery rate, bytes per second; None on a kernel before 4.9.
    pub delivery_rate: Option<u64>,
    /// Retransmissions during this sample alone: `total_retrans` less what earlier samples on
    /// the same connection reported.
    pub sample_retrans: u32,
}

/// Reads `fd`'s TCP_INFO; None when the call fails (not a TCP socket, say).
pub fn read(fd: RawFd) -> Option<TcpInfo> {
    let mut raw = Raw::default();
    let mut len = std::mem::size_of::<Raw>() as libc::socklen_t;
    // SAFETY: Raw is plain data laid out as the kernel's struct; getsockopt writes at most
    // `len` bytes into it and sets `len` to how many it wrote.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut raw as *mut Raw as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return None;
    }
    let has = |end: usize| len as usize >= end;
    let us = |v: u32| Duration::from_micros(u64::from(v));
    let min_rtt_end = std::mem::offset_of!(Raw, min_rtt) + 4;
    let rate_end = std::mem::offset_of!(Raw, delivery_rate) + 8;
    let retrans_end = std::mem::offset_of!(Raw, total_retrans) + 4;
    if !has(retrans_end) {
        return None;
    }
    Some(TcpInfo {
        rtt: us(raw.rtt),
        rttvar: us(raw.rttvar),
        min_rtt: has(min_rtt_end).then(|| us(raw.min_rtt)),
        retransmits: raw.retransmits,
        total_retrans: raw.total_retrans,
        lost: raw.lost,
        cwnd: raw.snd_cwnd,
        pmtu: raw.pmtu,
        delivery_rate: has(rate_end).then_some(raw.delivery_rate),
        sample_retrans: raw.total_retrans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[test]
    fn the_layout_matches_the_kernels_offsets() {
        // Offsets from include/uapi/linux/tcp.h: the u8 block is 8 bytes, 24 u32s follow.
        assert_eq!(std::mem::offset_of!(Raw, rto), 8);
        assert_eq!(std::mem::offset_of!(Raw, rtt), 68);
        assert_eq!(std::mem::offset_of!(Raw, total_retrans), 100);
        assert_eq!(std::mem::offset_of!(Raw, pacing_rate), 104);
        assert_eq!(std::mem::offset_of!(Raw, min_rtt), 148);
        assert_eq!(std::mem::offset_of!(Raw, delivery_rate), 160);
        assert_eq!(std::mem::size_of::<Raw>(), 168);
        // And libc's shorter copy agrees where the two overlap.
        assert_eq!(
            std::mem::offset_of!(libc::tcp_info, tcpi_total_retrans),
            100
        );
    }

    #[test]
    fn a_loopback_connection_reads_plausibly() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).unwrap();
        server.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        let info = read(client.as_raw_fd()).expect("TCP_INFO on a TCP socket");
        assert!(info.rtt > Duration::ZERO, "{info:?}");
        assert!(info.cwnd > 0, "{info:?}");
        assert!(info.pmtu > 0, "{info:?}");
        assert_eq!(info.retransmits, 0);
        assert_eq!(read(-1), None, "a bad descriptor is no reading");
    }
}
