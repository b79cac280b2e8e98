//! SQLite's JSON functions on JSON text: `json`, `json_valid`,
//! `json_error_position`, `json_type`, `json_array_length`,
//! `json_extract`, `->`, `->>`, `json_array`, `json_object`, `json_quote`,
//! `json_set`, `json_insert`, `json_replace`, `json_remove`,
//! `json_array_insert`, `json_patch`, `json_pretty` (SQLite's `json.c`),
//! and the value rendering the aggregates `json_group_array` and
//! `json_group_object` share.
//!
//! ```text
//!   argument ──(text: parse, JSON5 accepted; blob: JSONB)──► Node
//!   Node ──path.rs: lookup / edit──► Node ──render──► minified JSON text
//! ```
//!
//! A JSON argument may be JSON text or a JSONB blob; a blob that is not
//! JSONB is read as text. Empty or malformed JSON is an error ("malformed
//! JSON"), a path not starting with `$` is "bad JSON path: '...'". A value
//! passed in to be embedded (`json_array(x)`, `json_set(j, p, x)`) is JSON
//! when it is the result of a JSON function (see [`super`]'s JSON mark),
//! else SQL: text becomes a JSON string, a number a JSON number, NULL
//! null, and a blob is an error unless it is JSONB.
//!
//! The table-valued `json_each` and `json_tree` walk a document in
//! `each.rs`. The JSONB output functions (`jsonb`, `jsonb_extract`, ...)
//! are not built (docs/sql.md).

pub(crate) mod each;
pub(crate) mod node;
mod path;

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{format_real, Value};

use super::args::{arg, check_length};
use super::registry::Call;
use node::{decode_jsonb, parse, quote_string, Node, TextKind};
use path::{edit_at, lookup, Edit, Miss};

fn malformed() -> Error {
    Error::sql(SqlErrorKind::Misuse, "malformed JSON")
}

fn misuse(msg: impl Into<String>) -> Error {
    Error::sql(SqlErrorKind::Misuse, msg.into())
}

/// SQLite's `%Q` of a path for messages.
fn quoted_path(p: &[u8]) -> String {
    format!("'{}'", String::from_utf8_lossy(p).replace('\'', "''"))
}

fn path_error(path: &[u8], miss: Miss) -> Error {
    match miss {
        Miss::NotArray => misuse(format!("not an array element: {}", quoted_path(path))),
        Miss::TooDeep => misuse("JSON path too deep"),
        _ => misuse(format!("bad JSON path: {}", quoted_path(path))),
    }
}

/// The bytes of a text argument up to its first NUL.
fn c_text(v: &Value) -> Option<Vec<u8>> {
    let t = v.to_text()?.into_bytes();
    Some(match t.iter().position(|&c| c == 0) {
        Some(p) => t[..p].to_vec(),
        None => t,
    })
}

/// A JSON argument as a tree (`jsonParseFuncArg`): `None` for NULL.
fn json_arg(v: &Value) -> Result<Option<Node>> {
    if v.is_null() {
        return Ok(None);
    }
    if let Value::Blob(b) = v {
        if let Some(n) = decode_jsonb(b) {
            return Ok(Some(n));
        }
    }
    let text = match v {
        Value::Blob(b) => b.clone(),
        other => other.to_text().map(String::into_bytes).unwrap_or_default(),
    };
    if text.is_empty() {
        return Err(malformed());
    }
    let text = match text.iter().position(|&c| c == 0) {
        Some(p) => &text[..p],
        None => &text[..],
    };
    parse(text).map(|p| Some(p.node)).map_err(|_| malformed())
}

/// A REAL as JSON's `jsonAppendSqlValue` writes it (SQLite's `%!0.17g`;
/// sealdb's text form of a REAL, with infinities as 9.0e+999).
fn real_json(r: f64) -> String {
    if r.is_infinite() {
        return if r > 0.0 { "9.0e+999" } else { "-9.0e+999" }.into();
    }
    format_real(r)
}

/// Appends an SQL value as JSON (`jsonAppendSqlValue`); `is_json` is the
/// value's JSON mark.
pub(crate) fn append_sql_value(out: &mut String, v: &Value, is_json: bool) -> Result<()> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Real(r) => out.push_str(&real_json(*r)),
        Value::Text(s) if is_json => out.push_str(s),
        Value::Text(s) => quote_string(out, s),
        Value::Blob(b) => match decode_jsonb(b) {
            Some(n) => n.render(out),
            None => return Err(misuse("JSON cannot hold BLOB values")),
        },
    }
    check_length(out.len())
}

