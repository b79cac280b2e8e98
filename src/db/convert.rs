//! Conversions between Rust values and SQL values: [`ToValue`] for
//! parameters, [`FromValue`] for typed column access.

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::Value;

/// A value that can be bound to a parameter.
pub trait ToValue {
    /// The SQL value.
    fn to_value(&self) -> Value;
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
to_value!(i64, i32, f64, String, Vec<u8>, bool);

impl ToValue for &str {
    fn to_value(&self) -> Value {
        Value::Text((*self).to_string())
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for &[u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null,
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
