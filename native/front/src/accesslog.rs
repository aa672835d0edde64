//! The JSON access log, written by a thread of its own: a request only hands its line to
//! a bounded queue (a full queue drops the line and counts it, never waits).
//!
//! One JSON object a line, as `stockade.server.http.accesslog` writes them: time, client,
//! method, path (the target as sent), status, body bytes, duration in milliseconds (from
//! the end of the request headers to the end of the response) and the listener.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, SystemTime};

use stockade_core::json_text::{Beyond, push_json_str};

use crate::stats::Stats;

const QUEUE: usize = 16 * 1024;

/// One answered request.
#[derive(Debug)]
pub struct Entry<'a> {
    pub time: SystemTime,
    pub client: IpAddr,
    pub method: &'a [u8],
    pub path: &'a [u8],
    pub status: u16,
    pub bytes: u64,
    pub duration: Duration,
    pub listener: &'a str,
}

/// The sending side of the log: cheap to call from any request.
#[derive(Debug)]
pub struct AccessLog {
    sender: SyncSender<Vec<u8>>,
    stats: Arc<Stats>,
}

impl AccessLog {
    /// Open `target` for appending (`-`: standard output) and start the writer thread.
    pub fn open(target: &str, stats: Arc<Stats>) -> std::io::Result<Self> {
        let sink: Box<dyn Write + Send> = if target == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(OpenOptions::new().create(true).append(true).open(target)?)
        };
        let (sender, receiver) = sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("stockade-access-log".into())
            .spawn(move || write_lines(&receiver, sink))?;
        Ok(Self { sender, stats })
    }

    pub fn record(&self, entry: &Entry<'_>) {
        match self.sender.try_send(line(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Stats::add(&self.stats.log_dropped),
        }
    }
}

fn write_lines(receiver: &Receiver<Vec<u8>>, mut sink: Box<dyn Write + Send>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = first;
        while let Ok(more) = receiver.try_recv() {
            batch.extend_from_slice(&more);
            if batch.len() > 1 << 20 {
                break;
            }
        }
        // A failing log must not stop the serving; lines are lost, as the Python sink's are.
        let _ = sink.write_all(&batch).and_then(|()| sink.flush());
    }
}

/// The JSON line of an entry.
pub fn line(entry: &Entry<'_>) -> Vec<u8> {
    let since = entry
        .time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = String::with_capacity(200);
    out.push_str("{\"time\":\"");
    out.push_str(&iso_millis(since));
    out.push_str("\",\"client\":");
    push_json_str(&mut out, &entry.client.to_string(), Beyond::Kept);
    out.push_str(",\"method\":");
    push_json_str(&mut out, &String::from_utf8_lossy(entry.method), Beyond::Kept);
    out.push_str(",\"path\":");
    push_json_str(&mut out, &latin1(entry.path), Beyond::Kept);
    out.push_str(&format!(
        ",\"status\":{},\"bytes\":{},\"duration_ms\":",
        entry.status, entry.bytes
    ));
    out.push_str(&python_float(
        (entry.duration.as_secs_f64() * 1_000_000.0).round() / 1000.0,
    ));
    out.push_str(",\"listener\":");
    push_json_str(&mut out, entry.listener, Beyond::Kept);
    out.push_str("}\n");
    out.into_bytes()
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// A float as Python's `repr` writes it (`1.0`, `0.125`).
fn python_float(value: f64) -> String {
    let text = format!("{value}");
    if text.contains('.') || text.contains('e') {
        text
    } else {
        format!("{text}.0")
    }
}

/// `2026-12-01T10:11:12.345Z`.
fn iso_millis(since: Duration) -> String {
    let seconds = since.as_secs();
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Days since 1970-01-01 as (year, month, day): Howard Hinnant's `civil_from_days`.
fn civil(days: u64) -> (i64, u32, u32) {
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let month = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_as_python_writes_it() {
        let entry = Entry {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_583_872_345),
            client: "127.0.0.1".parse().unwrap(),
            method: b"GET",
            path: b"/a\"b?c",
            status: 200,
            bytes: 5,
            duration: Duration::from_micros(1500),
            listener: "127.0.0.1:8080",
        };
        let text = String::from_utf8(line(&entry)).unwrap();
        assert_eq!(
            text,
            "{\"time\":\"2025-12-01T10:11:12.345Z\",\"client\":\"127.0.0.1\",\"method\":\"GET\",\"path\":\"/a\\\"b?c\",\
             \"status\":200,\"bytes\":5,\"duration_ms\":1.5,\"listener\":\"127.0.0.1:8080\"}\n"
        );
    }
}
