//! `perftest healthcheck`: exits 0 only when the web server's `/healthz` answers 200, so that
//! an image with no shell and no curl can still have a HEALTHCHECK. The request goes through
//! the prober, the same HTTP client every sample uses.

use std::time::Duration;

use crate::probe::{ProbeRequest, Prober};

/// Where to ask: a URL, a port on 127.0.0.1, or PERFTEST_LISTEN_PORT.
pub fn target(port: Option<u16>, url: Option<String>) -> Result<String, String> {
    if let Some(url) = url {
        return Ok(url);
    }
    let port = match port {
        Some(p) => p,
        None => {
            let text = std::env::var("PERFTEST_LISTEN_PORT").unwrap_or_default();
            if text.is_empty() {
                return Err(
                    "no port to ask: give --port PORT (or a URL), or set PERFTEST_LISTEN_PORT"
                        .into(),
                );
            }
            text.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or(format!(
                    "PERFTEST_LISTEN_PORT={text} is not a port (1-65535); give --port PORT"
                ))?
        }
    };
    Ok(format!("http://127.0.0.1:{port}/healthz"))
}

/// Asks once; 0 on a 200, 1 on anything else (said on stderr), 2 on bad input.
pub fn run(port: Option<u16>, url: Option<String>, timeout: f64) -> i32 {
    let url = match target(port, url) {
        Ok(u) => u,
        Err(e) => {
            errln!("perftest healthcheck: {e}");
            return 2;
        }
    };
    let mut req = match ProbeRequest::new(&url) {
        Ok(r) => r,
        Err(e) => {
            errln!("perftest healthcheck: {e}");
            return 2;
        }
    };
    if !(timeout.is_finite() && timeout > 0.0) {
        errln!("perftest healthcheck: --timeout {timeout}: give seconds above 0");
        return 2;
    }
    req.timeout = Duration::from_secs_f64(timeout);
    req.connect_timeout = req.timeout;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            errln!("perftest healthcheck: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let r = runtime.block_on(Prober::new().probe(&req));
    match &r.error {
        None if r.status == 200 => crate::output::print_text(&format!(
            "{url}: 200 in {:.1} ms\n",
            r.phases.total().as_secs_f64() * 1000.0
        )),
        None => {
            errln!("perftest healthcheck: {url}: HTTP {}", r.status);
            1
        }
        Some(e) => {
            errln!("perftest healthcheck: {}", e.message);
            1
        }
    }
}
