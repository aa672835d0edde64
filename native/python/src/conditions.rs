//! Conditions lowered by the Python side, built and evaluated natively.
//!
//! `stockade.conditions.lowering` describes the lowered form (a pre-order list of tuples);
//! [`items`] reads it into the core's [`Item`]s, refusing anything malformed with
//! `InvalidArgument` naming the item. [`Condition`] is one compiled condition, [`RuleIndex`]
//! an indexed list of them (the first that matches wins), for tests, benchmarks and the
//! rule lists of other modules; mod_block's tables are in `block.rs`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use stockade_core::conditions::{
    Address, ConditionRequest, Context, Item, Primitive, Program, RuleList, Source, Test,
};

use crate::errors::{guard, invalid_argument};
use crate::parts::{Visit, with_request};

struct Matches<'a>(&'a Program);

impl Visit for Matches<'_> {
    type Output = bool;
    fn visit<R: ConditionRequest + ?Sized>(self, request: &R) -> bool {
        self.0.matches(request)
    }
}

struct First<'a> {
    list: &'a RuleList,
    start: usize,
    linear: bool,
}

impl Visit for First<'_> {
    type Output = Option<usize>;
    fn visit<R: ConditionRequest + ?Sized>(self, request: &R) -> Option<usize> {
        let ctx = Context::new(request);
        if self.linear {
            self.list.first_match_linear(&ctx, self.start)
        } else {
            self.list.first_match(&ctx, self.start)
        }
    }
}

const ITEM_ACCEPTED: &str = "an item of stockade.conditions.lowering's form";

/// Text as the core reads it: a str as UTF-8 (undecodable bytes kept as their surrogate
/// escapes stood for), or bytes as they are.
pub fn text_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(text) = value.cast::<PyString>() {
        if let Ok(plain) = text.to_str() {
            return Ok(plain.as_bytes().to_vec());
        }
        let encoded = match text.call_method1("encode", ("utf-8", "surrogateescape")) {
            Ok(encoded) => encoded,
            Err(_) => text.call_method1("encode", ("utf-8", "surrogatepass"))?,
        };
        return Ok(encoded.cast_into::<PyBytes>()?.as_bytes().to_vec());
    }
    Ok(value.cast::<PyBytes>()?.as_bytes().to_vec())
}

/// A lowered condition's reading: each failure names the item.
struct Reader<'a, 'py> {
    py: Python<'py>,
    item: &'a Bound<'py, PyAny>,
    position: usize,
}

