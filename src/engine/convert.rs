//! `opts` tables in: a probe's options as a [`ProbeRequest`] (results go out in sample.rs).

use mlua::{Table, Value};

use crate::probe::{ProbeRequest, seconds};

/// Every key `perftest.probe` accepts in `opts`.
pub(crate) const OPTION_KEYS: &[&str] = &[
    "method",
    "headers",
    "body",
    "json",
    "form",
    "timeout",
    "connect_timeout",
    "insecure",
    "cacert",
    "http2",
    "follow_redirects",
    "resolve",
    "ip",
    "max_body",
    "keep_body",
    "tcp_info",
    "dns_server",
];

/// Builds a request from a URL and an optional `opts` table; the error names the bad option.
pub fn request(url: &str, opts: Option<&Table>) -> Result<ProbeRequest, String> {
    let mut req = ProbeRequest::new(url)?;
    // A script's samples carry TCP_INFO unless told not to (perftest.load turns it off).
    req.tcp_info = true;
    let Some(opts) = opts else {
        return Ok(req);
    };
    // The request body, from whichever of body, json and form was given (one at most).
    let mut body: Option<(String, Value)> = None;
    for pair in opts.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| e.to_string())?;
        let Value::String(key) = key else {
            return Err(format!(
                "opts keys are names, got a {} key (known: {})",
                key.type_name(),
                OPTION_KEYS.join(", ")
            ));
        };
        let key = key.to_string_lossy();
        match key.as_str() {
            "json" | "form" | "body" if !value.is_nil() => {
                if let Some(earlier) = body.replace((key.clone(), value)) {
                    let mut both = [earlier.0, key];
                    both.sort();
                    return Err(format!(
                        "opts.{} and opts.{}: give one request body",
                        both[0], both[1]
                    ));
                }
            }
            _ => set_option(&mut req, &key, value)?,
        }
    }
    if let Some((key, value)) = body {
        set_body(&mut req, &key, &value, opts)?;
    }
    Ok(req)
}

