//! rustls client configurations (verified by default, insecure on request) and what the
//! handshake tells about the peer.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::result::{CertInfo, TlsInfo};

/// What decides a client configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsOptions {
    /// Skip certificate checks (`-k`).
    pub insecure: bool,
    /// Trust only the certificates in this PEM file (`--cacert`).
    pub cacert: Option<PathBuf>,
    /// Offer h2 by ALPN before http/1.1.
    pub http2: bool,
}

/// Client configurations built on first use and shared by every later sample.
#[derive(Default)]
pub struct TlsConfigs {
    system_roots: OnceLock<Arc<RootCertStore>>,
    built: Mutex<HashMap<TlsOptions, Arc<ClientConfig>>>,
}

fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

impl TlsConfigs {
    /// The configuration for `opts`, built on first use.
    pub fn get(&self, opts: &TlsOptions) -> Result<Arc<ClientConfig>, String> {
        if let Some(c) = self
            .built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(opts)
        {
            return Ok(c.clone());
        }
        let config = Arc::new(self.build(opts)?);
        self.built
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(opts.clone(), config.clone());
        Ok(config)
    }

    fn build(&self, opts: &TlsOptions) -> Result<ClientConfig, String> {
        let mut config = verifying(opts, || self.system_roots.get_or_init(system_roots).clone())?;
        // Every sample measures a full handshake, as a first visit would: no resumption.
        config.resumption = Resumption::disabled();
        config.alpn_protocols = if opts.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(config)
    }
}

/// A client configuration that trusts what a probe with `opts` trusts (the system's roots, the
/// --cacert file's chain or a certificate pinned in it, or anything with -k), for the clients
/// that send our results (webhooks): resumption and ALPN left to them.
pub fn client_config(opts: &TlsOptions) -> Result<ClientConfig, super::InvalidRequest> {
    Ok(verifying(opts, system_roots)?)
}

fn verifying(
    opts: &TlsOptions,
    system: impl FnOnce() -> Arc<RootCertStore>,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("tls configuration: {e}"))?;
    if opts.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(
                provider().signature_verification_algorithms,
            )))
            .with_no_client_auth());
    }
    Ok(match &opts.cacert {
        Some(path) => {
            let (roots, certs) = roots_from_file(path)?;
            let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| format!("--cacert {}: {e}", path.display()))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOrPinned {
                    chain,
                    pinned: certs,
                }))
                .with_no_client_auth()
        }
        None => builder
            .with_root_certificates(system())
            .with_no_client_auth(),
    })
}

/// The system's trust store (what curl uses), or Mozilla's roots built in when it is empty.
fn system_roots() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::debug!("no system CA certificates found; using the built-in Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Arc::new(roots)
}

fn roots_from_file(
    path: &PathBuf,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), String> {
    let shown = path.display();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--cacert {shown}: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--cacert {shown}: not a PEM certificate file ({e})"))?;
    if certs.is_empty() {
        return Err(format!(
            "--cacert {shown}: no certificates in the file (expected PEM 'BEGIN CERTIFICATE' blocks)"
        ));
    }
    let mut roots = RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("--cacert {shown}: {e}"))?;
    }
    Ok((roots, certs))
}

/// Performs the handshake; SNI is the URL's host unless it is an IP literal.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    config: Arc<ClientConfig>,
    host: &str,
    ip: Option<IpAddr>,
    tcp: S,
) -> io::Result<TlsStream<S>> {
    let name = match ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
    };
    TlsConnector::from(config).connect(name, tcp).await
}

/// Names the failure in words a user acts on, rustls's identifier after them; for a
/// certificate not trusted, the flags that address it.
pub fn describe_error(e: &io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return super::connect::describe_io(e);
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => {
            let (why, untrusted) = certificate_problem(cert);
            let fix = if untrusted {
                "; use --cacert FILE for a private CA, or -k to skip verification"
            } else {
                ""
            };
            format!("certificate not trusted: {why}{fix}")
        }
        rustls::Error::AlertReceived(alert) => format!("server sent alert {alert:?}"),
        other => other.to_string(),
    }
}

