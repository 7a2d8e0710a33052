//! Misbehaving peers for the hostile suite, each on 127.0.0.1:0: an HTTP server that answers
//! every request with a redirect to itself, one that sends its response head a byte at a time,
//! and TLS servers whose certificates are wrong in one way each (a CA sent as the server's own
//! certificate, names that do not match, expired, escape sequences in the subject).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::tls::TestPki;

/// A plain HTTP server on 127.0.0.1 running `serve` on each connection (a thread each).
pub struct RawServer {
    pub addr: SocketAddr,
    /// Requests read so far (by servers that read them).
    pub requests: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn start(serve: fn(TcpStream, &AtomicUsize)) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let count = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let count = count.clone();
                std::thread::spawn(move || serve(stream, &count));
            }
        });
        RawServer { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Every request is answered `302 Location: /again`, forever.
    pub fn redirect_loop() -> RawServer {
        RawServer::start(|mut s, count| {
            while read_head(&mut s) {
                count.fetch_add(1, Ordering::Relaxed);
                let reply = "HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n";
                if s.write_all(reply.as_bytes()).is_err() {
                    return;
                }
            }
        })
    }

    /// Slowloris, the other way round: the status line at once, then one byte of a header
    /// every 100 ms, never the end of the head.
    pub fn slow_head() -> RawServer {
        RawServer::start(|mut s, count| {
            if !read_head(&mut s) {
                return;
            }
            count.fetch_add(1, Ordering::Relaxed);
            if s.write_all(b"HTTP/1.1 200 OK\r\n").is_err() {
                return;
            }
            for b in b"X-Slow: ".iter().cycle() {
                std::thread::sleep(Duration::from_millis(100));
                if s.write_all(&[*b]).is_err() {
                    return;
                }
            }
        })
    }
}

/// Reads one request head; false at the end of the stream.
fn read_head(s: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// How a test certificate is wrong.
pub enum BadCert {
    /// The server sends a CA certificate (CA:TRUE, signed by the trusted root) as its own.
    CaAsServer,
    /// Valid, signed by the trusted root, but for `other.test` only.
    OtherName,
    /// Signed by the trusted root, names 127.0.0.1, expired on 2020-01-01.
    Expired,
    /// Valid for 127.0.0.1, its subject CN carrying `ESC[2J` (clear screen) and a BEL.
    EscapeInSubject,
}

/// A root CA (written to a PEM file for --cacert) and a server certificate wrong as asked.
pub fn bad_pki(how: BadCert) -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hostile test root");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let names = match how {
        BadCert::OtherName => vec!["other.test".to_string()],
        _ => vec!["localhost".to_string()],
    };
    let mut params = CertificateParams::new(names).unwrap();
    if !matches!(how, BadCert::OtherName) {
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    }
    let cn = match how {
        BadCert::EscapeInSubject => "evil\u{1b}[2J\u{7}name",
        _ => "hostile test server",
    };
    params.distinguished_name.push(DnType::CommonName, cn);
    match how {
        BadCert::CaAsServer => params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained),
        BadCert::Expired => {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        _ => {}
    }
    let key = KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &issuer).unwrap();

    let dir = super::temp_dir("hostile-pki");
    let ca_pem_path: PathBuf = dir.join("root.pem");
    std::fs::write(&ca_pem_path, ca.pem()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TestPki {
        ca_pem_path,
        server_config: Arc::new(config),
    }
}
