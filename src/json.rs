//! JSON for config.json, seccomp profiles, hook state and runc's outputs: a small DOM
//! parser that keeps numbers as their text, typed accessors that name the JSON path in
//! every error, and a string writer.
//!
//! The parser is a hand-written recursive descent over the bytes (RFC 8259): the whole
//! input must be UTF-8, nesting is limited to [`MAX_DEPTH`] (so no input can exhaust the
//! stack), and every error names the line and column where the document went wrong.
//! Numbers keep their text; the accessors turn it into an integer only when asked, and
//! name the value's path ("mounts[2].options[0]") when it is not what was expected.
use crate::error::{Error, Result};

/// A JSON value.
#[cfg_attr(test, derive(Debug, PartialEq))]
#[derive(Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    /// The number's text exactly as written (validated JSON number syntax).
    Number(String),
    String(String),
    Array(Vec<Value>),
    /// Members in document order; a repeated key: the last one wins on lookup (as Go's encoding/json).
    Object(Vec<(String, Value)>),
}

/// How deeply arrays and objects may nest.
pub const MAX_DEPTH: u32 = 128;

/// Parse a whole document (trailing whitespace only). Depth limit 128. Errors are
/// Error::new("line L column C: <what was expected>"). Never panics, any input.
/// Strings: full escape handling incl. \uXXXX surrogate pairs; invalid UTF-8 / lone surrogates → error.
pub fn parse(text: &[u8]) -> Result<Value> {
    let s = match std::str::from_utf8(text) {
        Ok(s) => s,
        Err(e) => return Err(position(text, e.valid_up_to(), "invalid UTF-8")),
    };
    let mut p = Parser {
        s,
        b: text,
        i: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i < p.b.len() {
        return Err(p.err("expected the end of the document"));
    }
    Ok(v)
}

/// "line L column C: what" for byte offset `i` of `b` (columns count characters, from 1).
fn position(b: &[u8], i: usize, what: &str) -> Error {
    let before = b.get(..i).unwrap_or(b);
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |n| n + 1);
    let column = before[start..]
        .iter()
        .filter(|&&c| c & 0xc0 != 0x80)
        .count()
        + 1;
    Error::msg(format_args!("line {line} column {column}: {what}"))
}

struct Parser<'a> {
    /// The input, as text (validated once) and as bytes; `i` indexes both.
    s: &'a str,
    b: &'a [u8],
    i: usize,
    depth: u32,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> Error {
        position(self.b, self.i, what)
    }

    /// The next byte, 0 at the end (a NUL byte in the input is invalid wherever it is).
    fn peek(&self) -> u8 {
        self.b.get(self.i).copied().unwrap_or(0)
    }

    fn skip(&mut self, c: u8) -> bool {
        let hit = self.peek() == c && self.i < self.b.len();
        self.i += usize::from(hit);
        hit
    }

    fn ws(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    /// Whitespace, then `c` if it is next.
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        self.skip(c)
    }

    fn value(&mut self) -> Result<Value> {
        self.ws();
        match self.peek() {
            b'{' | b'[' => self.nested(),
            b'"' => Ok(Value::String(self.string()?)),
            b't' => self.word("true", Value::Bool(true)),
            b'f' => self.word("false", Value::Bool(false)),
            b'n' => self.word("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.err("expected a value")),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value> {
        if !self.b[self.i..].starts_with(w.as_bytes()) {
            return Err(self.err("expected a value"));
        }
        self.i += w.len();
        Ok(v)
    }

    /// An array or an object (the next byte is '[' or '{').
    fn nested(&mut self) -> Result<Value> {
        let object = self.peek() == b'{';
        if self.depth >= MAX_DEPTH {
            return Err(self.err("arrays and objects nested more than 128 deep"));
        }
        self.depth += 1;
        self.i += 1;
        let (close, expected) = match object {
            true => (b'}', "expected ',' or '}'"),
            false => (b']', "expected ',' or ']'"),
        };
        let mut items = Vec::new();
        let mut members = Vec::new();
        if !self.eat(close) {
            loop {
                if object {
                    self.ws();
                    if self.peek() != b'"' {
                        return Err(self.err("expected a string (a member's name)"));
                    }
                    let key = self.string()?;
                    if !self.eat(b':') {
                        return Err(self.err("expected ':'"));
                    }
                    members.push((key, self.value()?));
                } else {
                    items.push(self.value()?);
                }
                if self.eat(close) {
                    break;
                }
                if !self.eat(b',') {
                    return Err(self.err(expected));
                }
            }
        }
        self.depth -= 1;
        Ok(match object {
            true => Value::Object(members),
            false => Value::Array(items),
        })
    }

    /// A string (the next byte is '"').
    fn string(&mut self) -> Result<String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            // A run of plain characters is copied at once: it starts and ends next to an
            // ASCII byte (or the end), so it is whole UTF-8 characters.
            let start = self.i;
            while !matches!(self.b.get(self.i), None | Some(b'"' | b'\\' | 0..0x20)) {
                self.i += 1;
            }
            out.push_str(self.s.get(start..self.i).unwrap_or_default());
            match self.b.get(self.i) {
                None => return Err(self.err("expected '\"' (the string is not closed)")),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.err("control character in a string (not escaped)")),
            }
        }
    }

    /// The character of an escape sequence; the '\\' has been read.
    fn escape(&mut self) -> Result<char> {
        let c = match self.peek() {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let at = self.i - 1;
                self.i += 1;
                let mut code = self.hex4()?;
                if (0xd800..0xdc00).contains(&code) && self.b[self.i..].starts_with(b"\\u") {
                    self.i += 2;
                    let low = self.hex4()?;
                    if !(0xdc00..0xe000).contains(&low) {
                        return Err(position(self.b, at, "unpaired surrogate in \\u escape"));
                    }
                    code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                }
                // A lone high or low surrogate is no character.
                return char::from_u32(code)
                    .ok_or_else(|| position(self.b, at, "unpaired surrogate in \\u escape"));
            }
            _ => return Err(self.err("invalid escape (expected one of \"\\/bfnrtu)")),
        };
        self.i += 1;
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let Some(d) = char::from(self.peek()).to_digit(16) else {
                return Err(self.err("expected 4 hex digits after \\u"));
            };
            n = n * 16 + d;
            self.i += 1;
        }
        Ok(n)
    }

    /// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    fn number(&mut self) -> Result<Value> {
        let start = self.i;
        self.skip(b'-');
        if !self.skip(b'0') {
            self.digits()?;
        }
        if self.skip(b'.') {
            self.digits()?;
        }
        if self.skip(b'e') || self.skip(b'E') {
            let _ = self.skip(b'+') || self.skip(b'-');
            self.digits()?;
        }
        let text = self.s.get(start..self.i).unwrap_or_default();
        Ok(Value::Number(text.to_string()))
    }

    fn digits(&mut self) -> Result<()> {
        if !self.peek().is_ascii_digit() {
            return Err(self.err("expected a digit"));
        }
        while self.peek().is_ascii_digit() {
            self.i += 1;
        }
        Ok(())
    }
}

