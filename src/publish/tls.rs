//! rustls client configurations (ring provider) for `mqtts://` and `https://` webhooks.

use super::PublishError;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PublishError> {
    let bad = |reason: String| PublishError::TlsFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, PublishError> {
    let bad = |reason: String| PublishError::TlsFile {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("no PEM private key found".into()))
}

/// A client config trusting `ca_file` (else the system roots), with an optional client
/// certificate and key.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    client_cert: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, PublishError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            for cert in read_certs(path)? {
                roots.add(cert).map_err(|e| PublishError::TlsFile {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(PublishError::Tls(
                    "no system root certificates found; set a CA file".into(),
                ));
            }
        }
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| PublishError::Tls(e.to_string()))?
            .with_root_certificates(roots);
    let config = match client_cert {
        Some((cert, key)) => builder
            .with_client_auth_cert(read_certs(cert)?, read_key(key)?)
            // The pair is refused as a whole (unusable certificate, or a key that does not match it).
            .map_err(|e| PublishError::TlsFile {
                path: cert.to_path_buf(),
                reason: format!("with key {}: {e}", key.display()),
            })?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}
