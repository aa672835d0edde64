//! The sweep of a long text: which of its regions may hold a match of a gate, found by stepping
//! the gate's lazy DFA over all of them at once.
//!
//! `regex-automata`'s lazy DFA builds its states on first use, so each of its steps must look at
//! the state it reached (not built yet, a match) and check its index into the transition table
//! before taking the next one. Here the transitions met so far are copied into [`Lanes`]: a flat
//! table of 16-bit entries, indexed by a state (a row's first entry) plus a byte's class, whose
//! every index is in bounds by its type, and whose special rows are sticky (a transition not
//! copied yet leads to a row that stays there; so do a match and a dead state). A block of bytes
//! is then stepped in every region with no test at all: a table read, a class read and an add a
//! byte. A region whose state ended the block in the row not copied yet is stepped again from
//! the block's start, and the lazy DFA gives the transitions it meets. Ordinary text meets the
//! same few hundred states over and over, so nearly every block is stepped once.

use std::collections::HashMap;
use std::fmt;

use regex_automata::Input;
use regex_automata::hybrid::LazyStateID;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::pool::Pool;

/// The states a table can hold, times the row width: a row starts below `1 << 16`.
const ROWS_END: usize = 1 << 16;
/// Entries: any 16-bit state plus any class is an index in bounds.
const TABLE: usize = ROWS_END + 256;
/// Bytes stepped in every region between two looks at the states.
const BLOCK: usize = 256;
/// How many times a sweep may empty a full table before it gives the text to the whole scan.
const RENUMBERINGS: usize = 4;
/// A transition not copied yet: row 0, every entry of which is 0 again.
const UNKNOWN: u16 = 0;

type LanesMaker = Box<dyn Fn() -> Lanes + Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>;

/// A gate's lazy DFA and, for each thread sweeping with it, its [`Lanes`].
pub(crate) struct Streams {
    dfa: DFA,
    caches: Pool<Lanes, LanesMaker>,
}

impl fmt::Debug for Streams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streams").finish_non_exhaustive()
    }
}

/// Why a walk stopped short.
enum Stop {
    /// The table has no room for another state: renumber and walk again.
    Full,
    /// The lazy DFA gave up or cleared its cache: the sweep cannot say.
    Lost,
}

/// One thread's copy of the transitions it met: rows of the table, each standing for a state
/// of the lazy DFA held in the same thread's cache.
struct Lanes {
    cache: Cache,
    classes: [u8; 256],
    /// The row width: the byte classes (the end of input is never stepped through the table).
    stride: u16,
    table: Box<[u16; TABLE]>,
    /// The lazy DFA's state of each row (rows 0 to 2 are the special ones).
    states: Vec<LazyStateID>,
    rows: HashMap<LazyStateID, u16>,
    /// The cache's clear count the rows were copied under: a cleared cache renumbers its states.
    clears: usize,
}

impl Lanes {
    fn new(dfa: &DFA) -> Option<Self> {
        let byte_classes = dfa.byte_classes();
        let mut classes = [0; 256];
        for (byte, class) in (0..=u8::MAX).zip(classes.iter_mut()) {
            *class = byte_classes.get(byte);
        }
        let stride = u16::try_from(byte_classes.alphabet_len().saturating_sub(1).max(1)).ok()?;
        let table: Box<[u16; TABLE]> = vec![UNKNOWN; TABLE].into_boxed_slice().try_into().ok()?;
        let cache = Cache::new(dfa);
        let clears = cache.clear_count();
        let mut lanes = Self {
            cache,
            classes,
            stride,
            table,
            states: Vec::new(),
            rows: HashMap::new(),
            clears,
        };
        lanes.reset();
        Some(lanes)
    }

    fn marked(&self) -> u16 {
        self.stride
    }

    fn dead(&self) -> u16 {
        2 * self.stride
    }

    /// Where the table holds the transition from `state` on `byte`.
    #[inline(always)]
    fn slot(&self, state: u16, byte: u8) -> usize {
        let class = self.classes.get(usize::from(byte)).copied().unwrap_or_default();
        usize::from(state) + usize::from(class)
    }

    /// Forgets every copied row (the special rows stay).
    fn reset(&mut self) {
        let stride = usize::from(self.stride);
        let used = self.states.len().max(3).saturating_mul(stride);
        if let Some(rows) = self.table.get_mut(..used.min(TABLE)) {
            rows.fill(UNKNOWN);
        }
        let (marked, dead) = (self.marked(), self.dead());
        if let Some(row) = self.table.get_mut(stride..2 * stride) {
            row.fill(marked);
        }
        if let Some(row) = self.table.get_mut(2 * stride..3 * stride) {
            row.fill(dead);
        }
        self.states.clear();
        self.states.resize(3, LazyStateID::default());
        self.rows.clear();
        self.clears = self.cache.clear_count();
    }

