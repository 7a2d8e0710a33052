//! The `-p` web server: `/memstats` (this process's real memory, the Lua heap and statistics, probes done,
//! tasks alive, uptime; HTML for a browser, JSON when asked), `/metrics` (Prometheus) and
//! `/healthz`. Read-only: GET and HEAD, small requests, nothing secret.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::figures::{Figures, Process};
use crate::publish::metrics::Metrics;

/// What the pages read.
pub struct Pages {
    pub figures: Arc<Figures>,
    pub metrics: Arc<Metrics>,
}

/// Binds `addr` now (so a port in use is an error at once) and serves on `runtime`.
pub fn start(
    addr: SocketAddr,
    pages: Arc<Pages>,
    runtime: &tokio::runtime::Handle,
) -> std::io::Result<SocketAddr> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    std_listener.set_nonblocking(true)?;
    let bound = std_listener.local_addr()?;
    runtime.spawn(async move {
        let listener = match tokio::net::TcpListener::from_std(std_listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("web server on {bound}: {e}");
                return;
            }
        };
        // A share of the open-file limit, so that scrapers (or a flood of idle connections)
        // never take the descriptors the probes need; the rest wait in the listen backlog.
        let cap = crate::limits::server_connections();
        let slots = Arc::new(tokio::sync::Semaphore::new(cap));
        let mut backoff = Duration::ZERO;
        loop {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match listener.accept().await {
                Ok((stream, _)) => {
                    backoff = Duration::ZERO;
                    stream
                }
                Err(e) => {
                    // Out of descriptors (or memory) the error repeats at once: accepting again
                    // without a pause would spin a core and help nobody.
                    backoff =
                        (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                    if backoff == Duration::from_millis(10) {
                        tracing::warn!("web server on {bound}: {e}; accepting again in a moment");
                    }
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            let pages = pages.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let pages = pages.clone();
                    async move { Ok::<_, Infallible>(route(&pages, &req)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .max_buf_size(16 * 1024)
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Full::new(Bytes::from(body)))
        .expect("a static response is valid")
}

fn route(pages: &Pages, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "read-only: GET or HEAD\n".into(),
        );
    }
    let wants_json = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "format=json"))
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"));
    match req.uri().path() {
        "/healthz" => reply(StatusCode::OK, "text/plain", "ok\n".into()),
        "/metrics" => reply(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", pages.metrics.render()),
        "/memstats" if wants_json => {
            reply(StatusCode::OK, "application/json", memstats(&pages.figures).to_string())
        }
        "/memstats" => reply(StatusCode::OK, "text/html; charset=utf-8", memstats_html(&memstats(&pages.figures))),
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            "<!doctype html><title>perftest</title><ul><li><a href=/memstats>/memstats</a><li><a href=/metrics>/metrics</a><li><a href=/healthz>/healthz</a></ul>\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found: /memstats, /metrics, /healthz\n".into()),
    }
}

/// The figures /memstats shows.
pub fn memstats(f: &Figures) -> serde_json::Value {
    let p = Process::read();
    let publishers: Vec<serde_json::Value> = f
        .publishers()
        .into_iter()
        .map(|(_, name, c)| {
            serde_json::json!({ "name": name, "sent": c.sent, "dropped": c.dropped, "waiting": c.waiting })
        })
        .collect();
    serde_json::json!({
        "uptime_s": f.started.elapsed().as_secs_f64(),
        "probes_done": f.probes(),
        "tasks_alive": f.tasks_alive.load(Ordering::Relaxed),
        "lua_bytes": f.lua_bytes.load(Ordering::Relaxed),
        "stats_histogram_bytes": crate::stats::histogram_bytes(),
        "process": p,
        "publishers": publishers,
    })
}

fn mib(v: &serde_json::Value) -> String {
    format!("{:.2} MiB", v.as_f64().unwrap_or(0.0) / 1048576.0)
}

fn memstats_html(m: &serde_json::Value) -> String {
    let p = &m["process"];
    let rows = [
        (
            "Uptime",
            format!("{:.0} s", m["uptime_s"].as_f64().unwrap_or(0.0)),
        ),
        ("Probes done", m["probes_done"].to_string()),
        ("Lua tasks alive", m["tasks_alive"].to_string()),
        ("Resident memory", mib(&p["rss_bytes"])),
        ("Peak resident memory", mib(&p["peak_rss_bytes"])),
        ("Allocator: in use", mib(&p["heap_in_use_bytes"])),
        ("Allocator: free", mib(&p["heap_free_bytes"])),
        ("Lua heap", mib(&m["lua_bytes"])),
        ("Statistics histograms", mib(&m["stats_histogram_bytes"])),
        ("Threads", p["threads"].to_string()),
        ("Open file descriptors", p["open_fds"].to_string()),
        (
            "CPU time",
            format!("{:.2} s", p["cpu_seconds"].as_f64().unwrap_or(0.0)),
        ),
    ];
    let mut html = String::from(
        "<!doctype html><meta charset=utf-8><title>perftest memstats</title>\n<h1>perftest memstats</h1>\n<table>\n",
    );
    for (k, v) in rows {
        html.push_str(&format!("<tr><th align=left>{k}</th><td>{v}</td></tr>\n"));
    }
    for pb in m["publishers"].as_array().into_iter().flatten() {
        let name = pb["name"].as_str().unwrap_or("").replace('<', "&lt;");
        html.push_str(&format!(
            "<tr><th align=left>{name}</th><td>{} sent, {} dropped, {} waiting</td></tr>\n",
            pb["sent"], pb["dropped"], pb["waiting"]
        ));
    }
    html.push_str("</table>\n<p><a href=\"?format=json\">JSON</a></p>\n");
    html
}
