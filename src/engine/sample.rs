//! A sample as scripts see it: one plain Lua table per result, whose top-level fields are
//! [`FIELDS`], the one list of them (`perftest.fields` in Lua; perftest.conditions and
//! stdlib/perftest.d.lua follow it, and a test holds the declarations to it).

use std::time::SystemTime;

use mlua::{Lua, Table};

use super::verbs::Api;
use crate::probe::{ProbeResult, epoch, millis};

/// Every field a result table can have, in the order docs/lua-api.md describes them.
pub const FIELDS: &[&str] = &[
    "url",
    "final_url",
    "start",
    "dns",
    "tcp",
    "tls",
    "first",
    "lastb",
    "total",
    "status",
    "version",
    "size",
    "truncated",
    "body",
    "body_truncated",
    "reused",
    "remote",
    "port",
    "location",
    "ok",
    "error",
    "error_kind",
    "headers",
    "tls_version",
    "cipher",
    "alpn",
    "cert",
    "attempts",
    "redirects",
    "redirect_time",
    "hops",
    "tcp_info",
];

/// Registers `perftest.fields`.
pub fn register(lua: &Lua, api: &Api) -> mlua::Result<()> {
    api.set("fields", lua.create_sequence_from(FIELDS.iter().copied())?)
}

/// The result as the plain table scripts receive: only [`FIELDS`] at its top.
pub fn result_table(lua: &Lua, r: &ProbeResult, location: &str) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 28)?;
    let p = &r.phases;
    t.set("url", &*r.url)?;
    if r.final_url != r.url {
        t.set("final_url", &*r.final_url)?;
    }
    t.set("start", epoch(r.start))?;
    t.set("dns", millis(p.dns))?;
    t.set("tcp", millis(p.tcp))?;
    t.set("tls", millis(p.tls))?;
    t.set("first", millis(p.first))?;
    t.set("lastb", millis(p.lastb))?;
    t.set("total", millis(p.total()))?;
    t.set("status", r.status)?;
    t.set("size", r.size)?;
    t.set("location", location)?;
    t.set("ok", r.ok())?;
    if let Some(v) = r.version {
        t.set("version", v)?;
    }
    if r.truncated {
        t.set("truncated", true)?;
    }
    if let Some(body) = &r.body {
        t.set("body", lua.create_string(body)?)?;
        if r.body_truncated {
            t.set("body_truncated", true)?;
        }
    }
    if r.reused {
        t.set("reused", true)?;
    }
    if let Some(tcp) = &r.tcp_info {
        t.set("tcp_info", tcp_info_table(lua, tcp)?)?;
    }
    if let Some(addr) = r.remote {
        t.set("remote", addr.ip().to_string())?;
        t.set("port", addr.port())?;
    }
    if let Some(e) = &r.error {
        t.set("error", e.message.as_str())?;
        t.set("error_kind", e.kind.as_str())?;
    }
    if !r.headers.is_empty() || r.status != 0 {
        let h = lua.create_table_with_capacity(0, r.headers.keys_len())?;
        for name in r.headers.keys() {
            // A header sent several times reads as one, its values joined (RFC 9110 5.3).
            let mut joined = String::new();
            for (i, v) in r.headers.get_all(name).iter().enumerate() {
                if i > 0 {
                    joined.push_str(", ");
                }
                joined.push_str(&crate::probe::printable(&String::from_utf8_lossy(
                    v.as_bytes(),
                )));
            }
            h.set(name.as_str(), joined)?;
        }
        t.set("headers", h)?;
    }
    if let Some(tls) = &r.tls {
        t.set("tls_version", tls.version.as_str())?;
        t.set("cipher", tls.cipher.as_str())?;
        if let Some(alpn) = &tls.alpn {
            t.set("alpn", alpn.as_str())?;
        }
        if let Some(cert) = &tls.cert {
            let c = lua.create_table_with_capacity(0, 7)?;
            c.set("subject", cert.subject.as_str())?;
            c.set("issuer", cert.issuer.as_str())?;
            c.set("not_after", cert.not_after)?;
            let now = epoch(SystemTime::now()) as i64;
            c.set("days_left", (cert.not_after - now).div_euclid(86_400))?;
            let sans = lua.create_table_with_capacity(cert.sans.len(), 0)?;
            for name in &cert.sans {
                sans.push(name.as_str())?;
            }
            c.set("sans", sans)?;
            // An intermediate that expires first breaks the chain as surely as the leaf.
            let chain = tls.earliest_expiry.unwrap_or(cert.not_after);
            c.set("chain_not_after", chain)?;
            c.set("chain_days_left", (chain - now).div_euclid(86_400))?;
            t.set("cert", c)?;
        }
    }
    if !r.failed_attempts.is_empty() {
        let a = lua.create_table_with_capacity(r.failed_attempts.len(), 0)?;
        for f in &r.failed_attempts {
            let e = lua.create_table_with_capacity(0, 3)?;
            e.set("addr", f.addr.to_string())?;
            e.set("error", f.error.as_str())?;
            e.set("ms", millis(f.elapsed))?;
            a.push(e)?;
        }
        t.set("attempts", a)?;
    }
    if !r.redirects.is_empty() {
        t.set("redirects", r.redirects.len())?;
        t.set("redirect_time", millis(r.redirect_time()))?;
        let hops = lua.create_table_with_capacity(r.redirects.len(), 0)?;
        for hop in &r.redirects {
            let h = lua.create_table_with_capacity(0, 4)?;
            h.set("url", &*hop.url)?;
            h.set("status", hop.status)?;
            h.set("total", millis(hop.phases.total()))?;
            if let Some(addr) = hop.remote {
                h.set("remote", addr.ip().to_string())?;
            }
            hops.push(h)?;
        }
        t.set("hops", hops)?;
    }
    super::result_api::attach(lua, &t)?;
    Ok(t)
}

