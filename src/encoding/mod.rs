//! `encoding`: values as bytes, for keys (order-preserving) and for rows.
//!
//! **Keys.** [`encode_key_value`] maps a [`Value`] to bytes whose bytewise
//! order is the SQL sort order of [`crate::types::compare`]:
//!
//! ```text
//!   NULL     0x05
//!   number   0x20 | f64 sort bits (8, BE) | integer remainder (8, BE, sign-flipped) | 0x00 int / 0x01 real
//!   text     0x30 | bytes, 0x00 escaped as 0x00 0xFF | 0x00 0x01
//!   blob     0x40 | same escaping                    | 0x00 0x01
//!   DESC     every byte of the value's encoding inverted
//! ```
//!
//! Index keys use [`encode_index_value`]: the same bytes without the
//! int/real marker, so that equal values (1 and 1.0) encode alike.
//!
//! Integers and reals share one number line: the f64 nearest the value
//! orders them, and for integers beyond 2^53 the exact difference to that
//! f64 breaks ties, so 2^53+1 sorts after the real 2^53. The escaping keeps
//! every encoding prefix-free, so concatenated column keys compare column by
//! column and inversion (DESC) stays correct.
//!
//! **Rows.** [`encode_row`]/[`decode_row`]: a compact, self-describing list of
//! values (count, then tag + payload per value) — not ordered, just small.

use crate::error::{Error, Result};
use crate::storage::key::{get_bytes, get_varint, put_varint, varint_len};
use crate::types::Value;

const T_NULL: u8 = 0x05;
const T_NUM: u8 = 0x20;
const T_TEXT: u8 = 0x30;
const T_BLOB: u8 = 0x40;

