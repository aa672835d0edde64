//! `stockade._native`: the module maturin builds. It only assembles the module; each
//! concern lives in its own file, and `errors` is the one place where Rust errors and
//! panics become Python exceptions.

mod blocklist;
mod errors;
mod front;
mod ipset;

use pyo3::prelude::*;

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<ipset::IPSet>()?;
    module.add_function(wrap_pyfunction!(blocklist::parse_ip_blocklist, module)?)?;
    module.add_class::<front::BoundSocket>()?;
    module.add_class::<front::FrontSite>()?;
    module.add_class::<front::ListenerOptions>()?;
    module.add_class::<front::NativeFront>()?;
    module.add_class::<front::Request>()?;
    module.add_function(wrap_pyfunction!(front::bind_socket, module)?)?;
    module.add_function(wrap_pyfunction!(errors::_panic, module)?)?;
    Ok(())
}