/// An SQL value as a node to insert (`jsonFunctionArgToBlob`).
fn value_node(v: &Value, is_json: bool) -> Result<Node> {
    Ok(match v {
        Value::Null => Node::Null,
        Value::Integer(i) => Node::Int(i.to_string()),
        Value::Real(r) if r.is_infinite() => {
            Node::Float(if *r > 0.0 { "9e999" } else { "-9e999" }.into())
        }
        Value::Real(r) => Node::Float(format_real(*r)),
        Value::Text(s) if is_json => parse(until_nul(s).as_bytes())
            .map(|p| p.node)
            .map_err(|_| malformed())?,
        Value::Text(s) => Node::Text(TextKind::Raw, s.clone()),
        Value::Blob(b) => decode_jsonb(b).ok_or_else(|| misuse("JSON cannot hold BLOB values"))?,
    })
}

fn until_nul(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

/// A tree's minified text as a result.
fn json_text(n: &Node) -> Result<Value> {
    let s = n.to_json();
    check_length(s.len())?;
    Ok(Value::Text(s))
}

/// A node as an SQL value (`jsonReturnFromBlob`): JSON null is NULL, true
/// and false are 1 and 0, numbers are numbers, strings are their text,
/// arrays and objects are JSON text.
fn sql_value(n: &Node) -> Result<Value> {
    Ok(match n {
        Node::Null => Value::Null,
        Node::True => Value::Integer(1),
        Node::False => Value::Integer(0),
        Node::Int(s) | Node::Int5(s) => int_value(s)?,
        Node::Float(s) | Node::Float5(s) => float_value(s)?,
        Node::Text(..) => Value::Text(n.text_value().unwrap_or_default()),
        Node::Array(_) | Node::Object(_) => json_text(n)?,
    })
}

/// `sqlite3DecOrHexToI64` on an integer's text, as `jsonReturnFromBlob`
/// uses it.
fn int_value(s: &str) -> Result<Value> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        // Hex: the low 64 bits; one with the top bit set reads as a REAL.
        let mut u: u64 = 0;
        for c in hex.chars() {
            let d = c.to_digit(16).ok_or_else(malformed)?;
            u = u.wrapping_mul(16).wrapping_add(u64::from(d));
        }
        return Ok(match i64::try_from(u) {
            Ok(i) => Value::Integer(if neg { -i } else { i }),
            Err(_) => {
                let r = u as f64;
                Value::Real(if neg { -r } else { r })
            }
        });
    }
    match digits.parse::<u64>() {
        Ok(u) if u <= i64::MAX as u64 => {
            let i = i64::try_from(u).unwrap_or(i64::MAX);
            Ok(Value::Integer(if neg { -i } else { i }))
        }
        Ok(u) if neg && u == 1u64 << 63 => Ok(Value::Integer(i64::MIN)),
        _ => float_value(s),
    }
}

fn float_value(s: &str) -> Result<Value> {
    let (r, shape) = crate::types::parse_real_prefix(s.as_bytes());
    match shape {
        crate::types::RealShape::Integer | crate::types::RealShape::Real => Ok(Value::real(r)),
        _ => Err(malformed()),
    }
}

/// The path argument `i` as bytes; `None` for NULL.
fn path_arg(call: &Call, i: usize) -> Option<Vec<u8>> {
    c_text(arg(call.args, i))
}

/// `json(X)`: X minified, JSON5 converted to JSON.
pub(super) fn f_json(call: &Call) -> Result<Value> {
    match json_arg(arg(call.args, 0))? {
        Some(n) => json_text(&n),
        None => Ok(Value::Null),
    }
}

/// `json_valid(X [, FLAGS])`: 1 when X is well-formed: FLAGS 1 RFC 8259
/// text (the default), 2 JSON5 text, 4 and 8 JSONB (superficially,
/// strictly); combinations allowed.
pub(super) fn f_json_valid(call: &Call) -> Result<Value> {
    let mut flags = 1;
    if call.args.len() == 2 {
        let f = arg(call.args, 1).to_i64();
        if !(1..=15).contains(&f) {
            return Err(misuse(
                "FLAGS parameter to json_valid() must be between 1 and 15",
            ));
        }
        flags = f;
    }
    let v = arg(call.args, 0);
    if v.is_null() {
        return Ok(Value::Null);
    }
    if let Value::Blob(b) = v {
        if decode_jsonb(b).is_some() {
            return Ok(Value::from(flags & 0x0c != 0));
        }
    }
    if flags & 3 == 0 {
        return Ok(Value::Integer(0));
    }
    let text = match v {
        Value::Blob(b) => b.clone(),
        other => other.to_text().map(String::into_bytes).unwrap_or_default(),
    };
    let text = match text.iter().position(|&c| c == 0) {
        Some(p) => &text[..p],
        None => &text[..],
    };
    if text.is_empty() {
        return Ok(Value::Integer(0));
    }
    Ok(Value::from(match parse(text) {
        Ok(p) => flags & 2 != 0 || !p.nonstandard,
        Err(_) => false,
    }))
}