/// What is wrong with the certificate, and whether trusting another CA is what would fix it.
fn certificate_problem(cert: &rustls::CertificateError) -> (String, bool) {
    use rustls::CertificateError as C;
    let date = |t: &UnixTime| {
        x509_parser::time::ASN1Time::from_timestamp(t.as_secs() as i64)
            .map(|d| {
                d.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| format!("{} s after 1970", t.as_secs()))
    };
    match cert {
        C::UnknownIssuer => (
            "signed by an issuer this machine does not trust (UnknownIssuer)".into(),
            true,
        ),
        C::NotValidForNameContext {
            expected,
            presented,
        } => (
            format!(
                "it names {}, not {} (NotValidForName)",
                if presented.is_empty() {
                    "no host".to_string()
                } else {
                    // webpki writes them DnsName("a.test"), IpAddress(127.0.0.1): the names alone.
                    presented
                        .iter()
                        .map(|p| match p.split_once('(') {
                            Some((_, inner)) => inner.trim_end_matches(')').trim_matches('"'),
                            None => p.as_str(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                expected.to_str()
            ),
            false,
        ),
        C::NotValidForName => (
            "it does not name this host (NotValidForName)".into(),
            false,
        ),
        C::ExpiredContext { time, not_after } => (
            format!(
                "it expired on {} (it is now {}) (Expired)",
                date(not_after),
                date(time)
            ),
            false,
        ),
        C::Expired => ("it has expired (Expired)".into(), false),
        C::NotValidYetContext { time, not_before } => (
            format!(
                "it is not valid before {} (it is now {}; is this clock right?) (NotValidYet)",
                date(not_before),
                date(time)
            ),
            false,
        ),
        C::NotValidYet => ("it is not valid yet (NotValidYet)".into(), false),
        C::Revoked => ("its issuer revoked it (Revoked)".into(), false),
        C::BadSignature => (
            "its signature does not match its issuer's key (BadSignature)".into(),
            true,
        ),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => (
            "it is not issued for TLS servers (InvalidPurpose)".into(),
            false,
        ),
        C::BadEncoding => ("it is not a valid certificate (BadEncoding)".into(), false),
        // webpki's own identifiers, which rustls passes on as text.
        C::Other(other) => match other.to_string().as_str() {
            "CaUsedAsEndEntity" => (
                "the server sent a CA certificate as its own; it must send a server certificate that CA signed (CaUsedAsEndEntity)"
                    .into(),
                false,
            ),
            "EndEntityUsedAsCa" => (
                "the chain uses a server certificate as a CA (EndEntityUsedAsCa)".into(),
                false,
            ),
            id => (format!("({id})"), true),
        },
        other => {
            // The variant's name, without the data a Debug dump would add.
            let text = format!("{other:?}");
            let id = text.split([' ', '(', '{']).next().unwrap_or_default();
            (format!("({id})"), true)
        }
    }
}

/// Version, cipher, ALPN and the end-entity certificate's facts.
pub fn info<S>(stream: &TlsStream<S>) -> TlsInfo {
    let (_, conn) = stream.get_ref();
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let chain = conn.peer_certificates().unwrap_or_default();
    let cert = chain.first().and_then(|der| cert_info(der));
    let earliest_expiry = chain
        .iter()
        .filter_map(|der| x509_parser::parse_x509_certificate(der.as_ref()).ok())
        .map(|(_, c)| c.validity().not_after.timestamp())
        .min();
    TlsInfo {
        version,
        cipher,
        alpn,
        cert,
        earliest_expiry,
    }
}

fn cert_info(der: &CertificateDer<'_>) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(CertInfo {
        subject: super::result::printable(&cert.subject().to_string()).into_owned(),
        issuer: super::result::printable(&cert.issuer().to_string()).into_owned(),
        not_after: cert.validity().not_after.timestamp(),
        sans: sans(&cert),
    })
}

/// The DNS names and IP addresses a certificate is valid for (other kinds are left out: no
/// browser matches a host against an e-mail address).
fn sans(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(super::result::printable(dns).into_owned()),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(IpAddr::from(<[u8; 4]>::try_from(*ip).ok()?).to_string()),
                16 => Some(IpAddr::from(<[u8; 16]>::try_from(*ip).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Verifies the chain against the --cacert roots; failing that, accepts a server certificate
/// that is itself in the file (a self-signed certificate, as curl --cacert does) if it names
/// the host and is in date.
#[derive(Debug)]
struct ChainOrPinned {
    chain: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for ChainOrPinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let err = match self.chain.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(ok) => return Ok(ok),
            Err(e) => e,
        };
        if !self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Err(err);
        }
        let parsed = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        let (_, cert) = x509_parser::parse_x509_certificate(end_entity.as_ref()).map_err(|_| {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding)
        })?;
        let now = now.as_secs() as i64;
        let validity = cert.validity();
        if now > validity.not_after.timestamp() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            ));
        }
        if now < validity.not_before.timestamp() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidYet,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// Accepts any certificate but still checks the handshake signatures, as curl -k does.
#[derive(Debug)]
struct NoVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
