//! A small JSON API on 127.0.0.1 with a login that it really enforces, for checks and flows:
//!
//!   GET  /health    {"status": "UP"} (or what `set_health` says: a page whose content changes)
//!   POST /login     JSON {"user": "probe", "password": "s3cret"} -> {"token": "tok-N"} and the
//!                   cookies session=sess-N (Path=/) and theme=dark (Path=/settings); else 401
//!   GET  /me        needs "Authorization: Bearer tok-N": {"user": "probe", "visits": K}, K
//!                   counting up (the content changes every time); else 401
//!   GET  /cart      needs the cookie session=sess-N: {"items": 3}; else 401
//!   GET  /settings  {"cookie": "<the Cookie header it got>"}
//!   POST /logout    deletes the cookie (Max-Age=0) and forgets the session

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;

use super::target::{Seen, read_request};

#[derive(Default)]
struct State {
    health: String,
    logins: u64,
    tokens: HashSet<String>,
    sessions: HashSet<String>,
    visits: u64,
    seen: Vec<Seen>,
}

/// A running API; it lives until the test process ends.
pub struct Api {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Api {
    pub fn start() -> Api {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the API");
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            health: "UP".into(),
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let state = shared.clone();
                    tokio::spawn(async move {
                        let mut tcp = BufWriter::new(tcp);
                        while let Ok(Some(req)) = read_request(&mut tcp).await {
                            let reply = answer(&state, req);
                            if tcp.write_all(reply.as_bytes()).await.is_err()
                                || tcp.flush().await.is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            });
        });
        Api { addr, state }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What /health says from now on.
    pub fn set_health(&self, status: &str) {
        self.state.lock().unwrap().health = status.to_string();
    }

    /// The requests seen so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }
}

fn reply(status: u16, body: &str, extra: &[String]) -> String {
    let mut head = format!(
        "HTTP/1.1 {status} Test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in extra {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head + "\r\n" + body
}

/// The value of cookie `name` in a Cookie header.
fn cookie<'a>(req: &'a Seen, name: &str) -> Option<&'a str> {
    req.header("cookie")?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn answer(state: &Mutex<State>, req: Seen) -> String {
    let mut st = state.lock().unwrap();
    st.seen.push(req.clone());
    let path = req.path.split('?').next().unwrap_or("/");
    match (req.method.as_str(), path) {
        ("GET", "/health") => reply(200, &format!("{{\"status\":\"{}\"}}", st.health), &[]),
        ("POST", "/login") => {
            let creds: serde_json::Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(_) => return reply(400, r#"{"error":"send JSON"}"#, &[]),
            };
            if creds["user"] != "probe" || creds["password"] != "s3cret" {
                return reply(401, r#"{"error":"bad credentials"}"#, &[]);
            }
            st.logins += 1;
            let n = st.logins;
            st.tokens.insert(format!("tok-{n}"));
            st.sessions.insert(format!("sess-{n}"));
            reply(
                200,
                &format!("{{\"token\":\"tok-{n}\",\"user\":\"probe\"}}"),
                &[
                    format!("Set-Cookie: session=sess-{n}; Path=/; HttpOnly"),
                    "Set-Cookie: theme=dark; Path=/settings".into(),
                ],
            )
        }
        ("GET", "/me") => {
            let token = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "));
            match token {
                Some(t) if st.tokens.contains(t) => {
                    st.visits += 1;
                    let body = format!("{{\"user\":\"probe\",\"visits\":{}}}", st.visits);
                    reply(200, &body, &[])
                }
                _ => reply(401, r#"{"error":"token required"}"#, &[]),
            }
        }
        ("GET", "/cart") => match cookie(&req, "session") {
            Some(s) if st.sessions.contains(s) => reply(200, r#"{"items":3}"#, &[]),
            _ => reply(401, r#"{"error":"log in first"}"#, &[]),
        },
        ("GET", "/settings") => {
            let got = req.header("cookie").unwrap_or("").replace('"', "'");
            reply(200, &format!("{{\"cookie\":\"{got}\"}}"), &[])
        }
        ("POST", "/logout") => {
            if let Some(s) = cookie(&req, "session") {
                let s = s.to_string();
                st.sessions.remove(&s);
            }
            reply(
                200,
                "{}",
                &["Set-Cookie: session=; Path=/; Max-Age=0".into()],
            )
        }
        _ => reply(404, r#"{"error":"no such route"}"#, &[]),
    }
}
