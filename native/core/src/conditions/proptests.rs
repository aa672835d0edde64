//! Property tests of compilation, evaluation and indexing over drawn trees and requests.
//!
//! - A compiled tree evaluates as the tree does, read recursively (each primitive alone,
//!   combined with `&&`, `||`, `!`): the jumps are right.
//! - Any list of items either compiles or is refused, never panics.
//! - A rule list's index finds what a linear scan finds, from any start.

use proptest::prelude::*;

use super::lowered::{Address, Item, Primitive, Source, Test};
use super::{Context, Program, RuleList, SimpleRequest};

const WORDS: &[&str] = &[
    "", "a", "A", "/a", "/ab", "x.com", "X.COM", "get", "POST", "k", "\u{212A}", "é", "sqlmap",
];

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(WORDS).prop_map(|w| w.as_bytes().to_vec())
}

fn words() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(word(), 1..4)
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Host),
        Just(Source::Path),
        Just(Source::Method),
        Just(Source::Url),
        Just(Source::Port),
        word().prop_map(Source::Header),
        word().prop_map(Source::Query),
        word().prop_map(Source::Cookie),
    ]
}

fn test() -> impl Strategy<Value = Test> {
    let fold = any::<bool>();
    prop_oneof![
        (fold, words()).prop_map(|(fold, patterns)| Test::In { fold, patterns }),
        (any::<bool>(), words()).prop_map(|(fold, patterns)| Test::Prefix { fold, patterns }),
        (any::<bool>(), words()).prop_map(|(fold, patterns)| Test::Suffix { fold, patterns }),
        (any::<bool>(), words()).prop_map(|(fold, patterns)| Test::Contain { fold, patterns }),
        (any::<bool>(), words()).prop_map(|(fold, patterns)| Test::ElementPrefix { fold, patterns }),
        prop::sample::select(&["(?i)sqlmap|nikto", "^/a", "b$", "a|x.com", "(?i)k"][..])
            .prop_map(|pattern| Test::Regex(pattern.to_owned())),
    ]
}

fn primitive() -> impl Strategy<Value = Primitive> {
    prop_oneof![
        4 => (source(), test()).prop_map(|(source, test)| Primitive::Match(source, test)),
        1 => Just(Primitive::True),
        1 => Just(Primitive::Secure),
        1 => words().prop_map(Primitive::HeaderKeyIn),
        1 => words().prop_map(Primitive::QueryKeyIn),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| {
            let (low, high) = (a.min(b), a.max(b));
            let mut first = [0u8; 16];
            let mut last = [0u8; 16];
            first[10] = 0xFF;
            first[11] = 0xFF;
            last[10] = 0xFF;
            last[11] = 0xFF;
            first[15] = low;
            last[15] = high;
            Primitive::IpRange(Address::Client, first, last)
        }),
    ]
}

/// A condition as a tree, for the recursive reference.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(Primitive),
    And(Vec<Tree>),
    Or(Vec<Tree>),
    Not(Box<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    primitive()
        .prop_map(Tree::Leaf)
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Tree::And),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Tree::Or),
                inner.prop_map(|tree| Tree::Not(Box::new(tree))),
            ]
        })
}

fn items(tree: &Tree, out: &mut Vec<Item>) {
    match tree {
        Tree::Leaf(primitive) => out.push(Item::Call(primitive.clone())),
        Tree::And(operands) | Tree::Or(operands) => {
            let count = u32::try_from(operands.len()).unwrap_or(u32::MAX);
            out.push(if matches!(tree, Tree::And(_)) {
                Item::And(count)
            } else {
                Item::Or(count)
            });
            for operand in operands {
                items(operand, out);
            }
        }
        Tree::Not(operand) => {
            out.push(Item::Not);
            items(operand, out);
        }
    }
}

fn compile(tree: &Tree) -> Option<Program> {
    let mut list = Vec::new();
    items(tree, &mut list);
    Program::compile(&list).ok()
}

fn reference(tree: &Tree, request: &SimpleRequest) -> Option<bool> {
    Some(match tree {
        Tree::Leaf(primitive) => Program::compile(&[Item::Call(primitive.clone())])
            .ok()?
            .matches(request),
        Tree::And(operands) => {
            let mut all = true;
            for operand in operands {
                all = all && reference(operand, request)?;
            }
            all
        }
        Tree::Or(operands) => {
            let mut any = false;
            for operand in operands {
                any = any || reference(operand, request)?;
            }
            any
        }
        Tree::Not(operand) => !reference(operand, request)?,
    })
}

fn request() -> impl Strategy<Value = SimpleRequest> {
    (
        word(),
        word(),
        word(),
        word(),
        prop::collection::vec((word(), word()), 0..3),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(method, host, path, query, headers, ip, secure)| {
            let mut client = [0u8; 16];
            client[10] = 0xFF;
            client[11] = 0xFF;
            client[15] = ip;
            SimpleRequest {
                method,
                host,
                url: path.clone(),
                path,
                query,
                headers,
                client_ip: Some(client),
                secure,
                ..SimpleRequest::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_compiled_tree_evaluates_as_the_tree(tree in tree(), requests in prop::collection::vec(request(), 1..4)) {
        if let Some(program) = compile(&tree) {
            for request in &requests {
                prop_assert_eq!(Some(program.matches(request)), reference(&tree, request));
            }
        }
    }

    #[test]
    fn any_list_of_items_compiles_or_is_refused(shape in prop::collection::vec((0u8..4, 0u32..4), 0..12), leaf in primitive()) {
        let list: Vec<Item> = shape
            .into_iter()
            .map(|(kind, count)| match kind {
                0 => Item::And(count),
                1 => Item::Or(count),
                2 => Item::Not,
                _ => Item::Call(leaf.clone()),
            })
            .collect();
        if let Ok(program) = Program::compile(&list) {
            let _ = program.matches(&SimpleRequest::default());
        }
    }

    #[test]
    fn the_index_finds_what_a_scan_finds(
        trees in prop::collection::vec(tree(), 1..12),
        requests in prop::collection::vec(request(), 1..4),
        start in 0usize..4,
    ) {
        let programs: Vec<Program> = trees.iter().filter_map(compile).collect();
        let list = RuleList::new(programs);
        prop_assert!(list.is_ok());
        if let Ok(list) = list {
            for request in &requests {
                let ctx = Context::new(request);
                prop_assert_eq!(list.first_match(&ctx, start), list.first_match_linear(&ctx, start));
            }
        }
    }
}