/// `json_error_position(X)`: 0 when X is well-formed (JSON5 allowed),
/// else the 1-based character position of the first error.
pub(super) fn f_json_error_position(call: &Call) -> Result<Value> {
    let v = arg(call.args, 0);
    if let Value::Blob(b) = v {
        if decode_jsonb(b).is_some() {
            return Ok(Value::Integer(0));
        }
    }
    let Some(text) = (match v {
        Value::Null => None,
        Value::Blob(b) => Some(b.clone()),
        other => other.to_text().map(String::into_bytes),
    }) else {
        return Ok(Value::Null);
    };
    let text = match text.iter().position(|&c| c == 0) {
        Some(p) => &text[..p],
        None => &text[..],
    };
    Ok(match parse(text) {
        Ok(_) => Value::Integer(0),
        Err(e) => {
            let upto = e.offset.min(text.len());
            let chars = text[..upto].iter().filter(|&&b| b & 0xc0 != 0x80).count();
            Value::Integer(i64::try_from(chars).unwrap_or(i64::MAX) + 1)
        }
    })
}

/// Looks `path` up in `root`: `Ok(None)` when not found, an error for a
/// bad path (or one not starting with `$`).
fn find<'n>(root: &'n Node, path: &[u8]) -> Result<Option<&'n Node>> {
    let Some(rest) = path.strip_prefix(b"$") else {
        return Err(path_error(path, Miss::BadPath));
    };
    match lookup(root, rest) {
        Ok(n) => Ok(Some(n)),
        Err(Miss::NotFound) => Ok(None),
        Err(m) => Err(path_error(path, m)),
    }
}

/// `json_type(X [, P])`: the type name of X, or of what P names in it.
pub(super) fn f_json_type(call: &Call) -> Result<Value> {
    let Some(root) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    let node = if call.args.len() == 2 {
        let Some(path) = path_arg(call, 1) else {
            return Ok(Value::Null);
        };
        match find(&root, &path)? {
            Some(n) => n,
            None => return Ok(Value::Null),
        }
    } else {
        &root
    };
    Ok(Value::Text(node.type_name().into()))
}

/// `json_array_length(X [, P])`: the length of the array (0 for anything
/// else); NULL when P names nothing.
pub(super) fn f_json_array_length(call: &Call) -> Result<Value> {
    let Some(root) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    let node = if call.args.len() == 2 {
        let Some(path) = path_arg(call, 1) else {
            return Ok(Value::Null);
        };
        let rest: &[u8] = path.strip_prefix(b"$").unwrap_or(b"@");
        match lookup(&root, rest) {
            Ok(n) => n,
            Err(Miss::NotFound) => return Ok(Value::Null),
            Err(m) => return Err(path_error(&path, m)),
        }
    } else {
        &root
    };
    Ok(match node {
        Node::Array(items) => Value::Integer(i64::try_from(items.len()).unwrap_or(i64::MAX)),
        _ => Value::Integer(0),
    })
}

/// How an extraction returns what it found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtractMode {
    /// `json_extract`: SQL values, arrays and objects as JSON text.
    Sql,
    /// `->`: always JSON text.
    Json,
    /// `->>`: always an SQL value.
    SqlOnly,
}

/// The path of `->` and `->>` (`jsonExtractFunc`'s abbreviations): `$...`
/// as is, an integer N as `$[N]` (`$[#-N]` when negative), a name as
/// `$.name`, `[...]` as `$[...]`, anything else as `$."..."`.
fn arrow_path(v: &Value) -> Option<Vec<u8>> {
    let p = c_text(v)?;
    if p.first() == Some(&b'$') {
        return Some(p);
    }
    let mut out = b"$".to_vec();
    if let Value::Integer(_) = v {
        out.push(b'[');
        if p.first() == Some(&b'-') {
            out.push(b'#');
        }
        out.extend_from_slice(&p);
        out.push(b']');
    } else if p.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_') {
        out.push(b'.');
        out.extend_from_slice(&p);
    } else if p.first() == Some(&b'[') && p.len() >= 3 && p.last() == Some(&b']') {
        out.extend_from_slice(&p);
    } else {
        out.extend_from_slice(b".\"");
        out.extend_from_slice(&p);
        out.push(b'"');
    }
    Some(out)
}

