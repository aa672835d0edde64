//! `stockade._native`: the module maturin builds. It only assembles the module; each
//! concern lives in its own file, and `errors` is the one place where Rust errors and
//! panics become Python exceptions.

mod asgi;
mod asgi_middleware;
mod block;
mod blocklist;
mod canonical;
mod client_ip;
mod conditions;
mod decision;
mod detection;
mod errors;
mod front;
mod front_request;
mod headers;
mod hosts;
mod ipset;
mod ladder;
mod parts;
mod replay;
mod text;
mod wsgi;

use pyo3::prelude::*;

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<ipset::IPSet>()?;
    module.add_function(wrap_pyfunction!(blocklist::parse_ip_blocklist, module)?)?;
    module.add_class::<conditions::Condition>()?;
    module.add_class::<conditions::RuleIndex>()?;
    module.add_class::<parts::NativeRequest>()?;
    module.add_class::<front_request::CanonicalRequest>()?;
    module.add_class::<block::BlockCounters>()?;
    module.add_class::<block::BlockRules>()?;
    module.add_class::<block::BlockTable>()?;
    module.add_class::<hosts::HostTable>()?;
    module.add_function(wrap_pyfunction!(conditions::regex_problem, module)?)?;
    module.add_function(wrap_pyfunction!(conditions::_go_fold, module)?)?;
    module.add_function(wrap_pyfunction!(conditions::_time_native, module)?)?;
    module.add_class::<detection::DetectionEngine>()?;
    module.add_class::<detection::DetectionTokenisers>()?;
    module.add_function(wrap_pyfunction!(detection::detection_pattern_problem, module)?)?;
    module.add_class::<canonical::Canonicalizer>()?;
    module.add_class::<client_ip::ClientIp>()?;
    module.add_function(wrap_pyfunction!(canonical::py_canonical_path, module)?)?;
    module.add_function(wrap_pyfunction!(canonical::py_canonical_decoded_path, module)?)?;
    module.add_function(wrap_pyfunction!(canonical::py_canonical_host, module)?)?;
    module.add_function(wrap_pyfunction!(canonical::py_canonical_headers, module)?)?;
    module.add_function(wrap_pyfunction!(canonical::py_proxy_only, module)?)?;
    module.add_function(wrap_pyfunction!(canonical::proxy_only_headers, module)?)?;
    module.add_class::<ladder::BanTable>()?;
    module.add_class::<ladder::NativeLadder>()?;
    module.add_class::<asgi_middleware::AsgiMiddleware>()?;
    module.add_class::<replay::ReplayLog>()?;
    module.add_function(wrap_pyfunction!(replay::replay_log_time, module)?)?;
    module.add_class::<front::BoundSocket>()?;
    module.add_class::<front::FrontSite>()?;
    module.add_class::<front::ListenerOptions>()?;
    module.add_class::<front::NativeFront>()?;
    module.add_class::<front::Request>()?;
    module.add_function(wrap_pyfunction!(front::bind_socket, module)?)?;
    module.add_function(wrap_pyfunction!(decision::describe_check, module)?)?;
    module.add_function(wrap_pyfunction!(errors::_panic, module)?)?;
    Ok(())
}
