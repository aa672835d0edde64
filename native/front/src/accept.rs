//! A connection before its first request: the checks at accept, the PROXY header, TLS.
//!
//! On a PROXY-protocol listener, a peer that may not send one (outside the listener's
//! trusted networks) is closed before a byte is read, counted, and logged at most once a
//! minute per peer. Then the connection check (the blocklist, [`crate::phases::Phases::admit`])
//! sees the peer; a refused connection is closed, having been sent nothing. From a trusted
//! peer the PROXY header is read exactly (peeked, then only its bytes consumed), and the
//! check runs again on the source it names. Then the TLS handshake, if the listener has a
//! certificate, within `header_timeout`.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use stockade_core::Addr;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::io::ClientIo;
use crate::phases::ConnFacts;
use crate::proxy_protocol::{self, Versions, unmapped};
use crate::runtime::{ListenerConfig, Shared};
use crate::server::Conn;
use crate::stats::{self, Stats};

const PEEK_BYTES: usize = 536;
const LOG_INTERVAL: Duration = Duration::from_secs(60);
const LOG_PEERS: usize = 1024;

/// The PROXY peers refused on one listener, remembered only to log each once a minute.
#[derive(Debug)]
pub struct Refusals {
    window: Mutex<(Instant, HashSet<IpAddr>)>,
}

impl Default for Refusals {
    fn default() -> Self {
        Self {
            window: Mutex::new((Instant::now(), HashSet::new())),
        }
    }
}

impl Refusals {
    /// Whether this refusal is to be logged.
    fn log(&self, peer: IpAddr) -> bool {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.0.elapsed() >= LOG_INTERVAL {
            *window = (Instant::now(), HashSet::new());
        }
        if window.1.len() >= LOG_PEERS {
            return false;
        }
        window.1.insert(peer)
    }
}

pub fn addr_of(ip: IpAddr) -> Addr {
    match unmapped(ip) {
        IpAddr::V4(v4) => Addr::V4(u32::from(v4)),
        IpAddr::V6(v6) => Addr::V6(u128::from(v6)),
    }
}

fn normalized(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(unmapped(address.ip()), address.port())
}

