//! Column affinity: how a declared type name maps to an affinity, how a
//! stored value is converted under it, and comparison affinity.

use super::*;

/// A column's preferred storage class, derived from its declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Affinity {
    /// Declared type contains "INT".
    Integer,
    /// Declared type contains "REAL", "FLOA" or "DOUB".
    Real,
    /// Any other declared type (NUMERIC, DECIMAL, BOOLEAN, DATE, ...).
    Numeric,
    /// Declared type contains "CHAR", "CLOB" or "TEXT".
    Text,
    /// Declared type contains "BLOB", or there is no declared type.
    Blob,
}

impl Affinity {
    /// Whether this is INTEGER, REAL or NUMERIC affinity.
    pub fn is_numeric(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }
}

/// The affinity of a declared column type, by SQLite's rules (in this
/// order): contains "INT" → INTEGER; "CHAR", "CLOB" or "TEXT" → TEXT;
/// "BLOB" or empty → BLOB; "REAL", "FLOA" or "DOUB" → REAL; otherwise
/// NUMERIC. Matching is case-insensitive on substrings, so "FLOATING POINT"
/// is INTEGER and "CHARINT" is INTEGER.
pub fn affinity_of_type(decl: &str) -> Affinity {
    if decl.bytes().all(is_space) {
        return Affinity::Blob;
    }
    // A port of sqlite3AffinityType: a rolling window of the last 4 bytes.
    let mut h: u32 = 0;
    let mut aff = Affinity::Numeric;
    let word = |s: &[u8; 4]| u32::from_be_bytes(*s);
    for b in decl.bytes() {
        h = (h << 8) | u32::from(b.to_ascii_lowercase());
        if h == word(b"char") || h == word(b"clob") || h == word(b"text") {
            aff = Affinity::Text;
        } else if h == word(b"blob") && matches!(aff, Affinity::Numeric | Affinity::Real) {
            aff = Affinity::Blob;
        } else if (h == word(b"real") || h == word(b"floa") || h == word(b"doub"))
            && aff == Affinity::Numeric
        {
            aff = Affinity::Real;
        } else if h & 0x00ff_ffff == u32::from_be_bytes([0, b'i', b'n', b't']) {
            return Affinity::Integer;
        }
    }
    aff
}

/// Converts a value about to be stored in a column of affinity `a`, by
/// SQLite's rules:
///
/// * INTEGER and NUMERIC: text holding a well-formed number becomes that
///   number (`'12'` → 12, `' 1e3 '` → 1000, `'1.5'` → 1.5; `'12abc'` stays
///   text); a REAL holding an exact integer becomes an INTEGER (3.0 → 3).
/// * REAL: as NUMERIC, then any INTEGER becomes a REAL (3 → 3.0).
/// * TEXT: numbers become their text form (12 → `'12'`).
/// * BLOB: nothing changes. NULL and blobs never change under any affinity.
pub fn apply_affinity(v: Value, a: Affinity) -> Value {
    if affinity_keeps(&v, a) {
        return v;
    }
    converted(v, a)
}

/// Applies column affinity `a` to the value in place ([`apply_affinity`]):
/// a value the affinity leaves as it is (most of what a row holds) is not
/// moved out and back.
pub fn apply_affinity_in_place(v: &mut Value, a: Affinity) {
    if !affinity_keeps(v, a) {
        let x = std::mem::replace(v, Value::Null);
        *v = converted(x, a);
    }
}

/// Whether affinity `a` leaves `v` unchanged: NULL and blobs always, a
/// text under TEXT, an integer under INTEGER and NUMERIC. A real is never
/// taken for kept (under REAL an integral one goes through an integer and
/// back, which changes -0.0).
fn affinity_keeps(v: &Value, a: Affinity) -> bool {
    matches!(
        (v, a),
        (Value::Null | Value::Blob(_), _)
            | (_, Affinity::Blob)
            | (Value::Text(_), Affinity::Text)
            | (Value::Integer(_), Affinity::Integer | Affinity::Numeric)
    )
}

/// [`apply_affinity`] for a value it may change.
fn converted(v: Value, a: Affinity) -> Value {
    match a {
        Affinity::Blob => v,
        Affinity::Text => match v {
            Value::Integer(_) | Value::Real(_) => v.to_text().map_or(Value::Null, Value::Text),
            other => other,
        },
        Affinity::Integer | Affinity::Numeric | Affinity::Real => {
            let v = match v {
                Value::Real(r) => integer_affinity(r),
                Value::Text(s) => numeric_affinity_of_text(&s, true).unwrap_or(Value::Text(s)),
                other => other,
            };
            match (a, v) {
                (Affinity::Real, Value::Integer(i)) => Value::Real(i as f64),
                (_, v) => v,
            }
        }
    }
}

/// The affinity SQLite applies to both operands of a comparison, given
/// each operand's affinity (`None` for an expression without one, such as
/// a literal, a parameter or a function call; `Some` for a column or a
/// CAST). Both columns: NUMERIC if either is numeric, else none. One
/// column: that column's affinity. Neither: none.
pub fn comparison_affinity(left: Option<Affinity>, right: Option<Affinity>) -> Option<Affinity> {
    match (left, right) {
        (Some(l), Some(r)) => {
            if l.is_numeric() || r.is_numeric() {
                Some(Affinity::Numeric)
            } else {
                None
            }
        }
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

/// Prepares one operand of a comparison under the affinity chosen by
/// [`comparison_affinity`]: a numeric affinity turns text holding a
/// well-formed number into that number; TEXT turns numbers into text; BLOB
/// (no affinity) changes nothing.
pub fn apply_comparison_affinity(v: Value, a: Affinity) -> Value {
    match (a, v) {
        (Affinity::Integer | Affinity::Real | Affinity::Numeric, Value::Text(s)) => {
            numeric_affinity_of_text(&s, false).unwrap_or(Value::Text(s))
        }
        (Affinity::Text, v @ (Value::Integer(_) | Value::Real(_))) => {
            v.to_text().map_or(Value::Null, Value::Text)
        }
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`affinity_keeps`] lets through untouched is what the
    /// conversion would have given back (bit for bit: -0.0 stays -0.0).
    #[test]
    fn kept_values_are_what_the_conversion_returns() {
        let values = [
            Value::Null,
            Value::Integer(0),
            Value::Integer(-7),
            Value::Integer(i64::MAX),
            Value::Real(0.0),
            Value::Real(-0.0),
            Value::Real(2.0),
            Value::Real(2.5),
            Value::Real(1e300),
            Value::Text(String::new()),
            Value::Text("12".into()),
            Value::Text(" 12 ".into()),
            Value::Text("1.5".into()),
            Value::Text("1e3".into()),
            Value::Text("abc".into()),
            Value::Blob(vec![1, 2]),
            Value::Blob(b"12".to_vec()),
        ];
        let same = |a: &Value, b: &Value| match (a, b) {
            (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        };
        let mut kept = 0;
        for a in [
            Affinity::Integer,
            Affinity::Real,
            Affinity::Numeric,
            Affinity::Text,
            Affinity::Blob,
        ] {
            for v in &values {
                let full = converted(v.clone(), a);
                if affinity_keeps(v, a) {
                    kept += 1;
                    assert!(same(&full, v), "{v:?} under {a:?} became {full:?}");
                }
                let mut w = v.clone();
                apply_affinity_in_place(&mut w, a);
                assert!(same(&w, &full), "{v:?} under {a:?}");
                assert!(same(&apply_affinity(v.clone(), a), &full));
            }
        }
        assert!(kept > 20, "{kept}");
    }
}
