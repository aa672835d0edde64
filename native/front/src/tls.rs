//! TLS for a listener (rustls): the server configuration, and the facts of a handshake.
//!
//! TLS 1.2 and 1.3; ALPN offers `h2` first (unless HTTP/2 is turned off), then `http/1.1`. With a client CA, clients are asked for a
//! certificate (`optional`) or must present one (`required`); one that does not verify
//! fails the handshake either way, so a certificate seen after it is a verified one. The
//! facts are what the Python server gives the rules: the SNI name, the version as Python's
//! `ssl` names it (`TLSv1.3`), whether a client certificate was presented, and its
//! issuer as an RFC 4514 name (read here from the certificate's DER, a few lines of it).

use std::fmt;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConnection};

use crate::phases::TlsFacts;

/// Why a listener's TLS could not be set up: `what` (`certificate or key`, `client CA`),
/// the file, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetupError {
    pub what: &'static str,
    pub path: String,
    pub reason: String,
}

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot load the TLS {} {}: {}",
            self.what, self.path, self.reason
        )
    }
}

/// Whether clients are asked for certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Required,
}

/// A server configuration from PEM files.
pub fn server_config(
    certfile: &str,
    keyfile: &str,
    client_ca: Option<&str>,
    client_auth: ClientAuth,
    http2: bool,
) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let key_error = |reason: String| TlsSetupError {
        what: "certificate or key",
        path: certfile.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
        .map_err(|e| key_error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| key_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(key_error("no certificate in the file".to_owned()));
    }
    let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| key_error(e.to_string()))?;
    #[allow(
        deprecated,
        reason = "ring builds in a third of aws-lc-rs's time; the classical key exchanges serve"
    )]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| key_error(e.to_string()))?;
    let builder = match (client_ca, client_auth) {
        (Some(ca), ClientAuth::Optional | ClientAuth::Required) => {
            let ca_error = |reason: String| TlsSetupError {
                what: "client CA",
                path: ca.to_owned(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(ca).map_err(|e| ca_error(e.to_string()))? {
                roots
                    .add(cert.map_err(|e| ca_error(e.to_string()))?)
                    .map_err(|e| ca_error(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client_auth == ClientAuth::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| ca_error(e.to_string()))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| key_error(e.to_string()))?;
    // rustls picks the first of these the client offers: HTTP/2 when it can.
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}

/// The facts of a finished handshake.
pub fn facts_of(connection: &ServerConnection) -> TlsFacts {
    let version = connection.protocol_version().map(|v| match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    });
    let certificate = connection.peer_certificates().and_then(|chain| chain.first());
    TlsFacts {
        sni: connection.server_name().map(str::to_owned),
        version,
        client_auth: certificate.is_some(),
        client_ca: certificate.and_then(|c| issuer(c.as_ref())),
        alpn: connection
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// One DER element: (tag, content, rest).
fn element(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        (
            bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    let (content, rest) = rest.split_at_checked(length)?;
    Some((tag, content, rest))
}

/// The issuer of a certificate as an RFC 4514 name (most specific RDN first).
pub fn issuer(der: &[u8]) -> Option<String> {
    let (_, certificate, _) = element(der)?;
    let (_, mut tbs, _) = element(certificate)?;
    if tbs.first() == Some(&0xa0) {
        tbs = element(tbs)?.2; // the explicit version
    }
    let (_, _, rest) = element(tbs)?; // serial number
    let (_, _, rest) = element(rest)?; // signature algorithm
    let (_, mut name, _) = element(rest)?;
    let mut rdns = Vec::new();
    while !name.is_empty() {
        let (_, set, rest) = element(name)?;
        name = rest;
        let mut attributes = Vec::new();
        let mut set = set;
        while !set.is_empty() {
            let (_, pair, rest) = element(set)?;
            set = rest;
            let (_, oid, value) = element(pair)?;
            let (_, text, _) = element(value)?;
            let key = short_name(oid);
            attributes.push(format!("{key}={}", escape(&String::from_utf8_lossy(text))));
        }
        rdns.push(attributes.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn short_name(oid: &[u8]) -> String {
    match oid {
        [0x55, 0x04, 0x03] => "CN".to_owned(),
        [0x55, 0x04, 0x06] => "C".to_owned(),
        [0x55, 0x04, 0x07] => "L".to_owned(),
        [0x55, 0x04, 0x08] => "ST".to_owned(),
        [0x55, 0x04, 0x09] => "STREET".to_owned(),
        [0x55, 0x04, 0x0a] => "O".to_owned(),
        [0x55, 0x04, 0x0b] => "OU".to_owned(),
        [0x55, 0x04, 0x05] => "serialNumber".to_owned(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC".to_owned(),
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID".to_owned(),
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress".to_owned(),
        _ => dotted(oid),
    }
}

fn dotted(oid: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut value = 0u64;
    for (index, &b) in oid.iter().enumerate() {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if index == 0 || parts.is_empty() {
                let first = (value / 40).min(2);
                parts.push(first);
                parts.push(value - first * 40);
            } else {
                parts.push(value);
            }
            value = 0;
        }
    }
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

/// RFC 4514 escaping, as the Python server's `_escape`.
fn escape(value: &str) -> String {
    let mut escaped: String = value
        .chars()
        .flat_map(|c| {
            if ",+\"\\<>;".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect();
    if escaped.starts_with('#') || escaped.starts_with(' ') {
        escaped.insert(0, '\\');
    }
    if value.ends_with(' ') && value.chars().count() > 1 {
        escaped.pop();
        escaped.push_str("\\ ");
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_escapes() {
        assert_eq!(dotted(&[0x2b, 0x06, 0x01]), "1.3.6.1");
        assert_eq!(escape("a,b"), "a\\,b");
        assert_eq!(escape("#x "), "\\#x\\ ");
    }
}