/// A value and its JSON path, for messages: "process.user.uid", "mounts[2].options[0]",
/// "linux.sysctl[\"net.ipv4.ip_forward\"]" (keys that are not plain identifiers are bracket-quoted).
/// The root's path is "" and its errors are the bare message.
///
/// An `At` is two references and no text, the value and its document's root (so it is
/// `Copy`, dropping one costs nothing, and it travels in two registers): its path is
/// written only when a message needs it, by finding the value in the document.
#[derive(Clone, Copy)]
pub struct At<'a> {
    /// The value is the path's node.
    pub path: Path<'a>,
}

/// Where a value is in its document; `Display` writes the JSON path.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    node: &'a Value,
    root: &'a Value,
}

impl Path<'_> {
    pub fn is_empty(&self) -> bool {
        std::ptr::eq(self.root, self.node)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut path = String::new();
        find(self.root, self.node, &mut path);
        f.write_str(&path)
    }
}

/// Append to `path` the steps from `v` to `target` (by address); whether it was found.
fn find(v: &Value, target: &Value, path: &mut String) -> bool {
    if std::ptr::eq(v, target) {
        return true;
    }
    let len = path.len();
    match v {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push('[');
                push_num(path, i);
                path.push(']');
                if find(item, target, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        Value::Object(members) => {
            for (key, item) in members {
                push_key(path, key);
                if find(item, target, path) {
                    return true;
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
    false
}

fn push_num(out: &mut String, n: usize) {
    if n >= 10 {
        push_num(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// `.key`, or `["key"]` when the key is not a plain identifier.
fn push_key(path: &mut String, key: &str) {
    let mut bytes = key.bytes();
    let ident = bytes
        .next()
        .is_some_and(|c| c == b'_' || c.is_ascii_alphabetic())
        && bytes.all(|c| c == b'_' || c.is_ascii_alphanumeric());
    if !ident {
        path.push('[');
        quote(path, key);
        path.push(']');
    } else {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    }
}

impl<'a> At<'a> {
    pub fn root(value: &'a Value) -> At<'a> {
        At {
            path: Path {
                root: value,
                node: value,
            },
        }
    }

    fn at(self, value: &'a Value) -> At<'a> {
        At {
            path: Path {
                node: value,
                ..self.path
            },
        }
    }

    /// Member `key` of an object. Absent or null → Ok(None) (Go semantics: null = unset).
    /// Self not an object (and not null) → Err("PATH: expected an object").
    #[inline(always)]
    pub fn get(self, key: &str) -> Result<Option<At<'a>>> {
        Ok(self.member(key)?.map(|v| self.at(v)))
    }

    /// `get`'s work, with a result small enough to come back in registers.
    #[inline(never)]
    fn member(self, key: &str) -> Result<Option<&'a Value>> {
        match self.path.node {
            Value::Null => Ok(None),
            Value::Object(members) => Ok(match members.iter().rev().find(|m| m.0 == key) {
                None | Some((_, Value::Null)) => None,
                Some((_, v)) => Some(v),
            }),
            _ => Err(self.error("expected an object")),
        }
    }

    /// Member `key` as a u32 ([`At::u32`]), `or` when absent or null.
    #[inline(never)]
    pub fn u32_or(self, key: &str, or: u32) -> Result<u32> {
        match self.get(key)? {
            Some(v) => v.u32(),
            None => Ok(or),
        }
    }

    /// Member `key` as a u64 ([`At::u64`]), `or` when absent or null.
    #[inline(never)]
    pub fn u64_or(self, key: &str, or: u64) -> Result<u64> {
        match self.get(key)? {
            Some(v) => v.u64(),
            None => Ok(or),
        }
    }

    /// Member `key` as a string ([`At::str`]), `or` when absent or null.
    #[inline(never)]
    pub fn str_or(self, key: &str, or: &'a str) -> Result<&'a str> {
        match self.get(key)? {
            Some(v) => v.str(),
            None => Ok(or),
        }
    }

    pub fn str(self) -> Result<&'a str> {
        match self.path.node {
            Value::String(s) => Ok(s),
            _ => Err(self.error("expected a string")),
        }
    }

    pub fn bool(self) -> Result<bool> {
        match self.path.node {
            Value::Bool(b) => Ok(*b),
            _ => Err(self.error("expected true or false")),
        }
    }

    /// The number's sign and magnitude, if it is written as an integer.
    fn integer(self) -> Result<(bool, u64)> {
        let Value::Number(text) = self.path.node else {
            return Err(self.error("expected a number"));
        };
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(self.error(format_args!("{text} is not an integer")));
        }
        let mut n: u64 = 0;
        for c in digits.bytes() {
            match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(c - b'0')))
            {
                Some(m) => n = m,
                None => return Err(self.out_of_range()),
            }
        }
        Ok((digits.len() < text.len(), n))
    }

    fn out_of_range(self) -> Error {
        match self.path.node {
            Value::Number(text) => self.error(format_args!("{text} is out of range")),
            _ => self.error("out of range"),
        }
    }

    pub fn u64(self) -> Result<u64> {
        match self.integer()? {
            (true, n) if n != 0 => Err(self.out_of_range()),
            (_, n) => Ok(n),
        }
    }

    pub fn u32(self) -> Result<u32> {
        u32::try_from(self.u64()?).map_err(|_| self.out_of_range())
    }

    pub fn i64(self) -> Result<i64> {
        match self.integer()? {
            (true, n) if n <= 1 << 63 => Ok((n as i64).wrapping_neg()),
            (false, n) if n < 1 << 63 => Ok(n as i64),
            _ => Err(self.out_of_range()),
        }
    }

    pub fn i32(self) -> Result<i32> {
        i32::try_from(self.i64()?).map_err(|_| self.out_of_range())
    }

    /// The elements, with paths PATH[i].
    pub fn array(self) -> Result<Items<'a>> {
        let Value::Array(items) = self.path.node else {
            return Err(self.error("expected an array"));
        };
        Ok(Items {
            items: items.iter(),
            root: self.path.root,
        })
    }

    /// The members in document order; of a repeated key only the last is kept (where it
    /// stands). Null members are included (the caller decides what null means there).
    pub fn object(self) -> Result<Vec<(&'a str, At<'a>)>> {
        let Value::Object(members) = self.path.node else {
            return Err(self.error("expected an object"));
        };
        // From the end, keeping each key the first time it is seen; the keys seen are in a
        // small open-addressing hash set of member indices, so this stays linear.
        let size = (members.len() * 2).next_power_of_two();
        let mut seen = vec![usize::MAX; size];
        let mut out = Vec::new();
        for (n, (key, value)) in members.iter().enumerate().rev() {
            let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, c| {
                (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
            });
            let mut slot = hash as usize & (size - 1);
            loop {
                match seen[slot] {
                    usize::MAX => {
                        seen[slot] = n;
                        out.push((key.as_str(), self.at(value)));
                        break;
                    }
                    j if members[j].0 == *key => break,
                    _ => slot = (slot + 1) & (size - 1),
                }
            }
        }
        out.reverse();
        Ok(out)
    }

    /// An object of strings (annotations), written back as compact JSON: its members in
    /// order, a repeated key once (see [`At::object`]).
    pub fn string_object(self) -> Result<String> {
        let mut out = String::from("{");
        for (i, (k, v)) in self.object()?.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            quote(&mut out, k);
            out.push(':');
            quote(&mut out, v.str()?);
        }
        out.push('}');
        Ok(out)
    }

    /// An array of strings.
    pub fn strings(self) -> Result<Vec<&'a str>> {
        let mut out = Vec::new();
        for a in self.array()? {
            out.push(a.str()?);
        }
        Ok(out)
    }

    /// Error::new("PATH: msg") for checks done by the caller.
    pub fn error(self, msg: impl std::fmt::Display) -> Error {
        path_error(&self.path, msg.to_string())
    }
}

/// An array's elements as [`At`]s, made as they are reached (nothing is collected).
#[derive(Clone)]
pub struct Items<'a> {
    items: std::slice::Iter<'a, Value>,
    root: &'a Value,
}

impl Items<'_> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.len() == 0
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = At<'a>;

    #[inline(never)]
    fn next(&mut self) -> Option<At<'a>> {
        let node = self.items.next()?;
        Some(At {
            path: Path {
                node,
                root: self.root,
            },
        })
    }
}

