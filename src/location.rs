//! Where this run is, as the From_Location column shows it.

use std::net::UdpSocket;

/// REP_LOCATION; else REP_CITY + "," + REP_COUNTRY; else this host's primary IP address.
pub fn from_env() -> String {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(loc) = get("REP_LOCATION") {
        return loc;
    }
    match (get("REP_CITY"), get("REP_COUNTRY")) {
        (Some(city), Some(cc)) => format!("{city},{cc}"),
        (Some(one), None) | (None, Some(one)) => one,
        (None, None) => primary_ip().unwrap_or_else(|| "unknown".to_string()),
    }
}

/// The source address the kernel would use for the default route. A UDP `connect` only
/// consults the routing table; no packet leaves the machine.
fn primary_ip() -> Option<String> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}
