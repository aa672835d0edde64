//! SQL injection by tokenising, after libinjection's published algorithm, with a grammar of
//! our own (the same as the Python oracle's `stockade.oracle.detection.sqli`, which documents
//! the algorithm).
//!
//! A value is read as SQL as it stands and as if it followed an opening `'` or `"`; each
//! reading becomes typed tokens (`s` string, `1` number, `n` name, `v` variable, `k` keyword,
//! `E` SELECT, `U` UNION, `B` ORDER BY / GROUP BY / LIMIT / HAVING, `T` another statement,
//! `&` AND/OR, `o` comparison, `a` arithmetic, `f`/`F` calls, `c` comment, `( ) , ;`),
//! folded, and the folded fingerprint is an injection when it has one of the shapes
//! injections take.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::text::{WORD_CLASS, is_digit};

const MAX_TOKENS: usize = 16;
const SPACE: &[char] = &[' ', '\t', '\r', '\n', '\u{b}', '\u{c}', '\0', '\u{a0}'];
const OPERAND: &[u8] = b"1snv";
const OPERATORS: [&str; 12] = [
    "<=>", "!=", "<>", "<=", ">=", ":=", "==", "!<", "!>", "<<", ">>", "::",
];
const COMPARISONS: [&str; 12] = [
    "=", "<", ">", "<=>", "!=", "<>", "<=", ">=", ":=", "==", "!<", "!>",
];

const TYPES: [(&str, u8); 7] = [
    ("and or xor", b'&'),
    ("union intersect except minus", b'U'),
    ("select", b'E'),
    (
        "like rlike regexp ilike similar is in between sounds glob match",
        b'o',
    ),
    ("div mod", b'a'),
    ("true false null unknown", b'1'),
    (
        "from where into values table database schema as on join inner outer left right cross natural \
         order group by having limit \
         all distinct top set case when then else end exists not collate asc desc procedure \
         outfile dumpfile information_schema sysobjects syscolumns escape using offset fetch \
         for update delete insert drop create alter truncate grant revoke exec execute declare waitfor \
         delay shutdown use load data infile replace rename handler call begin if while return goto \
         binary char nchar varchar nvarchar int integer bigint text cast convert",
        b'k',
    ),
];

const INJECTION_FUNCTIONS: &str = "
    sleep benchmark pg_sleep waitfor randomblob get_lock release_lock dbms_pipe.receive_message
    dbms_lock.sleep receive_message version database schema user current_user session_user
    system_user user_name db_name host_name suser_name suser_sname is_srvrolemember
    has_dbaccess @@version char chr nchar concat concat_ws group_concat string_agg listagg
    ascii ord hex unhex bin substring substr mid left right length char_length len instr locate
    position reverse lower upper lpad rpad cast convert if iif ifnull nullif coalesce isnull
    extractvalue updatexml exp floor rand name_const geometrycollection polygon multipoint
    multilinestring multipolygon linestring load_file into_outfile utl_inaddr.get_host_address
    utl_inaddr.get_host_name utl_http.request ctxsys.drithsx.sn dbms_xmlgen.getxml xmltype
    extractvalue pg_read_file pg_ls_dir lo_import lo_export current_database current_schema
    inet_server_addr sqlite_version load_extension typeof randomblob zeroblob unicode
    openrowset opendatasource openquery xp_cmdshell sp_executesql sp_oacreate xp_dirtree
    xp_fileexist make_set elt field find_in_set export_set ord uuid row_count found_rows
    last_insert_id connection_id @@datadir @@hostname json_keys json_extract";

const STRONG_FUNCTIONS: &str = "
    sleep benchmark pg_sleep randomblob get_lock dbms_pipe.receive_message dbms_lock.sleep
    extractvalue updatexml load_file name_const utl_inaddr.get_host_address utl_inaddr.get_host_name
    utl_http.request ctxsys.drithsx.sn dbms_xmlgen.getxml pg_read_file pg_ls_dir lo_import
    lo_export load_extension xp_cmdshell sp_executesql sp_oacreate xp_dirtree xp_fileexist
    openrowset opendatasource geometrycollection multipoint multilinestring multipolygon";

