//! A parsed JSON value, kept as SQLite's JSONB keeps it: numbers and
//! strings hold their source text, so that `json()` gives back `1.50` and
//! `"\u0041"` as written (minified), and JSON5 forms are converted only
//! when rendered.
//!
//! [`parse`] reads JSON text, JSON5 included (SQLite's
//! `jsonTranslateTextToBlob`: comments, unquoted keys, single quotes, hex
//! integers, `Infinity`, `NaN`, trailing commas, ...), reporting the
//! byte offset of an error and whether anything non-standard was seen.
//! [`Node::render`] writes canonical minified JSON
//! (`jsonTranslateBlobToText`); [`Node::render_pretty`] indents it.
//! [`decode_jsonb`] reads SQLite's binary JSONB from a blob argument.
//!
//! Invariant: nesting deeper than [`MAX_DEPTH`] is an error, never a
//! stack overflow.

/// SQLite's `JSON_MAX_DEPTH`.
pub(crate) const MAX_DEPTH: usize = 1000;

/// How a string's text is stored (SQLite's four JSONB text types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TextKind {
    /// Plain text needing no escapes (`JSONB_TEXT`).
    Plain,
    /// Text with standard JSON escapes (`JSONB_TEXTJ`).
    Json,
    /// Text with JSON5 escapes or raw control characters (`JSONB_TEXT5`).
    Json5,
    /// SQL text that must be escaped when rendered (`JSONB_TEXTRAW`).
    Raw,
}

/// One JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Null,
    True,
    False,
    /// A decimal integer, as written (no leading `+`).
    Int(String),
    /// A hexadecimal integer (JSON5), as written.
    Int5(String),
    /// A real, as written.
    Float(String),
    /// A real with a bare decimal point (`.5`, `5.`), JSON5.
    Float5(String),
    /// A string's text between the quotes, stored as `TextKind` says.
    Text(TextKind, String),
    Array(Vec<Node>),
    /// Members in order; a key is a `Text` node; keys may repeat.
    Object(Vec<(Node, Node)>),
}

/// A parse failure at a byte offset.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ParseError {
    pub offset: usize,
}

/// A successful parse.
pub(crate) struct Parsed {
    pub node: Node,
    /// Something outside RFC 8259 JSON was seen (JSON5).
    pub nonstandard: bool,
}

/// Parses JSON (or JSON5) text.
pub(crate) fn parse(text: &[u8]) -> Result<Parsed, ParseError> {
    let mut p = Parser {
        z: text,
        nonstandard: false,
        depth: 0,
        err: 0,
        out: Vec::new(),
    };
    let i = p.value(0);
    if i <= 0 {
        let offset = if i == 0 { text.len() } else { p.err };
        return Err(ParseError { offset });
    }
    let mut i = usize::try_from(i).unwrap_or(0);
    while is_json_space(p.at(i)) {
        i += 1;
    }
    if p.at(i) != 0 {
        i += ws5(&text[i.min(text.len())..]);
        if p.at(i) != 0 {
            return Err(ParseError { offset: i });
        }
        p.nonstandard = true;
    }
    // An embedded NUL ends SQLite's C string; what follows is ignored.
    let node = p.out.pop().ok_or(ParseError { offset: 0 })?;
    Ok(Parsed {
        node,
        nonstandard: p.nonstandard,
    })
}

fn is_json_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// SQLite's `sqlite3JsonId1`: a character that may start a JSON5 key.
fn id1(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80
}

/// SQLite's `sqlite3JsonId2`: a character that may continue a JSON5 key.
fn id2(c: u8) -> bool {
    id1(c) || c.is_ascii_digit()
}

