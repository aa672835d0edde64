//! What the gate of encoded text costs over a long clean form: the whole scan against the sweep,
//! in one run, timed with the thread's CPU clock (compare the ratio: the machine's load moves both).
//!
//! `cargo run --release -p stockade-core --example gate_sweep -- RULES [FORM]` where RULES holds
//! one line a rule, `id<TAB>targets,...<TAB>anchors` with the anchors separated by U+001F (what
//! `python bench/detection_speed.py --dump-rules RULES` writes), and FORM a form body to read
//! instead of the benchmark's (cut to 64 KB).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use stockade_core::detection::Target;
use stockade_core::detection::gate::{Anchors, Reading, compile_gate};

/// The thread's CPU time in nanoseconds (Linux), else the wall clock's.
fn cpu_ns(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or_else(|| wall.elapsed().as_nanos() as f64)
}

fn best(rounds: usize, count: usize, mut run: impl FnMut() -> usize) -> (f64, usize) {
    let wall = Instant::now();
    let mut best = f64::MAX;
    let mut seen: usize = 0;
    for _ in 0..rounds {
        let started = cpu_ns(wall);
        for _ in 0..count {
            seen = seen.wrapping_add(run());
        }
        best = best.min((cpu_ns(wall) - started) / 1e3 / count as f64);
    }
    (best, seen)
}

fn main() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: gate_sweep RULES")?;
    let text = std::fs::read_to_string(&path).map_err(|error| format!("{path}: {error}"))?;
    let mut anchors: Vec<&str> = Vec::new();
    for line in text.lines() {
        let mut columns = line.split('\t');
        let (_, targets, list) = (
            columns.next(),
            columns.next().unwrap_or(""),
            columns.next().unwrap_or(""),
        );
        if targets.split(',').filter_map(Target::named).any(Target::gated) {
            anchors.extend(list.split('\u{1f}').filter(|anchor| !anchor.is_empty()));
        }
    }
    let gate = compile_gate(&Anchors::of(anchors), Reading::QUERY)?;
    let fields: Vec<String> = (0..2000)
        .map(|i| format!("field{i}=value+number+{i}+with+some+text"))
        .collect();
    let mut form = match std::env::args().nth(2) {
        Some(file) => std::fs::read(&file).map_err(|error| format!("{file}: {error}"))?,
        None => fields.join("&").into_bytes(),
    };
    form.truncate(64 * 1024);
    let sweep = gate.sweep(&form, Some(b'&'));
    println!(
        "swept: {}, found: {:?}",
        sweep.is_some(),
        gate.find_swept(&form, 0, sweep.as_ref())
    );
    for _ in 0..3 {
        let (whole, _) = best(5, 100, || gate.find(&form, 0).map_or(0, |at| at));
        let (swept, _) = best(5, 300, || {
            let sweep = gate.sweep(&form, Some(b'&'));
            gate.find_swept(&form, 0, sweep.as_ref()).map_or(0, |at| at)
        });
        println!(
            "64 KB form: whole scan {whole:7.1} µs, sweep {swept:7.1} µs, ratio {:.2}",
            swept / whole
        );
    }
    Ok(())
}
