//! Text functions: `length`, `octet_length`, `lower`, `upper`, `substr`,
//! `trim`, `replace`, `instr`, `char`, `unicode`, `hex`, `unhex`, `quote`,
//! `unistr`, `concat`, `concat_ws`, `soundex`, `like`, `glob`, `zeroblob`.
//!
//! Text is UTF-8 and characters are Unicode scalar values, so where SQLite
//! would produce bytes that are not UTF-8 (`char(0xD800)`, a blob read as
//! text) sealdb has U+FFFD instead. `length`, `unicode` and the trim set
//! stop at the first NUL, as SQLite's C-string loops do.

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{format_real_quoted, glob, like, Value};

use super::args::{arg, check_length, count_to_value, until_nul, upper_hex, MAX_LENGTH};

/// `char(X1, ..., XN)`: the text of the given code points; an argument
/// outside 0..=0x10FFFF (or a surrogate, which UTF-8 cannot hold) gives
/// U+FFFD; NULL reads as 0.
pub(super) fn f_char(args: &[Value]) -> Result<Value> {
    let text = args
        .iter()
        .map(|v| {
            u32::try_from(v.to_i64())
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{fffd}')
        })
        .collect();
    Ok(Value::Text(text))
}

/// `glob(P, X)`: `X GLOB P` as 1 or 0; NULL if either is NULL.
pub(super) fn f_glob(args: &[Value]) -> Result<Value> {
    match (arg(args, 0).text(), arg(args, 1).text()) {
        (Some(pattern), Some(text)) => Ok(Value::from(glob(&pattern, &text))),
        _ => Ok(Value::Null),
    }
}

/// `hex(X)`: upper-case hex of the blob, or of the UTF-8 bytes of the text
/// form; `''` for NULL.
pub(super) fn f_hex(args: &[Value]) -> Result<Value> {
    let bytes = arg(args, 0).to_bytes().unwrap_or_default();
    Ok(Value::Text(upper_hex(&bytes)))
}

/// `instr(X, Y)`: the 1-based position of the first Y in X, in characters
/// (in bytes when both are blobs); 0 when absent, 1 when Y is empty, NULL
/// when either is NULL.
pub(super) fn f_instr(args: &[Value]) -> Result<Value> {
    let (x, y) = (arg(args, 0), arg(args, 1));
    if x.is_null() || y.is_null() {
        return Ok(Value::Null);
    }
    if let (Value::Blob(hay), Value::Blob(needle)) = (x, y) {
        if needle.is_empty() {
            return Ok(Value::Integer(1));
        }
        let pos = hay
            .windows(needle.len())
            .position(|w| w == needle.as_slice());
        return Ok(pos.map_or(Value::Integer(0), |p| count_to_value(p.saturating_add(1))));
    }
    let hay = x.text().unwrap_or_default();
    let needle = y.text().unwrap_or_default();
    Ok(match hay.find(&*needle) {
        Some(p) => count_to_value(
            hay.get(..p)
                .map_or(0, |s| s.chars().count())
                .saturating_add(1),
        ),
        None => Value::Integer(0),
    })
}

/// `length(X)`: characters of text up to the first NUL; bytes of a blob;
/// characters of a number's text form; NULL for NULL.
pub(super) fn f_length(args: &[Value]) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::Text(s) => count_to_value(until_nul(s).chars().count()),
        Value::Blob(b) => count_to_value(b.len()),
        v => count_to_value(v.text().map_or(0, |s| s.len())),
    })
}

/// `like(P, X [, E])`: `X LIKE P [ESCAPE E]` as 1 or 0; NULL if any
/// argument is NULL; an escape that is not exactly one character is an
/// error (checked first, as in SQLite).
pub(super) fn f_like(args: &[Value]) -> Result<Value> {
    let mut escape = None;
    if let Some(e) = args.get(2) {
        let Some(e) = e.text() else {
            return Ok(Value::Null);
        };
        let mut chars = until_nul(&e).chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => escape = Some(c),
            _ => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    "ESCAPE expression must be a single character",
                ))
            }
        }
    }
    match (arg(args, 0).text(), arg(args, 1).text()) {
        (Some(pattern), Some(text)) => Ok(Value::from(like(&pattern, &text, escape))),
        _ => Ok(Value::Null),
    }
}