/// Bytes of JSON5 white space and comments at the start of `z`
/// (`json5Whitespace`).
fn ws5(z: &[u8]) -> usize {
    let at = |i: usize| z.get(i).copied().unwrap_or(0);
    let mut n = 0;
    loop {
        match at(n) {
            0x09 | 0x0a | 0x0b | 0x0c | 0x0d | 0x20 => n += 1,
            b'/' => {
                if at(n + 1) == b'*' && at(n + 2) != 0 {
                    let mut j = n + 3;
                    loop {
                        if at(j) == 0 {
                            return n;
                        }
                        if at(j) == b'/' && at(j - 1) == b'*' {
                            break;
                        }
                        j += 1;
                    }
                    n = j + 1;
                } else if at(n + 1) == b'/' {
                    let mut j = n + 2;
                    loop {
                        let c = at(j);
                        if c == 0 || c == b'\n' || c == b'\r' {
                            break;
                        }
                        if c == 0xe2
                            && at(j + 1) == 0x80
                            && (at(j + 2) == 0xa8 || at(j + 2) == 0xa9)
                        {
                            j += 2;
                            break;
                        }
                        j += 1;
                    }
                    n = j;
                    if at(n) != 0 {
                        n += 1;
                    }
                } else {
                    return n;
                }
            }
            0xc2 if at(n + 1) == 0xa0 => n += 2,
            0xe1 if at(n + 1) == 0x9a && at(n + 2) == 0x80 => n += 3,
            0xe2 => {
                if at(n + 1) == 0x80 {
                    let c = at(n + 2);
                    if c < 0x80 {
                        return n;
                    }
                    if c <= 0x8a || c == 0xa8 || c == 0xa9 || c == 0xaf {
                        n += 3;
                        continue;
                    }
                    return n;
                } else if at(n + 1) == 0x81 && at(n + 2) == 0x9f {
                    n += 3;
                } else {
                    return n;
                }
            }
            0xe3 if at(n + 1) == 0x80 && at(n + 2) == 0x80 => n += 3,
            0xef if at(n + 1) == 0xbb && at(n + 2) == 0xbf => n += 3,
            _ => return n,
        }
    }
}

fn is_hex4(z: &[u8]) -> bool {
    z.len() >= 4 && z[..4].iter().all(u8::is_ascii_hexdigit)
}

