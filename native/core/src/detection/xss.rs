//! Cross-site scripting by tokenising HTML, after libinjection's published html5 approach (the
//! same reading as the Python oracle's `stockade.oracle.detection.xss`, which documents it).
//!
//! A value is read as HTML from the states an application may put it in: text between tags,
//! inside a quoted or unquoted attribute value, among a tag's attributes. A small state
//! machine reads tags, attribute names and values; script-capable markup is a dangerous tag,
//! an event handler, a script URL, a dangerous style, an SVG animation of a handler, a closing
//! raw-text tag followed by markup, or a conditional comment. [`Xss::script_context`] reads
//! values that break out of a JavaScript string.

use std::collections::HashSet;

use regex::Regex;

use super::pattern::search;
use super::text::{SPACE_CLASS, WORD_CLASS, is_alpha, strip};
use super::transforms::html_unescape;

const DANGEROUS_TAGS: &str =
    "script iframe frame frameset object embed applet base meta link style svg math xml xss import
    vmlframe handler listener isindex noscript bgsound layer ilayer portal template xmp plaintext";
const DANGEROUS_PREFIXES: [&str; 5] = ["svg", "xsl", "math", "script", "iframe"];
const EVENTS: &str = "
    abort activate afterprint afterscriptexecute afterupdate animationcancel animationend
    animationiteration animationstart auxclick beforeactivate beforecopy beforecut beforedeactivate
    beforeeditfocus beforeinput beforeprint beforescriptexecute beforetoggle beforeunload
    beforeupdate begin blur bounce cancel canplay canplaythrough cellchange change click close
    contextlost contextmenu contextrestored controlselect copy cuechange cut dataavailable
    datasetchanged datasetcomplete dblclick deactivate drag dragdrop dragend dragenter dragexit
    dragleave dragover dragstart drop durationchange emptied end ended error errorupdate filterchange
    finish focus focusin focusout formdata fullscreenchange fullscreenerror gotpointercapture
    hashchange help input invalid keydown keypress keyup languagechange layoutcomplete load
    loadeddata loadedmetadata loadend loadstart losecapture lostpointercapture message messageerror
    mousedown mouseenter mouseleave mousemove mouseout mouseover mouseup mousewheel move moveend
    movestart mozfullscreenchange offline online pagehide pagereveal pageshow pageswap paste pause
    play playing pointercancel pointerdown pointerenter pointerleave pointermove pointerout
    pointerover pointerrawupdate pointerup popstate progress propertychange ratechange
    readystatechange rejectionhandled repeat reset resize resizeend resizestart rowenter rowexit
    rowsdelete rowsinserted scroll scrollend search securitypolicyviolation seek seeked seeking
    select selectionchange selectstart show slotchange stalled start storage submit suspend timer
    timeupdate toggle touchcancel touchend touchmove touchstart transitioncancel transitionend
    transitionrun transitionstart unhandledrejection unload volumechange waiting webkitanimationend
    webkitanimationiteration webkitanimationstart webkittransitionend wheel zoom";
const URL_ATTRIBUTES: &str =
    "href src action formaction data xlink:href background dynsrc lowsrc poster codebase code archive
    cite longdesc usemap profile xml:base from to values by folder datasrc srcset icon manifest";
const ATTR_SPACES: &[u8] = b" \t\n\r\x0c\x0b\0/";

