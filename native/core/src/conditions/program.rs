//! A compiled condition: a flat list of operations evaluated without recursion.
//!
//! BFE accepts conditions of any depth, so neither compiling nor evaluating may recurse.
//! The pre-order [`Item`] list compiles, with an explicit stack, into operations over one
//! boolean register: `Test` sets it from a primitive, `Not` flips it, and the short
//! circuits of `&&` and `||` are forward jumps taken when the register already decides the
//! operator (`JumpIfFalse` to the end of an `&&`, `JumpIfTrue` to the end of an `||`). So
//! `a && (b || c)` is `Test a; JumpIfFalse end; Test b; JumpIfTrue end; Test c; end:`.
//! Evaluation walks the list once, forward only, and no primitive ever fails: missing
//! data makes a primitive false, as in BFE.

use std::borrow::Cow;

use super::context::Context;
use super::hash::Buckets;
use super::hints::Hints;
use super::jsonpath::JsonPath;
use super::lowered::{Address, Item, LowerError, Primitive, Source};
use super::matchers::{Matcher, Set};
use super::view::ConditionRequest;
use crate::addr::go_ip;

const DAY: f64 = 86_400.0;

#[derive(Debug, Clone, Copy)]
enum Op {
    Test(u32),
    Not,
    JumpIfFalse(u32),
    JumpIfTrue(u32),
}

/// A value source, built.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Host,
    Path,
    Url,
    Port,
    Method,
    Protocol,
    HostTag,
    Header(Vec<u8>),
    Query(Vec<u8>),
    Cookie(Vec<u8>),
    BodyJson(JsonPath),
    TlsSni,
    TlsClientCa,
    ResponseCode,
    ResponseHeader(Vec<u8>),
}

/// A primitive, built.
#[derive(Debug, Clone)]
enum Prim {
    True,
    Trusted,
    Secure,
    TlsClientAuth,
    QueryExist,
    Match(Value, Matcher),
    IpRange(Address, u128, u128),
    IpIn(Address, Vec<u128>),
    IpHash(Address, Buckets),
    HeaderKeyIn(Vec<Vec<u8>>),
    ResponseHeaderKeyIn(Vec<Vec<u8>>),
    QueryKeyIn(Set),
    QueryKeyPrefixIn(Vec<Vec<u8>>),
    CookieKeyIn(Set),
    TagMatch(Vec<u8>, Vec<u8>),
    ContextValueIn(Vec<u8>, Matcher),
    TimeRange(i64, i64),
    PeriodicTimeRange(i64, i64, i64),
}

/// A header name as the Python side's `str.lower` writes it.
pub fn lower_name(name: &[u8]) -> Vec<u8> {
    if name.is_ascii() {
        name.to_ascii_lowercase()
    } else {
        String::from_utf8_lossy(name).to_lowercase().into_bytes()
    }
}

fn lower_names(names: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut lowered: Vec<Vec<u8>> = Vec::new();
    for name in names {
        let name = lower_name(name);
        if !lowered.contains(&name) {
            lowered.push(name);
        }
    }
    lowered
}

