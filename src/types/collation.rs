//! Collating sequences: how two TEXT values compare. SQLite's three
//! built-in ones, with its semantics:
//!
//! ```text
//!   BINARY   bytewise (memcmp, then length)              the default
//!   NOCASE   ASCII A-Z folded to a-z, then BINARY        'Rock' = 'ROCK'
//!            up to the first NUL, then the length        see below
//!   RTRIM    trailing spaces (0x20 only) ignored         'a ' = 'a'
//! ```
//!
//! NOCASE is SQLite's `nocaseCollatingFunc`: `sqlite3StrNICmp` over the
//! shorter length, which stops at a NUL in the left text, then the
//! lengths. So a text holding a NUL compares by its folded bytes before
//! the NUL, then (against a text with a NUL at the same place) by its
//! length alone: `'a' || x'00' || 'b'` and `'A' || x'00' || 'c'` are equal.
//!
//! A collation only changes comparisons of two TEXT values; numbers,
//! blobs and NULL compare as under [`compare`]. Each collation is a
//! *folding*: two texts compare under it as their folded forms compare
//! bytewise. That is what lets index keys, DISTINCT and GROUP BY keys
//! store the folded text ([`Collation::fold`]) and stay plain byte
//! strings.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::*;

/// A collating sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Collation {
    /// Bytewise: SQLite's default.
    #[default]
    Binary,
    /// ASCII case-insensitive.
    NoCase,
    /// Trailing spaces ignored.
    Rtrim,
}

impl Collation {
    /// The collation named `name` (case-insensitive), if it exists.
    pub fn from_name(name: &str) -> Option<Collation> {
        match name.to_ascii_uppercase().as_str() {
            "BINARY" => Some(Collation::Binary),
            "NOCASE" => Some(Collation::NoCase),
            "RTRIM" => Some(Collation::Rtrim),
            _ => None,
        }
    }

    /// Its SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Collation::Binary => "BINARY",
            Collation::NoCase => "NOCASE",
            Collation::Rtrim => "RTRIM",
        }
    }

    /// The form of `s` that compares bytewise as `s` compares under this
    /// collation.
    pub fn fold(self, s: &str) -> Cow<'_, str> {
        match self {
            Collation::Binary => Cow::Borrowed(s),
            Collation::NoCase => {
                if let Some(nul) = s.find('\0') {
                    // What follows the NUL counts by its length only; a
                    // fixed-width decimal length keeps the bytewise order.
                    let mut f = s[..nul].to_ascii_lowercase();
                    f.push('\0');
                    f.push_str(&format!("{:020}", s.len()));
                    Cow::Owned(f)
                } else if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(s.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(s)
                }
            }
            Collation::Rtrim => Cow::Borrowed(s.trim_end_matches(' ')),
        }
    }

    /// `v` with its text folded (see [`Collation::fold`]); other values
    /// unchanged.
    pub fn fold_value(self, v: &Value) -> Cow<'_, Value> {
        match (self, v) {
            (Collation::Binary, _) | (_, Value::Null | Value::Integer(_) | Value::Real(_)) => {
                Cow::Borrowed(v)
            }
            (_, Value::Text(s)) => match self.fold(s) {
                Cow::Borrowed(f) if f.len() == s.len() => Cow::Borrowed(v),
                f => Cow::Owned(Value::Text(f.into_owned())),
            },
            (_, Value::Blob(_)) => Cow::Borrowed(v),
        }
    }

    /// The sort order of [`compare`] with TEXT compared under this
    /// collation.
    pub fn compare(self, a: &Value, b: &Value) -> Ordering {
        match (self, a, b) {
            (Collation::Binary, _, _) => compare(a, b),
            (_, Value::Text(x), Value::Text(y)) => {
                self.fold(x).as_bytes().cmp(self.fold(y).as_bytes())
            }
            _ => compare(a, b),
        }
    }

    /// The SQL comparison under this collation: `None` when either side
    /// is NULL.
    pub fn sql_cmp(self, a: &Value, b: &Value) -> Option<Ordering> {
        if a.is_null() || b.is_null() {
            None
        } else {
            Some(self.compare(a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn names_round_trip() {
        for c in [Collation::Binary, Collation::NoCase, Collation::Rtrim] {
            assert_eq!(Collation::from_name(&c.name().to_lowercase()), Some(c));
        }
        assert_eq!(Collation::from_name("nosuch"), None);
    }

    #[test]
    fn sqlite_semantics() {
        use Ordering::*;
        let (b, n, r) = (Collation::Binary, Collation::NoCase, Collation::Rtrim);
        assert_eq!(b.compare(&t("a"), &t("A")), Greater);
        assert_eq!(n.compare(&t("a"), &t("A")), Equal);
        assert_eq!(n.compare(&t("B"), &t("a")), Greater);
        // Only ASCII folds.
        assert_eq!(n.compare(&t("é"), &t("É")), b.compare(&t("é"), &t("É")));
        assert_eq!(r.compare(&t("a  "), &t("a")), Equal);
        assert_eq!(r.compare(&t(" a"), &t("a")), Less);
        assert_eq!(r.compare(&t("a\t"), &t("a")), Greater);
        // Not text: the plain order.
        assert_eq!(n.compare(&Value::Integer(1), &t("A")), Less);
        assert_eq!(n.sql_cmp(&Value::Null, &t("A")), None);
        assert_eq!(n.fold_value(&t("AbC")).into_owned(), t("abc"));
        // NOCASE stops at a NUL (sqlite3StrNICmp), then compares lengths.
        assert_eq!(n.compare(&t("A\0b"), &t("a\0c")), Equal);
        assert_eq!(n.compare(&t("\0-3"), &t("\x004")), Greater);
        assert_eq!(n.compare(&t("a\0"), &t("a")), Greater);
        assert_eq!(n.compare(&t("a\0zz"), &t("ab")), Less);
        assert_eq!(n.compare(&t("a\0"), &t("a\u{1}")), Less);
        assert_eq!(b.compare(&t("\0-3"), &t("\x004")), Less);
    }
}
