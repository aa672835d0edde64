//! The condition evaluator on arbitrary lowered conditions and requests: building refuses
//! or succeeds, never panics; evaluation never panics; a rule list's index finds what a
//! linear scan finds from any start; a regular expression translates or is refused.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use stockade_core::conditions::{Context, Item, Program, RuleList, SimpleRequest, regex};

#[derive(Debug, Arbitrary)]
struct Input {
    conditions: Vec<Vec<Item>>,
    requests: Vec<SimpleRequest>,
    start: u8,
    pattern: String,
}

fuzz_target!(|input: Input| {
    let _ = regex::compile(&input.pattern);
    let programs: Vec<Program> = input
        .conditions
        .iter()
        .filter_map(|items| Program::compile(items).ok())
        .collect();
    let Ok(list) = RuleList::new(programs) else {
        return;
    };
    for request in &input.requests {
        let ctx = Context::new(request);
        let start = usize::from(input.start % 8);
        assert_eq!(list.first_match(&ctx, start), list.first_match_linear(&ctx, start));
        for position in 0..list.len() {
            if let Some(program) = list.program(position) {
                let _ = program.matches(request);
            }
        }
    }
});
