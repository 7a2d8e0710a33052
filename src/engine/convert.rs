//! `opts` tables in: a probe's options as a [`ProbeRequest`] (results go out in sample.rs).

use mlua::{Table, Value};
use serde::Deserialize;

use super::options::{self, Flag, FlagOrNumber, Number, Raw, Text};
use crate::probe::{ProbeRequest, seconds};

/// `perftest.probe`'s `opts`: every key it takes.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ProbeOptions {
    method: Option<Text>,
    headers: Option<Raw>,
    body: Option<Text>,
    json: Option<Raw>,
    form: Option<Raw>,
    timeout: Option<Number>,
    connect_timeout: Option<Number>,
    insecure: Option<Flag>,
    cacert: Option<Text>,
    http2: Option<Flag>,
    follow_redirects: Option<FlagOrNumber>,
    resolve: Option<Text>,
    ip: Option<Text>,
    max_body: Option<Number>,
    keep_body: Option<FlagOrNumber>,
    tcp_info: Option<Flag>,
    dns_server: Option<Text>,
}

/// Every key `perftest.probe` accepts in `opts`, for the REPL's completion and the fuzzer.
pub(crate) fn option_keys() -> &'static [&'static str] {
    options::keys::<ProbeOptions>()
}

/// Builds a request from a URL and an optional `opts` table; `tcp_info` is whether it reads
/// TCP_INFO when `opts.tcp_info` is not given. The error names the bad option.
pub fn request(url: &str, opts: Option<&Table>, tcp_info: bool) -> Result<ProbeRequest, String> {
    let mut req = ProbeRequest::new(url)?;
    req.tcp_info = tcp_info;
    let Some(opts) = opts else {
        return Ok(req);
    };
    let o: ProbeOptions = options::parse(opts, "opts.")?;
    if let Some(Text(m)) = &o.method {
        req.set_method(m)?;
    }
    if let Some(Raw(h)) = &o.headers {
        headers(&mut req, h)?;
    }
    if let Some(Number(n)) = o.timeout {
        req.timeout = seconds("opts.timeout", n)?;
    }
    if let Some(Number(n)) = o.connect_timeout {
        req.connect_timeout = seconds("opts.connect_timeout", n)?;
    }
    if let Some(Flag(b)) = o.insecure {
        req.tls.insecure = b;
    }
    if let Some(Text(p)) = o.cacert {
        req.tls.cacert = Some(p.into());
    }
    if let Some(Flag(b)) = o.http2 {
        req.tls.http2 = b;
    }
    if let Some(f) = o.follow_redirects {
        req.follow_redirects = match f {
            FlagOrNumber::Flag(true) => 10,
            FlagOrNumber::Flag(false) => 0,
            FlagOrNumber::Number(n) if (0.0..=1000.0).contains(&n) => n as u32,
            FlagOrNumber::Number(n) => {
                return Err(format!(
                    "opts.follow_redirects {n}: give true, false or a count"
                ));
            }
        };
    }
    if let Some(Text(s)) = o.resolve {
        req.resolve = Some(s.trim_matches(['[', ']']).parse().map_err(|_| {
            format!("opts.resolve '{s}': give an IP address such as 127.0.0.1 or ::1")
        })?);
    }
    if let Some(Text(ip)) = o.ip {
        req.ip = ip.parse().map_err(|e| format!("opts.{e}"))?;
    }
    if let Some(Number(n)) = o.max_body {
        if n < 0.0 {
            return Err(format!("opts.max_body {n}: give a number of bytes"));
        }
        req.max_body = Some(n as u64);
    }
    if let Some(Flag(b)) = o.tcp_info {
        req.tcp_info = b;
    }
    if let Some(k) = o.keep_body {
        req.keep_body = match k {
            FlagOrNumber::Flag(true) => Some(crate::probe::KEEP_BODY_DEFAULT),
            FlagOrNumber::Flag(false) => None,
            FlagOrNumber::Number(n) if (0.0..=f64::from(u32::MAX)).contains(&n) => Some(n as usize),
            FlagOrNumber::Number(n) => {
                return Err(format!(
                    "opts.keep_body {}: give true or a number of bytes",
                    crate::probe::shown(n)
                ));
            }
        };
    }
    if let Some(Text(d)) = o.dns_server {
        req.dns_server = Some(crate::probe::socket_addr(&d, 53)?);
    }
    // The request body, from whichever of body, json and form was given (one at most).
    let mut given = [
        ("body", o.body.is_some()),
        ("form", o.form.is_some()),
        ("json", o.json.is_some()),
    ]
    .into_iter()
    .filter(|(_, given)| *given)
    .map(|(key, _)| key);
    if let (Some(a), Some(b)) = (given.next(), given.next()) {
        return Err(format!("opts.{a} and opts.{b}: give one request body"));
    }
    let content_type = match (o.body, o.json, o.form) {
        (Some(Text(body)), _, _) => {
            req.body = body.into_bytes().into();
            return Ok(req);
        }
        (_, Some(Raw(json)), _) => {
            let Value::Table(_) = json else {
                return Err(format!(
                    "opts.json must be a table to encode, got {}; send text already encoded with body = ... and a content-type header",
                    json.type_name()
                ));
            };
            let json = super::json_api::to_json(&json, 0).map_err(|e| format!("opts.json: {e}"))?;
            req.body = serde_json::to_vec(&json)
                .map_err(|e| format!("opts.json: {e}"))?
                .into();
            "application/json"
        }
        (_, _, Some(Raw(f))) => {
            req.body = form(&f)?.into_bytes().into();
            "application/x-www-form-urlencoded"
        }
        _ => return Ok(req),
    };
    // json and form say their Content-Type unless `headers` names one, and POST unless
    // `method` names another (as curl's --json and --data do).
    let has = |name: &http::HeaderName| req.headers.iter().any(|(n, _)| n == name);
    if !has(&http::header::CONTENT_TYPE) {
        req.headers.push((
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        ));
    }
    if o.method.is_none() {
        req.method = http::Method::POST;
    }
    Ok(req)
}