/// `body` as given; `json` and `form` encoded, with their Content-Type unless `headers` names
/// one, and POST unless `method` names another (as curl's --json and --data do).
fn set_body(req: &mut ProbeRequest, key: &str, value: &Value, opts: &Table) -> Result<(), String> {
    let content_type = match key {
        "body" => {
            req.body = string(key, value)?.into_bytes().into();
            return Ok(());
        }
        "json" => {
            let Value::Table(_) = value else {
                return Err(format!(
                    "opts.json must be a table to encode, got {}; send text already encoded with body = ... and a content-type header",
                    value.type_name()
                ));
            };
            let json = super::json_api::to_json(value, 0).map_err(|e| format!("opts.json: {e}"))?;
            req.body = serde_json::to_vec(&json)
                .map_err(|e| format!("opts.json: {e}"))?
                .into();
            "application/json"
        }
        _ => {
            req.body = form(value)?.into_bytes().into();
            "application/x-www-form-urlencoded"
        }
    };
    let has = |name: &http::HeaderName| req.headers.iter().any(|(n, _)| n == name);
    if !has(&http::header::CONTENT_TYPE) {
        req.headers.push((
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(content_type),
        ));
    }
    if opts
        .get::<Value>("method")
        .map_err(|e| e.to_string())?
        .is_nil()
    {
        req.method = http::Method::POST;
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
        let name = match name {
            Value::String(s) => s.to_string_lossy(),
            other => {
                return Err(format!(
                    "opts.form keys are field names, got a {} key",
                    other.type_name()
                ));
            }
        };
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

fn set_option(req: &mut ProbeRequest, key: &str, value: Value) -> Result<(), String> {
    if value.is_nil() {
        return Ok(());
    }
    match key {
        "method" => req.set_method(&string(key, &value)?)?,
        "headers" => {
            let Value::Table(t) = &value else {
                return Err(format!(
                    "opts.headers must be a table of name = value, got {}",
                    value.type_name()
                ));
            };
            for pair in t.pairs::<String, Value>() {
                let (name, v) =
                    pair.map_err(|_| "opts.headers keys must be header names".to_string())?;
                let key = format!("headers[{name:?}]");
                match &v {
                    // A list of values sends the header once per value.
                    Value::Table(values) => {
                        for v in values.sequence_values::<Value>() {
                            let v = v.map_err(|e| e.to_string())?;
                            req.add_header(&name, &string(&key, &v)?)?;
                        }
                    }
                    _ => req.add_header(&name, &string(&key, &v)?)?,
                }
            }
        }
        "timeout" => req.timeout = seconds("opts.timeout", number(key, &value)?)?,
        "connect_timeout" => {
            req.connect_timeout = seconds("opts.connect_timeout", number(key, &value)?)?
        }
        "insecure" => req.tls.insecure = boolean(key, &value)?,
        "cacert" => req.tls.cacert = Some(string(key, &value)?.into()),
        "http2" => req.tls.http2 = boolean(key, &value)?,
        "follow_redirects" => {
            req.follow_redirects = match value {
                Value::Boolean(true) => 10,
                Value::Boolean(false) => 0,
                _ => {
                    let n = number(key, &value)?;
                    if !(0.0..=1000.0).contains(&n) {
                        return Err(format!(
                            "opts.follow_redirects {n}: give true, false or a count"
                        ));
                    }
                    n as u32
                }
            }
        }
        "resolve" => {
            let s = string(key, &value)?;
            req.resolve = Some(s.trim_matches(['[', ']']).parse().map_err(|_| {
                format!("opts.resolve '{s}': give an IP address such as 127.0.0.1 or ::1")
            })?)
        }
        "ip" => {
            req.ip = string(key, &value)?
                .parse()
                .map_err(|e| format!("opts.{e}"))?
        }
        "max_body" => {
            let n = number(key, &value)?;
            if n < 0.0 {
                return Err(format!("opts.max_body {n}: give a number of bytes"));
            }
            req.max_body = Some(n as u64);
        }
        "tcp_info" => req.tcp_info = boolean(key, &value)?,
        "keep_body" => {
            req.keep_body = match value {
                Value::Boolean(true) => Some(crate::probe::KEEP_BODY_DEFAULT),
                Value::Boolean(false) => None,
                _ => {
                    let n = number(key, &value)?;
                    if !(0.0..=f64::from(u32::MAX)).contains(&n) {
                        return Err(format!(
                            "opts.keep_body {}: give true or a number of bytes",
                            crate::probe::shown(n)
                        ));
                    }
                    Some(n as usize)
                }
            }
        }
        "dns_server" => {
            req.dns_server = Some(crate::probe::socket_addr(&string(key, &value)?, 53)?)
        }
        other => {
            return Err(format!(
                "unknown option '{other}' (known: {})",
                OPTION_KEYS.join(", ")
            ));
        }
    }
    Ok(())
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

fn number(key: &str, v: &Value) -> Result<f64, String> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_string_lossy()
            .trim()
            .parse()
            .map_err(|_| format!("opts.{key} must be a number, got '{}'", s.to_string_lossy())),
        other => Err(format!(
            "opts.{key} must be a number, got {}",
            other.type_name()
        )),
    }
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Boolean(b) => Ok(*b),
        other => Err(format!(
            "opts.{key} must be true or false, got {}",
            other.type_name()
        )),
    }
}

/// An error naming `who`, the first key of `spec` not in `known`, and the known ones.
pub fn known_keys(spec: &Table, who: &str, known: &[&str]) -> mlua::Result<()> {
    for pair in spec.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let name = match &k {
            Value::String(s) => s.to_string_lossy(),
            other => other.type_name().to_string(),
        };
        if !known.contains(&name.as_str()) {
            return Err(mlua::Error::runtime(format!(
                "{who}: unknown option '{name}' (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}
