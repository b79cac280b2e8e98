//! The SQL value: the five storage classes of SQLite, and conversions
//! from Rust types.

use std::fmt;

use super::*;

/// One SQL value: the five storage classes of SQLite.
#[derive(Debug, PartialEq)]
pub enum Value {
    /// SQL NULL: unknown or absent.
    Null,
    /// A signed 64-bit integer.
    Integer(i64),
    /// A 64-bit IEEE float; never NaN (see [`Value::real`]).
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Uninterpreted bytes.
    Blob(Vec<u8>),
}

impl Clone for Value {
    fn clone(&self) -> Value {
        match self {
            Value::Null => Value::Null,
            Value::Integer(i) => Value::Integer(*i),
            Value::Real(r) => Value::Real(*r),
            Value::Text(s) => Value::Text(s.clone()),
            Value::Blob(b) => Value::Blob(b.clone()),
        }
    }

    /// A text or blob copied over one reuses its buffer (a row copied
    /// into the same values row after row allocates only to grow).
    fn clone_from(&mut self, source: &Value) {
        match (self, source) {
            (Value::Text(a), Value::Text(b)) => a.clone_from(b),
            (Value::Blob(a), Value::Blob(b)) => a.clone_from(b),
            (a, b) => *a = b.clone(),
        }
    }
}

/// The largest text or blob buffer a prepared statement keeps from one run
/// for the next (the values it bound, an INSERT's row): a run that handled
/// a larger value does not leave it held.
pub(crate) const KEPT_BUFFER_BYTES: usize = 4096;

/// Empties `values`, kept for a prepared statement's next run, of what is
/// not worth keeping: a buffer above [`KEPT_BUFFER_BYTES`], and every
/// buffer when those left add up to more than four times that (a wide row
/// of long texts), so an idle statement holds a few kilobytes at most.
pub(crate) fn trim_kept(values: &mut [Value]) {
    let mut total = 0usize;
    for v in values.iter_mut() {
        let n = v.buffer_capacity();
        if n > KEPT_BUFFER_BYTES {
            *v = Value::Null;
        } else {
            total += n;
        }
    }
    if total > 4 * KEPT_BUFFER_BYTES {
        values.fill(Value::Null);
    }
}

impl Value {
    /// The capacity of a text's or blob's buffer (0 for other values):
    /// what keeping the value keeps allocated.
    pub(crate) fn buffer_capacity(&self) -> usize {
        match self {
            Value::Text(s) => s.capacity(),
            Value::Blob(b) => b.capacity(),
            _ => 0,
        }
    }

    /// A REAL, or NULL when `f` is NaN (a REAL is never NaN).
    pub fn real(f: f64) -> Value {
        if f.is_nan() {
            Value::Null
        } else {
            Value::Real(f)
        }
    }