/// `lower(X)`: ASCII letters to lower case; other characters unchanged.
pub(super) fn f_lower(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .text()
        .map_or(Value::Null, |s| Value::Text(s.to_ascii_lowercase())))
}

/// `upper(X)`: ASCII letters to upper case; other characters unchanged.
pub(super) fn f_upper(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .text()
        .map_or(Value::Null, |s| Value::Text(s.to_ascii_uppercase())))
}

/// `quote(X)`: X as an SQL literal: `NULL`, `12`, `1.5`, `'it''s'`,
/// `X'00FF'`. A REAL is written as its text form (17 digits at most, which
/// read back as the same double), infinity as `9.0e+999`.
pub(super) fn f_quote(args: &[Value]) -> Result<Value> {
    let quoted = match arg(args, 0) {
        Value::Null => "NULL".to_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format_real_quoted(*r),
        Value::Text(s) => format!("'{}'", until_nul(s).replace('\'', "''")),
        Value::Blob(b) => format!("X'{}'", upper_hex(b)),
    };
    Ok(Value::Text(quoted))
}

/// `replace(X, Y, Z)`: every Y in X replaced by Z, left to right. NULL if
/// any is NULL; X itself when Y is empty (a number stays a number, a blob
/// becomes text, as in SQLite).
pub(super) fn f_replace(args: &[Value]) -> Result<Value> {
    let (x, y, z) = (arg(args, 0), arg(args, 1), arg(args, 2));
    let (Some(text), Some(pattern)) = (x.text(), y.text()) else {
        return Ok(Value::Null);
    };
    // SQLite tests the pattern's first byte, not its length: a pattern
    // starting with NUL (x'00' read as text) counts as empty too.
    if pattern.is_empty() || pattern.starts_with('\0') {
        // X's text form (SQLite 3.54 returns text even for a number).
        return Ok(Value::Text(text.into_owned()));
    }
    let Some(replacement) = z.text() else {
        return Ok(Value::Null);
    };
    Ok(Value::Text(text.replace(&*pattern, &replacement)))
}

/// `substr(X, Y [, Z])`: Z characters of X (bytes when X is a blob)
/// starting at the 1-based position Y, with SQLite's rules for the corners:
/// a negative Y counts from the end, Y = 0 is a position before the first
/// character (so `substr('abc', 0, 2)` is `'a'`), a negative Z takes the
/// characters before Y. Y and Z are 64-bit integers (SQLite 3.47+). NULL
/// if any argument is NULL.
pub(super) fn f_substr(args: &[Value]) -> Result<Value> {
    // A port of SQLite 3.47+'s substrFunc (64-bit positions).
    let x = arg(args, 0);
    if x.is_null() || matches!(x, Value::Blob(b) if b.is_empty()) {
        // SQLite gets a NULL pointer for an empty blob and returns NULL.
        return Ok(Value::Null);
    }
    let mut p1 = arg(args, 1).to_i64();
    let text: Vec<char> = match x {
        Value::Blob(_) => Vec::new(),
        _ => until_nul(&x.text().unwrap_or_default()).chars().collect(),
    };
    let len = match x {
        Value::Blob(b) => i64::try_from(b.len()).unwrap_or(i64::MAX),
        _ => i64::try_from(text.len()).unwrap_or(i64::MAX),
    };
    let mut p2 = match args.get(2) {
        Some(z) => {
            if z.is_null() {
                return Ok(Value::Null);
            }
            z.to_i64()
        }
        None => i64::MAX,
    };
    if p1 == 0 && arg(args, 1).is_null() {
        return Ok(Value::Null);
    }
    if p1 < 0 {
        p1 = p1.saturating_add(len);
        if p1 < 0 {
            p2 = if p2 < 0 { 0 } else { p2.saturating_add(p1) };
            p1 = 0;
        }
    } else if p1 > 0 {
        p1 -= 1;
    } else if p2 > 0 {
        p2 -= 1;
    }
    if p2 < 0 {
        p2 = if p2 < p1.saturating_neg() {
            p1
        } else {
            p2.saturating_neg()
        };
        p1 -= p2;
    }
    let start = p1.clamp(0, len);
    let end = start.saturating_add(p2.max(0)).clamp(0, len);
    let (start, end) = (
        usize::try_from(start).unwrap_or(0),
        usize::try_from(end).unwrap_or(0),
    );
    Ok(match x {
        Value::Blob(b) => Value::Blob(b.get(start..end).unwrap_or(&[]).to_vec()),
        _ => Value::Text(text.get(start..end).unwrap_or(&[]).iter().collect()),
    })
}

