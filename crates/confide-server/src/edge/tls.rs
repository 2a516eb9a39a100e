//! Built-in TLS (rustls, aws-lc-rs): TLS 1.2 and 1.3 only (rustls implements nothing older), the
//! provider's default suites (AEAD only: AES-GCM and ChaCha20-Poly1305; TLS 1.2 with ECDHE key
//! exchange only), HTTP/1.1 by ALPN. The certificate and key files are checked every
//! `tls.reload_interval_secs` and a changed pair is served from the next handshake on, without a
//! restart; a pair that does not load is logged and the current one kept.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// The certificate being served, swapped when the files change.
#[derive(Debug)]
pub struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// The crypto provider: aws-lc-rs with its default (strong, AEAD-only) suites.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A certificate chain and key from PEM bytes, checked to belong together.
pub fn load_pair(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls.cert: not a PEM certificate chain ({e})"))?;
    if chain.is_empty() {
        return Err("tls.cert: no certificate in the file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("tls.key: not a PEM private key ({e})"))?;
    CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| format!("tls: the key does not fit the certificate ({e})"))
}

/// The TLS side of the public listener: the rustls configuration, and a task watching the files.
pub struct Tls {
    pub config: Arc<rustls::ServerConfig>,
    resolver: Arc<Reloading>,
    cert: PathBuf,
    key: PathBuf,
    interval: Duration,
    loaded: (Vec<u8>, Vec<u8>),
    /// Bumped on every reload (tests and logs wait on it).
    generation: watch::Sender<u64>,
}

fn read(path: &Path, name: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{name}: cannot read {}: {e}", path.display()))
}

impl Tls {
    /// Loads the pair; any error is a start-up error naming the setting.
    pub fn load(c: &confide_app::config::TlsConfig) -> Result<Option<Tls>, String> {
        let (Some(cert), Some(key)) = (&c.cert, &c.key) else {
            return Ok(None);
        };
        let cert_pem = read(cert, "tls.cert")?;
        let key_pem = read(key, "tls.key")?;
        let pair = load_pair(&cert_pem, &key_pem)?;
        let resolver = Arc::new(Reloading {
            current: RwLock::new(Arc::new(pair)),
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("tls: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Some(Tls {
            config: Arc::new(config),
            resolver,
            cert: cert.clone(),
            key: key.clone(),
            interval: Duration::from_secs(c.reload_interval_secs.max(1)),
            loaded: (cert_pem, key_pem),
            generation: watch::channel(0).0,
        }))
    }

    /// A receiver of the reload count.
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Checks the files once; swaps the served pair when they changed and load.
    async fn check(&mut self) {
        let (Ok(cert), Ok(key)) = (
            tokio::fs::read(&self.cert).await,
            tokio::fs::read(&self.key).await,
        ) else {
            tracing::warn!(
                "tls: the certificate or key file cannot be read; serving the current one"
            );
            return;
        };
        if (cert.as_slice(), key.as_slice()) == (self.loaded.0.as_slice(), self.loaded.1.as_slice())
        {
            return;
        }
        match load_pair(&cert, &key) {
            Ok(pair) => {
                if let Ok(mut current) = self.resolver.current.write() {
                    *current = Arc::new(pair);
                }
                self.loaded = (cert, key);
                self.generation.send_modify(|g| *g += 1);
                tracing::info!("tls: new certificate loaded");
            }
            // Half-written files (a renewal in progress) load on a later check.
            Err(e) => tracing::warn!("tls: keeping the current certificate: {e}"),
        }
    }

    /// Watches the files until dropped (the returned task is aborted on shutdown).
    pub fn watch(
        mut self,
    ) -> (
        Arc<rustls::ServerConfig>,
        watch::Receiver<u64>,
        tokio::task::JoinHandle<()>,
    ) {
        let config = self.config.clone();
        let reloads = self.reloads();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                self.check().await;
            }
        });
        (config, reloads, task)
    }
}
