//! The native front of `stockade serve`: what a request touches, in plain Rust.
//!
//! A tokio runtime with `workers` threads accepts connections on the listeners the Python
//! side configured, reads the PROXY header from trusted peers, checks the connection
//! blocklist before a byte of HTTP is read, terminates TLS (rustls, SNI, client
//! certificates), parses HTTP/1.1 strictly, asks the [`phases::Phases`] what to do with
//! each request (the ladder's decision), and forwards it to the upstream through a
//! keep-alive pool with both bodies streamed in bounded memory, or serves a static file.
//!
//! - [`site`]: the settings in force, swapped whole on reload (`arc-swap`);
//! - [`phases`]: the phases of a proxied request as one trait (after pingora's `ProxyHttp`);
//! - [`runtime`]: the runtime, its listeners, drain and stop;
//! - [`accept`], [`proxy_protocol`], [`tls`]: a connection before its first request;
//! - [`server`], [`http1`]: HTTP/1.1 connections and the framing of messages;
//! - [`http2`]: HTTP/2 over TLS (ALPN `h2`), each stream an exchange of [`server`];
//! - [`proxy`], [`upstream`], [`forwarding`]: the exchange with the upstream;
//! - [`files`]: static files with `HEAD`, ranges and validators;
//! - [`decision`]: the decision endpoint's check requests (the original request they describe);
//! - [`ladder`]: the native ladder first, the Python side for what it cannot finish;
//! - [`accesslog`], [`stats`]: what the Python side reads without touching a request.
//!
//! Why not hyper: the front must decide on exactly the bytes it read (a request with both
//! `Content-Length` and `Transfer-Encoding` is refused, not reinterpreted), close a
//! connection mid-request without a word (mod_block's `CLOSE`), run the Python server's
//! three timeouts (headers, keep-alive, body pauses) and linger after refusing a request,
//! none of which hyper's server exposes. The HTTP grammar is `httparse`'s (hyper's own
//! parser), the framing rules are written here, as pingora does.

pub mod accept;
pub mod accesslog;
pub mod checks;
pub mod decision;
pub mod files;
pub mod forwarding;
pub mod http1;
pub mod http2;
pub mod io;
pub mod ladder;
pub mod pages;
pub mod phases;
pub mod proxy;
pub mod proxy_protocol;
pub mod runtime;
pub mod server;
pub mod site;
pub mod stats;
pub mod tls;
pub mod upstream;

pub use phases::{Answer, Decision, Filtered, Forward, Phases};
pub use runtime::{Front, ListenerConfig};
pub use site::{Limits, Site, UpstreamSpec};
