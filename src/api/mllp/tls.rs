//! TLS for the MLLP listener (rustls): the server's certificate chain and key from PEM files,
//! and optionally the certificate authorities whose client certificates are required (mutual
//! TLS, the usual guard for a laboratory's connection across a network).

use std::sync::Arc;

use anyhow::Context;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::MllpSettings;

/// The acceptor `hl7.mllp` asks for: `None` for plain TCP (no `tls_cert`). A file that cannot be
/// read or parsed stops start-up with its setting's name.
pub fn acceptor(m: &MllpSettings) -> anyhow::Result<Option<TlsAcceptor>> {
    if m.tls_cert.is_empty() {
        return Ok(None);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&m.tls_cert)
        .and_then(|certs| certs.collect())
        .with_context(|| {
            format!(
                "hl7.mllp.tls_cert {}: not a PEM certificate chain",
                m.tls_cert
            )
        })?;
    anyhow::ensure!(
        !chain.is_empty(),
        "hl7.mllp.tls_cert {}: no certificate",
        m.tls_cert
    );
    let key = PrivateKeyDer::from_pem_file(&m.tls_key)
        .with_context(|| format!("hl7.mllp.tls_key {}: not a PEM private key", m.tls_key))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("tls protocol versions")?;
    let builder = if m.tls_client_ca.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&m.tls_client_ca).with_context(|| {
            format!("hl7.mllp.tls_client_ca {}: not a PEM file", m.tls_client_ca)
        })? {
            let ca = ca.with_context(|| format!("hl7.mllp.tls_client_ca {}", m.tls_client_ca))?;
            roots
                .add(ca)
                .with_context(|| format!("hl7.mllp.tls_client_ca {}", m.tls_client_ca))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .context("hl7.mllp.tls_client_ca: client verifier")?;
        builder.with_client_cert_verifier(verifier)
    };
    let config = builder
        .with_single_cert(chain, key)
        .context("hl7.mllp: the certificate and key do not match")?;
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}