impl Value {
    /// The value of a request, `None` where it is missing (the primitive is then false).
    pub(crate) fn read<'c, R: ConditionRequest + ?Sized>(
        &self,
        ctx: &'c Context<'_, R>,
    ) -> Option<Cow<'c, [u8]>> {
        let request = ctx.request();
        Some(match self {
            Value::Host => Cow::Borrowed(ctx.host_name()),
            Value::Path => Cow::Borrowed(request.path()),
            Value::Url => Cow::Borrowed(request.url()),
            Value::Port => Cow::Borrowed(ctx.port()),
            Value::Method => Cow::Borrowed(request.method()),
            Value::Protocol => Cow::Borrowed(ctx.protocol()),
            Value::HostTag => Cow::Borrowed(request.host_tag().unwrap_or_default()),
            Value::Header(name) => ctx.header_or_empty(name),
            Value::Query(key) => Cow::Borrowed(ctx.query_value(key).unwrap_or_default()),
            Value::Cookie(name) => Cow::Borrowed(ctx.cookie(name)?),
            Value::BodyJson(path) => Cow::Owned(ctx.body_json(path).to_vec()),
            Value::TlsSni => Cow::Borrowed(
                request
                    .tls_sni()
                    .filter(|sni| request.secure() && !sni.is_empty())?,
            ),
            Value::TlsClientCa => Cow::Borrowed(
                request
                    .tls_client_ca()
                    .filter(|ca| request.secure() && request.tls_client_auth() && !ca.is_empty())?,
            ),
            Value::ResponseCode => Cow::Owned(request.response_code()?.to_string().into_bytes()),
            Value::ResponseHeader(name) => {
                request.response_code()?;
                request.response_header(name).unwrap_or_default()
            }
        })
    }

    pub(crate) fn build(source: &Source) -> Self {
        match source {
            Source::Host => Value::Host,
            Source::Path => Value::Path,
            Source::Url => Value::Url,
            Source::Port => Value::Port,
            Source::Method => Value::Method,
            Source::Protocol => Value::Protocol,
            Source::HostTag => Value::HostTag,
            Source::Header(name) => Value::Header(lower_name(name)),
            Source::Query(key) => Value::Query(key.clone()),
            Source::Cookie(name) => Value::Cookie(name.clone()),
            Source::BodyJson(path) => Value::BodyJson(JsonPath::new(path)),
            Source::TlsSni => Value::TlsSni,
            Source::TlsClientCa => Value::TlsClientCa,
            Source::ResponseCode => Value::ResponseCode,
            Source::ResponseHeader(name) => Value::ResponseHeader(lower_name(name)),
        }
    }
}

