//! RE2 expressions as the `regex` crate reads them, with RE2's meaning.
//!
//! Rule packs are written in RE2's syntax, which the `regex` crate mostly shares. Where the
//! two differ, an expression is rewritten before it compiles:
//!
//! - `\d \w \s \b` (and their negations) are ASCII in RE2, Unicode in `regex`: they become
//!   explicit ASCII classes (a class still folds case as RE2's does);
//! - `\<` and `\>` are literal characters in RE2, word boundaries in `regex`;
//! - `\Q...\E` quotes a literal in RE2 only;
//! - inside a class, `[`, `&&`, `--` and `~~` are nesting and set operations in `regex`,
//!   literals in RE2;
//! - a class holding a negated shorthand (`[^\S\n]`) is written with an intersection,
//!   `[\s&&[^\n]]`: the same set, but `regex` folds the case of a class over each of its code
//!   points, and the union form would have it fold nearly all of Unicode (tens of
//!   milliseconds a class, most of a rule pack's build).
//!
//! An expression `regex` still rejects (RE2's `\C`, octal escapes) is an error for the rule.

const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\x0C\r ";

/// `pattern` (RE2 syntax) rewritten for the `regex` crate.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    let mut class = Class::default();
    let mut class_start = false; // just after "[" or "[^"
    let mut previous_dash = false;
    while let Some(&c) = chars.get(i) {
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                return Err("trailing backslash".to_owned());
            };
            i += 2;
            if next == 'Q' {
                let mut literal = String::new();
                while let Some(&q) = chars.get(i) {
                    if q == '\\' && chars.get(i + 1) == Some(&'E') {
                        i += 2;
                        break;
                    }
                    literal.push(q);
                    i += 1;
                }
                for q in literal.chars() {
                    if in_class {
                        push_literal(&mut class.items, q, true);
                    } else {
                        push_literal(&mut out, q, false);
                    }
                }
                class_start = false;
                previous_dash = false;
                continue;
            }
            if in_class {
                class_escape(&mut class, next, &chars, &mut i)?;
            } else {
                escape(&mut out, next, false, &chars, &mut i)?;
            }
            class_start = false;
            previous_dash = false;
            continue;
        }
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
                class.write(&mut out);
                class = Class::default();
            } else if c == '[' && chars.get(i + 1) == Some(&':') {
                // A POSIX class, [:alpha:], kept as it stands.
                let end = (i + 2..chars.len())
                    .find(|&j| chars.get(j) == Some(&':') && chars.get(j + 1) == Some(&']'));
                let Some(end) = end else {
                    return Err("unclosed [: class".to_owned());
                };
                class.items.extend(chars.get(i..end + 2).unwrap_or_default());
                i = end + 2;
                class_start = false;
                previous_dash = false;
                continue;
            } else if c == '^' && class_start && !class.negated && class.items.is_empty() {
                class.negated = true;
                i += 1;
                continue;
            } else if c == '-' && !previous_dash && !class_start {
                class.items.push('-');
                previous_dash = true;
                i += 1;
                continue;
            } else {
                push_literal(&mut class.items, c, true);
            }
            class_start = false;
            previous_dash = false;
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            class_start = true;
            previous_dash = false;
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    if in_class {
        return Err("missing ]".to_owned());
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char, in_class: bool) {
    if in_class {
        if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
            out.push('\\');
        }
        out.push(c);
    } else {
        out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
    }
}

/// One bracketed class being read: its items as `regex` reads them, and the bodies of the
/// negated shorthands (`\S`, `\W`, `\D`) it holds, kept aside.
#[derive(Default)]
struct Class {
    negated: bool,
    items: String,
    complements: Vec<&'static str>,
}

impl Class {
    /// `[N P]` is everything outside all the sets N negates and outside P: `[^A&&B&&[^P]]`;
    /// `[^N P]` is `[A&&B&&[^P]]`.
    fn write(&self, out: &mut String) {
        out.push('[');
        if self.complements.is_empty() {
            if self.negated {
                out.push('^');
            }
            out.push_str(&self.items);
        } else {
            if !self.negated {
                out.push('^');
            }
            let mut operands: Vec<String> = self.complements.iter().map(|body| format!("[{body}]")).collect();
            if !self.items.is_empty() {
                operands.push(format!("[^{}]", self.items));
            }
            out.push_str(&operands.join("&&"));
        }
        out.push(']');
    }
}

fn class_escape(class: &mut Class, c: char, chars: &[char], i: &mut usize) -> Result<(), String> {
    match c {
        'd' => class.items.push_str(DIGIT),
        'w' => class.items.push_str(WORD),
        's' => class.items.push_str(SPACE),
        'D' => class.complements.push(DIGIT),
        'W' => class.complements.push(WORD),
        'S' => class.complements.push(SPACE),
        other => escape(&mut class.items, other, true, chars, i)?,
    }
    Ok(())
}

