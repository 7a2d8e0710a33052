//! What the open-file limit (RLIMIT_NOFILE, `ulimit -n`) leaves for each user of sockets: a
//! load's workers, the `-p` web server's connections, and the probes, which must never be the
//! ones starved.

/// Descriptors for everything that is not a connection: stdio, each I/O thread's epoll and
/// eventfd, the signal pipe, DNS sockets, files a script opens.
pub const BASE: u64 = 64;

/// The soft open-file limit; a limit that cannot be read (or is unlimited) counts as 1 << 20.
pub fn open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, nothing else.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0;
    if !ok || lim.rlim_cur == libc::RLIM_INFINITY {
        return 1 << 20;
    }
    lim.rlim_cur
}

/// Connections the `-p` web server may hold at once: an eighth of the limit, 4 to 256. Scrapers
/// beyond that wait in the listen backlog.
pub fn server_connections() -> usize {
    (open_files() / 8).clamp(4, 256) as usize
}

/// Sockets a load may hold at once (its workers, or its requests in flight): the limit less
/// [`BASE`] and the web server's share.
pub fn load_connections() -> usize {
    open_files()
        .saturating_sub(BASE + server_connections() as u64)
        .max(1) as usize
}