impl Prim {
    fn build(primitive: &Primitive) -> Result<Self, String> {
        Ok(match primitive {
            Primitive::True => Prim::True,
            Primitive::Trusted => Prim::Trusted,
            Primitive::Secure => Prim::Secure,
            Primitive::TlsClientAuth => Prim::TlsClientAuth,
            Primitive::QueryExist => Prim::QueryExist,
            Primitive::Match(source, test) => Prim::Match(Value::build(source), Matcher::build(test)?),
            Primitive::IpRange(address, first, last) => {
                let v4 = |ip: &[u8; 16]| ip.starts_with(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]);
                if v4(first) != v4(last) {
                    return Err("the ends of an IP range are of different families".to_owned());
                }
                if last < first {
                    return Err("an IP range ends before it starts".to_owned());
                }
                Prim::IpRange(*address, u128::from_be_bytes(*first), u128::from_be_bytes(*last))
            }
            Primitive::IpIn(address, list) => {
                Prim::IpIn(*address, list.iter().map(|ip| u128::from_be_bytes(*ip)).collect())
            }
            Primitive::IpHash(address, buckets) => Prim::IpHash(
                *address,
                Buckets::from_ranges(buckets)
                    .ok_or_else(|| "a hash bucket range is backwards or past 9999".to_owned())?,
            ),
            Primitive::HeaderKeyIn(names) => Prim::HeaderKeyIn(lower_names(names)),
            Primitive::ResponseHeaderKeyIn(names) => Prim::ResponseHeaderKeyIn(lower_names(names)),
            Primitive::QueryKeyIn(keys) => Prim::QueryKeyIn(Set::new(keys.clone())),
            Primitive::QueryKeyPrefixIn(prefixes) => Prim::QueryKeyPrefixIn(prefixes.clone()),
            Primitive::CookieKeyIn(keys) => Prim::CookieKeyIn(Set::new(keys.clone())),
            Primitive::TagMatch(name, value) => Prim::TagMatch(name.clone(), value.clone()),
            Primitive::ContextValueIn(key, test) => Prim::ContextValueIn(key.clone(), Matcher::build(test)?),
            Primitive::TimeRange(first, last) => {
                if first > last {
                    return Err("a time range ends before it starts".to_owned());
                }
                Prim::TimeRange(*first, *last)
            }
            Primitive::PeriodicTimeRange(first, last, offset) => {
                if !(0..86_400).contains(first) || !(0..86_400).contains(last) || first > last {
                    return Err("a daily time range must lie within one day, in order".to_owned());
                }
                if !(-86_400..=86_400).contains(offset) {
                    return Err("a time zone offset must be within a day".to_owned());
                }
                Prim::PeriodicTimeRange(*first, *last, *offset)
            }
        })
    }

    fn address<R: ConditionRequest + ?Sized>(ctx: &Context<'_, R>, address: Address) -> Option<u128> {
        let request = ctx.request();
        let ip = match address {
            Address::Client => request.client_ip(),
            Address::Remote => request.remote_ip(),
            Address::Vip => request.vip(),
        };
        ip.map(u128::from_be_bytes)
    }

    fn eval<R: ConditionRequest + ?Sized>(&self, ctx: &Context<'_, R>) -> bool {
        let request = ctx.request();
        match self {
            Prim::True => true,
            Prim::Trusted => request.trusted(),
            Prim::Secure => request.secure(),
            Prim::TlsClientAuth => request.secure() && request.tls_client_auth(),
            Prim::QueryExist => !ctx.query_params().is_empty(),
            Prim::Match(value, matcher) => match_value(ctx, value, matcher),
            Prim::IpRange(address, first, last) => {
                Self::address(ctx, *address).is_some_and(|ip| *first <= ip && ip <= *last)
            }
            Prim::IpIn(address, list) => Self::address(ctx, *address).is_some_and(|ip| list.contains(&ip)),
            Prim::IpHash(address, buckets) => Self::address(ctx, *address).is_some_and(|ip| {
                let text = go_ip(ip);
                buckets.contains(super::hash::bucket(text.as_bytes()))
            }),
            Prim::HeaderKeyIn(names) => names
                .iter()
                .any(|name| request.header(name).is_some_and(|value| !value.is_empty())),
            Prim::ResponseHeaderKeyIn(names) => {
                request.response_code().is_some()
                    && names.iter().any(|name| {
                        request
                            .response_header(name)
                            .is_some_and(|value| !value.is_empty())
                    })
            }
            Prim::QueryKeyIn(keys) => ctx.query_params().iter().any(|(key, _)| keys.contains(key)),
            Prim::QueryKeyPrefixIn(prefixes) => ctx
                .query_params()
                .iter()
                .any(|(key, _)| prefixes.iter().any(|prefix| key.starts_with(prefix))),
            Prim::CookieKeyIn(names) => ctx.cookies().iter().any(|(name, _)| names.contains(name)),
            Prim::TagMatch(name, value) => request.tags(name).iter().any(|tag| {
                let head = tag.split(|&b| b == b':').next().unwrap_or_default();
                head == value.as_slice()
            }),
            Prim::ContextValueIn(key, matcher) => {
                !key.is_empty()
                    && request
                        .context_str(key)
                        .is_some_and(|value| matcher.test_raw(&value))
            }
            Prim::TimeRange(first, last) => ctx.time().is_some_and(|now| {
                // For integer bounds, first <= now <= last exactly when first <= floor(now)
                // and ceil(now) <= last; casts saturate far outside any bound.
                *first <= now.floor() as i64 && now.ceil() as i64 <= *last
            }),
            Prim::PeriodicTimeRange(first, last, offset) => ctx.time().is_some_and(|now| {
                // Exact for every finite instant: fmod of integers in f64 is exact.
                let day_second = now.floor().rem_euclid(DAY) as i64;
                let second = (day_second + offset).rem_euclid(86_400);
                (*first..=*last).contains(&second)
            }),
        }
    }
}

fn match_value<R: ConditionRequest + ?Sized>(ctx: &Context<'_, R>, value: &Value, matcher: &Matcher) -> bool {
    if matcher.folds_upper() {
        // The folded host, path and method are kept for every rule of a list.
        match value {
            Value::Host => return matcher.test(ctx.host_upper()),
            Value::Path => return matcher.test(ctx.path_upper()),
            Value::Method => return matcher.test(ctx.method_upper()),
            _ => {}
        }
    }
    value.read(ctx).is_some_and(|text| matcher.test_raw(&text))
}

/// A compiled condition, with the hints of its index keys.
#[derive(Debug, Clone)]
pub struct Program {
    ops: Vec<Op>,
    prims: Vec<Prim>,
    hints: Hints,
}

/// An operator still collecting its operands while compiling.
struct Open {
    kind: Kind,
    remaining: u32,
    patches: Vec<usize>,
    hints: Option<Hints>,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    And,
    Or,
    Not,
}

