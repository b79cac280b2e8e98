//! Reading function arguments the way SQLite's `sqlite3_value_*`
//! accessors read them, and small helpers shared by the functions.

use std::fmt::Write as _;

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{numeric_affinity_of_text, Value};

/// SQLite's default `SQLITE_LIMIT_LENGTH`: the largest string or blob, in
/// bytes.
pub(super) const MAX_LENGTH: i64 = 1_000_000_000;

/// A NULL to lend out for missing arguments.
static NULL: Value = Value::Null;

/// Argument `i`, or NULL if missing (the arity check makes that unreachable).
pub(super) fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&NULL)
}

/// The text up to the first NUL, as SQLite's C-string loops see it.
pub(super) fn until_nul(s: &str) -> &str {
    // NUL is one byte in UTF-8 and never inside a longer character. Most
    // texts hold none: `contains` answers that a word at a time, cheaper
    // than `split`'s character searcher (a third of `length()` over a
    // table of 100-byte texts).
    let b = s.as_bytes();
    if !b.contains(&0) {
        return s;
    }
    match b.iter().position(|&c| c == 0) {
        Some(end) => &s[..end],
        None => s,
    }
}

/// A count as an INTEGER.
pub(super) fn count_to_value(n: usize) -> Value {
    Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// The "integer overflow" error.
pub(super) fn overflow() -> Error {
    Error::sql(SqlErrorKind::Overflow, "integer overflow")
}

/// SQLite's "string or blob too big".
pub(super) fn too_big() -> Error {
    Error::sql(SqlErrorKind::Overflow, "string or blob too big")
}

/// Fails with [`too_big`] when `len` bytes exceed the length limit.
pub(super) fn check_length(len: usize) -> Result<()> {
    if i64::try_from(len).map_or(true, |n| n > MAX_LENGTH) {
        return Err(too_big());
    }
    Ok(())
}

/// Upper-case hex of `bytes`.
pub(super) fn upper_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(s, "{byte:02X}");
    }
    s
}

/// SQLite's `sqlite3_value_numeric_type`: an INTEGER or REAL argument as
/// it is, text that is a well-formed number as that number, and `None`
/// for anything else (NULL, a blob, text such as `'12abc'`).
pub(super) fn numeric(v: &Value) -> Option<Value> {
    match v {
        Value::Integer(_) | Value::Real(_) => Some(v.clone()),
        Value::Text(s) => numeric_affinity_of_text(s, false),
        Value::Null | Value::Blob(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::until_nul;

    #[test]
    fn until_nul_stops_at_the_first_nul_only() {
        for (text, want) in [
            ("", ""),
            ("abc", "abc"),
            ("\0", ""),
            ("\0abc", ""),
            ("ab\0c\0d", "ab"),
            ("abc\0", "abc"),
            ("été\0ü", "été"),
            ("ü€😀", "ü€😀"),
        ] {
            assert_eq!(until_nul(text), want, "{text:?}");
        }
        let long = format!("{}\0{}", "x".repeat(1000), "y".repeat(10));
        assert_eq!(until_nul(&long).len(), 1000);
    }
}
