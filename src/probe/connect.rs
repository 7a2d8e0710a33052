//! TCP connect, timed from `connect()` to the connection established.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpSocket, TcpStream};

/// An established connection and the instants that bound its handshake.
pub struct Connected {
    pub stream: TcpStream,
    pub started: Instant,
    pub done: Instant,
}

/// Why one attempt failed, and when it started.
pub struct Failed {
    pub started: Instant,
    pub error: io::Error,
    pub timed_out: bool,
}

/// Connects to `addr` within `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Connected, Failed> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    };
    let socket = socket.map_err(|error| Failed {
        started: Instant::now(),
        error,
        timed_out: false,
    })?;
    // The request goes out in one write; Nagle would only hold a second, smaller one back.
    let _ = socket.set_nodelay(true);
    // Start of the TCP phase: the SYN leaves with this call.
    let started = Instant::now();
    match tokio::time::timeout(timeout, socket.connect(addr)).await {
        Ok(Ok(stream)) => {
            // End of the TCP phase: the socket reported writable, the handshake is complete.
            let done = Instant::now();
            Ok(Connected {
                stream,
                started,
                done,
            })
        }
        Ok(Err(error)) => Err(Failed {
            started,
            error,
            timed_out: false,
        }),
        Err(_) => Err(Failed {
            started,
            error: io::Error::new(io::ErrorKind::TimedOut, "timed out"),
            timed_out: true,
        }),
    }
}

/// A short, lower-case description of a socket error ("connection refused").
pub fn describe_io(e: &io::Error) -> String {
    let s = match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
        io::ErrorKind::TimedOut => "timed out".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_string(),
        io::ErrorKind::BrokenPipe => "broken pipe".to_string(),
        io::ErrorKind::UnexpectedEof => "connection closed".to_string(),
        _ => e.to_string(),
    };
    // io::Error's Display appends " (os error N)"; the kind already says it.
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}