impl<'py> Reader<'_, 'py> {
    fn refuse(&self, what: &str) -> PyErr {
        invalid_argument(
            self.py,
            &format!("lowered condition item {}", self.position),
            self.item,
            &format!("{ITEM_ACCEPTED} ({what})"),
        )
    }

    fn tuple(&self, value: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        let tuple = value.cast::<PyTuple>().map_err(|_| self.refuse("a tuple"))?;
        Ok(tuple.iter().collect())
    }

    fn kind(&self, parts: &[Bound<'py, PyAny>]) -> PyResult<String> {
        parts
            .first()
            .and_then(|first| first.extract::<String>().ok())
            .ok_or_else(|| self.refuse("a tuple whose first element names the kind"))
    }

    fn arg(&self, parts: &'_ [Bound<'py, PyAny>], at: usize) -> PyResult<Bound<'py, PyAny>> {
        parts
            .get(at)
            .cloned()
            .ok_or_else(|| self.refuse("a missing argument"))
    }

    fn count(&self, parts: &[Bound<'py, PyAny>], expected: usize) -> PyResult<()> {
        if parts.len() == expected {
            Ok(())
        } else {
            Err(self.refuse(&format!("{} arguments", expected.saturating_sub(1))))
        }
    }

    fn bytes(&self, value: &Bound<'py, PyAny>) -> PyResult<Vec<u8>> {
        text_bytes(value).map_err(|_| self.refuse("a str or bytes"))
    }

    fn strings(&self, value: &Bound<'py, PyAny>) -> PyResult<Vec<Vec<u8>>> {
        let list = value.cast::<PyList>().map_err(|_| self.refuse("a list of str"))?;
        list.iter().map(|entry| self.bytes(&entry)).collect()
    }

    fn flag(&self, value: &Bound<'py, PyAny>) -> PyResult<bool> {
        value.extract::<bool>().map_err(|_| self.refuse("a bool"))
    }

    fn int(&self, value: &Bound<'py, PyAny>) -> PyResult<i64> {
        value.extract::<i64>().map_err(|_| self.refuse("an int"))
    }

    fn ip(&self, value: &Bound<'py, PyAny>) -> PyResult<[u8; 16]> {
        let bytes = value.cast::<PyBytes>().map_err(|_| self.refuse("16 bytes"))?;
        <[u8; 16]>::try_from(bytes.as_bytes()).map_err(|_| self.refuse("16 bytes"))
    }

    fn ranges(&self, value: &Bound<'py, PyAny>) -> PyResult<Vec<(u16, u16)>> {
        value
            .extract::<Vec<(u16, u16)>>()
            .map_err(|_| self.refuse("a list of (start, end) buckets"))
    }

    fn address(&self, value: &Bound<'py, PyAny>) -> PyResult<Address> {
        match value.extract::<String>().as_deref() {
            Ok("client") => Ok(Address::Client),
            Ok("remote") => Ok(Address::Remote),
            Ok("vip") => Ok(Address::Vip),
            _ => Err(self.refuse("client, remote or vip")),
        }
    }

    fn source(&self, value: &Bound<'py, PyAny>) -> PyResult<Source> {
        let parts = self.tuple(value)?;
        let kind = self.kind(&parts)?;
        let simple = match kind.as_str() {
            "host" => Some(Source::Host),
            "path" => Some(Source::Path),
            "url" => Some(Source::Url),
            "port" => Some(Source::Port),
            "method" => Some(Source::Method),
            "protocol" => Some(Source::Protocol),
            "host_tag" => Some(Source::HostTag),
            "tls_sni" => Some(Source::TlsSni),
            "tls_client_ca" => Some(Source::TlsClientCa),
            "response_code" => Some(Source::ResponseCode),
            _ => None,
        };
        if let Some(source) = simple {
            self.count(&parts, 1)?;
            return Ok(source);
        }
        self.count(&parts, 2)?;
        let name = self.bytes(&self.arg(&parts, 1)?)?;
        Ok(match kind.as_str() {
            "header" => Source::Header(name),
            "query" => Source::Query(name),
            "cookie" => Source::Cookie(name),
            "body_json" => Source::BodyJson(name),
            "response_header" => Source::ResponseHeader(name),
            _ => return Err(self.refuse("a known source")),
        })
    }

    fn test(&self, value: &Bound<'py, PyAny>) -> PyResult<Test> {
        let parts = self.tuple(value)?;
        let kind = self.kind(&parts)?;
        match kind.as_str() {
            "exact" => {
                self.count(&parts, 2)?;
                return Ok(Test::Exact(self.bytes(&self.arg(&parts, 1)?)?));
            }
            "regex" => {
                self.count(&parts, 2)?;
                let pattern = self
                    .arg(&parts, 1)?
                    .extract::<String>()
                    .map_err(|_| self.refuse("a str"))?;
                return Ok(Test::Regex(pattern));
            }
            _ => {}
        }
        self.count(&parts, 3)?;
        let fold = self.flag(&self.arg(&parts, 1)?)?;
        let list = self.arg(&parts, 2)?;
        if kind == "hash" {
            return Ok(Test::Hash {
                fold,
                buckets: self.ranges(&list)?,
            });
        }
        let patterns = self.strings(&list)?;
        Ok(match kind.as_str() {
            "in" => Test::In { fold, patterns },
            "prefix" => Test::Prefix { fold, patterns },
            "suffix" => Test::Suffix { fold, patterns },
            "contain" => Test::Contain { fold, patterns },
            "element_prefix" => Test::ElementPrefix { fold, patterns },
            _ => return Err(self.refuse("a known test")),
        })
    }

    fn read(&self) -> PyResult<Item> {
        let parts = self.tuple(self.item)?;
        let kind = self.kind(&parts)?;
        let arg = |at: usize| self.arg(&parts, at);
        let arity = |count: usize| self.count(&parts, count + 1);
        let primitive = match kind.as_str() {
            "and" | "or" | "not" => {
                let operands = if kind == "not" {
                    arity(0)?;
                    return Ok(Item::Not);
                } else {
                    arity(1)?;
                    arg(1)?
                        .extract::<u32>()
                        .map_err(|_| self.refuse("a count of operands"))?
                };
                return Ok(if kind == "and" {
                    Item::And(operands)
                } else {
                    Item::Or(operands)
                });
            }
            "true" | "trusted" | "secure" | "tls_client_auth" | "query_exist" => {
                arity(0)?;
                match kind.as_str() {
                    "true" => Primitive::True,
                    "trusted" => Primitive::Trusted,
                    "secure" => Primitive::Secure,
                    "tls_client_auth" => Primitive::TlsClientAuth,
                    _ => Primitive::QueryExist,
                }
            }
            "match" => {
                arity(2)?;
                Primitive::Match(self.source(&arg(1)?)?, self.test(&arg(2)?)?)
            }
            "ip_range" => {
                arity(3)?;
                Primitive::IpRange(self.address(&arg(1)?)?, self.ip(&arg(2)?)?, self.ip(&arg(3)?)?)
            }
            "ip_in" => {
                arity(2)?;
                let list = arg(2)?;
                let list = list
                    .cast::<PyList>()
                    .map_err(|_| self.refuse("a list of 16 bytes"))?;
                let addresses = list
                    .iter()
                    .map(|entry| self.ip(&entry))
                    .collect::<PyResult<_>>()?;
                Primitive::IpIn(self.address(&arg(1)?)?, addresses)
            }
            "ip_hash" => {
                arity(2)?;
                Primitive::IpHash(self.address(&arg(1)?)?, self.ranges(&arg(2)?)?)
            }
            "header_key_in" => {
                arity(1)?;
                Primitive::HeaderKeyIn(self.strings(&arg(1)?)?)
            }
            "response_header_key_in" => {
                arity(1)?;
                Primitive::ResponseHeaderKeyIn(self.strings(&arg(1)?)?)
            }
            "query_key_in" => {
                arity(1)?;
                Primitive::QueryKeyIn(self.strings(&arg(1)?)?)
            }
            "query_key_prefix_in" => {
                arity(1)?;
                Primitive::QueryKeyPrefixIn(self.strings(&arg(1)?)?)
            }
            "cookie_key_in" => {
                arity(1)?;
                Primitive::CookieKeyIn(self.strings(&arg(1)?)?)
            }
            "tag_match" => {
                arity(2)?;
                Primitive::TagMatch(self.bytes(&arg(1)?)?, self.bytes(&arg(2)?)?)
            }
            "context_value_in" => {
                arity(2)?;
                Primitive::ContextValueIn(self.bytes(&arg(1)?)?, self.test(&arg(2)?)?)
            }
            "time_range" => {
                arity(2)?;
                Primitive::TimeRange(self.int(&arg(1)?)?, self.int(&arg(2)?)?)
            }
            "periodic_time_range" => {
                arity(3)?;
                Primitive::PeriodicTimeRange(self.int(&arg(1)?)?, self.int(&arg(2)?)?, self.int(&arg(3)?)?)
            }
            _ => return Err(self.refuse("a known kind")),
        };
        Ok(Item::Call(primitive))
    }
}