struct Parser<'a> {
    z: &'a [u8],
    nonstandard: bool,
    depth: usize,
    err: usize,
    /// Parsed values, a stack.
    out: Vec<Node>,
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        match self.z.get(i) {
            Some(&c) => c,
            None => 0,
        }
    }

    /// `jsonTranslateTextToBlob`: parses the value at `i`, pushing it;
    /// returns the offset after it, or 0 at the end of input, -1 on an
    /// error (offset in `err`), -2 `}`, -3 `]`, -4 `,`, -5 `:`.
    fn value(&mut self, mut i: usize) -> i64 {
        let pos = |j: usize| i64::try_from(j).unwrap_or(i64::MAX);
        loop {
            let c = self.at(i);
            match c {
                b'{' => return self.object(i),
                b'[' => return self.array(i),
                b'\'' | b'"' => {
                    if c == b'\'' {
                        self.nonstandard = true;
                    }
                    return self.string(i);
                }
                b't' | b'f' | b'n' => {
                    let (word, node): (&[u8], Node) = match c {
                        b't' => (b"true", Node::True),
                        b'f' => (b"false", Node::False),
                        _ => (b"null", Node::Null),
                    };
                    let end = i + word.len();
                    if self.z.get(i..end) == Some(word) && !self.at(end).is_ascii_alphanumeric() {
                        self.out.push(node);
                        return pos(end);
                    }
                    if c != b'n' {
                        self.err = i;
                        return -1;
                    }
                    return self.nan_inf(i);
                }
                b'+' | b'.' | b'-' | b'0'..=b'9' => return self.number(i),
                b'}' => {
                    self.err = i;
                    return -2;
                }
                b']' => {
                    self.err = i;
                    return -3;
                }
                b',' => {
                    self.err = i;
                    return -4;
                }
                b':' => {
                    self.err = i;
                    return -5;
                }
                0 => return 0,
                0x09 | 0x0a | 0x0d | 0x20 => {
                    i += 1;
                    while is_json_space(self.at(i)) {
                        i += 1;
                    }
                }
                0x0b | 0x0c | b'/' | 0xc2 | 0xe1 | 0xe2 | 0xe3 | 0xef => {
                    let j = ws5(&self.z[i..]);
                    if j > 0 {
                        i += j;
                        self.nonstandard = true;
                    } else {
                        self.err = i;
                        return -1;
                    }
                }
                _ => return self.nan_inf(i),
            }
        }
    }

    fn nan_inf(&mut self, i: usize) -> i64 {
        const NAMES: [(&[u8], bool); 5] = [
            (b"inf", true),
            (b"infinity", true),
            (b"nan", false),
            (b"qnan", false),
            (b"snan", false),
        ];
        for (name, is_inf) in NAMES {
            let end = i + name.len();
            let Some(w) = self.z.get(i..end) else {
                continue;
            };
            if !w.eq_ignore_ascii_case(name) || self.at(end).is_ascii_alphanumeric() {
                continue;
            }
            self.out.push(if is_inf {
                Node::Float("9e999".into())
            } else {
                Node::Null
            });
            self.nonstandard = true;
            return i64::try_from(end).unwrap_or(i64::MAX);
        }
        self.err = i;
        -1
    }

    fn object(&mut self, i: usize) -> i64 {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.err = i;
            return -1;
        }
        let mut members: Vec<(Node, Node)> = Vec::new();
        let mut j = i + 1;
        loop {
            let x = self.value(j);
            let label_end;
            if x <= 0 {
                if x == -2 {
                    j = self.err;
                    if !members.is_empty() {
                        self.nonstandard = true;
                    }
                    break;
                }
                j += ws5(&self.z[j.min(self.z.len())..]);
                let c = self.at(j);
                if id1(c)
                    || (c == b'\\'
                        && self.at(j + 1) == b'u'
                        && is_hex4(&self.z[(j + 2).min(self.z.len())..]))
                {
                    let mut kind = TextKind::Plain;
                    if c == b'\\' {
                        kind = TextKind::Json;
                    }
                    let mut k = j + 1;
                    loop {
                        let ck = self.at(k);
                        if id2(ck) && ws5(&self.z[k..]) == 0 {
                            k += 1;
                        } else if ck == b'\\'
                            && self.at(k + 1) == b'u'
                            && is_hex4(&self.z[(k + 2).min(self.z.len())..])
                        {
                            kind = TextKind::Json;
                            k += 1;
                        } else {
                            break;
                        }
                    }
                    self.out.push(Node::Text(kind, text_of(&self.z[j..k])));
                    self.nonstandard = true;
                    label_end = k;
                } else {
                    if x != -1 {
                        self.err = j;
                    }
                    return -1;
                }
            } else {
                label_end = usize::try_from(x).unwrap_or(0);
            }
            let Some(label) = self.out.pop() else {
                self.err = j;
                return -1;
            };
            if !matches!(label, Node::Text(..)) {
                self.err = j;
                return -1;
            }
            j = label_end;
            if self.at(j) == b':' {
                j += 1;
            } else {
                let mut colon = false;
                if is_json_space(self.at(j)) {
                    while is_json_space(self.at(j)) {
                        j += 1;
                    }
                    if self.at(j) == b':' {
                        j += 1;
                        colon = true;
                    }
                }
                if !colon {
                    let x = self.value(j);
                    if x != -5 {
                        if x != -1 {
                            self.err = j;
                        }
                        return -1;
                    }
                    j = self.err + 1;
                }
            }
            let x = self.value(j);
            if x <= 0 {
                if x != -1 {
                    self.err = j;
                }
                return -1;
            }
            let Some(value) = self.out.pop() else {
                self.err = j;
                return -1;
            };
            members.push((label, value));
            j = usize::try_from(x).unwrap_or(0);
            match self.at(j) {
                b',' => {
                    j += 1;
                    continue;
                }
                b'}' => break,
                _ => {}
            }
            if is_json_space(self.at(j)) {
                j += 1;
                while is_json_space(self.at(j)) {
                    j += 1;
                }
                match self.at(j) {
                    b',' => {
                        j += 1;
                        continue;
                    }
                    b'}' => break,
                    _ => {}
                }
            }
            let x = self.value(j);
            if x == -4 {
                j = self.err + 1;
                continue;
            }
            if x == -2 {
                j = self.err;
                break;
            }
            self.err = j;
            return -1;
        }
        self.out.push(Node::Object(members));
        self.depth -= 1;
        i64::try_from(j + 1).unwrap_or(i64::MAX)
    }

    fn array(&mut self, i: usize) -> i64 {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.err = i;
            return -1;
        }
        let mut items: Vec<Node> = Vec::new();
        let mut j = i + 1;
        loop {
            let x = self.value(j);
            if x <= 0 {
                if x == -3 {
                    j = self.err;
                    if !items.is_empty() {
                        self.nonstandard = true;
                    }
                    break;
                }
                if x != -1 {
                    self.err = j;
                }
                return -1;
            }
            let Some(v) = self.out.pop() else {
                self.err = j;
                return -1;
            };
            items.push(v);
            j = usize::try_from(x).unwrap_or(0);
            match self.at(j) {
                b',' => {
                    j += 1;
                    continue;
                }
                b']' => break,
                _ => {}
            }
            if is_json_space(self.at(j)) {
                j += 1;
                while is_json_space(self.at(j)) {
                    j += 1;
                }
                match self.at(j) {
                    b',' => {
                        j += 1;
                        continue;
                    }
                    b']' => break,
                    _ => {}
                }
            }
            let x = self.value(j);
            if x == -4 {
                j = self.err + 1;
                continue;
            }
            if x == -3 {
                j = self.err;
                break;
            }
            self.err = j;
            return -1;
        }
        self.out.push(Node::Array(items));
        self.depth -= 1;
        i64::try_from(j + 1).unwrap_or(i64::MAX)
    }

    fn string(&mut self, i: usize) -> i64 {
        let delim = self.at(i);
        let mut kind = TextKind::Plain;
        let mut j = i + 1;
        loop {
            if j >= self.z.len() {
                self.err = j;
                return -1;
            }
            let c = self.z[j];
            if c == delim {
                break;
            }
            if c == b'\\' {
                j += 1;
                let c = self.at(j);
                let std = matches!(c, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')
                    || (c == b'u' && is_hex4(&self.z[(j + 1).min(self.z.len())..]));
                if std {
                    if kind == TextKind::Plain {
                        kind = TextKind::Json;
                    }
                } else if c == b'\''
                    || c == b'v'
                    || c == b'\n'
                    || (c == b'0' && !self.at(j + 1).is_ascii_digit())
                    || (c == 0xe2
                        && self.at(j + 1) == 0x80
                        && (self.at(j + 2) == 0xa8 || self.at(j + 2) == 0xa9))
                    || (c == b'x'
                        && self.at(j + 1).is_ascii_hexdigit()
                        && self.at(j + 2).is_ascii_hexdigit())
                {
                    kind = TextKind::Json5;
                    self.nonstandard = true;
                } else if c == b'\r' {
                    if self.at(j + 1) == b'\n' {
                        j += 1;
                    }
                    kind = TextKind::Json5;
                    self.nonstandard = true;
                } else {
                    self.err = j;
                    return -1;
                }
            } else if c <= 0x1f {
                if c == 0 {
                    self.err = j;
                    return -1;
                }
                kind = TextKind::Json5;
                self.nonstandard = true;
            } else if c == b'"' {
                kind = TextKind::Json5;
            }
            j += 1;
        }
        self.out.push(Node::Text(kind, text_of(&self.z[i + 1..j])));
        i64::try_from(j + 1).unwrap_or(i64::MAX)
    }

    fn number(&mut self, i: usize) -> i64 {
        let z = self.z;
        let at = |k: usize| z.get(k).copied().unwrap_or(0);
        let mut json5 = false;
        let mut float = false;
        let mut seen_e = false;
        let c = at(i);
        let mut j;
        let mut hex = false;
        if c == b'+' {
            self.nonstandard = true;
        }
        'scan: {
            if c == b'.' {
                if at(i + 1).is_ascii_digit() {
                    self.nonstandard = true;
                    json5 = true;
                    float = true;
                } else {
                    self.err = i;
                    return -1;
                }
            } else if c == b'0' {
                if (at(i + 1) == b'x' || at(i + 1) == b'X') && at(i + 2).is_ascii_hexdigit() {
                    self.nonstandard = true;
                    json5 = true;
                    hex = true;
                    j = i + 3;
                    while at(j).is_ascii_hexdigit() {
                        j += 1;
                    }
                    break 'scan;
                } else if at(i + 1).is_ascii_digit() {
                    self.err = i + 1;
                    return -1;
                }
            } else if c == b'-' || c == b'+' {
                if !at(i + 1).is_ascii_digit() {
                    if at(i + 1) == b'I' || at(i + 1) == b'i' {
                        let w = z.get(i + 1..i + 4).unwrap_or(&[]);
                        if w.eq_ignore_ascii_case(b"inf") {
                            self.nonstandard = true;
                            self.out.push(Node::Float(
                                if c == b'-' { "-9e999" } else { "9e999" }.into(),
                            ));
                            let long = z
                                .get(i + 4..i + 9)
                                .is_some_and(|w| w.eq_ignore_ascii_case(b"inity"));
                            return i64::try_from(i + if long { 9 } else { 4 }).unwrap_or(0);
                        }
                    }
                    if at(i + 1) == b'.' {
                        self.nonstandard = true;
                        json5 = true;
                    } else {
                        self.err = i;
                        return -1;
                    }
                } else if at(i + 1) == b'0' {
                    if at(i + 2).is_ascii_digit() {
                        self.err = i + 1;
                        return -1;
                    } else if (at(i + 2) == b'x' || at(i + 2) == b'X')
                        && at(i + 3).is_ascii_hexdigit()
                    {
                        self.nonstandard = true;
                        json5 = true;
                        hex = true;
                        j = i + 4;
                        while at(j).is_ascii_hexdigit() {
                            j += 1;
                        }
                        break 'scan;
                    }
                }
            }
            j = i + 1;
            loop {
                let c = at(j);
                if c.is_ascii_digit() {
                    j += 1;
                    continue;
                }
                if c == b'.' {
                    if float {
                        self.err = j;
                        return -1;
                    }
                    float = true;
                    j += 1;
                    continue;
                }
                if c == b'e' || c == b'E' {
                    if at(j - 1) < b'0' {
                        if at(j - 1) == b'.' && j >= i + 2 && at(j - 2).is_ascii_digit() {
                            self.nonstandard = true;
                            json5 = true;
                        } else {
                            self.err = j;
                            return -1;
                        }
                    }
                    if seen_e {
                        self.err = j;
                        return -1;
                    }
                    float = true;
                    seen_e = true;
                    let mut c = at(j + 1);
                    if c == b'+' || c == b'-' {
                        j += 1;
                        c = at(j + 1);
                    }
                    if !c.is_ascii_digit() {
                        self.err = j;
                        return -1;
                    }
                    j += 1;
                    continue;
                }
                break;
            }
            if at(j - 1) < b'0' {
                if at(j - 1) == b'.' && j >= i + 2 && at(j - 2).is_ascii_digit() {
                    self.nonstandard = true;
                    json5 = true;
                } else {
                    self.err = j;
                    return -1;
                }
            }
        }
        let start = if c == b'+' { i + 1 } else { i };
        let text = text_of(&z[start..j]);
        self.out.push(match (hex, float, json5) {
            (true, _, _) => Node::Int5(text),
            (false, false, _) => Node::Int(text),
            (false, true, false) => Node::Float(text),
            (false, true, true) => Node::Float5(text),
        });
        i64::try_from(j).unwrap_or(i64::MAX)
    }
}

