//! The ASGI middleware's entry point: `stockade.adapters.asgi.StockadeMiddleware` is a
//! Python subclass of [`AsgiMiddleware`], whose `__call__` decides a clean `http` request
//! without a Python frame.
//!
//! An ASGI server awaits whatever `app(scope, receive, send)` returns. For a clean request
//! that the native ladder passes, `__call__` does the whole middleware's work here (the
//! other processes' catch-up, at most once a millisecond; the native decision, the scope
//! made canonical; the scope's four entries) and returns the wrapped app's own awaitable,
//! so no coroutine of the middleware runs. Everything else returns one of the Python
//! middleware's coroutines: `_slow` (the whole Python middleware: lifespan, websocket, a
//! scope that is no `dict` or was checked already, no native ladder yet, a reloaded
//! blocklist), `_python` (the native ladder handed the request on: the Python ladder
//! decides it from the start) or `_banned` (the answer of a banned client). One ladder:
//! the native one is the same [`NativeLadder`] the Python middleware calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use pyo3::PyTraverseError;
use pyo3::gc::PyVisit;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::asgi;
use crate::errors::guard;
use crate::ladder::{NativeLadder, Step, now};

/// How often, at most, other processes' changes are brought into the ban view (the SQLite
/// store's own pace).
const CATCH_UP_EVERY: Duration = Duration::from_millis(1);

/// What the armed middleware holds: set when the guard opens (and when a reloaded
/// blocklist rebuilds the native ladder), dropped when it closes.
#[derive(Debug)]
struct Armed {
    /// The wrapped application.
    app: Py<PyAny>,
    ladder: Py<NativeLadder>,
    /// The scope's `stockade.guard` and `stockade.protection`.
    guard: Py<PyAny>,
    protection: Py<PyAny>,
    /// The store's catch-up (`None`: nothing to catch up with).
    catch_up: Option<Py<PyAny>>,
    /// mod_block's table and the blocklist the ladder was built with: when the table holds
    /// another one, the Python middleware rebuilds the ladder.
    table: Option<Py<PyAny>>,
    blocklist: Py<PyAny>,
}

/// The native part of the ASGI middleware (see `_native.pyi`).
#[pyclass(frozen, subclass, module = "stockade._native")]
#[derive(Debug)]
pub struct AsgiMiddleware {
    armed: ArcSwapOption<Armed>,
    /// When the next catch-up is due, in nanoseconds since [`started`].
    next_catch_up: AtomicU64,
}