fn f64_sort_bits(f: f64) -> u64 {
    let b = f.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn f64_from_sort_bits(s: u64) -> f64 {
    let b = if s >> 63 == 1 { s & !(1 << 63) } else { !s };
    f64::from_bits(b)
}

fn put_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Appends the order-preserving encoding of `v` (inverted when `desc`).
pub fn encode_key_value(v: &Value, desc: bool, out: &mut Vec<u8>) {
    let start = out.len();
    match v {
        Value::Null => out.push(T_NULL),
        Value::Integer(i) => {
            let f = *i as f64;
            // Exact difference between the integer and its nearest f64.
            let rem = (*i as i128 - f as i128) as i64;
            out.push(T_NUM);
            out.extend_from_slice(&f64_sort_bits(f).to_be_bytes());
            out.extend_from_slice(&((rem as u64) ^ (1 << 63)).to_be_bytes());
            out.push(0);
        }
        Value::Real(f) => {
            // -0.0 and 0.0 are equal in SQL: one encoding.
            let f = if *f == 0.0 { 0.0 } else { *f };
            out.push(T_NUM);
            out.extend_from_slice(&f64_sort_bits(f).to_be_bytes());
            out.extend_from_slice(&(1u64 << 63).to_be_bytes());
            out.push(1);
        }
        Value::Text(s) => {
            out.push(T_TEXT);
            put_escaped(out, s.as_bytes());
        }
        Value::Blob(b) => {
            out.push(T_BLOB);
            put_escaped(out, b);
        }
    }
    if desc {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// Appends the encoding of `v` as an index key column: the order of
/// [`encode_key_value`], but values that compare equal encode to the same
/// bytes (an integer and a real of the same value share one encoding, the
/// int/real marker left out). Index keys are only compared, never decoded
/// (rows are read through their rowid), so nothing is lost; and because
/// equal values give equal bytes, a probe for one column value followed by
/// the next column's bytes lines up with every stored key, and a uniqueness
/// check is an exact prefix match.
///
/// ```text
///   number   0x20 | f64 sort bits (8, BE) | integer remainder (8, BE, sign-flipped)
/// ```
pub fn encode_index_value(v: &Value, desc: bool, out: &mut Vec<u8>) {
    let start = out.len();
    encode_key_value(v, false, out);
    if matches!(v, Value::Integer(_) | Value::Real(_)) {
        out.pop();
    }
    if desc {
        for b in &mut out[start..] {
            *b = !*b;
        }
    }
}

/// Appends the key encoding of several values (a composite key).
pub fn encode_key(values: &[Value], desc: &[bool], out: &mut Vec<u8>) {
    for (i, v) in values.iter().enumerate() {
        encode_key_value(v, desc.get(i).copied().unwrap_or(false), out);
    }
}

fn bad_key() -> Error {
    Error::Corruption {
        file: "<key>".into(),
        offset: 0,
        what: "malformed key encoding".into(),
    }
}

/// Decodes one value at `*pos` (written with the same `desc`), advancing.
pub fn decode_key_value(buf: &[u8], pos: &mut usize, desc: bool) -> Result<Value> {
    let flip = |b: u8| if desc { !b } else { b };
    let tag = flip(*buf.get(*pos).ok_or_else(bad_key)?);
    *pos += 1;
    let read8 = |pos: &mut usize| -> Result<u64> {
        let s = get_bytes(buf, pos, 8).ok_or_else(bad_key)?;
        let mut a = [0u8; 8];
        for (d, s) in a.iter_mut().zip(s) {
            *d = flip(*s);
        }
        Ok(u64::from_be_bytes(a))
    };
    match tag {
        T_NULL => Ok(Value::Null),
        T_NUM => {
            let f = f64_from_sort_bits(read8(pos)?);
            let rem = (read8(pos)? ^ (1 << 63)) as i64;
            let kind = flip(*buf.get(*pos).ok_or_else(bad_key)?);
            *pos += 1;
            match kind {
                0 => {
                    let i =
                        (f as i128 + rem as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
                    Ok(Value::Integer(i))
                }
                1 => Ok(Value::Real(f)),
                _ => Err(bad_key()),
            }
        }
        T_TEXT | T_BLOB => {
            let mut bytes = Vec::new();
            loop {
                let b = flip(*buf.get(*pos).ok_or_else(bad_key)?);
                *pos += 1;
                if b != 0 {
                    bytes.push(b);
                    continue;
                }
                let next = flip(*buf.get(*pos).ok_or_else(bad_key)?);
                *pos += 1;
                match next {
                    0xff => bytes.push(0),
                    0x01 => break,
                    _ => return Err(bad_key()),
                }
            }
            if tag == T_TEXT {
                String::from_utf8(bytes)
                    .map(Value::Text)
                    .map_err(|_| bad_key())
            } else {
                Ok(Value::Blob(bytes))
            }
        }
        _ => Err(bad_key()),
    }
}

const R_NULL: u8 = 0;
const R_INT: u8 = 1;
const R_REAL: u8 = 2;
const R_TEXT: u8 = 3;
const R_BLOB: u8 = 4;

/// How many bytes [`encode_row`] writes for `values`, exactly: a row's
/// buffer is allocated at its size, not at a bound (a bulk load keeps
/// every row's buffer until its commit is flushed).
pub fn encoded_row_len(values: &[Value]) -> usize {
    let body: usize = values
        .iter()
        .map(|v| match v {
            Value::Null => 1,
            Value::Integer(i) => 1 + varint_len(((*i << 1) ^ (*i >> 63)) as u64),
            Value::Real(_) => 9,
            Value::Text(s) => 1 + varint_len(s.len() as u64) + s.len(),
            Value::Blob(b) => 1 + varint_len(b.len() as u64) + b.len(),
        })
        .sum();
    varint_len(values.len() as u64) + body
}

/// Encodes a row of values.
pub fn encode_row(values: &[Value], out: &mut Vec<u8>) {
    put_varint(out, values.len() as u64);
    for v in values {
        match v {
            Value::Null => out.push(R_NULL),
            Value::Integer(i) => {
                out.push(R_INT);
                put_varint(out, ((*i << 1) ^ (*i >> 63)) as u64);
            }
            Value::Real(f) => {
                out.push(R_REAL);
                out.extend_from_slice(&f.to_le_bytes());
            }
            Value::Text(s) => {
                out.push(R_TEXT);
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Blob(b) => {
                out.push(R_BLOB);
                put_varint(out, b.len() as u64);
                out.extend_from_slice(b);
            }
        }
    }
}

fn bad_row() -> Error {
    Error::Corruption {
        file: "<row>".into(),
        offset: 0,
        what: "malformed row encoding".into(),
    }
}

/// Decodes a row written by [`encode_row`].
pub fn decode_row(buf: &[u8]) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    decode_row_into(buf, &mut out)?;
    Ok(out)
}

/// Decodes a row written by [`encode_row`] into `out`, replacing what it
/// held: a text or blob decoded where `out` already holds one of the same
/// kind reuses its buffer, so a scan decoding into the same row allocates
/// nothing once its texts have grown to size. On an error `out` holds
/// some of the values.
pub fn decode_row_into(buf: &[u8], out: &mut Vec<Value>) -> Result<()> {
    let mut pos = 0;
    let n = get_varint(buf, &mut pos).ok_or_else(bad_row)? as usize;
    out.truncate(n);
    // One slot more than the values: the executor appends the rowid. A
    // corrupt count is not trusted with a large allocation.
    out.reserve((n.min(4096) + 1).saturating_sub(out.len()));
    for i in 0..n {
        let tag = *get_bytes(buf, &mut pos, 1)
            .and_then(|b| b.first())
            .ok_or_else(bad_row)?;
        let v = match tag {
            R_NULL => Value::Null,
            R_INT => {
                let z = get_varint(buf, &mut pos).ok_or_else(bad_row)?;
                Value::Integer(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            R_REAL => {
                let b = get_bytes(buf, &mut pos, 8).ok_or_else(bad_row)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Real(f64::from_le_bytes(a))
            }
            R_TEXT => {
                let len = get_varint(buf, &mut pos).ok_or_else(bad_row)? as usize;
                let b = get_bytes(buf, &mut pos, len).ok_or_else(bad_row)?;
                let s = simdutf8::basic::from_utf8(b).map_err(|_| bad_row())?;
                if let Some(Value::Text(t)) = out.get_mut(i) {
                    t.clear();
                    t.push_str(s);
                    continue;
                }
                Value::Text(s.to_owned())
            }
            R_BLOB => {
                let len = get_varint(buf, &mut pos).ok_or_else(bad_row)? as usize;
                let b = get_bytes(buf, &mut pos, len).ok_or_else(bad_row)?;
                if let Some(Value::Blob(t)) = out.get_mut(i) {
                    t.clear();
                    t.extend_from_slice(b);
                    continue;
                }
                Value::Blob(b.to_vec())
            }
            _ => return Err(bad_row()),
        };
        match out.get_mut(i) {
            Some(slot) => *slot = v,
            None => out.push(v),
        }
    }
    if pos != buf.len() {
        return Err(bad_row());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::compare;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            prop_oneof![
                Just(9007199254740992i64),
                Just(9007199254740993),
                Just(i64::MAX),
                Just(i64::MIN)
            ]
            .prop_map(Value::Integer),
            any::<f64>()
                .prop_filter("no NaN", |f| !f.is_nan())
                .prop_map(Value::Real),
            (-1000i64..1000).prop_map(|i| Value::Real(i as f64 / 4.0)),
            (-1000i64..1000).prop_map(Value::Integer),
            ".{0,8}".prop_map(Value::Text),
            "[a\\x00b]{0,6}".prop_map(Value::Text),
            prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Blob),
        ]
    }

    fn key(vs: &[Value], desc: &[bool]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_key(vs, desc, &mut out);
        out
    }

    proptest! {
        #[test]
        fn key_order_matches_sql_order(a in value(), b in value(), desc in any::<bool>()) {
            let want = compare(&a, &b);
            let got = key(std::slice::from_ref(&a), &[desc]).cmp(&key(std::slice::from_ref(&b), &[desc]));
            let want = if desc { want.reverse() } else { want };
            // Equal numbers of different types (1 and 1.0) are adjacent but distinct.
            if want != Ordering::Equal {
                prop_assert_eq!(got, want, "{:?} vs {:?}", a, b);
            }
        }

        #[test]
        fn composite_keys_order_column_by_column(a in value(), b in value(), c in value(), d in value()) {
            let want = compare(&a, &c).then_with(|| compare(&b, &d));
            if want != Ordering::Equal && !(compare(&a, &c) == Ordering::Equal && std::mem::discriminant(&a) != std::mem::discriminant(&c)) {
                prop_assert_eq!(key(&[a, b], &[false, true]).cmp(&key(&[c, d], &[false, true])) == Ordering::Equal, false);
            }
        }

        #[test]
        fn key_round_trip(vs in prop::collection::vec(value(), 0..5), desc in prop::collection::vec(any::<bool>(), 5)) {
            let k = key(&vs, &desc);
            let mut pos = 0;
            for (i, v) in vs.iter().enumerate() {
                let got = decode_key_value(&k, &mut pos, desc[i]).unwrap();
                match (v, &got) {
                    (Value::Real(x), Value::Real(y)) => prop_assert!(x == y),
                    _ => prop_assert_eq!(v, &got),
                }
            }
            prop_assert_eq!(pos, k.len());
        }

        #[test]
        fn row_round_trip(vs in prop::collection::vec(value(), 0..10)) {
            let mut buf = Vec::new();
            encode_row(&vs, &mut buf);
            prop_assert_eq!(encoded_row_len(&vs), buf.len());
            let back = decode_row(&buf).unwrap();
            prop_assert_eq!(back.len(), vs.len());
            for (a, b) in vs.iter().zip(&back) {
                match (a, b) {
                    (Value::Real(x), Value::Real(y)) => prop_assert!(x.to_bits() == y.to_bits()),
                    _ => prop_assert_eq!(a, b),
                }
            }
            for cut in 0..buf.len() {
                prop_assert!(decode_row(&buf[..cut]).is_err());
            }
        }

        /// Rows decoded one after another into the same buffer (whose
        /// texts and blobs are reused) come out as decoded afresh, and a
        /// failed decode leaves nothing the next one keeps.
        #[test]
        fn rows_decoded_into_one_buffer_match_fresh_ones(
            rows in prop::collection::vec(prop::collection::vec(value(), 0..6), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut out = Vec::new();
            for (i, vs) in rows.iter().enumerate() {
                let mut buf = Vec::new();
                encode_row(vs, &mut buf);
                if i == 1 {
                    let mut bad = buf.clone();
                    bad.truncate(cut.index(buf.len()));
                    prop_assert!(decode_row_into(&bad, &mut out).is_err());
                }
                decode_row_into(&buf, &mut out).unwrap();
                let fresh = decode_row(&buf).unwrap();
                prop_assert_eq!(out.len(), fresh.len());
                for (a, b) in out.iter().zip(&fresh) {
                    match (a, b) {
                        (Value::Real(x), Value::Real(y)) => prop_assert!(x.to_bits() == y.to_bits()),
                        _ => prop_assert_eq!(a, b),
                    }
                }
            }
        }
    }

    /// `encoded_row_len` is what `encode_row` writes (write_row allocates
    /// a row's buffer at that size).
    #[test]
    fn a_row_is_measured_exactly_at_every_varint_length() {
        // Integers and lengths around each varint boundary, and a row of
        // more values than one varint byte counts.
        let mut vs = vec![Value::Null, Value::Real(1.5)];
        for shift in 0..64 {
            for d in [-1i64, 0, 1] {
                vs.push(Value::Integer((1i64 << shift).wrapping_add(d)));
                vs.push(Value::Integer((-1i64 << shift).wrapping_add(d)));
            }
        }
        vs.push(Value::Integer(i64::MIN));
        vs.push(Value::Integer(i64::MAX));
        for len in [0, 1, 127, 128, 16_383, 16_384] {
            vs.push(Value::Text("é".repeat(len / 2) + &"x".repeat(len % 2)));
            vs.push(Value::Blob(vec![7; len]));
        }
        for n in [0, 1, 127, 128, vs.len()] {
            let mut buf = Vec::new();
            encode_row(&vs[..n], &mut buf);
            assert_eq!(encoded_row_len(&vs[..n]), buf.len(), "{n} values");
        }
    }

    /// A stored text that is not UTF-8 (long enough for the vectorised
    /// validator, and short) is a malformed row, never a `String`; over a
    /// text the buffer held before too.
    #[test]
    fn a_text_that_is_not_utf8_is_a_malformed_row() {
        for len in [3usize, 100] {
            let mut buf = Vec::new();
            encode_row(&[Value::Text("é".repeat(len))], &mut buf);
            let mut bad = buf.clone();
            let at = bad.len() - 1;
            bad[at] = 0xff;
            assert!(decode_row(&bad).is_err());
            let mut out = vec![Value::Text("old".into())];
            assert!(decode_row_into(&bad, &mut out).is_err());
            decode_row_into(&buf, &mut out).unwrap();
            assert_eq!(out, vec![Value::Text("é".repeat(len))]);
        }
    }

    #[test]
    fn integers_and_reals_share_a_number_line() {
        let two53 = 1i64 << 53;
        let order = [
            Value::Null,
            Value::Integer(i64::MIN),
            Value::Real(-1.5),
            Value::Integer(-1),
            Value::Real(0.5),
            Value::Integer(1),
            Value::Real(1.5),
            Value::Real(two53 as f64),
            Value::Integer(two53 + 1),
            Value::Integer(i64::MAX),
            Value::Real(1e300),
            Value::Text(String::new()),
            Value::Text("a".into()),
            Value::Text("a\0".into()),
            Value::Text("ab".into()),
            Value::Blob(vec![]),
            Value::Blob(vec![0]),
        ];
        for w in order.windows(2) {
            assert!(
                key(&[w[0].clone()], &[false]) < key(&[w[1].clone()], &[false]),
                "{:?} < {:?}",
                w[0],
                w[1]
            );
            assert!(
                key(&[w[0].clone()], &[true]) > key(&[w[1].clone()], &[true]),
                "desc {:?} > {:?}",
                w[0],
                w[1]
            );
        }
    }
}