/// Accept on one listener until the front stops.
pub async fn accept_loop(listener: TcpListener, config: Arc<ListenerConfig>, shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    let refusals = Arc::new(Refusals::default());
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                // A fault in one connection's admission must not stop the listener.
                let admitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    admit(stream, peer, &config, &shared, &refusals, &stop);
                }));
                if admitted.is_err() {
                    Stats::add(&shared.stats.panics);
                }
            }
            Err(error) => {
                let resources = matches!(error.raw_os_error(), Some(23 | 24 | 105 | 12));
                if resources {
                    shared.messages.push(
                        stats::ERROR,
                        format!(
                            "cannot accept on {} ({error}); trying again in a second",
                            config.name
                        ),
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    config: &Arc<ListenerConfig>,
    shared: &Arc<Shared>,
    refusals: &Arc<Refusals>,
    stop: &watch::Receiver<bool>,
) {
    let peer = normalized(peer);
    let Ok(local) = stream.local_addr().map(normalized) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    if let Some((_, trusted)) = &config.proxy {
        if !trusted.contains(addr_of(peer.ip())) {
            Stats::add(&shared.stats.proxy_refused);
            Stats::add(&config.proxy_refused);
            if refusals.log(peer.ip()) {
                shared.messages.push(
                    stats::WARNING,
                    format!(
                        "closed a connection from {} to {}: that peer may not send a PROXY header (neither in the \
                         listener's proxy_protocol_from nor in [proxy] trusted); more from it within 60 s are only counted",
                        peer.ip(),
                        config.name
                    ),
                );
            }
            return;
        }
    }
    let facts = ConnFacts {
        peer,
        local,
        source: None,
        tls: None,
        listener: config.index,
        listener_name: config.name.clone(),
        scheme: if config.tls.is_some() { "https" } else { "http" },
        decision: config.decision,
        admin: config.admin,
    };
    if !allowed(&facts, config, shared) {
        return;
    }
    Stats::add(&shared.stats.connections);
    tokio::spawn(connection(
        stream,
        facts,
        Arc::clone(config),
        Arc::clone(shared),
        stop.clone(),
    ));
}

/// One accepted connection, from its PROXY header to its end: the task of the connection.
///
/// The task's state is held for as long as the connection lives, idle ones included, and
/// is sized by its largest moment. So the moments that only some connections go through,
/// or only once, live on the heap while they last: reading a PROXY header, the TLS
/// handshake and a TLS connection's whole life (the rustls state is several KiB). A plain
/// connection keeps only what [`Conn::run`] holds between requests.
async fn connection(
    mut stream: TcpStream,
    mut facts: ConnFacts,
    config: Arc<ListenerConfig>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let _active = Active::new(&shared);
    let timeout = shared.site.load().limits.header_timeout;
    if let Some((versions, _)) = &config.proxy {
        match Box::pin(tokio::time::timeout(
            timeout,
            read_proxy_header(&mut stream, *versions),
        ))
        .await
        {
            Ok(Ok(source)) => {
                facts.source = source.map(normalized);
                if facts.source.is_some() && !allowed(&facts, &config, &shared) {
                    return;
                }
            }
            Ok(Err(error)) => {
                shared
                    .messages
                    .push(stats::DEBUG, format!("closing {}: {error}", facts.peer));
                return;
            }
            Err(_) => return,
        }
    }
    match &config.tls {
        None => serve(stream, facts, shared, stop).await,
        Some(tls) => Box::pin(serve_tls(stream, Arc::clone(tls), timeout, facts, shared, stop)).await,
    }
}

async fn serve_tls(
    stream: TcpStream,
    tls: Arc<rustls::ServerConfig>,
    timeout: Duration,
    mut facts: ConnFacts,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let Ok(Ok(stream)) = tokio::time::timeout(timeout, acceptor.accept(stream)).await else {
        return;
    };
    let tls_facts = crate::tls::facts_of(stream.get_ref().1);
    let h2 = tls_facts.alpn.as_deref() == Some("h2");
    facts.tls = Some(tls_facts);
    if h2 {
        crate::http2::serve(stream, facts, shared, stop).await;
    } else {
        serve(stream, facts, shared, stop).await;
    }
}

async fn serve<S: ClientIo>(io: S, facts: ConnFacts, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let conn = Conn {
        io,
        // Taken when the first bytes arrive (see `Conn::read_head`).
        buf: BytesMut::new(),
        facts: Arc::new(facts),
        shared,
        client_done: false,
        stop,
        h2: false,
    };
    conn.run().await;
}

/// The connection check on the client (the PROXY source once known, else the peer).
fn allowed(facts: &ConnFacts, config: &ListenerConfig, shared: &Shared) -> bool {
    let site = shared.site.load();
    if let Some(blocklist) = &site.blocklist {
        if !config.admin && !config.decision {
            let stats = &shared.stats;
            Stats::add(&stats.conn_total);
            if blocklist.contains(addr_of(facts.client().ip())) {
                Stats::add(&stats.conn_refuse);
                return false;
            }
            Stats::add(&stats.conn_accept);
        }
    }
    shared.phases.admit(facts)
}

/// Read the PROXY header, not a byte past it; the source it names, if any.
async fn read_proxy_header(stream: &mut TcpStream, versions: Versions) -> Result<Option<SocketAddr>, String> {
    let mut header: Vec<u8> = Vec::new();
    let mut peeked = vec![0u8; PEEK_BYTES];
    loop {
        let seen = stream.peek(&mut peeked).await.map_err(|e| e.to_string())?;
        if seen == 0 {
            return Err("the connection ended inside its PROXY header".to_owned());
        }
        let data = peeked.get(..seen).unwrap_or_default();
        let mut candidate = header.clone();
        candidate.extend_from_slice(data);
        let total = proxy_protocol::header_length(&candidate, versions).map_err(|e| e.to_string())?;
        // Until the length is known, every byte seen belongs to the header.
        let take = match total {
            None => seen,
            Some(total) => total.saturating_sub(header.len()).min(seen),
        };
        let mut taken = vec![0u8; take];
        stream.read_exact(&mut taken).await.map_err(|e| e.to_string())?;
        header.extend_from_slice(&taken);
        if let Some(total) = total {
            if header.len() >= total {
                let parsed = proxy_protocol::parse(&header, versions).map_err(|e| e.to_string())?;
                return Ok(parsed.source);
            }
        }
    }
}

/// Counts a connection as active for as long as it lives (the drain waits for none).
struct Active {
    shared: Arc<Shared>,
}

impl Active {
    fn new(shared: &Arc<Shared>) -> Self {
        shared
            .stats
            .active
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self {
            shared: Arc::clone(shared),
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if self
            .shared
            .stats
            .active
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.shared.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::connection;

    fn future_size<A, B, C, D, E, F: Future>(_: impl FnOnce(A, B, C, D, E) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn a_connection_task_holds_only_what_an_idle_connection_needs() {
        // Each connection's task is held whole while the connection is idle, so it must not
        // carry the TLS state, a PROXY header's reading or a request's exchange inline (with
        // them it was 8,960 bytes in a release build, 10,000 idle connections about 85 MiB;
        // without them 1,720 in a debug build, which lays futures out larger).
        let size = future_size(connection);
        assert!(size <= 2048, "a connection's task holds {size} bytes");
    }
}