/// `trim`, `ltrim`, `rtrim` with an optional set of characters to remove
/// (default: the space character only).
fn trim_impl(args: &[Value], left: bool, right: bool) -> Result<Value> {
    let Some(text) = arg(args, 0).text() else {
        return Ok(Value::Null);
    };
    let set: Vec<char> = match args.get(1) {
        None => vec![' '],
        Some(v) => match v.text() {
            None => return Ok(Value::Null),
            Some(s) => until_nul(&s).chars().collect(),
        },
    };
    let mut s = &*text;
    if left {
        s = s.trim_start_matches(|c| set.contains(&c));
    }
    if right {
        s = s.trim_end_matches(|c| set.contains(&c));
    }
    Ok(Value::Text(s.to_owned()))
}

pub(super) fn f_trim(args: &[Value]) -> Result<Value> {
    trim_impl(args, true, true)
}

pub(super) fn f_ltrim(args: &[Value]) -> Result<Value> {
    trim_impl(args, true, false)
}

pub(super) fn f_rtrim(args: &[Value]) -> Result<Value> {
    trim_impl(args, false, true)
}

/// `unicode(X)`: the code point of the first character of X's text form;
/// NULL for NULL, empty text, or text starting with NUL.
pub(super) fn f_unicode(args: &[Value]) -> Result<Value> {
    Ok(arg(args, 0)
        .text()
        .and_then(|s| until_nul(&s).chars().next())
        .map_or(Value::Null, |c| Value::Integer(i64::from(u32::from(c)))))
}

/// `zeroblob(N)`: a blob of N zero bytes (none if N < 0); more than
/// SQLite's length limit is an error.
pub(super) fn f_zeroblob(args: &[Value]) -> Result<Value> {
    let n = arg(args, 0).to_i64().max(0);
    if n > MAX_LENGTH {
        return Err(super::args::too_big());
    }
    Ok(Value::Blob(vec![0; usize::try_from(n).unwrap_or(0)]))
}

/// `octet_length(X)`: bytes of X's text form (UTF-8), bytes of a blob;
/// NULL for NULL.
pub(super) fn f_octet_length(args: &[Value]) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Null => Value::Null,
        Value::Blob(b) => count_to_value(b.len()),
        v => count_to_value(v.text().map_or(0, |s| s.len())),
    })
}

/// The text forms of the non-NULL `values` joined by `sep` (SQLite's
/// `concatFuncCore`).
fn join_non_null(values: &[Value], sep: &str) -> Result<Value> {
    let mut out = String::new();
    let mut first = true;
    for v in values {
        let Some(t) = v.text() else { continue };
        if !first {
            out.push_str(sep);
        }
        out.push_str(&t);
        first = false;
        check_length(out.len())?;
    }
    Ok(Value::Text(out))
}

/// `concat(X, ...)`: the text forms of the non-NULL arguments, joined;
/// `''` when all are NULL.
pub(super) fn f_concat(args: &[Value]) -> Result<Value> {
    join_non_null(args, "")
}

/// `concat_ws(SEP, X, ...)`: the non-NULL arguments joined by SEP; NULL
/// when SEP is NULL.
pub(super) fn f_concat_ws(args: &[Value]) -> Result<Value> {
    let Some(sep) = arg(args, 0).text() else {
        return Ok(Value::Null);
    };
    join_non_null(args.get(1..).unwrap_or(&[]), &sep)
}

/// `soundex(X)`: the four-character soundex code of X's first run of
/// ASCII letters onwards; `'?000'` when there is no ASCII letter.
pub(super) fn f_soundex(args: &[Value]) -> Result<Value> {
    const CODE: [u8; 128] = {
        let mut t = [0u8; 128];
        let upper = *b"\x00\x00\x01\x02\x03\x00\x01\x02\x00\x00\x02\x02\x04\x05\x05\x00\x01\x02\x06\x02\x03\x00\x01\x00\x02\x00\x02";
        let mut i = 0;
        while i < 26 {
            t[65 + i] = upper[i + 1];
            t[97 + i] = upper[i + 1];
            i += 1;
        }
        t
    };
    let text = arg(args, 0).text().unwrap_or_default();
    let z = until_nul(&text).as_bytes();
    let Some(start) = z.iter().position(u8::is_ascii_alphabetic) else {
        return Ok(Value::Text("?000".into()));
    };
    let code = |b: u8| CODE.get(usize::from(b & 0x7f)).copied().unwrap_or(0);
    let mut out = vec![z[start].to_ascii_uppercase()];
    let mut prev = code(z[start]);
    for &b in z.iter().skip(start) {
        if out.len() >= 4 {
            break;
        }
        let c = code(b);
        if c > 0 {
            if c != prev {
                prev = c;
                out.push(b'0' + c);
            }
        } else {
            prev = 0;
        }
    }
    while out.len() < 4 {
        out.push(b'0');
    }
    Ok(Value::Text(String::from_utf8_lossy(&out).into_owned()))
}

