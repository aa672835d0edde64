//! mod_block's tables from Python: the rule sets, the table in force, the counters.
//!
//! The Python side reads and validates `block_rules.data` (every message is its own) and
//! builds a [`BlockRules`] from the result: per product, each rule's lowered condition, its
//! command and the `BlockDecision` object it answers with. [`BlockTable`] holds the rules
//! in force behind an atomic swap, and the [`BlockCounters`], which outlive any swap; its
//! `check_request` decides a request (a `NativeRequest`, or a Python request read part by
//! part) and answers with the matched rule's own decision object, or the table's PASS.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use stockade_core::block::{COUNTER_NAMES, Command, Counters, Loaded, Outcome, RuleSet};
use stockade_core::conditions::{ConditionRequest, IndexStats};

use crate::conditions::{program, text_bytes};
use crate::errors::{guard, invalid_argument};
use crate::parts::{Visit, with_request};

type Decisions = Vec<Py<PyAny>>;
/// How many rules an index files under each kind, as a dict.
pub fn stats_dict<'py>(py: Python<'py>, stats: &IndexStats) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (kind, count) in stats.named() {
        dict.set_item(kind, count)?;
    }
    Ok(dict)
}

/// mod_block's counters, shared by every table that counts into them (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug, Default)]
pub struct BlockCounters {
    counters: Arc<Counters>,
}

#[pymethods]
impl BlockCounters {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Every counter by its BFE name.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        guard(py, || {
            let snapshot = PyDict::new(py);
            for (name, value) in COUNTER_NAMES.iter().zip(self.counters.snapshot()) {
                snapshot.set_item(name, value)?;
            }
            Ok(snapshot)
        })
    }

    #[getter]
    fn conn_total(&self) -> u64 {
        self.counters.snapshot()[0]
    }
    #[getter]
    fn conn_accept(&self) -> u64 {
        self.counters.snapshot()[1]
    }
    #[getter]
    fn conn_refuse(&self) -> u64 {
        self.counters.snapshot()[2]
    }
    #[getter]
    fn req_total(&self) -> u64 {
        self.counters.snapshot()[3]
    }
    #[getter]
    fn req_accept(&self) -> u64 {
        self.counters.snapshot()[4]
    }
    #[getter]
    fn req_refuse(&self) -> u64 {
        self.counters.snapshot()[5]
    }
    #[getter]
    fn wrong_command(&self) -> u64 {
        self.counters.snapshot()[6]
    }
    #[getter]
    fn req_to_check(&self) -> u64 {
        self.counters.snapshot()[7]
    }

    /// Count one connection: `listed` (its peer is in the blocklist) means it is closed.
    #[pyo3(signature = (listed, /))]
    fn connection(&self, py: Python<'_>, listed: bool) -> PyResult<bool> {
        guard(py, || Ok(self.counters.connection(listed)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!("BlockCounters({})", self.snapshot(py)?.repr()?))
        })
    }
}

/// Every product's rules, built once from the Python side's rule set (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct BlockRules {
    loaded: Arc<Loaded<Decisions>>,
}

#[pymethods]
impl BlockRules {
    #[new]
    #[pyo3(signature = (products, /))]
    fn new(py: Python<'_>, products: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let mut lists = Vec::new();
            let mut decisions: Decisions = Vec::new();
            for entry in products.try_iter()? {
                let (product, rules): (Bound<'_, PyAny>, Bound<'_, PyAny>) = entry?.extract()?;
                let mut list = Vec::new();
                for rule in rules.try_iter()? {
                    let rule = rule?;
                    let (lowered, command, decision): (Bound<'_, PyAny>, String, Bound<'_, PyAny>) =
                        rule.extract().map_err(|_| {
                            invalid_argument(py, "rule", &rule, "a (lowered, command, decision) tuple")
                        })?;
                    let command = match command.as_str() {
                        "CLOSE" => Command::Close,
                        "ALLOW" => Command::Allow,
                        _ => Command::Other,
                    };
                    list.push((program(py, &lowered)?, command));
                    decisions.push(decision.unbind());
                }
                lists.push((text_bytes(&product)?, list));
            }
            let rules = RuleSet::new(lists)
                .map_err(|error| invalid_argument(py, "products", products, &error.to_string()))?;
            Ok(Self {
                loaded: Arc::new(Loaded {
                    rules,
                    extra: decisions,
                }),
            })
        })
    }

    /// How many rules the index of a product's list files under each kind, or `None`
    /// without that product.
    #[pyo3(signature = (product, /))]
    fn index_stats<'py>(
        &self,
        py: Python<'py>,
        product: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        guard(py, || {
            let stats = self.loaded.rules.index_stats(&text_bytes(product)?);
            stats.map(|stats| stats_dict(py, &stats)).transpose()
        })
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        guard(py, || Ok(self.loaded.rules.len()))
    }
}

