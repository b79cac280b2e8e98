//! Values between sealdb and SQLite (rusqlite), for the tests that run
//! the same statements on both and compare what comes back.

#![allow(dead_code, clippy::unwrap_used)]

use rusqlite::types::{Value as LiteValue, ValueRef};
use sealdb::Value;

/// A value SQLite returned, as sealdb's.
pub fn from_sqlite(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8(t.to_vec()).unwrap()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// A sealdb value as a parameter for SQLite.
pub fn to_sqlite(v: &Value) -> LiteValue {
    match v {
        Value::Null => LiteValue::Null,
        Value::Integer(i) => LiteValue::Integer(*i),
        Value::Real(r) => LiteValue::Real(*r),
        Value::Text(t) => LiteValue::Text(t.clone()),
        Value::Blob(b) => LiteValue::Blob(b.clone()),
    }
}
