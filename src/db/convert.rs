//! Conversions between Rust values and SQL values: [`ToValue`] for
//! parameters, [`FromValue`] for typed column access.

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::Value;

/// A value that can be bound to a parameter.
pub trait ToValue {
    /// The SQL value.
    fn to_value(&self) -> Value;

    /// Puts the SQL value into `slot`. A text or blob goes into the
    /// buffer of the text or blob `slot` holds, where it has one: a
    /// statement run many times binds into the same values, without an
    /// allocation per run.
    fn write_value(&self, slot: &mut Value) {
        *slot = self.to_value();
    }
}

/// Puts text `s` into `slot`, in its buffer if it holds a text.
fn write_text(s: &str, slot: &mut Value) {
    match slot {
        Value::Text(t) => {
            t.clear();
            t.push_str(s);
        }
        _ => *slot = Value::Text(s.to_string()),
    }
}

/// Puts blob `b` into `slot`, in its buffer if it holds a blob.
fn write_blob(b: &[u8], slot: &mut Value) {
    match slot {
        Value::Blob(t) => {
            t.clear();
            t.extend_from_slice(b);
        }
        _ => *slot = Value::Blob(b.to_vec()),
    }
}

macro_rules! to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::from(self.clone())
            }
        }
    )*};
}
to_value!(i64, i32, f64, bool);

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }

    fn write_value(&self, slot: &mut Value) {
        write_text(self, slot);
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }

    fn write_value(&self, slot: &mut Value) {
        write_blob(self, slot);
    }
}

impl ToValue for &str {
    fn to_value(&self) -> Value {
        Value::Text((*self).to_string())
    }

    fn write_value(&self, slot: &mut Value) {
        write_text(self, slot);
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }

    fn write_value(&self, slot: &mut Value) {
        write_text(self, slot);
    }
}

impl ToValue for &[u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }

    fn write_value(&self, slot: &mut Value) {
        write_blob(self, slot);
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }

    fn write_value(&self, slot: &mut Value) {
        slot.clone_from(self);
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
        }
    }

    fn write_value(&self, slot: &mut Value) {
        match self {
            Some(v) => v.write_value(slot),
            None => *slot = Value::Null,
        }
    }
}

/// A value that can be read from a result column.
pub trait FromValue: Sized {
    /// Converts, or fails with a type-mismatch error.
    fn from_value(v: &Value) -> Result<Self>;
}

pub(super) fn mismatch(v: &Value, want: &str) -> Error {
    Error::sql(
        SqlErrorKind::TypeMismatch,
        format!("cannot read a {} value as {want}", v.type_name()),
    )
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Integer(i) => Ok(*i),
            other => Err(mismatch(other, "an integer")),
        }
    }
}

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Integer(i) => Ok(*i as f64),
            other => Err(mismatch(other, "a real")),
        }
    }
}

impl FromValue for String {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(mismatch(other, "text")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(mismatch(other, "a blob")),
        }
    }
}

impl FromValue for bool {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Integer(i) => Ok(*i != 0),
            other => Err(mismatch(other, "a boolean")),
        }
    }
}

impl FromValue for Value {
    fn from_value(v: &Value) -> Result<Self> {
        Ok(v.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

pub(super) fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

/// [`values`] into `out`, reusing its values' text and blob buffers
/// ([`ToValue::write_value`]).
pub(super) fn values_into(params: &[&dyn ToValue], out: &mut Vec<Value>) {
    out.truncate(params.len());
    for (i, p) in params.iter().enumerate() {
        match out.get_mut(i) {
            Some(slot) => p.write_value(slot),
            None => out.push(p.to_value()),
        }
    }
}
