//! Every product's rules and the request check, as BFE's `productBlockHandler` runs them.
//!
//! The `global` list runs first, then the product's, each in file order with its index;
//! the first decisive match wins: `ALLOW` counts `REQ_ACCEPT` and ends mod_block's
//! processing, `CLOSE` counts `REQ_REFUSE` and closes the connection. A matched rule with
//! any other command (only rules made in code have one) counts `WRONG_COMMAND`, leaves its
//! name as the request's block info, and the search goes on. A request whose product has
//! no list, and which no global rule decided, counts only in `REQ_TOTAL`; a product with
//! an empty list counts `REQ_ACCEPT` when nothing matched. A request without a product
//! (`None`) meets the `global` rules (a deliberate difference from BFE, which refuses it
//! before mod_block runs), counted as a request of a product without rules.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::counters::{Counters, bump};
use crate::conditions::{ConditionRequest, Context, LowerError, Program, RuleList};

/// The product whose rules run before every product's.
pub const GLOBAL: &[u8] = b"global";

/// One product's rules, in order: each condition with its command.
pub type ProductList = Vec<(Program, Command)>;

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Close,
    Allow,
    /// Anything else (rules made in code): counted as `WRONG_COMMAND`, then ignored.
    Other,
}

/// What mod_block decided; rules are numbered over the whole set, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No rule decided; the rule a request's block info names (a matched rule with an
    /// unknown command), if any.
    Pass(Option<u32>),
    /// An `ALLOW` rule matched.
    Allow(u32),
    /// A `CLOSE` rule matched.
    Close(u32),
}

/// One product's rules.
#[derive(Debug, Clone)]
struct Rules {
    list: RuleList,
    commands: Vec<Command>,
    first: u32,
}

/// Every product's rules, as one immutable value that a reload replaces whole.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    products: HashMap<Vec<u8>, Rules, RandomState>,
    count: u32,
}

impl RuleSet {
    /// The rules of each product, numbered over the whole set in the order given.
    pub fn new(products: Vec<(Vec<u8>, ProductList)>) -> Result<Self, LowerError> {
        let mut set = RuleSet::default();
        for (product, rules) in products {
            let first = set.count;
            let size = u32::try_from(rules.len()).ok();
            set.count = size
                .and_then(|size| first.checked_add(size))
                .ok_or_else(|| LowerError {
                    item: 0,
                    problem: "too many rules".to_owned(),
                })?;
            let (programs, commands): (Vec<Program>, Vec<Command>) = rules.into_iter().unzip();
            let list = RuleList::new(programs)?;
            set.products.insert(
                product,
                Rules {
                    list,
                    commands,
                    first,
                },
            );
        }
        Ok(set)
    }

    /// How many rules there are over all products.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a product has a list (an empty one included).
    pub fn has_product(&self, product: &[u8]) -> bool {
        self.products.contains_key(product)
    }

    /// The index statistics of a product's list.
    pub fn index_stats(&self, product: &[u8]) -> Option<crate::conditions::IndexStats> {
        self.products.get(product).map(|rules| rules.list.stats())
    }

    /// The decision for a request of `product`, counted.
    pub fn check<R: ConditionRequest + ?Sized>(
        &self,
        request: &R,
        product: Option<&[u8]>,
        counters: &Counters,
    ) -> Outcome {
        bump(&counters.req_total);
        let shared = self.products.get(GLOBAL);
        let own = product.and_then(|product| self.products.get(product));
        if shared.is_none() && own.is_none() {
            return Outcome::Pass(None);
        }
        bump(&counters.req_to_check);
        let ctx = Context::new(request);
        let mut info = None;
        if let Some(rules) = shared {
            if let Some(outcome) = process(rules, &ctx, counters, &mut info) {
                return outcome;
            }
        }
        let Some(rules) = own else {
            return Outcome::Pass(info); // BFE returns here without counting REQ_ACCEPT
        };
        if let Some(outcome) = process(rules, &ctx, counters, &mut info) {
            return outcome;
        }
        bump(&counters.req_accept);
        Outcome::Pass(info)
    }
}

/// The first decisive match of one list, counted; `info` keeps the last matched rule with
/// an unknown command.
fn process<R: ConditionRequest + ?Sized>(
    rules: &Rules,
    ctx: &Context<'_, R>,
    counters: &Counters,
    info: &mut Option<u32>,
) -> Option<Outcome> {
    let mut start = 0;
    while let Some(position) = rules.list.first_match(ctx, start) {
        let id = rules.first + position as u32;
        match rules.commands.get(position).copied().unwrap_or(Command::Other) {
            Command::Allow => {
                bump(&counters.req_accept);
                return Some(Outcome::Allow(id));
            }
            Command::Close => {
                bump(&counters.req_refuse);
                return Some(Outcome::Close(id));
            }
            Command::Other => {
                bump(&counters.wrong_command);
                *info = Some(id);
                start = position + 1;
            }
        }
    }
    None
}
