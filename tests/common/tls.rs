//! A private CA and a server certificate for localhost, 127.0.0.1 and ::1, made with rcgen;
//! also a chain with an intermediate CA that expires first.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA, a leaf it signed, and the CA's PEM written to a file for --cacert.
pub struct TestPki {
    pub ca_pem_path: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestPki {
    /// One self-signed certificate (CA:TRUE, as `openssl req -x509` makes) serving as its own
    /// trust anchor, valid for `names`.
    pub fn self_signed(names: &[&str]) -> TestPki {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "perftest self-signed");
        let cert = params.self_signed(&key).expect("cert");
        let dir = super::temp_dir("selfsigned");
        let ca_pem_path = dir.join("self.pem");
        std::fs::write(&ca_pem_path, cert.pem()).expect("write pem");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(cert.der().to_vec())], key)
            .expect("server config");
        TestPki {
            ca_pem_path,
            server_config: Arc::new(config),
        }
    }

    /// A CA, an intermediate it signed that expires at `intermediate_expires`, and a leaf for
    /// localhost and 127.0.0.1 the intermediate signed; the server sends leaf and intermediate.
    pub fn with_intermediate(intermediate_expires: std::time::SystemTime) -> TestPki {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "perftest test root");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");
        let root = rcgen::Issuer::new(ca_params, ca_key);

        let mid_key = KeyPair::generate().expect("intermediate key");
        let mut mid_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        mid_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        mid_params
            .distinguished_name
            .push(DnType::CommonName, "perftest test intermediate");
        let since_epoch = intermediate_expires
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        mid_params.not_after = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
        let mid = mid_params.signed_by(&mid_key, &root).expect("intermediate");
        let mid_issuer = rcgen::Issuer::new(mid_params, mid_key);

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params
            .distinguished_name
            .push(DnType::CommonName, "perftest chained server");
        let leaf = params.signed_by(&leaf_key, &mid_issuer).expect("leaf");

        let dir = super::temp_dir("chain");
        let ca_pem_path = dir.join("root.pem");
        std::fs::write(&ca_pem_path, ca.pem()).expect("write root.pem");
        let chain = vec![
            CertificateDer::from(leaf.der().to_vec()),
            CertificateDer::from(mid.der().to_vec()),
        ];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        TestPki {
            ca_pem_path,
            server_config: Arc::new(config),
        }
    }

    /// A new PKI; `alpn` is what the server offers (e.g. ["h2", "http/1.1"]).
    pub fn new(alpn: &[&str]) -> TestPki {
        let ca_key = KeyPair::generate().expect("ca key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "perftest test CA");
        let ca = ca_params.self_signed(&ca_key).expect("ca cert");

        let leaf_key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params
            .subject_alt_names
            .push(SanType::IpAddress("::1".parse().unwrap()));
        params
            .subject_alt_names
            .push(SanType::DnsName("svc.test".try_into().unwrap()));
        params
            .distinguished_name
            .push(DnType::CommonName, "perftest test server");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = params.signed_by(&leaf_key, &issuer).expect("leaf cert");

        let dir = super::temp_dir("pki");
        let ca_pem_path = dir.join("ca.pem");
        std::fs::write(&ca_pem_path, ca.pem()).expect("write ca.pem");

        let chain = vec![CertificateDer::from(leaf.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server config");
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        TestPki {
            ca_pem_path,
            server_config: Arc::new(config),
        }
    }
}