/// Appends `c` (a control character) as a JSON escape.
fn control_escape(out: &mut String, c: u8) {
    match c {
        8 => out.push_str("\\b"),
        9 => out.push_str("\\t"),
        10 => out.push_str("\\n"),
        12 => out.push_str("\\f"),
        13 => out.push_str("\\r"),
        _ => out.push_str(&format!("\\u00{c:02x}")),
    }
}

/// `s` as a JSON string literal, quotes included (`jsonAppendString`).
pub(crate) fn quote_string(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) <= 0x1f => control_escape(out, u32::from(c) as u8),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// JSON5 string text translated to JSON (the `JSONB_TEXT5` case of
/// `jsonTranslateBlobToText`).
fn render_text5(out: &mut String, s: &str) {
    let z = s.as_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(z.len() + 2);
    let mut i = 0;
    while i < z.len() {
        let c = z[i];
        if c == b'"' {
            buf.extend_from_slice(b"\\\"");
            i += 1;
            continue;
        }
        if c <= 0x1f {
            let mut t = String::new();
            control_escape(&mut t, c);
            buf.extend_from_slice(t.as_bytes());
            i += 1;
            continue;
        }
        if c != b'\\' {
            buf.push(c);
            i += 1;
            continue;
        }
        let Some(&n) = z.get(i + 1) else {
            buf.push(c);
            break;
        };
        match n {
            b'\'' => buf.push(b'\''),
            b'v' => buf.extend_from_slice(b"\\u000b"),
            b'x' => {
                buf.extend_from_slice(b"\\u00");
                buf.extend_from_slice(z.get(i + 2..i + 4).unwrap_or(b"00"));
                i += 2;
            }
            b'0' => buf.extend_from_slice(b"\\u0000"),
            b'\r' => {
                if z.get(i + 2) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => {}
            0xe2 => i += 2,
            _ => {
                buf.push(b'\\');
                buf.push(n);
            }
        }
        i += 2;
    }
    out.push('"');
    out.push_str(&String::from_utf8_lossy(&buf));
    out.push('"');
}

impl Node {
    /// Canonical minified JSON text.
    pub(crate) fn render(&self, out: &mut String) {
        match self {
            Node::Null => out.push_str("null"),
            Node::True => out.push_str("true"),
            Node::False => out.push_str("false"),
            Node::Int(s) | Node::Float(s) => out.push_str(s),
            Node::Int5(s) => {
                let z = s.as_bytes();
                let mut k = 2;
                if z.first() == Some(&b'-') {
                    out.push('-');
                    k += 1;
                } else if z.first() == Some(&b'+') {
                    k += 1;
                }
                let mut u: u64 = 0;
                let mut overflow = false;
                for &d in z.iter().skip(k) {
                    let Some(v) = char::from(d).to_digit(16) else {
                        break;
                    };
                    if u >> 60 != 0 {
                        overflow = true;
                    } else {
                        u = u * 16 + u64::from(v);
                    }
                }
                if overflow {
                    out.push_str("9.0e999");
                } else {
                    out.push_str(&u.to_string());
                }
            }
            Node::Float5(s) => {
                let z = s.as_bytes();
                let mut k = 0;
                if z.first() == Some(&b'-') {
                    out.push('-');
                    k = 1;
                }
                if z.get(k) == Some(&b'.') {
                    out.push('0');
                }
                while k < z.len() {
                    out.push(char::from(z[k]));
                    if z[k] == b'.' && (k + 1 == z.len() || !z[k + 1].is_ascii_digit()) {
                        out.push('0');
                    }
                    k += 1;
                }
            }
            Node::Text(TextKind::Plain | TextKind::Json, s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            Node::Text(TextKind::Json5, s) => render_text5(out, s),
            Node::Text(TextKind::Raw, s) => quote_string(out, s),
            Node::Array(items) => {
                out.push('[');
                for (k, v) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    v.render(out);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (k, (label, v)) in members.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    label.render(out);
                    out.push(':');
                    v.render(out);
                }
                out.push('}');
            }
        }
    }

    /// Minified JSON as a string.
    pub(crate) fn to_json(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }

    /// Indented JSON (`json_pretty`).
    pub(crate) fn render_pretty(&self, out: &mut String, indent: &str, level: usize) {
        let pad = |out: &mut String, n: usize| {
            for _ in 0..n {
                out.push_str(indent);
            }
        };
        match self {
            Node::Array(items) if !items.is_empty() => {
                out.push_str("[\n");
                for (k, v) in items.iter().enumerate() {
                    pad(out, level + 1);
                    v.render_pretty(out, indent, level + 1);
                    if k + 1 < items.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                pad(out, level);
                out.push(']');
            }
            Node::Object(members) if !members.is_empty() => {
                out.push_str("{\n");
                for (k, (label, v)) in members.iter().enumerate() {
                    pad(out, level + 1);
                    label.render(out);
                    out.push_str(": ");
                    v.render_pretty(out, indent, level + 1);
                    if k + 1 < members.len() {
                        out.push(',');
                    }
                    out.push('\n');
                }
                pad(out, level);
                out.push('}');
            }
            other => other.render(out),
        }
    }

    /// SQLite's name of this value's type (`json_type`).
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::True => "true",
            Node::False => "false",
            Node::Int(_) | Node::Int5(_) => "integer",
            Node::Float(_) | Node::Float5(_) => "real",
            Node::Text(..) => "text",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        }
    }

    /// A string's value with its escapes decoded (`Text` nodes only).
    pub(crate) fn text_value(&self) -> Option<String> {
        match self {
            Node::Text(TextKind::Plain | TextKind::Raw, s) => Some(s.clone()),
            Node::Text(_, s) => Some(unescape(s)),
            _ => None,
        }
    }
}

