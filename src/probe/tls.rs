//! rustls client configurations (verified by default, insecure on request) and what the
//! handshake tells about the peer.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
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
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls configuration: {e}"))?;
        let mut config = if opts.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(
                    provider().signature_verification_algorithms,
                )))
                .with_no_client_auth()
        } else {
            let roots = match &opts.cacert {
                Some(path) => Arc::new(roots_from_file(path)?),
                None => self.system_roots.get_or_init(system_roots).clone(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
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

fn roots_from_file(path: &PathBuf) -> Result<RootCertStore, String> {
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
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("--cacert {shown}: {e}"))?;
    }
    Ok(roots)
}

/// Performs the handshake; SNI is the URL's host unless it is an IP literal.
pub async fn handshake(
    config: Arc<ClientConfig>,
    host: &str,
    ip: Option<IpAddr>,
    tcp: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    let name = match ip {
        Some(ip) => ServerName::IpAddress(ip.into()),
        None => ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
    };
    TlsConnector::from(config).connect(name, tcp).await
}

/// Names the failure and, for certificate problems, the flags that address them.
pub fn describe_error(e: &io::Error) -> String {
    let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return super::connect::describe_io(e);
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => format!(
            "certificate not trusted ({cert:?}); use --cacert FILE for a private CA, or -k to skip verification"
        ),
        rustls::Error::AlertReceived(alert) => format!("server sent alert {alert:?}"),
        other => other.to_string(),
    }
}

/// Version, cipher, ALPN and the end-entity certificate's facts.
pub fn info(stream: &TlsStream<TcpStream>) -> TlsInfo {
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
    let cert = conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|der| cert_info(der));
    TlsInfo {
        version,
        cipher,
        alpn,
        cert,
    }
}

fn cert_info(der: &CertificateDer<'_>) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    })
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