const JS_SINK: &str = r#"\b(?:alert|prompt|confirm)\s*(?:`|\)\s*\()                                       # alert`1`, (alert)(1)
    |\b(?:alert|prompt|confirm)\s*\(\s*(?:document\.|window\.|/|`|\d+\s*\)\s*(?:[;/<>]|$)|['"][^'"]*xss)
    |\b(?:eval|settimeout|setinterval|execscript|function|atob|fromcharcode|importscripts)\s*\(\s*(?:['"`]|atob|unescape|decodeuri|string\.|\w+\s*\()
    |\bdocument\s*\.\s*(?:cookie|domain|write(?:ln)?\s*\(|location\s*=|body\.innerhtml)
    |\b(?:window|document|top|self)\s*\.\s*location\s*(?:\.\s*href\s*)?=
    |\b(?:window|top|self|this|parent|globalThis)\s*\[\s*['"`/]
    |\[\s*['"`]constructor['"`]\s*\]|\bconstructor\s*\.\s*constructor\b|\bconstructor\s*\(\s*['"`]
    |\bstring\s*\.\s*fromcharcode\s*\(|\binnerhtml\s*=|\bouterhtml\s*=|\.\s*src\s*=\s*['"`]?(?:https?:)?//
    |\bnew\s+image\s*\(\s*\)\s*\.\s*src|\bfetch\s*\(\s*['"`]?(?:https?:)?//|\bxmlhttprequest\b|\bnavigator\.sendbeacon
    |\b(?:settimeout|setinterval|eval|function|execscript)\s*\(\s*(?:location|name|document\.|window\.|top\.|self\.|atob|unescape|decodeuricomponent)
    |\.\s*(?:parentnode|innerhtml|outerhtml)\s*(?:=|\.|\()|\bdocument\s*\.\s*(?:body|createelement|queryselector|getelementbyid)\s*[.(]
    |\$\{\s*(?:alert|prompt|confirm|eval|function)\s*\}|\+ad[w4]-|\bon(?:error|load)\s*=\s*(?:alert|eval|prompt)\b
    |\bjavascript\s*:\s*[\w$.\[\]'"`]+\s*(?:\(|`|=)|\bvbscript\s*:\s*\w|\bdata\s*:\s*text/html\s*[;,]
    "#;

/// The HTML and JavaScript tokeniser's tables, built once.
#[derive(Debug)]
pub struct Xss {
    tags: HashSet<&'static str>,
    events: HashSet<&'static str>,
    urls: HashSet<&'static str>,
    tag_name: Regex,
    attr_name: Regex,
    script_url: Regex,
    attribute_start: Regex,
    style: Regex,
    raw_text_close: Regex,
    comment: Regex,
    animated: Regex,
    css_escape: Regex,
    js_break: Regex,
    js_sink: Regex,
}

impl Xss {
    pub fn new() -> Result<Self, String> {
        let s = format!("[{SPACE_CLASS}]");
        let w = format!("[{WORD_CLASS}]");
        let compile = |pattern: &str| Regex::new(pattern).map_err(|error| error.to_string());
        let js_break = format!(
            r#"(?i)(?:^|[^\\{WORD_CLASS}])['"`]{s}*\)*{s}*(?:[-+*/%^|&,;?:]|\|\||&&){s}*\(*{s}*(?:[{WORD_CLASS}$.\[\]'"`]+{s}*(?:\(|`)|new{s}+{w}|(?:top|self|window|this|parent|document|globalThis){s}*\[)|(?:^|[^\\{WORD_CLASS}])['"`]{s}*;{s}*{w}+{s}*[=(]|</script{s}*>"#
        );
        Ok(Self {
            tags: DANGEROUS_TAGS.split_whitespace().collect(),
            events: EVENTS.split_whitespace().collect(),
            urls: URL_ATTRIBUTES.split_whitespace().collect(),
            tag_name: compile(&format!(r"^:?[a-zA-Z][^{SPACE_CLASS}/>\x00]*"))?,
            attr_name: compile(&format!(
                r#"^[^{SPACE_CLASS}"'>/=\x00][^{SPACE_CLASS}"'>/=\x00]*"#
            ))?,
            script_url: compile(
                r"(?i)^(?:(?:java|vb|live|mocha|j|ecma)script:|mocha:|livescript:|data:(?:text/html|text/xml|image/svg|application/))",
            )?,
            attribute_start: compile(&format!(r"(?i)^{s}*[a-z][{WORD_CLASS}:-]*{s}*="))?,
            style: compile(&format!(
                r#"(?i)expression{s}*\(|javascript:|vbscript:|behavior{s}*:|-moz-binding|@import|url{s}*\({s}*['"]?{s}*(?:java|vb)script"#
            ))?,
            raw_text_close: compile(&format!(
                r"(?i)</(?:script|style|title|textarea|noscript|xmp|iframe|noembed|template|option|select)\b[^>]*>{s}*<[a-z!/]"
            ))?,
            comment: compile(&format!(
                r"(?i)<!--{s}*\[if|<!\[cdata\[[^\]]*<|<!\[endif\]|<\?import|<!--[^>]*<{s}*(?:script|img|svg|iframe)"
            ))?,
            animated: compile(r"(?i)^(?:on[a-z]{3,}$|(?:xlink:)?href$)")?,
            css_escape: compile(&format!(r"(?i)\\([0-9a-f]{{1,6}}){s}?"))?,
            js_break: compile(&js_break)?,
            js_sink: search(JS_SINK)?,
        })
    }

    /// Whether `value` holds script-capable markup in any of the states an application may put it.
    pub fn is_xss(&self, value: &str) -> bool {
        let markup = value.contains('<');
        if !markup && !value.contains('=') && !value.contains(['"', '\'', '`']) {
            return false;
        }
        if markup && (self.raw_text_close.is_match(value) || self.comment.is_match(value)) {
            return true;
        }
        if markup && self.scan(value, 0, false) {
            return true;
        }
        for quote in ['"', '\'', '`'] {
            if let Some(start) = value.find(quote) {
                if self.scan(value, start + 1, true) {
                    return true;
                }
            }
        }
        if self.attribute_start.is_match(value) && self.scan(value, 0, true) {
            return true;
        }
        let space = value.find([' ', '\t', '\n', '\r', '\x0c']);
        match space {
            Some(space) if space > 0 => {
                value.get(space..).is_some_and(|rest| rest.contains('=')) && self.scan(value, space, true)
            }
            _ => false,
        }
    }

    /// Whether `value` breaks out of a JavaScript string into code, or calls what attacks call.
    pub fn script_context(&self, value: &str) -> bool {
        self.js_sink.is_match(value) || self.js_break.is_match(value)
    }

    fn scan(&self, text: &str, start: usize, mut in_tag: bool) -> bool {
        let bytes = text.as_bytes();
        let size = bytes.len();
        let mut i = start;
        let mut tag = String::new();
        while i < size {
            if !in_tag {
                let Some(found) = text.get(i..).and_then(|rest| rest.find('<')) else {
                    return false;
                };
                i += found + 1;
                if bytes.get(i) == Some(&b'/') {
                    i += 1;
                }
                let Some(found) = text.get(i..).and_then(|rest| self.tag_name.find(rest)) else {
                    continue;
                };
                let name = found.as_str().to_lowercase();
                tag = name.rsplit(':').next().unwrap_or_default().to_owned();
                let dangerous = self.tags.contains(tag.as_str())
                    || DANGEROUS_PREFIXES.iter().any(|prefix| name.starts_with(prefix));
                if dangerous && bytes.get(i.wrapping_sub(1)) != Some(&b'/') {
                    return true;
                }
                i += found.end();
                in_tag = true;
                continue;
            }
            while bytes.get(i).is_some_and(|b| ATTR_SPACES.contains(b)) {
                i += 1;
            }
            let Some(&c) = bytes.get(i) else { return false };
            if c == b'>' {
                in_tag = false;
                i += 1;
                continue;
            }
            if matches!(c, b'"' | b'\'' | b'`') {
                i += 1;
                continue;
            }
            let Some(found) = text.get(i..).and_then(|rest| self.attr_name.find(rest)) else {
                i += text
                    .get(i..)
                    .and_then(|rest| rest.chars().next())
                    .map_or(1, char::len_utf8);
                continue;
            };
            let name = found.as_str().to_lowercase();
            i += found.end();
            let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | 0x0b);
            while bytes.get(i).is_some_and(blank) {
                i += 1;
            }
            let mut value: Option<&str> = None;
            if bytes.get(i) == Some(&b'=') {
                i += 1;
                while bytes.get(i).is_some_and(blank) {
                    i += 1;
                }
                if let Some(&quote @ (b'"' | b'\'' | b'`')) = bytes.get(i) {
                    let end = bytes
                        .get(i + 1..)
                        .unwrap_or_default()
                        .iter()
                        .position(|&b| b == quote)
                        .map_or(size, |p| i + 1 + p);
                    value = Some(text.get(i + 1..end).unwrap_or_default());
                    i = end + 1;
                } else {
                    let begin = i;
                    while bytes
                        .get(i)
                        .is_some_and(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c | b'>'))
                    {
                        i += 1;
                    }
                    value = Some(text.get(begin..i).unwrap_or_default());
                }
            }
            if self.dangerous_attribute(&name, value, &tag) {
                return true;
            }
            let handler = name
                .strip_prefix("on")
                .filter(|rest| !rest.is_empty() && rest.chars().all(is_alpha));
            if !tag.is_empty() && value.is_some() && name.chars().count() > 4 && handler.is_some() {
                return true; // any on* handler in a tag the value opened: <x onxxx=1> probes for filters
            }
        }
        false
    }

    fn dangerous_attribute(&self, name: &str, value: Option<&str>, tag: &str) -> bool {
        let Some(value) = value else { return false };
        if name
            .strip_prefix("on")
            .is_some_and(|event| self.events.contains(event))
        {
            return true;
        }
        let name = if name.starts_with("xlink:") || name.starts_with("xml:") {
            name
        } else {
            name.rsplit(':').next().unwrap_or_default()
        };
        if self.urls.contains(name) {
            let unescaped = html_unescape(value);
            let url = url_noise_removed(&unescaped);
            if self.script_url.is_match(&url) {
                return true;
            }
        }
        if name == "srcdoc" && html_unescape(value).contains('<') {
            return true;
        }
        if name == "attributename" && self.animated.is_match(strip(value)) {
            return true; // SVG <set>/<animate> writing a handler or a link: attributeName="onload"
        }
        if value.contains("&{") {
            return true; // Netscape's JavaScript entities: <br size="&{alert(1)}">
        }
        if name == "style" && self.style.is_match(&self.css(&html_unescape(value))) {
            return true;
        }
        matches!(name, "formaction" | "xmlns:ev" | "ev:event")
            || (name == "action" && matches!(tag, "form" | "isindex"))
    }

    /// A style's text as CSS reads it: `\65` escapes decoded, comments and stray backslashes removed.
    fn css(&self, value: &str) -> String {
        if !value.contains("/*") && !value.contains('\\') {
            return value.to_owned();
        }
        let decoded = self.css_escape.replace_all(value, |found: &regex::Captures<'_>| {
            let digits = found.get(1).map_or("", |m| m.as_str());
            let code = u32::from_str_radix(digits, 16).unwrap_or(0).min(0x10FFFF);
            char::from_u32(code).unwrap_or('\u{fffd}').to_string()
        });
        css_noise_removed(&decoded)
    }
}

/// `[\x00-\x20\x7f]+|&(?:tab|newline);` (any case) removed.
fn url_noise_removed(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        let rest = bytes.get(i..).unwrap_or_default();
        if rest.len() >= 5 && rest.get(..5).is_some_and(|w| w.eq_ignore_ascii_case(b"&tab;")) {
            i += 5;
            continue;
        }
        if rest.len() >= 9
            && rest
                .get(..9)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"&newline;"))
        {
            i += 9;
            continue;
        }
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        if !(c <= '\u{20}' || c == '\u{7f}') {
            out.push(c);
        }
        i += c.len_utf8();
    }
    out
}

/// `/\*.*?\*/` and a backslash not before a hex digit removed.
fn css_noise_removed(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes.get(i..i + 2) == Some(b"/*") {
            if let Some(close) = text.get(i + 2..).and_then(|rest| rest.find("*/")) {
                out.push_str(text.get(copied..i).unwrap_or_default());
                i += 2 + close + 2;
                copied = i;
                continue;
            }
        }
        if bytes.get(i) == Some(&b'\\') && !bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit) {
            out.push_str(text.get(copied..i).unwrap_or_default());
            i += 1;
            copied = i;
            continue;
        }
        i += 1;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}