/// The core items of a lowered condition.
pub fn items(py: Python<'_>, lowered: &Bound<'_, PyAny>) -> PyResult<Vec<Item>> {
    let list = lowered
        .cast::<PyList>()
        .map_err(|_| invalid_argument(py, "lowered condition", lowered, "a list of items"))?;
    list.iter()
        .enumerate()
        .map(|(position, item)| {
            Reader {
                py,
                item: &item,
                position,
            }
            .read()
        })
        .collect()
}

/// A compiled program of a lowered condition; `InvalidArgument` if the list is not one.
pub fn program(py: Python<'_>, lowered: &Bound<'_, PyAny>) -> PyResult<Program> {
    let items = items(py, lowered)?;
    Program::compile(&items)
        .map_err(|error| invalid_argument(py, "lowered condition", lowered, &error.to_string()))
}

/// One condition, compiled natively (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct Condition {
    program: Program,
}

#[pymethods]
impl Condition {
    #[new]
    #[pyo3(signature = (lowered, /))]
    fn new(py: Python<'_>, lowered: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            Ok(Self {
                program: program(py, lowered)?,
            })
        })
    }

    /// Whether a request satisfies the condition.
    #[pyo3(signature = (request, /))]
    fn matches(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<bool> {
        guard(py, || with_request(request, Matches(&self.program)))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        guard(py, || {
            Ok(format!("<Condition of {} operations>", self.program.len()))
        })
    }
}