fn error(item: usize, problem: impl Into<String>) -> LowerError {
    LowerError {
        item,
        problem: problem.into(),
    }
}

fn index(value: usize, item: usize) -> Result<u32, LowerError> {
    u32::try_from(value).map_err(|_| error(item, "the condition is too large"))
}

impl Program {
    /// Compile a pre-order list; refuse one that is not exactly one well-formed tree, or
    /// whose arguments do not hold.
    pub fn compile(items: &[Item]) -> Result<Self, LowerError> {
        let mut ops: Vec<Op> = Vec::with_capacity(items.len() * 2);
        let mut prims = Vec::new();
        let mut open: Vec<Open> = Vec::new();
        let mut root: Option<Hints> = None;
        for (position, item) in items.iter().enumerate() {
            if root.is_some() {
                return Err(error(position, "an item after the end of the condition"));
            }
            let (kind, remaining) = match item {
                Item::And(count) => (Kind::And, *count),
                Item::Or(count) => (Kind::Or, *count),
                Item::Not => (Kind::Not, 1),
                Item::Call(primitive) => {
                    let built = Prim::build(primitive).map_err(|problem| error(position, problem))?;
                    let accepts_empty = match &built {
                        Prim::Match(_, matcher) => matcher.test_raw(b""),
                        _ => true,
                    };
                    ops.push(Op::Test(index(prims.len(), position)?));
                    prims.push(built);
                    let hints = Hints::of(primitive, accepts_empty);
                    root = Self::complete(&mut ops, &mut open, hints, position)?;
                    continue;
                }
            };
            if remaining == 0 {
                return Err(error(position, "an operator without operands"));
            }
            open.push(Open {
                kind,
                remaining,
                patches: Vec::new(),
                hints: None,
            });
        }
        match root {
            Some(hints) => Ok(Self { ops, prims, hints }),
            None => Err(error(items.len(), "the condition ends before its last operand")),
        }
    }

    /// A node just ended: close every operator it completes. Returns the hints of the
    /// whole condition once its root has ended.
    fn complete(
        ops: &mut Vec<Op>,
        open: &mut Vec<Open>,
        mut hints: Hints,
        position: usize,
    ) -> Result<Option<Hints>, LowerError> {
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(Some(hints));
            };
            top.remaining -= 1;
            top.hints = Some(match (top.kind, top.hints.take()) {
                (Kind::Not, _) => Hints::default(),
                (_, None) => hints,
                (Kind::And, Some(known)) => known.and(hints),
                (Kind::Or, Some(known)) => known.or(hints),
            });
            if top.remaining > 0 {
                top.patches.push(ops.len());
                ops.push(if top.kind == Kind::And {
                    Op::JumpIfFalse(0)
                } else {
                    Op::JumpIfTrue(0)
                });
                return Ok(None);
            }
            if top.kind == Kind::Not {
                ops.push(Op::Not);
            }
            let end = index(ops.len(), position)?;
            for &at in &top.patches {
                if let Some(Op::JumpIfFalse(target) | Op::JumpIfTrue(target)) = ops.get_mut(at) {
                    *target = end;
                }
            }
            hints = top.hints.take().unwrap_or_default();
            open.pop();
        }
    }

    /// Whether the request satisfies the condition.
    pub fn eval<R: ConditionRequest + ?Sized>(&self, ctx: &Context<'_, R>) -> bool {
        let mut value = false;
        let mut pc = 0usize;
        while let Some(op) = self.ops.get(pc) {
            pc += 1;
            match *op {
                Op::Test(at) => value = self.prims.get(at as usize).is_some_and(|prim| prim.eval(ctx)),
                Op::Not => value = !value,
                Op::JumpIfFalse(target) if !value => pc = target as usize,
                Op::JumpIfTrue(target) if value => pc = target as usize,
                Op::JumpIfFalse(_) | Op::JumpIfTrue(_) => {}
            }
        }
        value
    }

    /// Whether a request satisfies the condition (a context of its own).
    pub fn matches<R: ConditionRequest + ?Sized>(&self, request: &R) -> bool {
        self.eval(&Context::new(request))
    }

    /// What every matching request has, for indexes.
    pub fn hints(&self) -> &Hints {
        &self.hints
    }

    /// How many operations it takes at most.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Never true: a program has at least one primitive.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
