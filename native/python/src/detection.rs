//! Detection across the boundary: the rules Python lowered, compiled once per configuration
//! into a native engine that inspects requests.
//!
//! Python keeps the rule pack (parsing, checks, settings, `detect explain`); it lowers the
//! active rules into plain tuples once ([`DetectionEngine::new`]) and asks for verdicts with
//! the request's text ([`DetectionEngine::inspect`]). A verdict crosses back as the score,
//! the hits as `(rule index, target, value)` and the uninspected byte count; Python builds
//! its `Verdict` objects from them.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use stockade_core::detection::{
    Engine, Kind, ProfileSpec, RuleError, RuleSpec, Settings, Subject, Target, Tokenisers, Transform,
};

use crate::errors::guard;

/// A rule as Python lowers it: id, pattern, match kind, targets, transforms, score, probe, anchors.
type LoweredRule = (
    String,
    String,
    String,
    Vec<String>,
    Vec<String>,
    i64,
    bool,
    Vec<String>,
);
/// A site profile as Python lowers it: prefixes, files, pattern.
type LoweredProfile = (Vec<String>, Vec<String>, String);

fn config_error(py: Python<'_>, error: &RuleError, pattern: Option<&str>) -> PyErr {
    let made = (|| {
        let errors = py.import("stockade.errors")?;
        let (path, value): (String, Option<&str>) = if error.rule.is_empty() {
            ("detection".to_owned(), None)
        } else {
            (
                format!("rule {:?}.pattern", error.rule).replace('"', "'"),
                pattern,
            )
        };
        let issue =
            errors
                .getattr("ConfigIssue")?
                .call1((path, error.message.clone(), value, value.is_some()))?;
        errors.getattr("ConfigError")?.call1((py.None(), vec![issue]))
    })();
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(error) => error,
    }
}

fn lower_rule(py: Python<'_>, rule: LoweredRule) -> PyResult<RuleSpec> {
    let (id, pattern, kind, targets, transforms, score, probe, anchors) = rule;
    let bad = |message: String| {
        config_error(
            py,
            &RuleError {
                rule: id.clone(),
                message,
            },
            None,
        )
    };
    let kind = Kind::named(&kind).ok_or_else(|| bad(format!("unknown match kind {kind:?}")))?;
    let targets = targets
        .iter()
        .map(|name| Target::named(name).ok_or_else(|| bad(format!("unknown target {name:?}"))))
        .collect::<PyResult<Vec<_>>>()?;
    let transforms = transforms
        .iter()
        .map(|name| Transform::named(name).ok_or_else(|| bad(format!("unknown transformation {name:?}"))))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(RuleSpec {
        id,
        pattern,
        kind,
        targets,
        transforms,
        score,
        probe,
        anchors,
    })
}

/// The detection rules of one configuration, compiled.
#[derive(Debug)]
#[pyclass(frozen, module = "stockade._native")]
pub struct DetectionEngine {
    pub engine: Arc<Engine>,
}

#[pymethods]
impl DetectionEngine {
    #[new]
    #[pyo3(signature = (rules, threshold, headers, profiles, body_limit, /))]
    fn new(
        py: Python<'_>,
        rules: Vec<LoweredRule>,
        threshold: i64,
        headers: Vec<String>,
        profiles: Vec<LoweredProfile>,
        body_limit: Option<usize>,
    ) -> PyResult<Self> {
        guard(py, || {
            let rules = rules
                .into_iter()
                .map(|rule| lower_rule(py, rule))
                .collect::<PyResult<Vec<_>>>()?;
            let patterns: Vec<(String, String)> =
                rules.iter().map(|r| (r.id.clone(), r.pattern.clone())).collect();
            let profiles = profiles
                .into_iter()
                .map(|(prefixes, files, pattern)| ProfileSpec {
                    prefixes,
                    files,
                    pattern,
                })
                .collect();
            let settings = Settings {
                threshold,
                headers,
                profiles,
                body_limit,
            };
            let engine = py.detach(|| Engine::new(rules, settings)).map_err(|error| {
                let pattern = patterns
                    .iter()
                    .find(|(id, _)| *id == error.rule)
                    .map(|(_, p)| p.as_str());
                config_error(py, &error, pattern)
            })?;
            Ok(Self {
                engine: Arc::new(engine),
            })
        })
    }