/// Conditions in order, indexed (see `_native.pyi`).
#[pyclass(frozen, module = "stockade._native")]
#[derive(Debug)]
pub struct RuleIndex {
    list: RuleList,
}

#[pymethods]
impl RuleIndex {
    #[new]
    #[pyo3(signature = (conditions, /))]
    fn new(py: Python<'_>, conditions: &Bound<'_, PyAny>) -> PyResult<Self> {
        guard(py, || {
            let programs = conditions
                .try_iter()?
                .map(|lowered| program(py, &lowered?))
                .collect::<PyResult<Vec<_>>>()?;
            let list = RuleList::new(programs)
                .map_err(|error| invalid_argument(py, "conditions", conditions, &error.to_string()))?;
            Ok(Self { list })
        })
    }

    /// The position of the first condition from `start` on that the request satisfies, by the index.
    #[pyo3(signature = (request, /, start = 0))]
    fn first_index(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        start: usize,
    ) -> PyResult<Option<usize>> {
        let visit = First {
            list: &self.list,
            start,
            linear: false,
        };
        guard(py, || with_request(request, visit))
    }

    /// The same by trying every condition in order (the reference for the index).
    #[pyo3(signature = (request, /, start = 0))]
    fn first_index_linear(
        &self,
        py: Python<'_>,
        request: &Bound<'_, PyAny>,
        start: usize,
    ) -> PyResult<Option<usize>> {
        let visit = First {
            list: &self.list,
            start,
            linear: true,
        };
        guard(py, || with_request(request, visit))
    }

    /// How many conditions the index files under each kind.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        guard(py, || crate::block::stats_dict(py, &self.list.stats()))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        guard(py, || Ok(self.list.len()))
    }
}

/// Why the native engine cannot run a regular expression (Go's syntax), or `None`.
#[pyfunction]
#[pyo3(signature = (pattern, /))]
pub fn regex_problem(py: Python<'_>, pattern: &str) -> PyResult<Option<String>> {
    guard(
        py,
        || Ok(stockade_core::conditions::regex::compile(pattern).err()),
    )
}

/// Go's `strings.ToUpper` (or `ToLower`) of text, as the native side folds it (for tests).
#[pyfunction]
#[pyo3(signature = (text, /, upper = true))]
pub fn _go_fold(py: Python<'_>, text: &Bound<'_, PyAny>, upper: bool) -> PyResult<Py<PyBytes>> {
    guard(py, || {
        let bytes = text_bytes(text)?;
        let folded = if upper {
            stockade_core::conditions::fold::go_upper(&bytes)
        } else {
            stockade_core::conditions::fold::go_lower(&bytes)
        };
        Ok(PyBytes::new(py, &folded).unbind())
    })
}

/// Evaluate `target` (a `Condition` or a `RuleIndex`) on a `NativeRequest` `repeat` times
/// in one native loop; the nanoseconds it took (benchmarks measure evaluation alone so).
#[pyfunction]
#[pyo3(signature = (target, request, repeat, /))]
pub fn _time_native(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    request: &Bound<'_, crate::parts::NativeRequest>,
    repeat: u64,
) -> PyResult<u128> {
    guard(py, || {
        let request = &request.get().request;
        let started = std::time::Instant::now();
        if let Ok(condition) = target.cast::<Condition>() {
            let program = &condition.get().program;
            for _ in 0..repeat {
                std::hint::black_box(program.matches(std::hint::black_box(request)));
            }
        } else {
            let index = target.cast::<RuleIndex>()?;
            let list = &index.get().list;
            for _ in 0..repeat {
                let ctx = Context::new(std::hint::black_box(request));
                std::hint::black_box(list.first_match(&ctx, 0));
            }
        }
        Ok(started.elapsed().as_nanos())
    })
}