fn hex_val(z: &[u8]) -> u32 {
    z.iter().fold(0u32, |acc, &d| {
        (acc << 4) | char::from(d).to_digit(16).unwrap_or(0)
    })
}

/// Decodes JSON and JSON5 escapes (`jsonUnescapeOneChar` for each); an
/// invalid escape or an unpaired surrogate is dropped.
pub(crate) fn unescape(s: &str) -> String {
    let z = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(z.len());
    let mut i = 0;
    let push = |out: &mut Vec<u8>, v: u32| {
        if let Some(c) = char::from_u32(v) {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        } else if (0xd800..=0xdfff).contains(&v) {
            // SQLite writes a lone surrogate as three bytes; UTF-8 text
            // cannot hold it.
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    };
    while i < z.len() {
        if z[i] != b'\\' {
            out.push(z[i]);
            i += 1;
            continue;
        }
        let n = z.len() - i;
        if n < 2 {
            break;
        }
        match z[i + 1] {
            b'u' => {
                if n < 6 {
                    break;
                }
                let v = hex_val(&z[i + 2..i + 6]);
                if v & 0xfc00 == 0xd800
                    && n >= 12
                    && z[i + 6] == b'\\'
                    && z[i + 7] == b'u'
                    && hex_val(&z[i + 8..i + 12]) & 0xfc00 == 0xdc00
                {
                    let lo = hex_val(&z[i + 8..i + 12]);
                    push(&mut out, ((v & 0x3ff) << 10) + (lo & 0x3ff) + 0x10000);
                    i += 12;
                } else {
                    push(&mut out, v);
                    i += 6;
                }
            }
            b'b' => {
                out.push(8);
                i += 2;
            }
            b'f' => {
                out.push(12);
                i += 2;
            }
            b'n' => {
                out.push(b'\n');
                i += 2;
            }
            b'r' => {
                out.push(b'\r');
                i += 2;
            }
            b't' => {
                out.push(b'\t');
                i += 2;
            }
            b'v' => {
                out.push(0x0b);
                i += 2;
            }
            b'0' => {
                if !(n > 2 && z[i + 2].is_ascii_digit()) {
                    out.push(0);
                }
                i += 2;
            }
            c @ (b'\'' | b'"' | b'/' | b'\\') => {
                out.push(c);
                i += 2;
            }
            b'x' => {
                if n < 4 {
                    break;
                }
                push(&mut out, hex_val(&z[i + 2..i + 4]));
                i += 4;
            }
            b'\r' => {
                i += 2;
                if z.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => i += 2,
            0xe2 if n >= 4 && z[i + 2] == 0x80 && (z[i + 3] == 0xa8 || z[i + 3] == 0xa9) => {
                i += 4;
            }
            _ => i += 2,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// JSONB
// ---------------------------------------------------------------------------

/// Decodes SQLite's binary JSONB (one complete element filling `b`), or
/// `None` when `b` is not JSONB.
pub(crate) fn decode_jsonb(b: &[u8]) -> Option<Node> {
    let first = *b.first()?;
    if first & 0x0f > 12 {
        return None;
    }
    let (node, used) = jsonb_element(b, 0)?;
    (used == b.len()).then_some(node)
}

/// The header length and payload size of the element at `b[0]`.
fn jsonb_header(b: &[u8]) -> Option<(usize, usize)> {
    let x = *b.first()? >> 4;
    let (n, sz) = match x {
        0..=11 => (1usize, usize::from(x)),
        12 => (2, usize::from(*b.get(1)?)),
        13 => (3, usize::from(u16::from_be_bytes([*b.get(1)?, *b.get(2)?]))),
        14 => (
            5,
            usize::try_from(u32::from_be_bytes(b.get(1..5)?.try_into().ok()?)).ok()?,
        ),
        _ => (
            9,
            usize::try_from(u64::from_be_bytes(b.get(1..9)?.try_into().ok()?)).ok()?,
        ),
    };
    (n.checked_add(sz)? <= b.len()).then_some((n, sz))
}

fn jsonb_element(b: &[u8], depth: usize) -> Option<(Node, usize)> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (n, sz) = jsonb_header(b)?;
    let payload = b.get(n..n + sz)?;
    let text = || std::str::from_utf8(payload).ok().map(str::to_owned);
    let node = match b[0] & 0x0f {
        0 if sz == 0 => Node::Null,
        1 if sz == 0 => Node::True,
        2 if sz == 0 => Node::False,
        3 if sz > 0 => Node::Int(text()?),
        4 if sz > 0 => Node::Int5(text()?),
        5 if sz > 0 => Node::Float(text()?),
        6 if sz > 0 => Node::Float5(text()?),
        7 => Node::Text(TextKind::Plain, text()?),
        8 => Node::Text(TextKind::Json, text()?),
        9 => Node::Text(TextKind::Json5, text()?),
        10 => Node::Text(TextKind::Raw, text()?),
        11 => {
            let mut items = Vec::new();
            let mut k = 0;
            while k < payload.len() {
                let (v, used) = jsonb_element(&payload[k..], depth + 1)?;
                items.push(v);
                k += used;
            }
            Node::Array(items)
        }
        12 => {
            let mut members = Vec::new();
            let mut k = 0;
            while k < payload.len() {
                let (label, used) = jsonb_element(&payload[k..], depth + 1)?;
                if !matches!(label, Node::Text(..)) {
                    return None;
                }
                k += used;
                let (v, used) = jsonb_element(payload.get(k..)?, depth + 1)?;
                k += used;
                members.push((label, v));
            }
            Node::Object(members)
        }
        _ => return None,
    };
    Some((node, n + sz))
}

/// SQLite's JSONB element type of `n` (the low nibble of its header).
fn jsonb_type(n: &Node) -> u8 {
    match n {
        Node::Null => 0,
        Node::True => 1,
        Node::False => 2,
        Node::Int(_) => 3,
        Node::Int5(_) => 4,
        Node::Float(_) => 5,
        Node::Float5(_) => 6,
        Node::Text(TextKind::Plain, _) => 7,
        Node::Text(TextKind::Json, _) => 8,
        Node::Text(TextKind::Json5, _) => 9,
        Node::Text(TextKind::Raw, _) => 10,
        Node::Array(_) => 11,
        Node::Object(_) => 12,
    }
}

/// `n` as JSONB with the smallest header each payload allows — the bytes
/// SQLite's text-to-JSONB translation ends with (it resizes each
/// container's header to fit once its payload is known), so offsets into
/// the result are the element ids `json_each` and `json_tree` show.
pub(crate) fn encode_jsonb(n: &Node) -> Vec<u8> {
    // Payload sizes first (pre-order), so that each byte is written once
    // however deep the nesting.
    let mut sizes = Vec::new();
    let total = payload_sizes(n, &mut sizes);
    let mut out = Vec::with_capacity(total);
    let mut k = 0;
    write_jsonb(n, &sizes, &mut k, &mut out);
    out
}

fn header_len(sz: usize) -> usize {
    match sz {
        0..=11 => 1,
        12..=0xff => 2,
        0x100..=0xffff => 3,
        _ => 5,
    }
}

/// Pushes the payload size of `n` and of each element inside it, in
/// pre-order; returns the encoded size of `n`.
fn payload_sizes(n: &Node, sizes: &mut Vec<usize>) -> usize {
    let at = sizes.len();
    sizes.push(0);
    let sz = match n {
        Node::Null | Node::True | Node::False => 0,
        Node::Int(s) | Node::Int5(s) | Node::Float(s) | Node::Float5(s) | Node::Text(_, s) => {
            s.len()
        }
        Node::Array(items) => items.iter().map(|v| payload_sizes(v, sizes)).sum(),
        Node::Object(members) => members
            .iter()
            .map(|(l, v)| payload_sizes(l, sizes) + payload_sizes(v, sizes))
            .sum(),
    };
    sizes[at] = sz;
    header_len(sz) + sz
}

fn write_jsonb(n: &Node, sizes: &[usize], k: &mut usize, out: &mut Vec<u8>) {
    let sz = sizes.get(*k).copied().unwrap_or(0);
    *k += 1;
    let t = jsonb_type(n);
    match header_len(sz) {
        1 => out.push(((sz as u8) << 4) | t),
        2 => out.extend_from_slice(&[0xc0 | t, sz as u8]),
        3 => {
            out.push(0xd0 | t);
            out.extend_from_slice(&(sz as u16).to_be_bytes());
        }
        _ => {
            out.push(0xe0 | t);
            out.extend_from_slice(&u32::try_from(sz).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
    match n {
        Node::Null | Node::True | Node::False => {}
        Node::Int(s) | Node::Int5(s) | Node::Float(s) | Node::Float5(s) | Node::Text(_, s) => {
            out.extend_from_slice(s.as_bytes())
        }
        Node::Array(items) => items.iter().for_each(|v| write_jsonb(v, sizes, k, out)),
        Node::Object(members) => {
            for (label, v) in members {
                write_jsonb(label, sizes, k, out);
                write_jsonb(v, sizes, k, out);
            }
        }
    }
}

/// The header length and payload size of the JSONB element at `b[i]`
/// (`jsonbPayloadSize`); `(0, 0)` when there is none.
pub(crate) fn jsonb_size_at(b: &[u8], i: usize) -> (usize, usize) {
    b.get(i..).and_then(jsonb_header).unwrap_or((0, 0))
}

/// The JSONB element at `b[i]` as a tree.
pub(crate) fn jsonb_node_at(b: &[u8], i: usize) -> Option<Node> {
    jsonb_element(b.get(i..)?, 0).map(|(n, _)| n)
}
