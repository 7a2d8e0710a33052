//! Turning a URL string into where to connect and what to ask for.

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderValue, Uri};

use super::InvalidRequest;

/// http or https.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A parsed URL: where to connect and what to ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// The host without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query string, never empty ("/" at least); the fragment is dropped.
    pub path_and_query: String,
    /// Set when the host is an IP literal (no DNS needed).
    pub ip: Option<IpAddr>,
    /// The URL as probed: the input with `http://` added when it had no scheme. Shared by
    /// every result of this target, not copied into each.
    pub display: Arc<str>,
    /// What HTTP/1.1 asks for (the path and query) and HTTP/2 (the absolute URL), and the
    /// Host header: made once, cloned per request without copying.
    pub(crate) origin_form: Uri,
    pub(crate) absolute_form: Uri,
    pub(crate) host_header: HeaderValue,
}

impl Target {
    /// Parses `url`; a URL without a scheme means http, as the classic tool had it.
    pub fn parse(url: &str) -> Result<Target, InvalidRequest> {
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err("empty URL: give one such as https://example.com/".into());
        }
        // Whatever goes wrong, the message must not print a password given in the URL.
        let shown = without_password(trimmed);
        let url = shown.as_str();
        let display = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let display = ascii_host(&display).map_err(|e| format!("bad URL '{url}': {e}"))?;
        let without_fragment = display.split('#').next().unwrap_or_default();
        let uri: http::Uri = without_fragment
            .parse()
            .map_err(|e| format!("bad URL '{url}': {e}"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) => {
                return Err(format!(
                    "bad URL '{url}': unsupported scheme '{s}' (use http:// or https://)"
                )
                .into());
            }
            None => return Err(format!("bad URL '{url}': no scheme").into()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("bad URL '{url}': no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "bad URL '{url}': credentials in the URL are not supported (send an Authorization header)"
            ).into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(format!("bad URL '{url}': no host").into());
        }
        let port = match port_text(authority.as_str()) {
            None => match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
            },
            Some("") => return Err(format!("bad URL '{url}': empty port").into()),
            Some(text) => match text.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => {
                    return Err(format!(
                        "bad URL '{url}': port '{text}' is not a number from 1 to 65535"
                    )
                    .into());
                }
            },
        };
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let path_and_query = if path_and_query.starts_with('/') {
            path_and_query.to_string()
        } else {
            format!("/{path_and_query}")
        };
        let mut target = Target {
            scheme,
            ip: host.parse().ok(),
            host,
            port,
            path_and_query,
            // As the Go tool shows it: the scheme in lower case, no fragment (it is not sent).
            display: Arc::from(match without_fragment.split_once("://") {
                Some((s, rest)) => format!("{}://{rest}", s.to_ascii_lowercase()),
                None => without_fragment.to_string(),
            }),
            origin_form: Uri::from_static("/"),
            absolute_form: Uri::from_static("/"),
            host_header: HeaderValue::from_static(""),
        };
        let authority = target.authority();
        target.origin_form = Uri::from_maybe_shared(target.path_and_query.clone())
            .map_err(|e| format!("bad URL '{url}': {e}"))?;
        let scheme = match scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        target.absolute_form =
            Uri::from_maybe_shared(format!("{scheme}://{authority}{}", target.path_and_query))
                .map_err(|e| format!("bad URL '{url}': {e}"))?;
        target.host_header = HeaderValue::from_maybe_shared(authority).map_err(|_| {
            format!(
                "bad URL '{url}': host '{}' cannot be sent in a Host header",
                target.host
            )
        })?;
        Ok(target)
    }

    /// The `Host` header: the host, bracketed if IPv6, with the port when not the default.
    pub fn authority(&self) -> String {
        let host = match self.ip {
            Some(IpAddr::V6(_)) => format!("[{}]", self.host),
            _ => self.host.clone(),
        };
        let default = match self.scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Where a redirect's `Location` points, resolved against this URL.
    pub fn join(&self, location: &str) -> Result<Target, InvalidRequest> {
        let location = location.trim();
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        let absolute = if location.contains("://") {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{scheme}://{rest}")
        } else if location.starts_with('/') {
            format!("{scheme}://{}{location}", self.authority())
        } else {
            let path = self.path_and_query.split('?').next().unwrap_or("/");
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{}{dir}{location}", self.authority())
        };
        Target::parse(&absolute)
    }
}

/// The text after the host's `:` in an authority, if there is one (`[::1]:80` gives `80`).
fn port_text(authority: &str) -> Option<&str> {
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host.rsplit_once(':').map(|(_, port)| port)
}

/// Where the authority of `url` (scheme included) starts and ends.
fn authority_span(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// `url` with the password of its user info, if any, written `***`.
fn without_password(url: &str) -> String {
    let Some((start, end)) = authority_span(url) else {
        return url.to_string();
    };
    let authority = &url[start..end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{}{user}{hidden}@{host}{}", &url[..start], &url[end..])
        }
        None => url.to_string(),
    }
}