/// `json_extract`, `->`, `->>`: the value and whether it is JSON text.
fn extract(call: &Call, mode: ExtractMode) -> Result<(Value, bool)> {
    if call.args.len() < 2 {
        return Ok((Value::Null, false));
    }
    let Some(root) = json_arg(arg(call.args, 0))? else {
        return Ok((Value::Null, false));
    };
    let several = call.args.len() > 2;
    let mut list = String::from("[");
    for (k, pv) in call.args.iter().enumerate().skip(1) {
        let path = if mode == ExtractMode::Sql {
            c_text(pv)
        } else {
            arrow_path(pv)
        };
        let Some(path) = path else {
            return Ok((Value::Null, false));
        };
        let found = find(&root, &path)?;
        if several {
            if k > 1 {
                list.push(',');
            }
            match found {
                Some(n) => n.render(&mut list),
                None => list.push_str("null"),
            }
            check_length(list.len())?;
            continue;
        }
        let Some(n) = found else {
            return Ok((Value::Null, false));
        };
        return Ok(match mode {
            ExtractMode::Json => (json_text(n)?, true),
            ExtractMode::SqlOnly => (sql_value(n)?, false),
            ExtractMode::Sql => {
                let container = matches!(n, Node::Array(_) | Node::Object(_));
                (sql_value(n)?, container)
            }
        });
    }
    list.push(']');
    Ok((Value::Text(list), true))
}

/// `json_extract(X, P, ...)`: what one path names, as an SQL value; with
/// several paths, a JSON array of them.
pub(super) fn f_json_extract(call: &Call) -> Result<(Value, bool)> {
    extract(call, ExtractMode::Sql)
}

/// `X -> P`: what P names, as JSON text.
pub(super) fn f_arrow(call: &Call) -> Result<Value> {
    extract(call, ExtractMode::Json).map(|(v, _)| v)
}

/// `X ->> P`: what P names, as an SQL value.
pub(super) fn f_long_arrow(call: &Call) -> Result<Value> {
    extract(call, ExtractMode::SqlOnly).map(|(v, _)| v)
}

/// `json_quote(X)`: X as a JSON value (a string quoted, a number as is).
pub(super) fn f_json_quote(call: &Call) -> Result<Value> {
    let mut s = String::new();
    append_sql_value(&mut s, arg(call.args, 0), call.is_json(0))?;
    Ok(Value::Text(s))
}

/// `json_array(X, ...)`.
pub(super) fn f_json_array(call: &Call) -> Result<Value> {
    let mut s = String::from("[");
    for (i, v) in call.args.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        append_sql_value(&mut s, v, call.is_json(i))?;
    }
    s.push(']');
    Ok(Value::Text(s))
}

/// `json_object(K, V, ...)`: labels must be TEXT.
pub(super) fn f_json_object(call: &Call) -> Result<Value> {
    if call.args.len() % 2 == 1 {
        return Err(misuse("json_object() requires an even number of arguments"));
    }
    let mut s = String::from("{");
    for (i, pair) in call.args.chunks_exact(2).enumerate() {
        let Value::Text(label) = &pair[0] else {
            return Err(misuse("json_object() labels must be TEXT"));
        };
        if i > 0 {
            s.push(',');
        }
        quote_string(&mut s, until_nul(label));
        s.push(':');
        append_sql_value(&mut s, &pair[1], call.is_json(2 * i + 1))?;
    }
    s.push('}');
    Ok(Value::Text(s))
}

