//! CAST: conversion of a value to a storage class by SQLite's rules.

use super::*;

/// The target of `CAST(x AS type)`, chosen from the type name by
/// [`affinity_of_type`] (SQLite maps `CAST(x AS VARCHAR)` to TEXT, and so
/// on); see [`CastType::from_affinity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CastType {
    /// `CAST(x AS INTEGER)`.
    Integer,
    /// `CAST(x AS REAL)`.
    Real,
    /// `CAST(x AS TEXT)`.
    Text,
    /// `CAST(x AS BLOB)` (also a type name with no affinity keyword).
    Blob,
    /// `CAST(x AS NUMERIC)` (any other type name).
    Numeric,
}

impl CastType {
    /// The cast a type name asks for, given its affinity.
    pub fn from_affinity(a: Affinity) -> CastType {
        match a {
            Affinity::Integer => CastType::Integer,
            Affinity::Real => CastType::Real,
            Affinity::Numeric => CastType::Numeric,
            Affinity::Text => CastType::Text,
            Affinity::Blob => CastType::Blob,
        }
    }
}

/// `CAST(v AS to)` with SQLite's rules. NULL stays NULL. Then:
///
/// * INTEGER: reals truncate toward zero and saturate (`1e30` gives
///   `i64::MAX`); text and blobs give their integer prefix only
///   (`'12.5abc'` and `'1e3'` give 12 and 1; no prefix gives 0).
/// * REAL: text and blobs give their real prefix (`'1e3x'` gives 1000.0).
/// * NUMERIC: numbers are unchanged (`3.0` stays REAL); text and blobs give
///   their numeric prefix, as an INTEGER when exact (`'3.0'` gives 3,
///   `'12.5abc'` gives 12.5, `'1e16'` gives 1.0e+16).
/// * TEXT: the text form; BLOB: the bytes of the text form.
pub fn cast(v: &Value, to: CastType) -> Value {
    if v.is_null() {
        return Value::Null;
    }
    match to {
        CastType::Integer => Value::Integer(v.to_i64()),
        CastType::Real => Value::real(v.to_f64()),
        CastType::Text => v.to_text().map_or(Value::Null, Value::Text),
        CastType::Blob => v.to_bytes().map_or(Value::Null, Value::Blob),
        CastType::Numeric => match v {
            Value::Text(s) => numerify_bytes(s.as_bytes()),
            Value::Blob(b) => numerify_bytes(b),
            other => other.clone(),
        },
    }
}
