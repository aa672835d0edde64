//! The settings in force: built by the Python side at start and at each reload, swapped
//! whole (a request sees the old site or the new one, never a mix).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stockade_core::IpSet;

use crate::upstream::Upstream;

/// Bounds on what one client may send and how slowly (`stockade.server.settings.Limits`).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_header_bytes: usize,
    pub max_body_bytes: Option<u64>,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 64 * 1024,
            max_body_bytes: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// One upstream: `http://host:port/base`, its timeouts and its pool's size.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamSpec {
    pub host: String,
    pub port: u16,
    pub prefix: Vec<u8>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_idle: usize,
}

/// Everything a request reads, in force until the next reload.
#[derive(Debug, Default)]
pub struct Site {
    pub limits: Limits,
    pub upstreams: Vec<Arc<Upstream>>,
    pub document_root: Option<PathBuf>,
    /// Peers (or PROXY sources) closed before a byte is read: BFE's `ip_blocklist`.
    pub blocklist: Option<Arc<IpSet>>,
    /// Whether responses go to the access log.
    pub access_log: bool,
}

impl Site {
    /// A site for `specs`, keeping the pools of upstreams that did not change (`previous`).
    pub fn build(
        limits: Limits,
        specs: Vec<UpstreamSpec>,
        document_root: Option<PathBuf>,
        blocklist: Option<Arc<IpSet>>,
        access_log: bool,
        previous: Option<&Site>,
    ) -> Self {
        let upstreams = specs
            .into_iter()
            .map(|spec| {
                previous
                    .and_then(|site| site.upstreams.iter().find(|u| u.spec == spec).cloned())
                    .unwrap_or_else(|| Arc::new(Upstream::new(spec)))
            })
            .collect();
        Self {
            limits,
            upstreams,
            document_root,
            blocklist,
            access_log,
        }
    }
}
