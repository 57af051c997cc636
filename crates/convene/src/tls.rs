//! Built-in HTTPS: the certificate, from the operator's PEM files (read again on
//! SIGHUP) or made once and kept in the data directory (`tls = "self-signed"`).
//!
//! The certificate in force sits behind a lock in [`CertStore`], which rustls asks at
//! every handshake: a reload changes what new connections get and leaves open ones
//! alone. rustls runs on the `ring` provider (as the rest of the node's TLS does).

use crate::config::{Config, TlsSource};
use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio_rustls::TlsAcceptor;

/// The self-signed certificate and key, in the data directory.
pub const SELF_SIGNED_CERT: &str = "tls-self-signed-cert.pem";
pub const SELF_SIGNED_KEY: &str = "tls-self-signed-key.pem";

/// A bad TLS setting: reported like the other wrong settings (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsSettingError(pub String);

/// The certificate in force, and where it comes from.
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<CryptoProvider>,
}

impl std::fmt::Debug for CertStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertStore")
            .field("cert", &self.cert)
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl CertStore {
    /// Reads (or, for `self-signed`, makes or reuses) the certificate the settings name.
    /// `names` are the host names and addresses a new self-signed certificate covers.
    pub fn open(config: &Config, names: &[String]) -> anyhow::Result<Arc<CertStore>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert, key) = match config.tls.as_ref() {
            Some(TlsSource::Files { cert, key }) => (cert.clone(), key.clone()),
            Some(TlsSource::SelfSigned) => self_signed(&config.data_dir, names)?,
            None => anyhow::bail!("TLS is not configured"),
        };
        let loaded = load(&cert, &key, &provider)?;
        Ok(Arc::new(CertStore {
            cert,
            key,
            current: RwLock::new(Arc::new(loaded)),
            provider,
        }))
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The SHA-256 fingerprint of the certificate in force (`AB:CD:…`).
    pub fn fingerprint(&self) -> String {
        self.current()
            .cert
            .first()
            .map(|c| fingerprint(c.as_ref()))
            .unwrap_or_default()
    }

    /// The certificate's file.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// Reads the files again; on any error the certificate in force stays.
    pub fn reload(&self) -> anyhow::Result<()> {
        let loaded = load(&self.cert, &self.key, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        Ok(())
    }

    /// The acceptor for the node's listener: TLS 1.2 and 1.3, HTTP/1.1.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// Reloads the certificate on every SIGHUP until `stop`.
#[cfg(unix)]
pub fn reload_on_sighup(
    store: Arc<CertStore>,
    stop: tokio_util::sync::CancellationToken,
    tasks: &tokio_util::task::TaskTracker,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tasks.spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                got = hup.recv() => if got.is_none() { return },
            }
            match store.reload() {
                Ok(()) => tracing::info!(
                    cert = %store.cert.display(),
                    fingerprint = %store.fingerprint(),
                    "SIGHUP: TLS certificate reloaded; new connections get it"
                ),
                Err(e) => tracing::error!(
                    cert = %store.cert.display(),
                    error = %format!("{e:#}"),
                    "SIGHUP: cannot reload the TLS certificate; keeping the one in force"
                ),
            }
        }
    });
    Ok(())
}

/// `AB:CD:…`, the SHA-256 of a DER certificate, as browsers show it.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<CertifiedKey> {
    let bad = |setting: &str, path: &Path, why: String| {
        TlsSettingError(format!("setting `{setting}`: {}: {why}", path.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("tls_cert", cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("tls_cert", cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("tls_cert", cert, "no PEM certificate in the file".into()).into());
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        bad(
            "tls_key",
            key,
            format!("{e} (a PEM private key: PKCS#8, PKCS#1 or SEC1)"),
        )
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| {
        bad(
            "tls_key",
            key,
            format!("does not fit the certificate {}: {e}", cert.display()),
        )
        .into()
    })
}

/// The self-signed certificate and key in `data_dir`, made on the first start.
fn self_signed(data_dir: &Path, names: &[String]) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert = data_dir.join(SELF_SIGNED_CERT);
    let key = data_dir.join(SELF_SIGNED_KEY);
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .context("names for the self-signed certificate")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Convene (self-signed)");
    let year = chrono::Datelike::year(&chrono::Utc::now());
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 10, 1, 1);
    let pair = rcgen::KeyPair::generate().context("cannot generate a TLS key")?;
    let made = params
        .self_signed(&pair)
        .context("cannot make the self-signed certificate")?;
    // The key first, readable by its owner only; the certificate last, so that a
    // crash between the two makes a new pair next time instead of a mismatched one.
    write_private(&key, pair.serialize_pem().as_bytes())?;
    let tmp = cert.with_extension("pem.tmp");
    std::fs::write(&tmp, made.pem())
        .and_then(|()| std::fs::rename(&tmp, &cert))
        .with_context(|| format!("cannot write {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), key = %key.display(), "made a self-signed TLS certificate");
    Ok((cert, key))
}

/// Writes a secret to `path` (replacing it) with mode 0600 from the first byte on.
pub fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let write = || -> std::io::Result<()> {
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// The names a new self-signed certificate covers: localhost and loopback, this
/// machine's name, the listen address, the primary address and `public_url`'s host.
pub fn self_signed_names(config: &Config, primary: Option<IpAddr>) -> Vec<String> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_string());
    }
    if !config.listen.ip().is_unspecified() {
        names.push(config.listen.ip().to_string());
    }
    if let Some(ip) = primary {
        names.push(ip.to_string());
    }
    if let Some(host) = config
        .public_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
    {
        names.push(host);
    }
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            tls: Some(TlsSource::SelfSigned),
            ..Config::with_data_dir(dir.path())
        };
        let names = self_signed_names(&config, None);
        let first = CertStore::open(&config, &names).unwrap();
        let again = CertStore::open(&config, &names).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        assert_eq!(first.fingerprint().len(), 32 * 3 - 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SELF_SIGNED_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        first.acceptor().unwrap();
    }

    #[test]
    fn bad_files_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        let config = Config {
            tls: Some(TlsSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            ..Config::with_data_dir(dir.path())
        };
        let e = CertStore::open(&config, &[]).unwrap_err().to_string();
        assert!(e.contains("`tls_cert`"), "{e}");
        std::fs::write(&cert, "not a certificate").unwrap();
        let e = CertStore::open(&config, &[]).unwrap_err().to_string();
        assert!(e.contains("`tls_cert`"), "{e}");
        // A key that belongs to another certificate.
        let a = rcgen::generate_simple_self_signed(vec!["a".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b".into()]).unwrap();
        std::fs::write(&cert, a.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        let e = CertStore::open(&config, &[]).unwrap_err();
        assert!(e.downcast_ref::<TlsSettingError>().is_some());
        assert!(e.to_string().contains("`tls_key`"), "{e}");
        std::fs::write(&key, a.signing_key.serialize_pem()).unwrap();
        let store = CertStore::open(&config, &[]).unwrap();
        assert_eq!(store.fingerprint(), fingerprint(a.cert.der()));
        // A failed reload keeps the certificate in force.
        std::fs::write(&cert, "garbage").unwrap();
        assert!(store.reload().is_err());
        assert_eq!(store.fingerprint(), fingerprint(a.cert.der()));
        std::fs::write(&cert, b.cert.pem()).unwrap();
        std::fs::write(&key, b.signing_key.serialize_pem()).unwrap();
        store.reload().unwrap();
        assert_eq!(store.fingerprint(), fingerprint(b.cert.der()));
    }
}
