//! Helpers of the reachability, HTTPS and first-run tests: a `convene serve` process
//! with exactly the flags a test gives (no `--public-url`), clients that accept any
//! certificate, the certificate a server presents, and a Chromium that ignores
//! certificate errors.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A `convene serve` process in its own working directory (its `./data` is the
/// default data directory), started with the given flags and environment only.
pub struct Serve {
    pub dir: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Serve {
    /// Starts `convene serve ARGS` in `dir` (created if needed); the admin password is
    /// not set unless `env` sets it. Does not wait.
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.join(format!("serve-{}.log", unique()));
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
        cmd.current_dir(dir)
            .arg("serve")
            .args(args)
            .env_remove("CONVENE_ADMIN_PASSWORD")
            .env_remove("CONVENE_PUBLIC_URL")
            .env_remove("CONVENE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Serve {
            dir: dir.to_path_buf(),
            log,
            child: Some(cmd.spawn().expect("convene starts")),
        }
    }

    /// Waits until `GET {base}/readyz` answers 200 (with `client`), or panics with the log.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, base: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "convene exited during start-up ({status}):\n{}",
                    self.log_text()
                );
            }
            if client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("convene did not become ready:\n{}", self.log_text());
    }

    /// Waits for the process to exit by itself (at most `limit`).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "convene did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(Duration::from_secs(30))
    }

    /// The log without terminal colours.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Waits until the log contains `text` (at most 10 s).
    pub async fn wait_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            if log.contains(text) {
                return log;
            }
            assert!(Instant::now() < deadline, "no {text:?} in the log:\n{log}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// An HTTP(S) client that accepts any certificate, optionally bound to a source address.
pub fn insecure_client(from: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(from)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `AB:CD:…`, the SHA-256 of a DER certificate (as the node logs it).
pub fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The fingerprint the node logged (`fingerprint=AB:…`), the last one if several.
pub fn logged_fingerprint(log: &str) -> Option<String> {
    log.rsplit("fingerprint=")
        .next()
        .filter(|_| log.contains("fingerprint="))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

#[derive(Debug)]
struct AcceptAnything;

impl rustls::client::danger::ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS connection to `addr` that accepts any certificate, and the DER certificate
/// the server presented.
pub async fn tls_connect(addr: SocketAddr) -> (TlsStream<TcpStream>, Vec<u8>) {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AcceptAnything))
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let stream = tokio::time::timeout(Duration::from_secs(10), connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let der = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec())
        .expect("a certificate");
    (stream, der)
}

/// A certificate and key for `names` in PEM files `cert` and `key`; returns the
/// certificate's fingerprint.
pub fn write_cert(cert: &Path, key: &Path, names: &[&str]) -> String {
    let made =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.signing_key.serialize_pem()).unwrap();
    fingerprint(made.cert.der())
}

/// A Chromium session of `driver` with its own profile that accepts any certificate
/// (`--ignore-certificate-errors`), as a browser told to trust a self-signed one would.
pub async fn insecure_browser(
    driver: &super::browser::Driver,
) -> (fantoccini::Client, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let chromium = ["chromium", "chromium-browser"]
        .iter()
        .find_map(|n| {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {n}"))
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        })
        .expect("chromium");
    let caps = serde_json::json!({
        "browserName": "chrome",
        "acceptInsecureCerts": true,
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
                "--ignore-certificate-errors",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                // The node's media candidates are on loopback (as in `browser.rs`).
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone().into_iter().collect();
    let client =
        fantoccini::ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("browser session");
    (client, profile)
}