/// `unhex(X [, Y])`: the blob whose hex digits X spells (either case);
/// characters of Y may stand between two-digit pairs. NULL when X holds
/// anything else, an odd digit, or when an argument is NULL.
pub(super) fn f_unhex(args: &[Value]) -> Result<Value> {
    let Some(hex) = arg(args, 0).text() else {
        return Ok(Value::Null);
    };
    let pass: Vec<char> = match args.get(1) {
        None => Vec::new(),
        Some(v) => match v.text() {
            None => return Ok(Value::Null),
            Some(s) => until_nul(&s).chars().collect(),
        },
    };
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = until_nul(&hex).chars().peekable();
    while let Some(c) = chars.next() {
        let Some(hi) = c.to_digit(16) else {
            if pass.contains(&c) {
                continue;
            }
            return Ok(Value::Null);
        };
        let Some(lo) = chars.next().and_then(|d| d.to_digit(16)) else {
            return Ok(Value::Null);
        };
        out.push(u8::try_from(hi * 16 + lo).unwrap_or(0));
    }
    Ok(Value::Blob(out))
}

/// The value of the `n` hex digits at the start of `z`, if they all are.
fn hex_n(z: &[u8], n: usize) -> Option<u32> {
    let digits = z.get(..n)?;
    digits.iter().try_fold(0u32, |acc, &d| {
        char::from(d).to_digit(16).map(|v| (acc << 4) | v)
    })
}

/// `unistr(X)`: X with its escapes `\XXXX`, `\uXXXX`, `\+XXXXXX`,
/// `\UXXXXXXXX` replaced by the code points they name and `\\` by a
/// backslash; any other backslash is an error ("invalid Unicode escape").
pub(super) fn f_unistr(args: &[Value]) -> Result<Value> {
    let Some(text) = arg(args, 0).text() else {
        return Ok(Value::Null);
    };
    let z = text.as_bytes();
    let bad = || Error::sql(SqlErrorKind::Misuse, "invalid Unicode escape");
    let mut out: Vec<u8> = Vec::with_capacity(z.len());
    let mut i = 0;
    while i < z.len() {
        if z[i] != b'\\' {
            out.push(z[i]);
            i += 1;
            continue;
        }
        let rest = z.get(i + 1..).unwrap_or(&[]);
        let (v, used) = match rest.first() {
            Some(b'\\') => {
                out.push(b'\\');
                i += 2;
                continue;
            }
            Some(c) if c.is_ascii_hexdigit() => (hex_n(rest, 4), 5),
            Some(b'+') => (hex_n(rest.get(1..).unwrap_or(&[]), 6), 8),
            Some(b'u') => (hex_n(rest.get(1..).unwrap_or(&[]), 4), 6),
            Some(b'U') => (hex_n(rest.get(1..).unwrap_or(&[]), 8), 10),
            _ => (None, 0),
        };
        let v = v.ok_or_else(bad)?;
        let c = char::from_u32(v).unwrap_or('\u{fffd}');
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        i += used;
    }
    Ok(Value::Text(String::from_utf8_lossy(&out).into_owned()))
}

/// `unistr_quote(X)`: `quote(X)`, except that text holding control
/// characters is written as `unistr('...')` with those characters (and
/// backslashes) escaped, so that the literal shows them.
pub(super) fn f_unistr_quote(args: &[Value]) -> Result<Value> {
    let Value::Text(s) = arg(args, 0) else {
        return f_quote(args);
    };
    let s = until_nul(s);
    if !s.bytes().any(|b| b <= 0x1f) {
        return f_quote(args);
    }
    let mut out = String::from("unistr('");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) <= 0x1f => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push_str("')");
    Ok(Value::Text(out))
}
