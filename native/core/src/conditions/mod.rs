//! BFE's condition language, evaluated: every primitive with BFE's exact semantics.
//!
//! The Python side parses and checks a condition (one parser, one set of messages) and
//! lowers it into a list of [`Item`]s; [`Program::compile`] builds that list once per load
//! and [`Program::eval`] decides a request through a [`Context`], which derives what BFE
//! derives (host, port, query, cookies, folded case, the debug time) once per request. A
//! [`RuleList`] tries many conditions in order, with an index, and names the first that
//! matches.
//!
//! - [`lowered`]: the form the Python side hands over;
//! - [`view`]: [`ConditionRequest`], what conditions read from a request, and
//!   [`SimpleRequest`], a plain implementation;
//! - [`context`], [`program`], [`ruleset`], [`hints`]: evaluation and indexing;
//! - [`fold`], [`http`], [`jsonpath`], [`timespec`], [`hash`], [`regex`], [`matchers`]:
//!   Go's case folding, query and cookie parsing, gjson paths, BFE's time strings, BFE's
//!   hash buckets, Go's regular expressions, and the tests built from them.

pub mod context;
pub mod fold;
mod fold_table;
pub mod hash;
pub mod hints;
pub mod http;
pub mod jsonpath;
pub mod lowered;
mod matchers;
pub mod program;
#[cfg(test)]
mod proptests;
pub mod regex;
pub mod ruleset;
pub mod timespec;
pub mod view;

pub use context::Context;
pub use hints::Hints;
pub use lowered::{Address, Item, LowerError, Primitive, Source, Test};
pub use program::Program;
pub use ruleset::{IndexStats, RuleList};
pub use view::{ConditionRequest, SimpleRequest};