fn path_error(path: &Path<'_>, msg: String) -> Error {
    match path.is_empty() {
        true => Error::new(msg),
        false => Error::msg(format_args!("{path}: {msg}")),
    }
}

/// Append `s` as a JSON string literal (quotes, escapes \" \\ \n \r \t \b \f, other control
/// chars as \u00XX; everything else verbatim UTF-8).
pub fn quote(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\0'..'\u{20}' => {
                out.push_str("\\u00");
                out.push(char::from(HEX[c as usize >> 4]));
                out.push(char::from(HEX[c as usize & 15]));
            }
            _ => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Value {
        match parse(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("{text:?}: {e}"),
        }
    }

    fn fail(text: &[u8]) -> String {
        match parse(text) {
            Ok(v) => panic!("{text:?} parsed as {v:?}"),
            Err(e) => e.msg.clone(),
        }
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    fn num(v: &str) -> Value {
        Value::Number(v.to_string())
    }

    #[test]
    fn json_parses_all_kinds() {
        let v = ok(" {\"a\": [1, -2.5e+3, true, false, null, \"x\"], \"b\": {}, \"c\": []} \n");
        let want = Value::Object(vec![
            (
                "a".into(),
                Value::Array(vec![
                    num("1"),
                    num("-2.5e+3"),
                    Value::Bool(true),
                    Value::Bool(false),
                    Value::Null,
                    s("x"),
                ]),
            ),
            ("b".into(), Value::Object(vec![])),
            ("c".into(), Value::Array(vec![])),
        ]);
        assert_eq!(v, want);
        assert_eq!(ok("0"), num("0"));
        assert_eq!(ok("\"\""), s(""));
        assert_eq!(ok("\t\r\nnull "), Value::Null);
    }

    #[test]
    fn json_numbers_keep_text_and_follow_the_grammar() {
        for good in [
            "0",
            "-0",
            "1",
            "10",
            "-10",
            "0.5",
            "1.25",
            "1e3",
            "1E3",
            "1e+3",
            "1e-3",
            "-0.0e0",
            "123456789012345678901234567890",
            "1.0",
        ] {
            assert_eq!(ok(good), num(good));
        }
        for (bad, msg) in [
            ("-", "line 1 column 2: expected a digit"),
            ("-a", "line 1 column 2: expected a digit"),
            ("01", "line 1 column 2: expected the end of the document"),
            ("-01", "line 1 column 3: expected the end of the document"),
            ("1.", "line 1 column 3: expected a digit"),
            (".5", "line 1 column 1: expected a value"),
            ("1.e3", "line 1 column 3: expected a digit"),
            ("1e", "line 1 column 3: expected a digit"),
            ("1e+", "line 1 column 4: expected a digit"),
            ("+1", "line 1 column 1: expected a value"),
            ("0x10", "line 1 column 2: expected the end of the document"),
            ("[1,2,]", "line 1 column 6: expected a value"),
            ("Infinity", "line 1 column 1: expected a value"),
            ("NaN", "line 1 column 1: expected a value"),
        ] {
            assert_eq!(fail(bad.as_bytes()), msg, "{bad}");
        }
    }

    #[test]
    fn json_string_escapes() {
        assert_eq!(
            ok(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#),
            s("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti")
        );
        assert_eq!(ok(r#""\u0041\u00e9\u20AC\u0000""#), s("Aé€\0"));
        // A surrogate pair: U+1F600.
        assert_eq!(ok(r#""\ud83d\ude00""#), s("😀"));
        assert_eq!(ok(r#""x\uD834\uDD1Ey""#), s("x𝄞y"));
        // Raw UTF-8 passes through.
        assert_eq!(ok("\"é😀\""), s("é😀"));
        for (bad, msg) in [
            (
                r#""\ud83d""#,
                "line 1 column 2: unpaired surrogate in \\u escape",
            ),
            (
                r#""\ud83dx""#,
                "line 1 column 2: unpaired surrogate in \\u escape",
            ),
            (
                r#""ab\ude00""#,
                "line 1 column 4: unpaired surrogate in \\u escape",
            ),
            (
                r#""\ud83d\u0041""#,
                "line 1 column 2: unpaired surrogate in \\u escape",
            ),
            (
                r#""\ud83d\ud83d""#,
                "line 1 column 2: unpaired surrogate in \\u escape",
            ),
            (
                r#""\u12""#,
                "line 1 column 6: expected 4 hex digits after \\u",
            ),
            (
                r#""\u12g4""#,
                "line 1 column 6: expected 4 hex digits after \\u",
            ),
            (
                r#""\ud83d\u12""#,
                "line 1 column 12: expected 4 hex digits after \\u",
            ),
            (
                r#""\x""#,
                "line 1 column 3: invalid escape (expected one of \"\\/bfnrtu)",
            ),
            (
                r#""\'""#,
                "line 1 column 3: invalid escape (expected one of \"\\/bfnrtu)",
            ),
            (
                "\"abc",
                "line 1 column 5: expected '\"' (the string is not closed)",
            ),
            (
                "\"abc\\",
                "line 1 column 6: invalid escape (expected one of \"\\/bfnrtu)",
            ),
            (
                "\"a\nb\"",
                "line 1 column 3: control character in a string (not escaped)",
            ),
            (
                "\"a\tb\"",
                "line 1 column 3: control character in a string (not escaped)",
            ),
            (
                "\"a\0b\"",
                "line 1 column 3: control character in a string (not escaped)",
            ),
        ] {
            assert_eq!(fail(bad.as_bytes()), msg, "{bad}");
        }
    }

    #[test]
    fn json_invalid_utf8_is_an_error_with_its_position() {
        assert_eq!(fail(b"\"\xff\""), "line 1 column 2: invalid UTF-8");
        assert_eq!(
            fail(b"{\n \"\xc3\xa9\xc3\""),
            "line 2 column 4: invalid UTF-8"
        );
        // An overlong encoding and an encoded surrogate are invalid UTF-8 too.
        assert_eq!(fail(b"\"\xc0\xaf\""), "line 1 column 2: invalid UTF-8");
        assert_eq!(fail(b"\"\xed\xa0\x80\""), "line 1 column 2: invalid UTF-8");
        // A byte order mark is not JSON.
        assert_eq!(fail(b"\xef\xbb\xbf{}"), "line 1 column 1: expected a value");
    }

    #[test]
    fn json_syntax_errors_name_line_and_column() {
        for (bad, msg) in [
            ("", "line 1 column 1: expected a value"),
            ("   ", "line 1 column 4: expected a value"),
            ("{", "line 1 column 2: expected a string (a member's name)"),
            ("{\"a\"}", "line 1 column 5: expected ':'"),
            ("{\"a\":}", "line 1 column 6: expected a value"),
            ("{\"a\":1", "line 1 column 7: expected ',' or '}'"),
            ("{\"a\":1 \"b\":2}", "line 1 column 8: expected ',' or '}'"),
            (
                "{\"a\":1,}",
                "line 1 column 8: expected a string (a member's name)",
            ),
            (
                "{a:1}",
                "line 1 column 2: expected a string (a member's name)",
            ),
            (
                "{1:1}",
                "line 1 column 2: expected a string (a member's name)",
            ),
            ("[", "line 1 column 2: expected a value"),
            ("[1", "line 1 column 3: expected ',' or ']'"),
            ("[1 2]", "line 1 column 4: expected ',' or ']'"),
            ("[,]", "line 1 column 2: expected a value"),
            ("]", "line 1 column 1: expected a value"),
            ("tru", "line 1 column 1: expected a value"),
            ("nul", "line 1 column 1: expected a value"),
            ("True", "line 1 column 1: expected a value"),
            ("{} {}", "line 1 column 4: expected the end of the document"),
            ("nulll", "line 1 column 5: expected the end of the document"),
            (
                "{}\n\n  x",
                "line 3 column 3: expected the end of the document",
            ),
            (
                "{\n  \"é€😀\": [1,\n  2 3]}",
                "line 3 column 5: expected ',' or ']'",
            ),
            ("{\r\n\"a\":\r\n?}", "line 3 column 1: expected a value"),
            ("/* c */ {}", "line 1 column 1: expected a value"),
            ("\u{a0}{}", "line 1 column 1: expected a value"),
        ] {
            assert_eq!(fail(bad.as_bytes()), msg, "{bad:?}");
        }
    }

    #[test]
    fn json_depth_limit() {
        let deep = |n: usize, open: &str, close: &str| open.repeat(n) + &close.repeat(n);
        assert!(parse(deep(128, "[", "]").as_bytes()).is_ok());
        assert!(parse(deep(128, "{\"a\":", "}").replace(":}", ":1}").as_bytes()).is_ok());
        let objects = "{\"a\":".repeat(127) + "{}" + &"}".repeat(127);
        assert!(parse(objects.as_bytes()).is_ok());
        assert_eq!(
            fail(deep(129, "[", "]").as_bytes()),
            "line 1 column 129: arrays and objects nested more than 128 deep"
        );
        let objects = "{\"a\":".repeat(128) + "{}" + &"}".repeat(128);
        assert_eq!(
            fail(objects.as_bytes()),
            "line 1 column 641: arrays and objects nested more than 128 deep"
        );
        // Far beyond: an error, not a stack overflow.
        assert!(parse("[".repeat(1_000_000).as_bytes()).is_err());
        assert!(parse("{\"\":".repeat(300_000).as_bytes()).is_err());
        // Depth is about nesting, not about how many there are.
        let wide = "[".to_string() + &"[[]],".repeat(10_000) + "[]]";
        assert!(parse(wide.as_bytes()).is_ok());
    }

    const CONFIG: &str = r#"{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 1000, "gid": 0, "additionalGids": [5, 6]},
    "args": ["sh", "-c", "echo \"hi\" \u00e9\ud83d\ude00"],
    "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
    "cwd": "/",
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "oomScoreAdj": -17
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "options": ["nosuid", "mode=755", 1]}
  ],
  "linux": {
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "0", "net.ipv4.ip_forward": "0"},
    "resources": {"memory": {"limit": 1.5e9, "swap": -1}, "cpu": {"shares": 10.0}},
    "namespaces": [{"type": "pid"}, {"type": "mount", "path": null}],
    "uidMappings": null
  },
  "annotations": {"io.kubernetes/x": "y", "": "empty", "a b": "c\"d"}
}"#;

    fn get<'a>(at: &At<'a>, key: &str) -> At<'a> {
        match at.get(key) {
            Ok(Some(a)) => a,
            Ok(None) => panic!("{}: no {key}", at.path),
            Err(e) => panic!("{e}"),
        }
    }

    fn msg<T>(r: Result<T>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.msg.clone(),
        }
    }

    #[test]
    fn json_accessors_and_paths() {
        let doc = ok(CONFIG);
        let root = At::root(&doc);
        assert_eq!(get(&root, "ociVersion").str().unwrap(), "1.0.2");
        let process = get(&root, "process");
        assert_eq!(process.path.to_string(), "process");
        let user = get(&process, "user");
        let uid = get(&user, "uid");
        assert_eq!(uid.path.to_string(), "process.user.uid");
        assert_eq!(uid.u32().unwrap(), 1000);
        assert_eq!(uid.u64().unwrap(), 1000);
        assert_eq!(uid.i32().unwrap(), 1000);
        assert_eq!(uid.i64().unwrap(), 1000);
        let gids: Vec<At> = get(&user, "additionalGids").array().unwrap().collect();
        assert_eq!(gids[1].path.to_string(), "process.user.additionalGids[1]");
        assert_eq!(gids[1].u32().unwrap(), 6);
        let args = get(&process, "args").strings().unwrap();
        assert_eq!(args, ["sh", "-c", "echo \"hi\" é😀"]);
        assert!(!get(&process, "terminal").bool().unwrap());
        assert_eq!(get(&process, "oomScoreAdj").i32().unwrap(), -17);
        assert_eq!(
            msg(get(&process, "oomScoreAdj").u32()),
            "process.oomScoreAdj: -17 is out of range"
        );
        let rl = &get(&process, "rlimits").array().unwrap().next().unwrap();
        assert_eq!(get(rl, "hard").path.to_string(), "process.rlimits[0].hard");
        assert!(get(&get(&root, "root"), "readonly").bool().unwrap());

        // Wrong types name the path.
        assert_eq!(msg(uid.str()), "process.user.uid: expected a string");
        assert_eq!(msg(uid.bool()), "process.user.uid: expected true or false");
        assert_eq!(msg(uid.array()), "process.user.uid: expected an array");
        assert_eq!(msg(uid.object()), "process.user.uid: expected an object");
        assert_eq!(msg(uid.get("x")), "process.user.uid: expected an object");
        assert_eq!(msg(process.u32()), "process: expected a number");
        assert_eq!(msg(process.i64()), "process: expected a number");
        assert_eq!(msg(process.strings()), "process: expected an array");
        let mounts: Vec<At> = get(&root, "mounts").array().unwrap().collect();
        assert_eq!(
            msg(get(&mounts[1], "options").strings()),
            "mounts[1].options[2]: expected a string"
        );
        assert_eq!(
            mounts[0].error(format_args!("{} is bad", 5)).msg,
            "mounts[0]: 5 is bad"
        );
        assert_eq!(root.error("no").msg, "no");
        assert_eq!(msg(root.str()), "expected a string");

        // Absent and null are both "unset"; get on null is None too.
        let linux = get(&root, "linux");
        assert!(linux.get("absent").unwrap().is_none());
        assert!(linux.get("uidMappings").unwrap().is_none());
        let ns: Vec<At> = get(&linux, "namespaces").array().unwrap().collect();
        assert!(ns[1].get("path").unwrap().is_none());
        let null = Value::Null;
        assert!(At::root(&null).get("x").unwrap().is_none());

        // Fractions and exponents are not integers, even when their value is one.
        let res = get(&linux, "resources");
        let limit = get(&get(&res, "memory"), "limit");
        assert_eq!(
            msg(limit.u64()),
            "linux.resources.memory.limit: 1.5e9 is not an integer"
        );
        let shares = get(&get(&res, "cpu"), "shares");
        assert_eq!(
            msg(shares.u64()),
            "linux.resources.cpu.shares: 10.0 is not an integer"
        );
        assert_eq!(get(&get(&res, "memory"), "swap").i64().unwrap(), -1);

        // Keys that are not identifiers are bracket-quoted.
        let sysctl = get(&linux, "sysctl");
        let ip = get(&sysctl, "net.ipv4.ip_forward");
        assert_eq!(ip.path.to_string(), "linux.sysctl[\"net.ipv4.ip_forward\"]");
        // The last of a repeated key wins, for get and for object().
        assert_eq!(ip.str().unwrap(), "0");
        let members = sysctl.object().unwrap();
        let flat: Vec<(&str, &str, String)> = members
            .iter()
            .map(|(k, a)| (*k, a.str().unwrap(), a.path.to_string()))
            .collect();
        assert_eq!(
            flat,
            [
                (
                    "kernel.shmmax",
                    "0",
                    "linux.sysctl[\"kernel.shmmax\"]".to_string()
                ),
                (
                    "net.ipv4.ip_forward",
                    "0",
                    "linux.sysctl[\"net.ipv4.ip_forward\"]".to_string()
                ),
            ]
        );
        let ann = get(&root, "annotations").object().unwrap();
        let paths: Vec<String> = ann.iter().map(|(_, a)| a.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "annotations[\"io.kubernetes/x\"]",
                "annotations[\"\"]",
                "annotations[\"a b\"]"
            ]
        );
        let odd = ok("{\"1a\": {\"_b9\": {\"a-b\": 1}}}");
        let odd = At::root(&odd);
        let deep = get(&get(&get(&odd, "1a"), "_b9"), "a-b");
        assert_eq!(deep.path.to_string(), "[\"1a\"]._b9[\"a-b\"]");
        assert_eq!(msg(deep.str()), "[\"1a\"]._b9[\"a-b\"]: expected a string");
    }

    #[test]
    fn json_object_duplicates() {
        let v = ok(r#"{"a":1,"b":2,"a":3,"c":null,"b":4,"a":5}"#);
        let root = At::root(&v);
        let got: Vec<(&str, Option<u32>)> = root
            .object()
            .unwrap()
            .iter()
            .map(|(k, a)| (*k, a.u32().ok()))
            .collect();
        assert_eq!(got, [("c", None), ("b", Some(4)), ("a", Some(5))]);
        assert_eq!(get(&root, "a").u32().unwrap(), 5);
        // A later null unsets.
        let v = ok(r#"{"a":1,"a":null}"#);
        assert!(At::root(&v).get("a").unwrap().is_none());
        // Many keys, many duplicates: stays fast (linear) and correct.
        let mut text = String::from("{");
        for i in 0..50_000 {
            text.push_str(&format!("\"k{}\":{i},", i % 20_000));
        }
        text.push_str("\"end\":0}");
        let v = ok(&text);
        let members = At::root(&v).object().unwrap();
        assert_eq!(members.len(), 20_001);
        assert_eq!(members[0].0, "k10000");
        assert_eq!(members[0].1.u32().unwrap(), 30_000);
        assert_eq!(members[19_999].0, "k9999");
        assert_eq!(members[19_999].1.u32().unwrap(), 49_999);
        assert_eq!(members[20_000].0, "end");
        assert!(At::root(&ok("{}")).object().unwrap().is_empty());
    }

    #[test]
    fn json_integer_ranges() {
        let int = |t: &str| Value::Number(t.to_string());
        let check = |t: &str| {
            let v = Value::Object(vec![("n".to_string(), int(t))]);
            let a = At::root(&v).get("n").unwrap().unwrap();
            let e = |r: Result<i128>| r.map_err(|e| e.msg.clone());
            (
                e(a.u32().map(i128::from)),
                e(a.u64().map(i128::from)),
                e(a.i32().map(i128::from)),
                e(a.i64().map(i128::from)),
            )
        };
        let range = |t: &str| Err(format!("n: {t} is out of range"));
        assert_eq!(check("0"), (Ok(0), Ok(0), Ok(0), Ok(0)));
        assert_eq!(check("-0"), (Ok(0), Ok(0), Ok(0), Ok(0)));
        assert_eq!(
            check("4294967295"),
            (
                Ok(4294967295),
                Ok(4294967295),
                range("4294967295"),
                Ok(4294967295)
            )
        );
        assert_eq!(
            check("4294967296"),
            (
                range("4294967296"),
                Ok(4294967296),
                range("4294967296"),
                Ok(4294967296)
            )
        );
        assert_eq!(
            check("2147483647"),
            (
                Ok(2147483647),
                Ok(2147483647),
                Ok(2147483647),
                Ok(2147483647)
            )
        );
        assert_eq!(check("2147483648").2, range("2147483648"));
        assert_eq!(check("-2147483648").2, Ok(-2147483648));
        assert_eq!(check("-2147483649").2, range("-2147483649"));
        assert_eq!(check("-1").0, range("-1"));
        assert_eq!(check("-1").1, range("-1"));
        assert_eq!(check("18446744073709551615").1, Ok(u64::MAX.into()));
        assert_eq!(
            check("18446744073709551615").3,
            range("18446744073709551615")
        );
        assert_eq!(
            check("18446744073709551616").1,
            range("18446744073709551616")
        );
        assert_eq!(check("9223372036854775807").3, Ok(i64::MAX.into()));
        assert_eq!(check("9223372036854775808").3, range("9223372036854775808"));
        assert_eq!(check("-9223372036854775808").3, Ok(i64::MIN.into()));
        assert_eq!(
            check("-9223372036854775809").3,
            range("-9223372036854775809")
        );
        assert_eq!(
            check("99999999999999999999999").1,
            range("99999999999999999999999")
        );
        for t in ["1.0", "1e3", "1E3", "-1.5", "0e0", "99999999999999999999.5"] {
            let not = Err(format!("n: {t} is not an integer"));
            assert_eq!(check(t), (not.clone(), not.clone(), not.clone(), not));
        }
        // A Number built by code with bad text is an error, not a panic.
        for t in ["", "-", "--1", "1-", "+1", " 1"] {
            let not = Err(format!("n: {t} is not an integer"));
            assert_eq!(check(t).1, not);
        }
    }

    #[test]
    fn json_quote() {
        let q = |s: &str| {
            let mut out = String::from("x");
            quote(&mut out, s);
            out
        };
        assert_eq!(q(""), "x\"\"");
        assert_eq!(q("a\"b\\c"), r#"x"a\"b\\c""#);
        assert_eq!(q("\n\r\t\u{8}\u{c}"), r#"x"\n\r\t\b\f""#);
        assert_eq!(q("\0\u{1}\u{1f}\u{1b}"), r#"x"\u0000\u0001\u001f\u001b""#);
        assert_eq!(q("/é😀\u{7f}\u{2028}"), "x\"/é😀\u{7f}\u{2028}\"");
        // Round trip: every character from 0 to 0x3ff and some beyond.
        let all: String = (0..0x400u32)
            .chain([0xfffd, 0xffff, 0x10000, 0x10ffff])
            .filter_map(char::from_u32)
            .collect();
        let mut out = String::new();
        quote(&mut out, &all);
        assert_eq!(ok(&out), Value::String(all));
    }

    /// Every accessor on every value of a document, and a quote round trip of every string.
    fn walk(at: &At, depth: u32) {
        assert!(depth <= MAX_DEPTH);
        let _ = (
            at.bool(),
            at.u32(),
            at.u64(),
            at.i32(),
            at.i64(),
            at.strings(),
        );
        let _ = at.get("ociVersion");
        let _ = at.error("x");
        if let Ok(s) = at.str() {
            let mut q = String::new();
            quote(&mut q, s);
            assert_eq!(parse(q.as_bytes()).ok(), Some(Value::String(s.to_string())));
        }
        if let Value::Number(t) = at.path.node {
            assert_eq!(parse(t.as_bytes()).ok(), Some(Value::Number(t.clone())));
        }
        if let Ok(items) = at.array() {
            items.for_each(|a| walk(&a, depth + 1));
        }
        if let Ok(members) = at.object() {
            members.iter().for_each(|(_, a)| walk(a, depth + 1));
        }
    }

    #[test]
    fn json_fuzz_never_panics() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let interesting = b"{}[]\",:\\u0123456789eE.-+ \n\ttfnrlsa/\xff\xc3\xa9\xed\xa0\x80\xf0";
        let base = CONFIG.as_bytes();
        let (mut parsed, mut failed) = (0, 0);
        for _ in 0..20_000 {
            let mut doc = base.to_vec();
            for _ in 0..1 + next() % 4 {
                let r = next();
                let at = (r >> 8) as usize % (doc.len() + 1);
                let byte = match r & 1 {
                    0 => interesting[(r >> 40) as usize % interesting.len()],
                    _ => (r >> 40) as u8,
                };
                match (r >> 1) % 6 {
                    0 if at < doc.len() => doc[at] = byte,
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    2 => doc.insert(at, byte),
                    3 => doc.truncate(at),
                    4 => {
                        let end = (at + (r >> 32) as usize % 40).min(doc.len());
                        let chunk = doc[at..end].to_vec();
                        let to = (r >> 48) as usize % (doc.len() + 1);
                        doc.splice(to..to, chunk);
                    }
                    _ => {
                        let end = (at + (r >> 32) as usize % 8).min(doc.len());
                        doc.drain(at..end);
                    }
                }
            }
            match parse(&doc) {
                Ok(v) => {
                    parsed += 1;
                    walk(&At::root(&v), 0);
                }
                Err(e) => {
                    failed += 1;
                    assert!(e.msg.starts_with("line "), "{}", e.msg);
                }
            }
        }
        // The mutations exercise both outcomes.
        assert!(parsed > 500 && failed > 5000, "{parsed} {failed}");
    }
}