/// An escape outside a class, or one inside a class that is not a shorthand class.
fn escape(out: &mut String, c: char, in_class: bool, chars: &[char], i: &mut usize) -> Result<(), String> {
    let class = |body: &str, negated: bool| {
        if negated {
            format!("[^{body}]")
        } else {
            format!("[{body}]")
        }
    };
    match c {
        'd' => out.push_str(&class(DIGIT, false)),
        'D' => out.push_str(&class(DIGIT, true)),
        'w' => out.push_str(&class(WORD, false)),
        'W' => out.push_str(&class(WORD, true)),
        's' => out.push_str(&class(SPACE, false)),
        'S' => out.push_str(&class(SPACE, true)),
        'b' | 'B' if !in_class => {
            out.push_str(if c == 'b' { r"(?-u:\b)" } else { r"(?-u:\B)" });
        }
        'C' => return Err(r"\C (any byte) is not supported".to_owned()),
        '0'..='9' => {
            return Err(format!(
                r"\{c}: backreferences and octal escapes are not supported"
            ));
        }
        'p' | 'P' | 'x' => {
            out.push('\\');
            out.push(c);
            // \pL, \p{Greek}, \x41, \x{263a}: copied whole.
            if chars.get(*i) == Some(&'{') {
                while let Some(&next) = chars.get(*i) {
                    out.push(next);
                    *i += 1;
                    if next == '}' {
                        break;
                    }
                }
            } else {
                let count = if c == 'x' { 2 } else { 1 };
                for _ in 0..count {
                    if let Some(&next) = chars.get(*i) {
                        out.push(next);
                        *i += 1;
                    }
                }
            }
        }
        'a' | 'f' | 't' | 'n' | 'r' | 'v' | 'A' | 'z' => {
            out.push('\\');
            out.push(c);
        }
        c if c.is_ascii_punctuation() || !c.is_ascii() => push_literal(out, c, in_class),
        other => return Err(format!(r"unknown escape \{other}")),
    }
    Ok(())
}

/// A layout-free expression from one written with RE2-less verbose layout: comments (white
/// space then `#` to the end of a line) and white space not escaped by a backslash dropped.
pub fn strip_layout(pattern: &str) -> String {
    let mut joined = String::with_capacity(pattern.len());
    for line in pattern.lines() {
        let cut = line
            .char_indices()
            .find(|&(at, c)| {
                c.is_whitespace()
                    && line
                        .get(at + c.len_utf8()..)
                        .is_some_and(|rest| rest.starts_with('#'))
            })
            .map_or(line.len(), |(at, _)| at);
        joined.push_str(line.get(..cut).unwrap_or(line));
    }
    let mut out = String::with_capacity(joined.len());
    let mut previous = '\0';
    for c in joined.chars() {
        if !(c.is_whitespace() && previous != '\\') {
            out.push(c);
        }
        previous = c;
    }
    out
}

/// An RE2 expression (case-insensitive, verbose layout) compiled with RE2's meaning.
pub fn search(pattern: &str) -> Result<regex::Regex, String> {
    let translated = translate(&strip_layout(pattern))?;
    regex::RegexBuilder::new(&translated)
        .case_insensitive(true)
        .size_limit(32 << 20)
        .build()
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn ascii_classes_and_literals() {
        assert_eq!(
            translate(r"\w+\s\d\b").as_deref(),
            Ok(r"[0-9A-Za-z_]+[\t\n\x0C\r ][0-9](?-u:\b)")
        );
        assert_eq!(translate(r"[\w.-]").as_deref(), Ok(r"[0-9A-Za-z_.-]"));
        assert_eq!(translate(r"\<a\>").as_deref(), Ok("<a>"));
        assert_eq!(translate(r"[[&&~]").as_deref(), Ok(r"[\[\&\&\~]"));
        assert_eq!(translate(r"\Qa.b\E").as_deref(), Ok(r"a\.b"));
        assert!(translate(r"\C").is_err());
    }

    #[test]
    fn negated_shorthands_in_a_class_become_intersections() {
        assert_eq!(translate(r"[^\S\n]").as_deref(), Ok(r"[[\t\n\x0C\r ]&&[^\n]]"));
        assert_eq!(translate(r"[\W.]").as_deref(), Ok(r"[^[0-9A-Za-z_]&&[^.]]"));
        assert_eq!(translate(r"[^\S]").as_deref(), Ok(r"[[\t\n\x0C\r ]]"));
        assert_eq!(translate(r"[\D\W]").as_deref(), Ok(r"[^[0-9]&&[0-9A-Za-z_]]"));
    }

    #[test]
    fn the_intersections_hold_the_sets_the_unions_held() {
        let pairs = [
            (r"[^\S\n]", "[^[^\t\n\x0C\r ]\n]"),
            (r"[\W.]", "[[^0-9A-Za-z_].]"),
            (r"[^\D\s=]", "[^[^0-9]\t\n\x0C\r =]"),
            (r"[\D\W]", "[[^0-9][^0-9A-Za-z_]]"),
        ];
        let probes = [
            "a", "A", "0", " ", "\n", "\t", ".", "=", "_", "\u{17f}", "\u{212a}", "é", "\u{ff21}",
        ];
        for (pattern, union) in pairs {
            let translated = translate(pattern).map(|p| format!("^{p}$")).unwrap_or_default();
            let ours = regex::RegexBuilder::new(&translated)
                .case_insensitive(true)
                .build();
            let theirs = regex::RegexBuilder::new(&format!("^{union}$"))
                .case_insensitive(true)
                .build();
            let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
                panic!("{pattern} does not compile");
            };
            for probe in probes {
                assert_eq!(
                    ours.is_match(probe),
                    theirs.is_match(probe),
                    "{pattern} on {probe:?}"
                );
            }
        }
    }
}