const STATEMENT_OBJECTS: &str =
    "table database schema view index procedure function trigger user login column temporary";

const SHAPES_AFTER_VALUE: &str = concat!(
    r"^\(*(?:[1snv]|\)|,[1snv])(?:\)|,\(*[1snv])*",
    r"(?:",
    r"&\(*(?:[1snv]\)*o|[fF]\(|E|T|v|k\(|[1s](?:\)*c|\)*$|\)*;|\)*&))",
    r"|[oa]\(*(?:E|F\()",
    r"|\)*;(?:[ETF]|k[kn(v])",
    r"|\)*[TB]",
    r"|\)*U\(*E$",
    r"|\)+c",
    r"|o\(*[1sn]\)*(?:c|&[1snv(])",
    r")",
);
const SHAPES_AFTER_STRING: &str = r"^s\)*(?:c|E[1snvafF(]|k[1sv(]|o[s1]$|U)";
const SHAPES_ANYWHERE: &str =
    r"U\(*E(?:[1svfF(]|a[k,)]|a$|n[,k)(]|k)|;T|Tv|\(E[1snvfF(a]|F\(\(*F\(|&\(*[1s]\)*o\(*[1s]";
const SHAPES_WHOLE: &str = concat!(
    r"^\(*(?:E(?:[1svfF(]|a[k,]|a$|n[,k)]|k)|T(?:[v(1sf]|n[;c(ks1v]))",
    r"|^B1(?:[c,]|$)|^B[1n]o",
    r"|^&\(*(?:[1snv]\)*o[1snvfF(]|[fF]\(|E)",
    r"|^\(.*[&oE].*\)c$",
);
const STRONG_AFTER_NAME: &str =
    r"^\)*(?:&\(*(?:[1sv]\)*o|n\)*o[1sv]|F\(|E|[1s]\)*c)|\)*;|\)+c|o[1s]\)*c|B1c)";

type Token<'a> = (u8, Cow<'a, str>);

/// The SQL tokeniser's tables, built once.
#[derive(Debug)]
pub struct Sql {
    types: HashMap<&'static str, u8>,
    functions: HashSet<&'static str>,
    strong: HashSet<&'static str>,
    objects: HashSet<&'static str>,
    name: Regex,
    number: Regex,
    after_value: Regex,
    after_string: Regex,
    anywhere: Regex,
    whole: Regex,
    after_name: Regex,
}

impl Sql {
    pub fn new() -> Result<Self, regex::Error> {
        let mut types = HashMap::new();
        for (words, kind) in TYPES {
            for word in words.split_whitespace() {
                types.insert(word, kind);
            }
        }
        let start = r"A-Za-z_$\x{80}-\x{ffff}";
        let rest = format!(r"{WORD_CLASS}$\x{{80}}-\x{{ffff}}");
        Ok(Self {
            types,
            functions: INJECTION_FUNCTIONS.split_whitespace().collect(),
            strong: STRONG_FUNCTIONS.split_whitespace().collect(),
            objects: STATEMENT_OBJECTS.split_whitespace().collect(),
            name: Regex::new(&format!(r"^[{start}][{rest}]*(?:\.[{start}][{rest}]*)*"))?,
            number: Regex::new(r"^(?:0x[0-9a-fA-F]*|0b[01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)")?,
            after_value: Regex::new(SHAPES_AFTER_VALUE)?,
            after_string: Regex::new(SHAPES_AFTER_STRING)?,
            anywhere: Regex::new(SHAPES_ANYWHERE)?,
            whole: Regex::new(SHAPES_WHOLE)?,
            after_name: Regex::new(STRONG_AFTER_NAME)?,
        })
    }

    /// Whether `value` reads as SQL injection in any of the three contexts.
    pub fn is_sqli(&self, value: &str) -> bool {
        for quote in [None, Some('\''), Some('"')] {
            if let Some(q) = quote {
                if !value.contains(q) {
                    continue;
                }
            }
            let found = self.tokens(value, quote);
            if quote.is_some() && (found.len() == 1 || found.first().is_some_and(|(_, text)| text == value)) {
                continue;
            }
            let print: String = found.iter().map(|(kind, _)| char::from(*kind)).collect();
            if self.anywhere.is_match(&print) {
                return true;
            }
            if quote.is_none() && print.starts_with('s') {
                continue;
            }
            if self.dangerous(&print, &found, quote.is_some()) {
                return true;
            }
        }
        false
    }