    /// The name SQL's `typeof()` gives this value's storage class:
    /// "null", "integer", "real", "text" or "blob".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Integer(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }

    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The truth value of this value in WHERE, CASE WHEN, AND, OR, NOT:
    /// `None` for NULL; a number is true when it is not zero; text and blobs
    /// are read as their numeric prefix (`'0.5'` and `'12abc'` are true,
    /// `'abc'` and `'0'` are false).
    pub fn truthy(&self) -> Option<bool> {
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(*i != 0),
            Value::Real(r) => Some(*r != 0.0),
            Value::Text(s) => Some(parse_real_prefix(s.as_bytes()).0 != 0.0),
            Value::Blob(b) => Some(parse_real_prefix(b).0 != 0.0),
        }
    }

    /// The text form of this value, as `CAST(x AS TEXT)` gives it; `None`
    /// for NULL. Integers print in decimal, reals as described in the module
    /// documentation, blobs as their bytes read as UTF-8 (invalid sequences
    /// become U+FFFD, where SQLite would keep the raw bytes).
    pub fn to_text(&self) -> Option<String> {
        self.text().map(std::borrow::Cow::into_owned)
    }

    /// [`Value::to_text`] without copying a text: borrowed from a TEXT
    /// value, made for the other types.
    pub fn text(&self) -> Option<std::borrow::Cow<'_, str>> {
        use std::borrow::Cow;
        match self {
            Value::Null => None,
            Value::Integer(i) => Some(Cow::Owned(i.to_string())),
            Value::Real(r) => Some(Cow::Owned(format_real(*r))),
            Value::Text(s) => Some(Cow::Borrowed(s)),
            Value::Blob(b) => Some(String::from_utf8_lossy(b)),
        }
    }

    /// This value as a 64-bit integer, the way SQLite's
    /// `sqlite3_value_int64` reads it: NULL is 0, a real is truncated toward
    /// zero and saturates at the `i64` range, text and blobs give their
    /// integer prefix (saturating; 0 when there is none).
    pub fn to_i64(&self) -> i64 {
        match self {
            Value::Null => 0,
            Value::Integer(i) => *i,
            Value::Real(r) => real_to_i64_saturating(*r),
            Value::Text(s) => parse_int_prefix(s.as_bytes()).0,
            Value::Blob(b) => parse_int_prefix(b).0,
        }
    }

    /// This value as a double, the way SQLite's `sqlite3_value_double`
    /// reads it: NULL is 0.0, text and blobs give their numeric prefix
    /// (0.0 when there is none).
    pub fn to_f64(&self) -> f64 {
        match self {
            Value::Null => 0.0,
            Value::Integer(i) => *i as f64,
            Value::Real(r) => *r,
            Value::Text(s) => parse_real_prefix(s.as_bytes()).0,
            Value::Blob(b) => parse_real_prefix(b).0,
        }
    }

    /// The bytes of this value's text form (a blob's own bytes); `None` for
    /// NULL. This is what `hex()`, `instr()` on blobs and `CAST(x AS BLOB)`
    /// see.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Blob(b) => Some(b.clone()),
            other => other.to_text().map(String::into_bytes),
        }
    }
}

impl fmt::Display for Value {
    /// The text form, or `NULL` for NULL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_text() {
            Some(t) => f.write_str(&t),
            None => f.write_str("NULL"),
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl From<f64> for Value {
    /// NaN becomes NULL.
    fn from(v: f64) -> Self {
        Value::real(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}

impl From<bool> for Value {
    /// SQL has no boolean storage class: true is 1, false is 0.
    fn from(v: bool) -> Self {
        Value::Integer(i64::from(v))
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` is NULL.
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a statement keeps: small buffers, as they were; none over the
    /// limit; none at all when the small ones add up to too much.
    #[test]
    fn trim_kept_keeps_a_few_kilobytes_at_most() {
        let text = |n: usize| Value::Text("x".repeat(n));
        let mut row = vec![
            text(100),
            Value::Integer(3),
            text(KEPT_BUFFER_BYTES + 1),
            Value::Blob(vec![1; 10]),
        ];
        trim_kept(&mut row);
        assert_eq!(
            row,
            vec![
                text(100),
                Value::Integer(3),
                Value::Null,
                Value::Blob(vec![1; 10])
            ]
        );
        let mut wide: Vec<Value> = (0..8).map(|_| text(KEPT_BUFFER_BYTES)).collect();
        trim_kept(&mut wide);
        assert!(wide.iter().all(|v| *v == Value::Null), "{wide:?}");
        let mut fits: Vec<Value> = (0..4).map(|_| text(KEPT_BUFFER_BYTES / 2)).collect();
        trim_kept(&mut fits);
        assert!(fits
            .iter()
            .all(|v| v.buffer_capacity() >= KEPT_BUFFER_BYTES / 2));
    }

    /// Copying over a value gives the source whatever the two kinds are,
    /// and a text or blob over one of its kind keeps the buffer.
    #[test]
    fn clone_from_gives_the_source_and_reuses_buffers() {
        let kinds = [
            Value::Null,
            Value::Integer(-7),
            Value::Real(2.5),
            Value::Text("a longer text than the next".into()),
            Value::Text("é".into()),
            Value::Blob(vec![0, 1, 2, 3, 4, 5, 6, 7, 8]),
            Value::Blob(Vec::new()),
        ];
        for a in &kinds {
            for b in &kinds {
                let mut x = a.clone();
                x.clone_from(b);
                assert_eq!(&x, b);
            }
        }
        let mut t = Value::Text(String::with_capacity(64));
        let before = if let Value::Text(s) = &t {
            s.as_ptr()
        } else {
            std::ptr::null()
        };
        t.clone_from(&Value::Text("short".into()));
        assert!(matches!(&t, Value::Text(s) if s.as_ptr() == before && s == "short"));
    }
}
