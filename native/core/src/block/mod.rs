//! BFE's `mod_block` at run time: the host table, the rule lists and the counters.
//!
//! - [`hosts`]: which product a request belongs to, from its Host header;
//! - [`rules`]: every product's rules, tried `global` first, then the product's, the first
//!   decisive match winning (`CLOSE` or `ALLOW`), with BFE's exact counter increments;
//! - [`counters`]: the module's counters, as atomics that outlive any reload;
//! - [`table`]: the rules in force behind an atomic pointer swap, with the counters.
//!
//! Rule files are read and validated by the Python side (its messages name the file, the
//! product, the rule and the mistake with a caret); what reaches here is the lowered
//! conditions, the commands and the products.

pub mod counters;
pub mod hosts;
pub mod rules;
pub mod table;

pub use counters::{COUNTER_NAMES, Counters};
pub use hosts::{HostTable, Products};
pub use rules::{Command, GLOBAL, Outcome, ProductList, RuleSet};
pub use table::{BlockTable, Hit, Loaded, MAX_HITS, RequestRules, Snapshot};
