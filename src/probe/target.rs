//! Turning a URL string into where to connect and what to ask for.

use std::net::IpAddr;
use std::sync::Arc;

use http::{HeaderValue, Uri};

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
    pub fn parse(url: &str) -> Result<Target, String> {
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err("empty URL: give one such as https://example.com/".into());
        }
        let display = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
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
                ));
            }
            None => return Err(format!("bad URL '{url}': no scheme")),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| format!("bad URL '{url}': no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!(
                "bad URL '{url}': credentials in the URL are not supported (send an Authorization header)"
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(format!("bad URL '{url}': no host"));
        }
        let port = match authority.port_u16() {
            Some(p) => p,
            None if authority.as_str().ends_with(':') => {
                return Err(format!("bad URL '{url}': empty port"));
            }
            None => match scheme {
                Scheme::Http => 80,
                Scheme::Https => 443,
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
    pub fn join(&self, location: &str) -> Result<Target, String> {
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