/// `headers = { name = value, accept = { "a", "b" } }`: a list of values sends the header
/// once per value.
fn headers(req: &mut ProbeRequest, value: &Value) -> Result<(), String> {
    let Value::Table(t) = value else {
        return Err(format!(
            "opts.headers must be a table of name = value, got {}",
            value.type_name()
        ));
    };
    for pair in t.pairs::<String, Value>() {
        let (name, v) = pair.map_err(|_| "opts.headers keys must be header names".to_string())?;
        let key = format!("headers[{name:?}]");
        match &v {
            Value::Table(values) => {
                for v in values.sequence_values::<Value>() {
                    let v = v.map_err(|e| e.to_string())?;
                    req.add_header(&name, &string(&key, &v)?)?;
                }
            }
            _ => req.add_header(&name, &string(&key, &v)?)?,
        }
    }
    Ok(())
}

/// `form = { name = value, tags = { "a", "b" } }` as application/x-www-form-urlencoded, names
/// in sorted order so that the same table always sends the same bytes.
fn form(value: &Value) -> Result<String, String> {
    let Value::Table(t) = value else {
        return Err(format!(
            "opts.form must be a table of name = value, got {}",
            value.type_name()
        ));
    };
    let mut fields = Vec::new();
    for pair in t.pairs::<Value, Value>() {
        let (name, v) = pair.map_err(|e| e.to_string())?;
        let name = options::string_or(name, |t| {
            format!("opts.form keys are field names, got a {t} key")
        })?;
        let what = format!("form[{name:?}]");
        match &v {
            // A list of values sends the field once per value.
            Value::Table(values) => {
                for v in values.sequence_values::<Value>() {
                    let v = v.map_err(|e| e.to_string())?;
                    fields.push((name.clone(), form_value(&what, &v)?));
                }
            }
            _ => fields.push((name, form_value(&what, &v)?)),
        }
    }
    // Stable: a field given as a list keeps its values' order.
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish())
}

fn form_value(what: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::Boolean(b) => Ok(b.to_string()),
        other => string(what, other),
    }
}

fn string(key: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.to_string_lossy()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "opts.{key} must be a string, got {}",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reading a probe's options costs per call: 100,000 requests built from one URL
    /// with a typical opts table, median of 5 rounds. bench/RESULTS.md has the figures;
    /// `cargo test --release --lib option_parse_cost -- --ignored --nocapture` prints them.
    #[test]
    #[ignore = "a measurement, run by name"]
    fn option_parse_cost() {
        let lua = mlua::Lua::new();
        let opts: Table = lua
            .load(r#"{ timeout = 5, method = "GET", headers = { ["x-run"] = "1" }, follow_redirects = true }"#)
            .eval()
            .unwrap();
        const CALLS: u32 = 100_000;
        let round = |opts: Option<&Table>| {
            let started = std::time::Instant::now();
            for _ in 0..CALLS {
                std::hint::black_box(request("http://bench.test/x", opts, true).unwrap());
            }
            started.elapsed() / CALLS
        };
        let median = |opts: Option<&Table>| {
            let mut rounds: Vec<_> = (0..5).map(|_| round(opts)).collect();
            rounds.sort();
            rounds[2]
        };
        let (bare, with) = (median(None), median(Some(&opts)));
        errln!(
            "per call: URL alone {bare:?}, URL and 4 options {with:?}, the options {:?}",
            with.saturating_sub(bare)
        );
        assert!(
            with > bare,
            "reading options took no time: {with:?} vs {bare:?}"
        );
    }
}
