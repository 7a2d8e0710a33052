//! Cookies a session keeps between its samples, as a browser keeps them (RFC 6265, by the
//! cookie_store crate that reqwest uses): stored from each response's `Set-Cookie`, sent in
//! the `Cookie` header of each later request they match by domain, path, `Secure` and expiry.
//! No public-suffix list is compiled in, so a cookie for a whole public suffix is not refused:
//! a probe talks to servers it was pointed at.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::request::ProbeRequest;
use super::target::{Scheme, Target};

/// A kept cookie, as a script lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeptCookie {
    pub name: String,
    pub value: String,
    /// The Domain attribute, or the host that set a host-only cookie.
    pub domain: String,
    pub path: String,
}

/// The cookies of one session.
#[derive(Debug, Default)]
pub struct CookieJar(cookie_store::CookieStore);

/// The URL cookie matching works on, from the parts the probe uses (the host already ASCII).
fn url_of(target: &Target) -> Option<url::Url> {
    let scheme = match target.scheme {
        Scheme::Http => "http",
        Scheme::Https => "https",
    };
    url::Url::parse(&format!(
        "{scheme}://{}{}",
        target.authority(),
        target.path_and_query
    ))
    .ok()
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Adds the cookies that match `req`'s URL to its `Cookie` header, after any the script
    /// set itself: a request carries one Cookie header (RFC 6265 5.4).
    pub fn add_to(&self, req: &mut ProbeRequest) {
        let Some(url) = url_of(&req.target) else {
            return;
        };
        let jar: Vec<String> = self
            .0
            .get_request_values(&url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if jar.is_empty() {
            return;
        }
        let jar = jar.join("; ");
        let own = req
            .headers
            .iter()
            .position(|(name, _)| name == http::header::COOKIE);
        let text = match own {
            Some(i) => {
                let (_, v) = req.headers.remove(i);
                format!("{}; {jar}", String::from_utf8_lossy(v.as_bytes()))
            }
            None => jar,
        };
        // Names and values came through cookie's parser, which keeps to header-safe bytes.
        if let Ok(v) = HeaderValue::from_str(&text) {
            req.headers.push((HeaderName::from_static("cookie"), v));
        }
    }

    /// Keeps the cookies a response to a request for `target` set; one that does not parse, or
    /// that the rules refuse (a Domain the host is not in), is dropped as a browser drops it.
    pub fn store(&mut self, target: &Target, headers: &HeaderMap) {
        let Some(url) = url_of(target) else {
            return;
        };
        for v in headers.get_all(http::header::SET_COOKIE) {
            let Ok(text) = v.to_str() else { continue };
            if let Err(e) = self.0.parse(text, &url) {
                tracing::debug!(url = %url, cookie = text, error = %e, "cookie refused");
            }
        }
    }

    /// The cookies kept and not expired, by domain, path and name.
    pub fn list(&self) -> Vec<KeptCookie> {
        let mut out: Vec<KeptCookie> = self
            .0
            .iter_unexpired()
            .map(|c| KeptCookie {
                name: c.name().to_string(),
                value: c.value().to_string(),
                domain: c
                    .domain
                    .as_cow()
                    .map(|d| d.into_owned())
                    .unwrap_or_default(),
                path: AsRef::<str>::as_ref(&c.path).to_string(),
            })
            .collect();
        out.sort_by(|a, b| (&a.domain, &a.path, &a.name).cmp(&(&b.domain, &b.path, &b.name)));
        out
    }

    /// Forgets every cookie.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(jar: &mut CookieJar, url: &str, cookies: &[&str]) {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(http::header::SET_COOKIE, HeaderValue::from_str(c).unwrap());
        }
        jar.store(&Target::parse(url).unwrap(), &h);
    }

    fn sent(jar: &CookieJar, url: &str, own: Option<&str>) -> Option<String> {
        let mut req = ProbeRequest::new(url).unwrap();
        if let Some(own) = own {
            req.add_header("Cookie", own).unwrap();
        }
        jar.add_to(&mut req);
        let cookies: Vec<_> = req
            .headers
            .iter()
            .filter(|(n, _)| n == http::header::COOKIE)
            .collect();
        assert!(cookies.len() <= 1, "one Cookie header: {cookies:?}");
        cookies
            .first()
            .map(|(_, v)| v.to_str().unwrap().to_string())
    }

    #[test]
    fn cookies_go_back_where_rfc_6265_sends_them() {
        let mut jar = CookieJar::new();
        set(
            &mut jar,
            "http://api.test:8080/login",
            &[
                "session=s1; Path=/; HttpOnly",
                "theme=dark; Path=/settings",
                "secret=x; Path=/; Secure",
                "elsewhere=1; Domain=other.test",
            ],
        );
        assert_eq!(
            sent(&jar, "http://api.test:8080/cart", None).as_deref(),
            Some("session=s1")
        );
        let settings = sent(&jar, "http://api.test:8080/settings/a", None).unwrap();
        assert!(
            settings.contains("theme=dark") && settings.contains("session=s1"),
            "{settings}"
        );
        assert_eq!(sent(&jar, "http://other.test/", None), None);
        let secure = sent(&jar, "https://api.test:8080/", None).unwrap();
        assert!(
            secure.contains("secret=x") && secure.contains("session=s1"),
            "Secure goes over https only: {secure}"
        );
        assert!(
            !sent(&jar, "http://api.test:8080/", None)
                .unwrap()
                .contains("secret")
        );
        assert_eq!(
            sent(&jar, "http://api.test:8080/cart", Some("mine=1")).as_deref(),
            Some("mine=1; session=s1"),
            "the script's own cookie first, in the one header"
        );
        let names: Vec<String> = jar.list().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["secret", "session", "theme"]);

        // Max-Age=0 deletes.
        set(
            &mut jar,
            "http://api.test:8080/logout",
            &["session=; Path=/; Max-Age=0"],
        );
        assert_eq!(sent(&jar, "http://api.test:8080/cart", None), None);
    }
}
