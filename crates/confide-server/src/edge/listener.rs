//! The public listener's accept loop (instead of `axum::serve`, which sets no header timeout and
//! caps nothing): per connection, the CIDR lists and bans are checked before a byte is read, the
//! connection caps (in all, and per address except trusted proxies) are applied, TLS is
//! negotiated when configured, and hyper serves HTTP/1.1 with a header read timeout (a client
//! that has not sent a request's headers within `limits.header_read_timeout_secs`, idle
//! keep-alive connections included, is cut off). Requests carry the peer address
//! ([`ConnectInfo`]) and the [`Transport`].
//!
//! [`redirect`] is the plain-HTTP listener next to a TLS one: it answers every request with a
//! permanent redirect to the same host and path over HTTPS and serves nothing else.

use super::Edge;
use super::headers::{self, Transport};
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// Open connections, in all and per address.
#[derive(Debug)]
pub struct Connections {
    max: usize,
    per_address: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub struct Slot {
    connections: Arc<Connections>,
    ip: Option<IpAddr>,
}

impl Connections {
    pub fn new(max: usize, per_address: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max,
            per_address,
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A slot for a connection from `ip` (`capped`: whether the per-address cap applies), or
    /// `None` when a cap is reached.
    pub fn open(self: &Arc<Self>, ip: IpAddr, capped: bool) -> Option<Slot> {
        let mut open = self.open.lock().ok()?;
        if open.0 >= self.max {
            return None;
        }
        if capped {
            let n = open.1.entry(ip).or_insert(0);
            if *n >= self.per_address {
                return None;
            }
            *n += 1;
        }
        open.0 += 1;
        Some(Slot {
            connections: self.clone(),
            ip: capped.then_some(ip),
        })
    }

    /// Connections open now.
    pub fn count(&self) -> usize {
        self.open.lock().map(|o| o.0).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.connections.open.lock() {
            open.0 = open.0.saturating_sub(1);
            if let Some(ip) = self.ip
                && let Some(n) = open.1.get_mut(&ip)
            {
                *n -= 1;
                if *n == 0 {
                    open.1.remove(&ip);
                }
            }
        }
    }
}

/// What the accept loop needs.
pub struct Public {
    pub listener: TcpListener,
    pub router: Router,
    pub edge: Arc<Edge>,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub header_timeout: Duration,
    /// How long open connections get to finish at shutdown (`limits.request_timeout_secs`: no
    /// request takes longer; event streams are cut).
    pub grace: Duration,
}

fn http1() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new());
    b
}

async fn serve_io<I>(
    io: I,
    router: Router,
    peer: SocketAddr,
    transport: Transport,
    header_timeout: Duration,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = router.map_request(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        req.extensions_mut().insert(transport);
        req
    });
    let mut builder = http1();
    builder.header_read_timeout(header_timeout).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%e, "connection ended");
    }
}

/// Serves until `stop` turns true; then stops accepting and waits (at most `grace`) for open
/// connections to finish their requests.
pub async fn serve(p: Public, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            a = p.listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off a little, keep serving.
                tracing::warn!(%e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let ip = peer.ip().to_canonical();
        let trusted = p.edge.proxies.trusts(ip);
        // A denied or banned direct client gets nothing: closed before a byte is read.
        if !trusted && !p.edge.admits_peer(ip) {
            drop(stream);
            continue;
        }
        let Some(slot) = p.edge.connections.open(ip, !trusted) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = p.router.clone();
        let watcher = graceful.watcher();
        let tls = p.tls.clone();
        let header_timeout = p.header_timeout;
        tasks.spawn(async move {
            let _slot = slot;
            match tls {
                None => {
                    serve_io(
                        stream,
                        router,
                        peer,
                        Transport::Plain,
                        header_timeout,
                        watcher,
                    )
                    .await
                }
                Some(acceptor) => {
                    // The handshake gets as long as a request's headers would.
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            serve_io(tls, router, peer, Transport::Tls, header_timeout, watcher)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(%e, "TLS handshake refused"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(p.listener);
    if tokio::time::timeout(p.grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!("shutdown: closing the connections still open (event streams)");
    }
    // Whatever is left (and with it the router's hold on the application) goes now.
    tasks.shutdown().await;
    Ok(())
}

/// A host header fit for a redirect: a DNS name or an address (the port is dropped).
fn host_of(req: &Request<Incoming>) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    if let Some(rest) = host.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        if !after.is_empty() {
            after.strip_prefix(':')?.parse::<u16>().ok()?;
        }
        return Some(format!("[{}]", addr.to_ascii_lowercase()));
    }
    let name = match host.split_once(':') {
        Some((h, p)) => {
            p.parse::<u16>().ok()?;
            h
        }
        None => host,
    };
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then(|| name.to_ascii_lowercase())
}

/// The redirect of one plain-HTTP request: 308 to `https://host[:port]/path?query`, no body.
pub fn redirect_response(req: &Request<Incoming>, https_port: u16) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    let target = host_of(req).map(|host| {
        let port = if https_port == 443 {
            String::new()
        } else {
            format!(":{https_port}")
        };
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/");
        format!("https://{host}{port}{path}")
    });
    match target.and_then(|t| HeaderValue::from_str(&t).ok()) {
        Some(location) => {
            *res.status_mut() = StatusCode::PERMANENT_REDIRECT;
            res.headers_mut().insert(header::LOCATION, location);
        }
        None => *res.status_mut() = StatusCode::BAD_REQUEST,
    }
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers::apply(res.headers_mut(), false);
    res
}

/// The plain-HTTP listener next to TLS: redirects only, never reaches the application.
pub async fn redirect(
    listener: TcpListener,
    edge: Arc<Edge>,
    https_port: u16,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, peer)) = accepted else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let ip = peer.ip().to_canonical();
        let trusted = edge.proxies.trusts(ip);
        if !trusted && !edge.admits_peer(ip) {
            continue;
        }
        let Some(slot) = edge.connections.open(ip, !trusted) else {
            continue;
        };
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| async move {
                Ok::<_, Infallible>(redirect_response(&req, https_port))
            });
            let mut builder = http1();
            builder
                .header_read_timeout(header_timeout)
                .keep_alive(false);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let _ = watcher.watch(conn).await;
        });
    }
    graceful.shutdown().await;
    Ok(())
}