/// The shared body of `json_set`, `json_insert`, `json_replace`,
/// `json_array_insert` (`jsonInsertIntoBlob`).
fn edit_fn(call: &Call, edit: Edit, name: &str) -> Result<Value> {
    if call.args.len().is_multiple_of(2) {
        return Err(misuse(format!(
            "json_{name}() needs an odd number of arguments"
        )));
    }
    let Some(mut root) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    let mut i = 1;
    while i + 1 < call.args.len() {
        let pv = &call.args[i];
        if pv.is_null() {
            i += 2;
            continue;
        }
        let path = c_text(pv).unwrap_or_default();
        if path.first() != Some(&b'$') {
            return Err(path_error(&path, Miss::BadPath));
        }
        let value = value_node(&call.args[i + 1], call.is_json(i + 1))?;
        if path.len() == 1 {
            if matches!(edit, Edit::Replace | Edit::Set) {
                root = value;
            }
        } else {
            match edit_at(&mut root, &path[1..], &value, edit, 0, false) {
                Ok(()) | Err(Miss::NotFound) => {}
                Err(m) => return Err(path_error(&path, m)),
            }
        }
        i += 2;
    }
    json_text(&root)
}

/// `json_set(X, P, V, ...)`: set, creating what is missing.
pub(super) fn f_json_set(call: &Call) -> Result<Value> {
    edit_fn(call, Edit::Set, "set")
}

/// `json_insert(X, P, V, ...)`: only where nothing is.
pub(super) fn f_json_insert(call: &Call) -> Result<Value> {
    edit_fn(call, Edit::Insert, "insert")
}

/// `json_replace(X, P, V, ...)`: only where something is.
pub(super) fn f_json_replace(call: &Call) -> Result<Value> {
    edit_fn(call, Edit::Replace, "replace")
}

/// `json_array_insert(X, P, V, ...)`: insert before an array element.
pub(super) fn f_json_array_insert(call: &Call) -> Result<Value> {
    edit_fn(call, Edit::ArrayInsert, "array_insert")
}

/// `json_remove(X, P, ...)`: X without what the paths name; NULL for `$`
/// or a NULL path.
pub(super) fn f_json_remove(call: &Call) -> Result<Value> {
    let Some(mut root) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    for pv in call.args.iter().skip(1) {
        let Some(path) = c_text(pv) else {
            return Ok(Value::Null);
        };
        if path.first() != Some(&b'$') {
            return Err(path_error(&path, Miss::BadPath));
        }
        if path.len() == 1 {
            return Ok(Value::Null);
        }
        match edit_at(&mut root, &path[1..], &Node::Null, Edit::Delete, 0, false) {
            Ok(()) | Err(Miss::NotFound) => {}
            Err(m) => return Err(path_error(&path, m)),
        }
    }
    json_text(&root)
}

/// RFC 7386 merge of `patch` into `target` (`jsonMergePatch`).
fn merge_patch(target: &mut Node, patch: &Node, depth: usize) -> Result<()> {
    if depth >= node::MAX_DEPTH {
        return Err(misuse("JSON nested too deep"));
    }
    let Node::Object(pm) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    if !matches!(target, Node::Object(_)) {
        *target = Node::Object(Vec::new());
    }
    let Node::Object(tm) = target else {
        return Ok(());
    };
    for (plabel, pvalue) in pm {
        let pkey = plabel.text_value().unwrap_or_default();
        let pos = tm
            .iter()
            .position(|(l, _)| l.text_value().is_some_and(|k| k == pkey));
        match (pos, pvalue) {
            (Some(p), Node::Null) => {
                tm.remove(p);
            }
            (Some(p), v) => merge_patch(&mut tm[p].1, v, depth + 1)?,
            (None, Node::Null) => {}
            (None, Node::Object(_)) => {
                let mut fresh = Node::Object(Vec::new());
                merge_patch(&mut fresh, pvalue, depth + 1)?;
                tm.push((plabel.clone(), fresh));
            }
            (None, v) => tm.push((plabel.clone(), v.clone())),
        }
    }
    Ok(())
}

/// `json_patch(T, P)`: RFC 7386 MergePatch of P into T.
pub(super) fn f_json_patch(call: &Call) -> Result<Value> {
    let Some(mut target) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    let Some(patch) = json_arg(arg(call.args, 1))? else {
        return Ok(Value::Null);
    };
    merge_patch(&mut target, &patch, 0)?;
    json_text(&target)
}

/// `json_pretty(X [, INDENT])`: X indented (four spaces by default).
pub(super) fn f_json_pretty(call: &Call) -> Result<Value> {
    let Some(root) = json_arg(arg(call.args, 0))? else {
        return Ok(Value::Null);
    };
    let indent = match call.args.get(1).and_then(c_text) {
        Some(i) => String::from_utf8_lossy(&i).into_owned(),
        None => "    ".into(),
    };
    let mut s = String::new();
    root.render_pretty(&mut s, &indent, 0);
    check_length(s.len())?;
    Ok(Value::Text(s))
}