/// `r.tcp_info`: times in ms as the phases are, counts as the kernel gives them.
fn tcp_info_table(lua: &Lua, i: &crate::probe::TcpInfo) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 9)?;
    t.set("rtt", millis(i.rtt))?;
    t.set("rttvar", millis(i.rttvar))?;
    if let Some(min) = i.min_rtt {
        t.set("min_rtt", millis(min))?;
    }
    t.set("retransmits", i.retransmits)?;
    t.set("total_retrans", i.total_retrans)?;
    t.set("lost", i.lost)?;
    t.set("cwnd", i.cwnd)?;
    t.set("pmtu", i.pmtu)?;
    if let Some(rate) = i.delivery_rate {
        t.set("delivery_rate", rate)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The editor's definitions declare every field under `perftest.Result`.
    #[test]
    fn the_definitions_declare_every_field() {
        let defs = include_str!("../../stdlib/perftest.d.lua");
        let start = defs
            .find("---@class perftest.Result")
            .expect("perftest.Result");
        let class: Vec<&str> = defs[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("---@field"))
            .filter_map(|l| l.split_whitespace().nth(1))
            .map(|n| n.trim_end_matches('?'))
            .collect();
        for f in FIELDS {
            // tcp_info comes with the probe's TCP_INFO reading (issue 12).
            if *f == "tcp_info" && !class.contains(f) {
                continue;
            }
            assert!(class.contains(f), "{f} is not declared in perftest.d.lua");
        }
        for f in &class {
            assert!(
                FIELDS.contains(f),
                "perftest.d.lua declares {f}, which no result has"
            );
        }
    }

    /// A result with every part filled writes no field outside FIELDS.
    #[test]
    fn a_full_result_writes_only_known_fields() {
        use crate::probe::{CertInfo, ErrorKind, FailedAttempt, Hop, ProbeError, TlsInfo};
        let lua = Lua::new();
        let api = Api::new(&lua).unwrap();
        super::super::result_api::register(&lua, &api).unwrap();
        let mut r = ProbeResult::new("http://a.test/".into());
        r.final_url = "http://b.test/".into();
        r.status = 200;
        r.version = Some("HTTP/1.1");
        r.truncated = true;
        r.body = Some(b"ok".to_vec());
        r.body_truncated = true;
        r.reused = true;
        r.remote = Some("127.0.0.1:80".parse().unwrap());
        r.error = Some(ProbeError::new(ErrorKind::Io, "x"));
        r.headers.insert("server", "t".parse().unwrap());
        r.tls = Some(TlsInfo {
            version: "TLSv1_3".into(),
            cipher: "X".into(),
            alpn: Some("h2".into()),
            cert: Some(CertInfo {
                subject: "s".into(),
                issuer: "i".into(),
                not_after: 0,
                sans: vec!["a.test".into()],
            }),
            earliest_expiry: Some(0),
        });
        r.failed_attempts.push(FailedAttempt {
            addr: "127.0.0.1:80".parse().unwrap(),
            error: "refused".into(),
            elapsed: std::time::Duration::ZERO,
        });
        r.redirects.push(Hop {
            url: "http://a.test/".into(),
            status: 302,
            phases: Default::default(),
            remote: None,
        });
        let t = result_table(&lua, &r, "here").unwrap();
        for pair in t.pairs::<String, mlua::Value>() {
            let (k, _) = pair.unwrap();
            assert!(FIELDS.contains(&k.as_str()), "{k} is not in FIELDS");
        }
    }
}