struct Check<'a> {
    rules: &'a RuleSet,
    product: Option<&'a [u8]>,
    counters: &'a Counters,
}

impl Visit for Check<'_> {
    type Output = Outcome;
    fn visit<R: ConditionRequest + ?Sized>(self, request: &R) -> Outcome {
        self.rules.check(request, self.product, self.counters)
    }
}

/// The rules in force and the counters (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct BlockTable {
    pub table: Arc<stockade_core::block::BlockTable<Decisions>>,
    counters: Py<BlockCounters>,
    pass_decision: Py<PyAny>,
}

#[pymethods]
impl BlockTable {
    #[new]
    #[pyo3(signature = (rules, counters, pass_decision, /))]
    fn new(
        py: Python<'_>,
        rules: &Bound<'_, BlockRules>,
        counters: &Bound<'_, BlockCounters>,
        pass_decision: Py<PyAny>,
    ) -> PyResult<Self> {
        guard(py, || {
            let shared = Arc::clone(&counters.get().counters);
            Ok(Self {
                table: Arc::new(stockade_core::block::BlockTable::new(
                    Arc::clone(&rules.get().loaded),
                    shared,
                )),
                counters: counters.clone().unbind(),
                pass_decision,
            })
        })
    }

    /// Put other rules in force (one atomic swap).
    #[pyo3(signature = (rules, /))]
    fn set_rules(&self, py: Python<'_>, rules: &Bound<'_, BlockRules>) -> PyResult<()> {
        guard(py, || {
            self.table.swap(Arc::clone(&rules.get().loaded));
            Ok(())
        })
    }

    /// The decision object for a request of `product` (`None`: only the global rules apply).
    #[pyo3(signature = (request, product, /))]
    fn check_request(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        product: Option<&Bound<'_, PyString>>,
    ) -> PyResult<Py<PyAny>> {
        guard(py, || {
            let owned;
            let product: Option<&[u8]> = match product {
                None => None,
                Some(text) => match text.to_str() {
                    Ok(plain) => Some(plain.as_bytes()),
                    Err(_) => {
                        owned = text_bytes(text.as_any())?;
                        Some(owned.as_slice())
                    }
                },
            };
            let loaded = self.table.load();
            let check = Check {
                rules: &loaded.rules,
                product,
                counters: self.table.counters(),
            };
            let outcome = with_request(request, check)?;
            let rule = match outcome {
                Outcome::Pass(None) => return Ok(self.pass_decision.clone_ref(py)),
                Outcome::Pass(Some(rule)) | Outcome::Allow(rule) | Outcome::Close(rule) => rule,
            };
            match loaded.extra.get(rule as usize) {
                Some(decision) => Ok(decision.clone_ref(py)),
                None => Ok(self.pass_decision.clone_ref(py)),
            }
        })
    }

    /// The rules that matched requests the native front decided, in order: `(decision,
    /// closed)` each, taken (the Python side names them in its metrics).
    fn take_hits<'py>(&self, py: Python<'py>) -> PyResult<Vec<(Py<PyAny>, bool)>> {
        guard(py, || {
            let hits = self.table.take_hits();
            Ok(hits
                .iter()
                .filter_map(|hit| {
                    let decision = hit.loaded.extra.get(hit.rule as usize)?;
                    Some((decision.clone_ref(py), hit.closed))
                })
                .collect())
        })
    }

    /// Count one connection (`listed`: its peer is in the blocklist); True if it is closed.
    #[pyo3(signature = (listed, /))]
    fn check_connection(&self, py: Python<'_>, listed: bool) -> PyResult<bool> {
        guard(py, || Ok(self.table.check_connection(listed)))
    }

    /// The counters this table counts into.
    #[getter]
    fn counters(&self, py: Python<'_>) -> Py<BlockCounters> {
        self.counters.clone_ref(py)
    }
}