    /// The tokens of `text` read after `quote`, folded.
    fn tokens<'a>(&self, text: &'a str, quote: Option<char>) -> Vec<Token<'a>> {
        let bytes = text.as_bytes();
        let size = bytes.len();
        let slice = |from: usize, to: usize| Cow::Borrowed(text.get(from..to).unwrap_or_default());
        let mut out: Vec<Token<'a>> = Vec::new();
        let mut i = 0;
        if let Some(q) = quote {
            let end = string_end(text, 0, q);
            out.push((b's', slice(0, end)));
            i = end + 1;
        }
        let limit = MAX_TOKENS * 4;
        while i < size && out.len() < limit {
            let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
                break;
            };
            let at = |s: &str| bytes.get(i..).is_some_and(|rest| rest.starts_with(s.as_bytes()));
            if SPACE.contains(&c) {
                i += c.len_utf8();
                continue;
            }
            if c == '\'' || c == '"' {
                let end = string_end(text, i + 1, c);
                out.push((b's', slice(i + 1, end)));
                i = end + 1;
                continue;
            }
            if c == '`' {
                let end = find(text, "`", i + 1).unwrap_or(size);
                out.push((b'n', slice(i + 1, end)));
                i = end + 1;
                continue;
            }
            if at("/*") {
                let end = find(text, "*/", i + 2);
                if at("/*!") {
                    i += 3;
                    while let Some(d) = text
                        .get(i..)
                        .and_then(|rest| rest.chars().next())
                        .filter(|&d| is_digit(d))
                    {
                        i += d.len_utf8();
                    }
                    continue;
                }
                out.push((b'c', slice(i + 2, end.unwrap_or(size))));
                i = end.map_or(size, |end| end + 2);
                continue;
            }
            if at("*/") {
                i += 2;
                continue;
            }
            if at("--") || c == '#' {
                let end = find(text, "\n", i);
                out.push((b'c', slice(i, end.unwrap_or(size))));
                i = end.map_or(size, |end| end + 1);
                continue;
            }
            if matches!(c, '(' | ')' | ',' | ';') {
                out.push((c as u8, slice(i, i + 1)));
                i += 1;
                continue;
            }
            if c == '@' {
                let start = if at("@@") { i + 2 } else { i + 1 };
                let end = text
                    .get(start..)
                    .and_then(|rest| self.name.find(rest))
                    .map_or(start, |m| start + m.end());
                out.push((b'v', slice(i, end)));
                i = end;
                continue;
            }
            if at("&&") || at("||") {
                out.push((b'&', slice(i, i + 2)));
                i += 2;
                continue;
            }
            let next_digit = text
                .get(i + 1..)
                .and_then(|rest| rest.chars().next())
                .is_some_and(is_digit);
            if is_digit(c) || (c == '.' && next_digit) {
                let end = text
                    .get(i..)
                    .and_then(|rest| self.number.find(rest))
                    .map_or(i + c.len_utf8(), |m| i + m.end());
                out.push((b'1', slice(i, end)));
                i = end;
                continue;
            }
            if let Some(found) = text.get(i..).and_then(|rest| self.name.find(rest)) {
                let word = found.as_str();
                i += found.end();
                let lowered = word.to_lowercase();
                if matches!(bytes.get(i), Some(b'\'' | b'"'))
                    && matches!(
                        lowered.as_str(),
                        "n" | "x" | "b" | "e" | "_utf8" | "_latin1" | "_binary"
                    )
                {
                    continue; // a string prefix: N'...', X'...', _utf8'...'
                }
                out.push((self.word(&lowered, text, i), Cow::Borrowed(word)));
                continue;
            }
            let op = OPERATORS.iter().find(|op| at(op)).copied();
            let (kind, length) = match op {
                Some(op) => (if COMPARISONS.contains(&op) { b'o' } else { b'a' }, op.len()),
                None => (
                    if COMPARISONS.iter().any(|cmp| cmp.len() == c.len_utf8() && at(cmp)) {
                        b'o'
                    } else {
                        b'a'
                    },
                    c.len_utf8(),
                ),
            };
            out.push((kind, slice(i, i + length)));
            i += length;
        }
        self.fold(out)
    }

    fn word(&self, lowered: &str, text: &str, end: usize) -> u8 {
        let after = text.get(end..).unwrap_or_default().trim_start_matches(SPACE);
        if after.starts_with('(') && lowered != "outfile" && lowered != "dumpfile" {
            let kind = self.types.get(lowered).copied();
            if matches!(kind, Some(b'&' | b'U' | b'E' | b'o'))
                || matches!(lowered, "not" | "exists" | "values" | "in")
            {
                return kind.unwrap_or(b'k');
            }
            return if self.functions.contains(lowered) {
                b'F'
            } else {
                b'f'
            };
        }
        self.types.get(lowered).copied().unwrap_or(b'n')
    }

    /// Comments inside go (a trailing one stays), unary signs go, `x a y` folds to `x`, and
    /// multi-word keywords become one token.
    fn fold<'a>(&self, found: Vec<Token<'a>>) -> Vec<Token<'a>> {
        let mut out: Vec<Token<'a>> = Vec::new();
        let last = found.len().saturating_sub(1);
        let prev_of = |out: &Vec<Token<'a>>| -> (u8, String) {
            out.last()
                .map_or((0, String::new()), |(kind, text)| (*kind, text.to_lowercase()))
        };
        for (index, (found_kind, text)) in found.into_iter().enumerate() {
            let mut kind = found_kind;
            if kind == b'c' && index != last {
                continue;
            }
            let lowered = text.to_lowercase();
            let mut prev = prev_of(&out);
            if b"UEBTk&o".contains(&kind)
                && kind != 0
                && out.last().is_some_and(|(k, t)| *k == b'a' && t == "+")
            {
                out.pop(); // "+" read as a space (a form's encoding): 1+union+select
                prev = prev_of(&out);
            }
            if kind == b'k' {
                let l = lowered.as_str();
                if prev.0 == b'U' && matches!(l, "all" | "distinct") {
                    continue;
                }
                if prev.0 == b'E' && matches!(l, "all" | "distinct" | "top") {
                    continue;
                }
                if l == "by" && matches!(prev.1.as_str(), "order" | "group") {
                    if let Some(top) = out.last_mut() {
                        *top = (b'B', Cow::Owned(format!("{} by", top.1)));
                    }
                    continue;
                }
                if l == "not" && prev.1 == "is" {
                    continue;
                }
                let p = prev.1.as_str();
                let becomes_statement = prev.0 == b'k'
                    && ((matches!(p, "drop" | "create" | "alter" | "truncate") && self.objects.contains(l))
                        || (p == "insert" && l == "into")
                        || (p == "delete" && l == "from")
                        || (p == "waitfor" && matches!(l, "delay" | "time"))
                        || (p == "into" && matches!(l, "outfile" | "dumpfile")));
                if becomes_statement {
                    if let Some(top) = out.last_mut() {
                        top.0 = b'T';
                    }
                    continue;
                }
                if matches!(l, "limit" | "having" | "procedure") {
                    kind = b'B';
                } else if matches!(l, "exec" | "execute" | "shutdown") {
                    kind = b'T';
                }
            }
            if kind == b'v' && prev.0 == b'k' && prev.1 == "declare" {
                if let Some(top) = out.last_mut() {
                    top.0 = b'T';
                }
            }
            if kind == b'o' && prev.0 == b'k' && prev.1 == "not" {
                out.pop();
            }
            if kind == b'k' && lowered == "set" && out.len() >= 2 {
                let n = out.len();
                let name_before = out.get(n - 1).is_some_and(|(k, _)| *k == b'n');
                let update = out.get(n - 2).is_some_and(|(_, t)| t.to_lowercase() == "update");
                if name_before && update {
                    if let Some(token) = out.get_mut(n - 2) {
                        token.0 = b'T';
                    }
                }
            }
            if OPERAND.contains(&kind) || b"fF(".contains(&kind) {
                // A unary sign or NOT before an operand goes; "x a y" folds to "x".
                while let Some((top_kind, top_text)) = out.last() {
                    if !(*top_kind == b'a' || top_text.to_lowercase() == "not") {
                        break;
                    }
                    let n = out.len();
                    if n > 1 && out.get(n - 2).is_some_and(|(k, _)| !b"oa&(,kUEBT".contains(k)) {
                        break;
                    }
                    out.pop();
                }
                let n = out.len();
                let kind_at = |back: usize| out.get(n.wrapping_sub(back)).map(|(k, _)| *k);
                if OPERAND.contains(&kind)
                    && n >= 2
                    && kind_at(1) == Some(b'a')
                    && kind_at(2).is_some_and(|k| OPERAND.contains(&k) || k == b')')
                {
                    out.pop();
                    continue;
                }
                if kind == b's' && kind_at(1) == Some(b's') {
                    continue;
                }
                if n >= 3
                    && kind_at(1) == Some(b',')
                    && kind_at(2).is_some_and(|k| OPERAND.contains(&k))
                    && kind_at(3) == Some(b',')
                {
                    out.pop(); // a list of values reads as its first two: 1,2,3,4 is 1,2
                    continue;
                }
            }
            if kind == b'k' && lowered == "not" && out.last().is_none_or(|(k, _)| b"o&(,".contains(k)) {
                out.push((b'a', text)); // a unary NOT: dropped before its operand
                continue;
            }
            out.push((kind, text));
        }
        let leading = out.iter().take_while(|(kind, _)| *kind == b'a').count();
        out.drain(..leading); // a leading sign: -1 union ..., +if(...)
        out.truncate(MAX_TOKENS);
        out
    }

    fn dangerous(&self, print: &str, found: &[Token<'_>], quoted: bool) -> bool {
        if !quoted && (self.whole.is_match(print) || self.strong_call(found)) {
            return true;
        }
        if quoted && self.after_string.is_match(print) {
            return true;
        }
        let Some(shape) = self.after_value.find(print) else {
            return false;
        };
        let shape = shape.as_str();
        let next = print.get(shape.len()..shape.len() + 1).unwrap_or_default();
        if shape.ends_with('B') && !matches!(next, "1" | "n" | "f" | "F") {
            return false;
        }
        if shape.ends_with('B') && next == "n" && !print.contains('c') {
            return false; // ORDER BY a column counts with a comment after it: ' order by name--
        }
        if !quoted {
            let trimmed = shape.trim_start_matches('(');
            if trimmed.starts_with('n') && !self.after_name.is_match(trimmed.get(1..).unwrap_or_default()) {
                return false;
            }
            if (shape.ends_with('1') || shape.ends_with('s')) && shape.contains('&') && !shape.contains('o') {
                return false; // "1 or 2": two values and a boolean word, no comparison
            }
        }
        true
    }

    /// The value is a call of a function only injections make: sleep(5), extractvalue(1,...).
    fn strong_call(&self, found: &[Token<'_>]) -> bool {
        for (kind, text) in found {
            if *kind == b'(' {
                continue;
            }
            return *kind == b'F' && self.strong.contains(text.to_lowercase().as_str());
        }
        false
    }
}

fn find(text: &str, needle: &str, from: usize) -> Option<usize> {
    text.get(from..)
        .and_then(|rest| rest.find(needle))
        .map(|at| from + at)
}

fn string_end(text: &str, start: usize, quote: char) -> usize {
    let bytes = text.as_bytes();
    let q = quote as u8;
    let mut i = start;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            // Skips the escaped character (a whole character: i lands on a boundary).
            let next = text
                .get(i + 1..)
                .and_then(|rest| rest.chars().next())
                .map_or(1, char::len_utf8);
            i += 1 + next;
            continue;
        }
        if b == q {
            if bytes.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i;
        }
        i += 1;
    }
    bytes.len()
}