    /// The lazy DFA's state a row stands for; `None` for the special rows.
    fn state_of(&self, row: u16) -> Option<LazyStateID> {
        let index = usize::from(row / self.stride);
        if index < 3 {
            return None;
        }
        self.states.get(index).copied()
    }

    /// The row standing for the lazy DFA's `state`, added if new.
    fn row(&mut self, state: LazyStateID) -> Result<u16, Stop> {
        if self.cache.clear_count() != self.clears {
            return Err(Stop::Lost);
        }
        if state.is_match() || state.is_quit() {
            // Quit: a byte the DFA gives up on; unknown then, so the region is searched.
            return Ok(self.marked());
        }
        if state.is_dead() {
            return Ok(self.dead());
        }
        if state.is_tagged() {
            return Err(Stop::Lost);
        }
        if let Some(&row) = self.rows.get(&state) {
            return Ok(row);
        }
        let start = self.states.len() * usize::from(self.stride);
        let row = u16::try_from(start).map_err(|_| Stop::Full)?;
        if start + usize::from(self.stride) > ROWS_END {
            return Err(Stop::Full);
        }
        self.states.push(state);
        self.rows.insert(state, row);
        Ok(row)
    }

    /// The state after `bytes` from `state`, copying the transitions not copied yet.
    fn walk(&mut self, dfa: &DFA, mut state: u16, bytes: &[u8]) -> Result<u16, Stop> {
        for &byte in bytes {
            if state == self.marked() {
                break;
            }
            let slot = self.slot(state, byte);
            let next = self.table.get(slot).copied().unwrap_or(UNKNOWN);
            state = if next != UNKNOWN {
                next
            } else {
                let from = self.state_of(state).ok_or(Stop::Lost)?;
                let to = dfa
                    .next_state(&mut self.cache, from, byte)
                    .map_err(|_| Stop::Lost)?;
                let row = self.row(to)?;
                if let Some(entry) = self.table.get_mut(slot) {
                    *entry = row;
                }
                row
            };
        }
        Ok(state)
    }

    /// Forgets every row but those of `held` (rows renumbered in place; `UNKNOWN` stays).
    fn renumber(&mut self, held: &mut [u16]) -> Result<(), Stop> {
        let states: Vec<Option<LazyStateID>> = held.iter().map(|&row| self.state_of(row)).collect();
        self.reset();
        for (row, state) in held.iter_mut().zip(states) {
            if let Some(state) = state {
                *row = self.row(state)?;
            }
        }
        Ok(())
    }

    /// Whether a match ends by the end of a window that ends at `end` in `data`, from its last
    /// state: a DFA sees a match one byte late, so the byte after the window (or the end of the
    /// input) is stepped too.
    fn matched(&mut self, dfa: &DFA, state: u16, data: &[u8], end: usize) -> Result<bool, Stop> {
        if state == self.marked() {
            return Ok(true);
        }
        if state == self.dead() {
            return Ok(false);
        }
        if self.cache.clear_count() != self.clears {
            return Err(Stop::Lost);
        }
        let from = self.state_of(state).ok_or(Stop::Lost)?;
        let to = match data.get(end) {
            Some(&byte) => dfa.next_state(&mut self.cache, from, byte),
            None => dfa.next_eoi_state(&mut self.cache, from),
        }
        .map_err(|_| Stop::Lost)?;
        Ok(to.is_match() || to.is_quit())
    }
}

impl Streams {
    pub(crate) fn new(dfa: DFA) -> Self {
        let maker = dfa.clone();
        let make: LanesMaker = Box::new(move || match Lanes::new(&maker) {
            Some(lanes) => lanes,
            None => unreachable!("a DFA has at most 257 classes"),
        });
        Self {
            dfa,
            caches: Pool::new(make),
        }
    }

    /// Whether each window (the region at `starts[i]` and the overlap past it, a slice of `data`)
    /// holds a match, or `None` when the lazy DFA gave up or cleared its cache meanwhile.
    pub(crate) fn sweep<const R: usize>(
        &self,
        data: &[u8],
        starts: &[usize; R],
        windows: [&[u8]; R],
    ) -> Option<[bool; R]> {
        let dfa = &self.dfa;
        let mut pooled = self.caches.get();
        let lanes: &mut Lanes = &mut pooled;
        let found = sweep(lanes, dfa, data, starts, windows);
        if found.is_none() {
            lanes.reset();
        }
        found
    }
}