/// What `__call__` made of a request.
enum Route<'py> {
    /// Passed: the wrapped app's awaitable.
    App(Bound<'py, PyAny>),
    /// The whole Python middleware (`_slow`).
    Slow,
    /// The Python ladder decides it from the start (`_python`); the scope is marked checked.
    Python,
    /// A banned client: `(status, headers, body)` for `_banned`.
    Banned(Bound<'py, PyAny>),
}

fn started() -> Instant {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    *STARTED.get_or_init(Instant::now)
}

/// Nanoseconds since [`started`] (saturating: a process does not live 584 years).
fn monotonic_nanos() -> u64 {
    u64::try_from(started().elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Whether `value` is the text `expected` (an interned string: the same object, usually).
fn is_text(value: &Bound<'_, PyAny>, expected: &Bound<'_, PyString>) -> bool {
    value.is(expected)
        || value.cast::<PyString>().is_ok_and(|text| {
            text.to_str()
                .is_ok_and(|text| expected.to_str().is_ok_and(|e| e == text))
        })
}

impl AsgiMiddleware {
    fn route<'py>(
        &self,
        py: Python<'py>,
        scope: &Bound<'py, PyAny>,
        receive: &Bound<'py, PyAny>,
        send: &Bound<'py, PyAny>,
    ) -> PyResult<Route<'py>> {
        let Ok(scope) = scope.cast_exact::<PyDict>() else {
            return Ok(Route::Slow);
        };
        match scope.get_item(intern!(py, "type"))? {
            Some(kind) if is_text(&kind, intern!(py, "http")) => {}
            _ => return Ok(Route::Slow),
        }
        let checked = intern!(py, "stockade.checked");
        if let Some(mark) = scope.get_item(checked)?
            && mark.is_truthy()?
        {
            return Ok(Route::Slow);
        }
        let Some(armed) = self.armed.load_full() else {
            return Ok(Route::Slow);
        };
        if let Some(table) = &armed.table
            && !table
                .bind(py)
                .getattr(intern!(py, "blocklist"))?
                .is(&armed.blocklist)
        {
            return Ok(Route::Slow);
        }
        self.catch_up(py, &armed)?;
        scope.set_item(checked, true)?;
        let ladder = armed.ladder.get();
        let now = now();
        let outcome = asgi::decide(
            &ladder.site.canonicalizer,
            &ladder.addresses,
            py,
            scope,
            |request, connection| ladder.step(request, connection, now),
        )?;
        let step = outcome.as_ref().map(|(step, _)| *step);
        let answer = ladder.answer(py, outcome)?;
        Ok(match step {
            Some(Step::Pass) if !answer.is_none() => {
                scope.set_item(intern!(py, "stockade.guard"), armed.guard.bind(py))?;
                scope.set_item(intern!(py, "stockade.client"), answer)?;
                scope.set_item(intern!(py, "stockade.protection"), armed.protection.bind(py))?;
                Route::App(armed.app.bind(py).call1((scope, receive, send))?)
            }
            Some(Step::Banned(_)) => Route::Banned(answer),
            _ => Route::Python,
        })
    }

    /// The store's catch-up, if one is due.
    fn catch_up(&self, py: Python<'_>, armed: &Armed) -> PyResult<()> {
        let Some(catch_up) = &armed.catch_up else {
            return Ok(());
        };
        let nanos = monotonic_nanos();
        if nanos < self.next_catch_up.load(Ordering::Relaxed) {
            return Ok(());
        }
        let pace = u64::try_from(CATCH_UP_EVERY.as_nanos()).unwrap_or(u64::MAX);
        self.next_catch_up
            .store(nanos.saturating_add(pace), Ordering::Relaxed);
        catch_up.bind(py).call0()?;
        Ok(())
    }
}

#[pymethods]
impl AsgiMiddleware {
    /// Any arguments: the Python subclass's `__init__` reads them.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self {
            armed: ArcSwapOption::empty(),
            next_catch_up: AtomicU64::new(0),
        }
    }

    /// Decide clean requests natively from now on (see `_native.pyi`).
    #[pyo3(signature = (*, app, ladder, guard, protection, catch_up, table, blocklist))]
    #[allow(
        clippy::too_many_arguments,
        reason = "the keyword arguments of one Python method"
    )]
    fn _arm(
        &self,
        app: Py<PyAny>,
        ladder: Py<NativeLadder>,
        guard: Py<PyAny>,
        protection: Py<PyAny>,
        catch_up: Option<Py<PyAny>>,
        table: Option<Py<PyAny>>,
        blocklist: Py<PyAny>,
    ) {
        self.armed.store(Some(Arc::new(Armed {
            app,
            ladder,
            guard,
            protection,
            catch_up,
            table,
            blocklist,
        })));
    }

    /// Send every request to the Python middleware (the guard closed, or no native ladder).
    fn _disarm(&self) {
        self.armed.store(None);
    }

    /// Whether clean requests are decided natively.
    #[getter]
    fn _armed(&self) -> bool {
        self.armed.load().is_some()
    }

    fn __call__<'py>(
        slf: &Bound<'py, Self>,
        scope: &Bound<'py, PyAny>,
        receive: &Bound<'py, PyAny>,
        send: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        guard(py, || {
            let method = match slf.get().route(py, scope, receive, send)? {
                Route::App(awaitable) => return Ok(awaitable),
                Route::Banned(answer) => {
                    return slf.call_method1(intern!(py, "_banned"), (scope, send, answer));
                }
                Route::Slow => intern!(py, "_slow"),
                Route::Python => intern!(py, "_python"),
            };
            slf.call_method1(method, (scope, receive, send))
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(armed) = &*self.armed.load() {
            visit.call(&armed.app)?;
            visit.call(&armed.ladder)?;
            visit.call(&armed.guard)?;
            visit.call(&armed.protection)?;
            visit.call(&armed.catch_up)?;
            visit.call(&armed.table)?;
            visit.call(&armed.blocklist)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.armed.store(None);
    }
}
