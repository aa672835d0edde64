//! Detection: which rules a request fires, its score, and whether it is malicious.
//!
//! The rule pack is parsed and checked by the Python control plane and lowered here once per
//! configuration ([`Engine::new`]); a request is then inspected from borrowed text
//! ([`Engine::inspect`]) or from the native canonical request ([`Engine::inspect_request`]).
//!
//! - [`transforms`]: the `t:` functions applied before matching;
//! - [`parts`]: the values of a request each target reads (path forms, fields, body values);
//! - [`gate`]: one scan telling a clean value from one any rule could fire on;
//! - [`pattern`]: RE2 expressions read by the `regex` crate with RE2's meaning;
//! - [`sqli`], [`xss`], [`shell`]: the injection tokenisers;
//! - [`engine`]: grouping, matching and scoring.

pub mod engine;
mod entities;
pub mod gate;
mod json;
mod ladder;
pub mod parts;
pub mod pattern;
pub mod shell;
pub mod sqli;
mod sweep;
pub mod text;
pub mod transforms;
pub mod xss;

#[cfg(test)]
mod tests;

pub use engine::{
    Engine, Hit, Kind, ProfileSpec, RuleError, RuleSpec, Settings, Subject, Tokenisers, Verdict,
};
pub use parts::Target;
pub use transforms::Transform;