    /// `(score, hits, uninspected)` of a request; each hit is `(rule index, target, value)`.
    #[pyo3(signature = (method, path, raw_path, query, headers, content_type, body, uninspected, known_route, gated, /))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the request's parts, as the Python Request holds them"
    )]
    fn inspect<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        path: &str,
        raw_path: &str,
        query: &str,
        headers: &Bound<'py, PyTuple>,
        content_type: &str,
        body: &Bound<'py, PyBytes>,
        uninspected: u64,
        known_route: bool,
        gated: bool,
    ) -> PyResult<(i64, Bound<'py, PyList>, u64)> {
        guard(py, || {
            let mut pairs: Vec<(
                Bound<'py, pyo3::types::PyString>,
                Bound<'py, pyo3::types::PyString>,
            )> = Vec::with_capacity(headers.len());
            for item in headers.iter() {
                pairs.push(item.extract()?);
            }
            let texts: Vec<(&str, &str)> = {
                let mut out = Vec::with_capacity(pairs.len());
                for (name, value) in &pairs {
                    out.push((name.to_str()?, value.to_str()?));
                }
                out
            };
            let subject = Subject {
                method,
                path,
                raw_path,
                query,
                headers: texts,
                content_type,
                body: body.as_bytes(),
                uninspected,
            };
            let verdict = self.engine.inspect_with(&subject, known_route, gated);
            let hits = PyList::empty(py);
            for hit in &verdict.hits {
                hits.append((hit.rule, hit.target.name(), hit.value.as_str()))?;
            }
            Ok((verdict.score, hits, verdict.uninspected))
        })
    }

    /// Microseconds per [`Engine::inspect`] of one request, `count` times in a row, inside the
    /// native code (no boundary crossing): for `bench/detection_speed.py`, which measures what
    /// a native caller (the ladder) pays.
    #[pyo3(signature = (method, path, raw_path, query, headers, content_type, body, count, /))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the request's parts, as the Python Request holds them"
    )]
    fn _time_inspect(
        &self,
        py: Python<'_>,
        method: &str,
        path: &str,
        raw_path: &str,
        query: &str,
        headers: Vec<(String, String)>,
        content_type: &str,
        body: &[u8],
        count: u32,
    ) -> PyResult<f64> {
        guard(py, || {
            let subject = Subject {
                method,
                path,
                raw_path,
                query,
                headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
                content_type,
                body,
                uninspected: 0,
            };
            let started = std::time::Instant::now();
            for _ in 0..count {
                std::hint::black_box(self.engine.inspect(std::hint::black_box(&subject), false));
            }
            Ok(started.elapsed().as_secs_f64() * 1e6 / f64::from(count.max(1)))
        })
    }

    /// How many rules the engine holds.
    fn __len__(&self) -> usize {
        self.engine.rules().len()
    }
}

/// Why the native engine cannot compile a rule pattern (RE2 syntax), or `None`.
#[pyfunction]
#[pyo3(signature = (pattern, /))]
pub fn detection_pattern_problem(py: Python<'_>, pattern: &str) -> PyResult<Option<String>> {
    guard(py, || {
        let rule = RuleSpec {
            id: "pattern".to_owned(),
            pattern: pattern.to_owned(),
            kind: Kind::Regex,
            targets: vec![Target::Path],
            transforms: Vec::new(),
            score: 0,
            probe: false,
            anchors: Vec::new(),
        };
        let settings = Settings {
            threshold: 1,
            headers: Vec::new(),
            profiles: Vec::new(),
            body_limit: None,
        };
        Ok(Engine::new(vec![rule], settings).err().map(|error| error.message))
    })
}

/// The injection tokenisers and the transformations, one at a time (for the differential tests).
#[derive(Debug)]
#[pyclass(frozen, module = "stockade._native")]
pub struct DetectionTokenisers {
    tokenisers: Tokenisers,
}

#[pymethods]
impl DetectionTokenisers {
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        guard(py, || {
            let tokenisers = Tokenisers::new().map_err(|message| {
                config_error(
                    py,
                    &RuleError {
                        rule: String::new(),
                        message,
                    },
                    None,
                )
            })?;
            Ok(Self { tokenisers })
        })
    }

    #[pyo3(signature = (value, /))]
    fn is_sqli(&self, py: Python<'_>, value: &str) -> PyResult<bool> {
        guard(py, || Ok(self.tokenisers.sql.is_sqli(value)))
    }

    #[pyo3(signature = (value, /))]
    fn is_xss(&self, py: Python<'_>, value: &str) -> PyResult<bool> {
        guard(py, || Ok(self.tokenisers.xss.is_xss(value)))
    }

    #[pyo3(signature = (value, /))]
    fn script_context(&self, py: Python<'_>, value: &str) -> PyResult<bool> {
        guard(py, || Ok(self.tokenisers.xss.script_context(value)))
    }

    #[pyo3(signature = (value, /))]
    fn is_shell(&self, py: Python<'_>, value: &str) -> PyResult<bool> {
        guard(py, || Ok(self.tokenisers.shell.is_shell(value)))
    }

    #[pyo3(signature = (value, /))]
    fn is_shell_strict(&self, py: Python<'_>, value: &str) -> PyResult<bool> {
        guard(py, || Ok(self.tokenisers.shell.is_shell_strict(value)))
    }

    /// `text` after the transformation `name`.
    #[pyo3(signature = (name, text, /))]
    fn transform(&self, py: Python<'_>, name: &str, text: &str) -> PyResult<String> {
        guard(py, || match Transform::named(name) {
            Some(transform) => Ok(transform.apply(text).into_owned()),
            None => Err(pyo3::exceptions::PyValueError::new_err(format!(
                "unknown transformation {name:?}"
            ))),
        })
    }
}
