//! The front's runtime: its listeners, its worker threads, reload, drain and stop.
//!
//! The listening sockets are bound first ([`bind`]), so that the caller knows the real
//! ports (`:0`) before anything is served, and errors name the address. [`Front::start`]
//! then runs a tokio runtime with `workers` threads accepting on them. [`Front::drain`]
//! stops accepting, closes idle connections, lets exchanges in flight finish (their
//! responses say `connection: close`) for up to the drain timeout, and reports how many
//! were still busy; [`Front::stop`] ends whatever is left.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use socket2::{Domain, Socket, Type};
use stockade_core::IpSet;
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
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
    runtime: Option<Runtime>,
}

impl Front {
    /// Start serving `listeners` (bound with [`bind`]) on a runtime of `workers` threads.
    pub fn start(
        workers: usize,
        listeners: Vec<(StdListener, ListenerConfig)>,
        site: Site,
        phases: Arc<dyn Phases>,
        access_log: Option<&str>,
    ) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("stockade-front")
            .enable_io()
            .enable_time()
            .build()?;
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
        {
            let _entered = runtime.enter();
            for (listener, config) in sockets.into_iter().zip(configs) {
                let listener = TcpListener::from_std(listener)?;
                runtime.spawn(accept_loop(listener, config, Arc::clone(&shared)));
            }
        }
        Ok(Self {
            shared,
            runtime: Some(runtime),
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
        let Some(runtime) = &self.runtime else {
            return 0;
        };
        let shared = Arc::clone(&self.shared);
        runtime.block_on(async move {
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
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
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