/// `url` with an internationalized host name in its ASCII (punycode) form, as DNS and the
/// Host header need it: `http://bücher.example/` becomes `http://xn--bcher-kva.example/`.
fn ascii_host(url: &str) -> Result<String, String> {
    let Some((start, end)) = authority_span(url) else {
        return Ok(url.to_string());
    };
    let authority = &url[start..end];
    if authority.is_ascii() {
        return Ok(url.to_string());
    }
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (hostport, None),
    };
    let ascii = idna::domain_to_ascii(host).map_err(|_| {
        format!("host '{host}' is not a valid internationalized name (its punycode form, xn--..., works too)")
    })?;
    let mut out = String::with_capacity(url.len() + 16);
    out.push_str(&url[..start]);
    if let Some(u) = userinfo {
        out.push_str(u);
        out.push('@');
    }
    out.push_str(&ascii);
    if let Some(p) = port {
        out.push(':');
        out.push_str(p);
    }
    out.push_str(&url[end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_scheme_means_http_and_keeps_the_query() {
        let t = Target::parse("example.com/a?b=1").unwrap();
        assert_eq!(t.scheme, Scheme::Http);
        assert_eq!(t.port, 80);
        assert_eq!(t.path_and_query, "/a?b=1");
        assert_eq!(&*t.display, "http://example.com/a?b=1");
    }

    #[test]
    fn the_url_shown_has_a_lower_case_scheme_and_no_fragment() {
        let t = Target::parse("HTTPS://Example.com/a?b=1#top").unwrap();
        assert_eq!(&*t.display, "https://Example.com/a?b=1");
        assert_eq!(t.path_and_query, "/a?b=1");
    }

    #[test]
    fn ipv6_literal_with_port() {
        let t = Target::parse("https://[::1]:8443").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.ip, Some("::1".parse().unwrap()));
        assert_eq!(t.port, 8443);
        assert_eq!(t.path_and_query, "/");
        assert_eq!(t.authority(), "[::1]:8443");
    }

    #[test]
    fn default_port_is_left_out_of_host_header() {
        assert_eq!(
            Target::parse("https://x.test/").unwrap().authority(),
            "x.test"
        );
        assert_eq!(
            Target::parse("http://x.test:81/").unwrap().authority(),
            "x.test:81"
        );
    }

    #[test]
    fn bad_urls_name_the_input_and_the_fix() {
        let e = Target::parse("ftp://x/").unwrap_err();
        assert!(e.contains("ftp://x/") && e.contains("http://"), "{e}");
        assert!(Target::parse("").is_err());
        assert!(Target::parse("http://").is_err());
    }

    #[test]
    fn a_bad_port_is_an_error_not_the_default() {
        for url in [
            "http://127.0.0.1:99999/",
            "http://127.0.0.1:65536/",
            "http://127.0.0.1:abc/",
            "http://127.0.0.1:0/",
            "https://[::1]:70000/",
        ] {
            let e = Target::parse(url).unwrap_err();
            assert!(e.contains(url) && e.contains("1 to 65535"), "{e}");
        }
        assert_eq!(
            Target::parse("http://127.0.0.1:65535/").unwrap().port,
            65535
        );
        assert_eq!(Target::parse("https://[::1]/").unwrap().port, 443);
    }

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        let e = Target::parse("http://bob:hunter2@127.0.0.1/x").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(e.contains("http://bob:***@127.0.0.1/x"), "{e}");
        let e = Target::parse("http://bob:hunter2@127.0.0.1:99999/").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn an_idn_host_is_probed_by_its_punycode_name() {
        let t = Target::parse("https://bücher.example:8443/a?b").unwrap();
        assert_eq!(t.host, "xn--bcher-kva.example");
        assert_eq!(&*t.display, "https://xn--bcher-kva.example:8443/a?b");
        assert_eq!(t.host_header, "xn--bcher-kva.example:8443");
    }

    #[test]
    fn redirects_resolve_absolute_relative_and_scheme_relative() {
        let t = Target::parse("http://a.test:8080/dir/page?x=1").unwrap();
        let joined = |l: &str| t.join(l).unwrap().display.to_string();
        assert_eq!(joined("/other"), "http://a.test:8080/other");
        assert_eq!(joined("next"), "http://a.test:8080/dir/next");
        assert_eq!(joined("//b.test/"), "http://b.test/");
        assert_eq!(joined("https://c.test/z"), "https://c.test/z");
        let h = t.join("/x?y=1").unwrap();
        assert_eq!(h.origin_form, "/x?y=1");
        assert_eq!(h.absolute_form, "http://a.test:8080/x?y=1");
        assert_eq!(h.host_header, "a.test:8080");
    }
}