fn sweep<const R: usize>(
    lanes: &mut Lanes,
    dfa: &DFA,
    data: &[u8],
    starts: &[usize; R],
    windows: [&[u8]; R],
) -> Option<[bool; R]> {
    if lanes.cache.clear_count() != lanes.clears {
        lanes.reset();
    }
    let mut starting = [LazyStateID::default(); R];
    for (state, &start) in starting.iter_mut().zip(starts) {
        *state = dfa
            .start_state_forward(&mut lanes.cache, &Input::new(data).range(start..))
            .ok()?;
    }
    let mut states = match rows(lanes, &starting) {
        Ok(states) => states,
        Err(Stop::Full) => {
            lanes.reset();
            rows(lanes, &starting).ok()?
        }
        Err(Stop::Lost) => return None,
    };
    let shortest = windows.iter().map(|window| window.len()).min().unwrap_or(0);
    let mut renumberings = 0;
    let mut done = 0;
    while done < shortest {
        let end = (done + BLOCK).min(shortest);
        let blocks = windows.map(|window| window.get(done..end).unwrap_or_default());
        let mut before = states;
        lockstep(lanes, &mut states, &blocks, end - done);
        // Each region left in the row not copied yet is walked again; a full table is emptied
        // once for a walk (a few times a sweep at most), keeping the rows of every region's state.
        let mut lane = 0;
        let mut renumbered = false;
        while let (Some(state), Some(&from), Some(&block)) =
            (states.get(lane), before.get(lane), blocks.get(lane))
        {
            if *state != UNKNOWN {
                lane += 1;
                continue;
            }
            match lanes.walk(dfa, from, block) {
                Ok(next) => {
                    if let Some(slot) = states.get_mut(lane) {
                        *slot = next;
                    }
                    lane += 1;
                    renumbered = false;
                }
                Err(Stop::Full) if !renumbered && renumberings < RENUMBERINGS => {
                    renumberings += 1;
                    let mut held: Vec<u16> = states.iter().chain(&before).copied().collect();
                    lanes.renumber(&mut held).ok()?;
                    let (now, then) = held.split_at(R);
                    states.copy_from_slice(now);
                    before.copy_from_slice(then);
                    renumbered = true;
                }
                Err(_) => return None,
            }
        }
        done = end;
    }
    let mut marks = [false; R];
    for lane in 0..R {
        let (Some(&window), Some(&start)) = (windows.get(lane), starts.get(lane)) else {
            return None;
        };
        let rest = window.get(shortest..).unwrap_or_default();
        let from = states.get(lane).copied()?;
        let state = match lanes.walk(dfa, from, rest) {
            Ok(state) => state,
            Err(Stop::Full) if renumberings < RENUMBERINGS => {
                renumberings += 1;
                let mut held = states.to_vec();
                lanes.renumber(&mut held).ok()?;
                states.copy_from_slice(&held);
                lanes.walk(dfa, states.get(lane).copied()?, rest).ok()?
            }
            Err(_) => return None,
        };
        if let Some(slot) = states.get_mut(lane) {
            *slot = state;
        }
        let mark = lanes.matched(dfa, state, data, start + window.len()).ok()?;
        if let Some(slot) = marks.get_mut(lane) {
            *slot = mark;
        }
    }
    (lanes.cache.clear_count() == lanes.clears).then_some(marks)
}

/// The rows of the lazy DFA's `states`.
fn rows<const R: usize>(lanes: &mut Lanes, states: &[LazyStateID; R]) -> Result<[u16; R], Stop> {
    let mut rows = [UNKNOWN; R];
    for (row, &state) in rows.iter_mut().zip(states) {
        *row = lanes.row(state)?;
    }
    Ok(rows)
}

/// Steps every region over its block (`length` bytes each) through the copied table alone.
#[inline(always)]
fn lockstep<const R: usize>(lanes: &Lanes, states: &mut [u16; R], blocks: &[&[u8]; R], length: usize) {
    let table: &[u16; TABLE] = &lanes.table;
    let mut exact: [&[u8]; R] = [&[]; R];
    for (slot, block) in exact.iter_mut().zip(blocks) {
        match block.get(..length) {
            Some(bytes) => *slot = bytes,
            None => {
                // Not a block of `length` bytes: every region is walked instead.
                *states = [UNKNOWN; R];
                return;
            }
        }
    }
    for index in 0..length {
        for (state, block) in states.iter_mut().zip(&exact) {
            let byte = block.get(index).copied().unwrap_or_default();
            *state = table.get(lanes.slot(*state, byte)).copied().unwrap_or(UNKNOWN);
        }
    }
}
