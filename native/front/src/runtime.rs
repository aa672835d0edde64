//! The front's runtime: its listeners, its worker threads, reload, drain and stop.
//!
//! The listening sockets are bound first ([`bind`]), so that the caller knows the real
//! ports (`:0`) before anything is served, and errors name the address. [`Front::start`]
//! then runs `workers` threads, each with a tokio event loop of its own accepting on them.
//! [`Front::drain`] stops accepting, closes idle connections, lets exchanges in flight
//! finish (their responses say `connection: close`) for up to the drain timeout, and
//! reports how many were still busy; [`Front::stop`] ends whatever is left.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use socket2::{Domain, Socket, Type};
use stockade_core::IpSet;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::accept::accept_loop;
use crate::accesslog::AccessLog;
use crate::phases::Phases;
use crate::proxy_protocol::Versions;
use crate::site::Site;
use crate::stats::{Messages, Stats};

const BACKLOG: i32 = 2048;

/// One listener's options (its socket is bound apart, see [`bind`]).
#[derive(Debug)]
pub struct ListenerConfig {
    pub index: usize,
    /// `127.0.0.1:8080`, `[::1]:8080`: how logs and the access log name it.
    pub name: String,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The PROXY versions accepted and the peers allowed to send a header.
    pub proxy: Option<(Versions, IpSet)>,
    /// The admin API's listener (never checked against the blocklist).
    pub admin: bool,
    /// The decision endpoint's listener: its peers are the proxies that ask, not clients
    /// (never checked against the blocklist; the request filter checks the client each
    /// check request names, and answers every request).
    pub decision: bool,
    /// Connections closed because their peer may not send a PROXY header.
    pub proxy_refused: std::sync::atomic::AtomicU64,
}

/// What every connection shares.
pub struct Shared {
    pub site: ArcSwap<Site>,
    pub phases: Arc<dyn Phases>,
    pub stats: Arc<Stats>,
    pub messages: Messages,
    pub access_log: Option<AccessLog>,
    pub stop: watch::Sender<bool>,
    pub idle: Notify,
    pub listeners: Vec<Arc<ListenerConfig>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Bind and listen on `address` (IPv6 sockets IPv6-only, so `[::]` and `0.0.0.0` coexist).
pub fn bind(address: SocketAddr) -> std::io::Result<StdListener> {
    let domain = if address.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let socket = Socket::new(domain, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A running front.
#[derive(Debug)]
pub struct Front {
    pub shared: Arc<Shared>,
    kill: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Front {
    /// Start serving `listeners` (bound with [`bind`]) on `workers` threads.
    pub fn start(
        workers: usize,
        listeners: Vec<(StdListener, ListenerConfig)>,
        site: Site,
        phases: Arc<dyn Phases>,
        access_log: Option<&str>,
    ) -> std::io::Result<Self> {
        let stats = Arc::new(Stats::default());
        let access_log = access_log
            .map(|target| AccessLog::open(target, Arc::clone(&stats)))
            .transpose()?;
        let (stop, _) = watch::channel(false);
        let (sockets, configs): (Vec<StdListener>, Vec<Arc<ListenerConfig>>) = listeners
            .into_iter()
            .map(|(socket, config)| (socket, Arc::new(config)))
            .unzip();
        let shared = Arc::new(Shared {
            site: ArcSwap::from_pointee(site),
            phases,
            stats,
            messages: Messages::default(),
            access_log,
            stop,
            idle: Notify::new(),
            listeners: configs.clone(),
        });
        let (kill, _) = watch::channel(false);
        let mut threads = Vec::new();
        for worker in 0..workers.max(1) {
            // Each thread accepts on every listener with its own event loop, as nginx's
            // workers do: a connection lives on the thread that accepted it, with no
            // hand-over between threads.
            let sockets = sockets
                .iter()
                .map(StdListener::try_clone)
                .collect::<std::io::Result<Vec<_>>>()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()?;
            let configs = configs.clone();
            let shared = Arc::clone(&shared);
            let mut kill = kill.subscribe();
            let thread = std::thread::Builder::new()
                .name(format!("stockade-front-{worker}"))
                .spawn(move || {
                    crate::upstream::set_worker(worker);
                    runtime.block_on(async move {
                        for (socket, config) in sockets.into_iter().zip(configs) {
                            match TcpListener::from_std(socket) {
                                Ok(listener) => {
                                    tokio::spawn(accept_loop(listener, config, Arc::clone(&shared)));
                                }
                                Err(error) => shared.messages.push(
                                    crate::stats::ERROR,
                                    format!("cannot serve {}: {error}", config.name),
                                ),
                            }
                        }
                        let _ = kill.wait_for(|killed| *killed).await;
                    });
                    // Dropping the runtime drops every connection still open on this thread.
                    drop(runtime);
                })?;
            threads.push(thread);
        }
        drop(sockets);
        Ok(Self {
            shared,
            kill,
            threads,
        })
    }

    /// Put a new site in force; the next request reads it.
    pub fn reload(&self, site: Site) {
        self.shared.site.store(Arc::new(site));
    }

    /// Stop accepting and wait (up to `timeout`) for the connections to finish; the number
    /// still busy then.
    pub fn drain(&self, timeout: Duration) -> u64 {
        self.shared.stop.send_replace(true);
        let shared = Arc::clone(&self.shared);
        let Ok(waiting) = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        else {
            return shared.stats.active.load(Ordering::SeqCst);
        };
        waiting.block_on(async move {
            let until = Instant::now() + timeout;
            loop {
                let notified = shared.idle.notified();
                if shared.stats.active.load(Ordering::SeqCst) == 0 {
                    return 0;
                }
                if tokio::time::timeout_at(until.into(), notified).await.is_err() {
                    return shared.stats.active.load(Ordering::SeqCst);
                }
            }
        })
    }

    /// End every connection and the worker threads.
    pub fn stop(&mut self) {
        self.shared.stop.send_replace(true);
        self.kill.send_replace(true);
        for thread in self.threads.drain(..) {
            if thread.join().is_err() {
                Stats::add(&self.shared.stats.panics);
            }
        }
        for upstream in &self.shared.site.load().upstreams {
            upstream.close_idle();
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.stop();
    }
}
