//! The table-valued functions `json_each(J [, P])` and `json_tree(J [, P])`
//! (SQLite's `JsonEachCursor` in `json.c`): one row per element of the
//! array or object P names in J (`json_each`), or per element of the
//! whole tree under it, depth first, the element itself first
//! (`json_tree`).
//!
//! The walk runs over J's JSONB form, as SQLite's does, because two
//! columns expose it: `id` is the byte offset of the element (of its label
//! for an object member) in that form, and `parent` the `id` of the
//! enclosing container. Text input is converted to JSONB with minimal
//! headers ([`encode_jsonb`], the bytes SQLite's converter produces); a
//! JSONB blob is walked as given. The columns `key`, `fullkey` and `path`
//! follow SQLite's cursor exactly, quirks included (the root row of a
//! `json_tree` with a path takes its key and path from the path text).
//!
//! ```text
//!   columns  key value type atom id parent fullkey path | json root rowid
//!                                            (hidden: the arguments, the row number)
//! ```
//!
//! Rows are made one at a time as they are pulled: memory stays that of
//! the document and one path, however many rows a tree has. Input nesting
//! is bounded by the parser ([`super::node::MAX_DEPTH`]).

use crate::error::Result;
use crate::types::Value;

use super::node::{decode_jsonb, encode_jsonb, jsonb_node_at, jsonb_size_at};
use super::path::{lookup_jsonb, Miss};
use super::{c_text, json_arg, malformed, path_error, sql_value};

/// The columns, in SQLite's order; the last three are hidden: the
/// arguments, and the rowid (the row's number from 0).
pub(crate) const COLUMNS: [&str; 11] = [
    "key", "value", "type", "atom", "id", "parent", "fullkey", "path", "json", "root", "rowid",
];

/// How many of [`COLUMNS`] `SELECT *` shows.
pub(crate) const VISIBLE: usize = 8;

const ARRAY: u8 = 11;
const OBJECT: u8 = 12;

/// SQLite's type names by JSONB element type.
const TYPE_NAMES: [&str; 13] = [
    "null", "true", "false", "integer", "integer", "real", "real", "text", "text", "text", "text",
    "array", "object",
];

/// A container being walked (`JsonParent`).
struct Parent {
    /// Offset of its row's element (its label, for an object member).
    head: usize,
    /// Offset of the container itself.
    value: usize,
    /// Offset just past it.
    end: usize,
    /// Index of the current element (arrays).
    key: i64,
    /// Length of the path before the container's name was appended.
    npath: usize,
}

/// A walk over one document: the rows of `json_each` or `json_tree`.
pub(crate) struct JsonEach {
    b: Vec<u8>,
    json: Value,
    /// The current element (its label, in an object).
    i: usize,
    end: usize,
    /// The type of the container `i` is in (0: none).
    e_type: u8,
    parents: Vec<Parent>,
    path: Vec<u8>,
    n_root: usize,
    recursive: bool,
    rowid: i64,
}

impl JsonEach {
    /// The walk for arguments `args` (the document, and the path of the
    /// root); no rows when either is NULL or the path names nothing.
    pub(crate) fn open(recursive: bool, args: &[Value]) -> Result<JsonEach> {
        let mut w = JsonEach {
            b: Vec::new(),
            json: Value::Null,
            i: 0,
            end: 0,
            e_type: 0,
            parents: Vec::new(),
            path: Vec::new(),
            n_root: 0,
            recursive,
            rowid: 0,
        };
        let Some(doc) = args.first() else {
            return Ok(w);
        };
        match doc {
            Value::Null => return Ok(w),
            Value::Blob(b) if decode_jsonb(b).is_some() => {
                w.b = b.clone();
                w.json = doc.clone();
            }
            other => {
                let Some(node) = json_arg(other)? else {
                    return Ok(w);
                };
                w.b = encode_jsonb(&node);
                let text = c_text(other).unwrap_or_default();
                w.json = Value::Text(String::from_utf8_lossy(&text).into_owned());
            }
        }
        let i = match args.get(1) {
            Some(root) => {
                let Some(root) = c_text(root) else {
                    return Ok(w);
                };
                if root.first() != Some(&b'$') {
                    return Err(path_error(&root, Miss::BadPath));
                }
                let i = if root.len() == 1 {
                    0
                } else {
                    match lookup_jsonb(&w.b, &root[1..]) {
                        Ok((v, label)) => {
                            (w.i, w.e_type) = if label != 0 {
                                (label, OBJECT)
                            } else {
                                (v, ARRAY)
                            };
                            v
                        }
                        Err(Miss::NotFound) => return Ok(w),
                        Err(_) => return Err(path_error(&root, Miss::BadPath)),
                    }
                };
                w.n_root = root.len();
                w.path = root;
                i
            }
            None => {
                w.n_root = 1;
                w.path = b"$".to_vec();
                0
            }
        };
        let (n, sz) = jsonb_size_at(&w.b, i);
        w.end = i + n + sz;
        let kind = w.kind_at(i);
        if kind >= ARRAY && !recursive {
            w.i = i + n;
            w.e_type = kind;
            w.parents.push(Parent {
                head: w.i,
                value: i,
                end: w.end,
                key: 0,
                npath: 0,
            });
        }
        Ok(w)
    }

    /// The next row: [`COLUMNS`]' values.
    pub(crate) fn next_row(&mut self) -> Result<Option<Vec<Value>>> {
        if self.i >= self.end {
            return Ok(None);
        }
        let row = self.row()?;
        self.advance()?;
        Ok(Some(row))
    }

    fn kind_at(&self, i: usize) -> u8 {
        self.b.get(i).map_or(0, |c| c & 0x0f)
    }

    /// The element's value: past the label in an object (`jsonSkipLabel`).
    fn skip_label(&self) -> usize {
        if self.e_type != OBJECT {
            return self.i;
        }
        let (n, sz) = jsonb_size_at(&self.b, self.i);
        let v = self.i + n + sz;
        if v >= self.b.len() {
            self.i
        } else {
            v
        }
    }

    fn value_at(&self, i: usize) -> Result<Value> {
        sql_value(&jsonb_node_at(&self.b, i).ok_or_else(malformed)?)
    }

    /// Appends the current element's name to `out` (`jsonAppendPathName`).
    fn append_name(&self, out: &mut Vec<u8>) {
        if self.e_type == ARRAY {
            let key = self.parents.last().map_or(0, |p| p.key);
            out.extend_from_slice(format!("[{key}]").as_bytes());
            return;
        }
        let (n, sz) = jsonb_size_at(&self.b, self.i);
        let z = self.b.get(self.i + n..self.i + n + sz).unwrap_or_default();
        let plain = z.first().is_some_and(u8::is_ascii_alphabetic)
            && z.iter().all(u8::is_ascii_alphanumeric);
        if plain {
            out.push(b'.');
            out.extend_from_slice(z);
        } else {
            out.extend_from_slice(b".\"");
            out.extend_from_slice(z);
            out.push(b'"');
        }
    }

    /// How much of the path the `path` column shows (`jsonEachPathLength`):
    /// all of it, except on the root row of a tree, where it is cut back
    /// to the container that holds the root as its first element, or to
    /// `$`.
    fn path_len(&self) -> usize {
        let z = &self.path;
        let mut n = z.len();
        if self.rowid == 0 && self.recursive && n >= 2 {
            while n > 1 {
                n -= 1;
                if z[n] == b'[' || z[n] == b'.' {
                    if let Ok((x, _)) = lookup_jsonb(&self.b, &z[1..n]) {
                        if x + jsonb_size_at(&self.b, x).0 == self.i {
                            break;
                        }
                    }
                }
            }
        }
        n
    }

    /// The root row's key, read from the path text.
    fn root_key(&self) -> Value {
        if self.n_root == 1 {
            return Value::Null;
        }
        let z = &self.path;
        let j = self.path_len();
        let n = self.n_root.saturating_sub(j);
        let text = |from: usize, len: usize| {
            let s = z.get(from..from.saturating_add(len).min(z.len()));
            Value::Text(String::from_utf8_lossy(s.unwrap_or_default()).into_owned())
        };
        if n == 0 {
            Value::Null
        } else if z.get(j) == Some(&b'[') {
            Value::Integer(atoi(z.get(j + 1..j + n).unwrap_or_default()))
        } else if z.get(j + 1) == Some(&b'"') {
            text(j + 2, n.saturating_sub(3))
        } else {
            text(j + 1, n - 1)
        }
    }

    fn row(&self) -> Result<Vec<Value>> {
        let key = if self.parents.is_empty() {
            self.root_key()
        } else if self.e_type == OBJECT {
            self.value_at(self.i)?
        } else {
            Value::Integer(self.parents.last().map_or(0, |p| p.key))
        };
        let v = self.skip_label();
        let kind = self.kind_at(v);
        let value = self.value_at(v)?;
        let atom = if kind < ARRAY {
            value.clone()
        } else {
            Value::Null
        };
        let parent = match self.parents.last() {
            Some(p) if self.recursive => Value::Integer(offset(p.head)),
            _ => Value::Null,
        };
        let mut fullkey = self.path.clone();
        if !self.parents.is_empty() {
            self.append_name(&mut fullkey);
        }
        let text = |b: &[u8]| Value::Text(String::from_utf8_lossy(b).into_owned());
        Ok(vec![
            key,
            value,
            Value::Text(TYPE_NAMES[usize::from(kind).min(12)].into()),
            atom,
            Value::Integer(offset(self.i)),
            parent,
            text(&fullkey),
            text(&self.path[..self.path_len()]),
            self.json.clone(),
            text(&self.path[..self.n_root.min(self.path.len())]),
            Value::Integer(self.rowid),
        ])
    }

    /// Moves to the next element (`jsonEachNext`).
    fn advance(&mut self) -> Result<()> {
        let i = self.skip_label();
        let (n, sz) = jsonb_size_at(&self.b, i);
        if n == 0 {
            return Err(malformed());
        }
        if self.recursive {
            let kind = self.kind_at(i);
            let mut level_change = false;
            if kind == OBJECT || kind == ARRAY {
                level_change = true;
                let parent = Parent {
                    head: self.i,
                    value: i,
                    end: i + n + sz,
                    key: -1,
                    npath: self.path.len(),
                };
                if self.e_type != 0 && !self.parents.is_empty() {
                    let mut path = std::mem::take(&mut self.path);
                    self.append_name(&mut path);
                    self.path = path;
                }
                self.parents.push(parent);
                self.i = i + n;
            } else {
                self.i = i + n + sz;
            }
            while self.parents.last().is_some_and(|p| self.i >= p.end) {
                if let Some(p) = self.parents.pop() {
                    self.path.truncate(p.npath);
                }
                level_change = true;
            }
            if level_change {
                self.e_type = self.parents.last().map_or(0, |p| self.kind_at(p.value));
            }
        } else {
            self.i = i + n + sz;
        }
        if self.e_type == ARRAY {
            if let Some(p) = self.parents.last_mut() {
                p.key += 1;
            }
        }
        self.rowid += 1;
        Ok(())
    }
}

fn offset(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

/// `sqlite3Atoi64` as the root key uses it: the leading integer of `z`
/// (`12]` is 12), 0 when there is none, saturating.
fn atoi(z: &[u8]) -> i64 {
    let (neg, digits) = match z.first() {
        Some(b'-') => (true, &z[1..]),
        Some(b'+') => (false, &z[1..]),
        _ => (false, z),
    };
    let mut v: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::sql::functions::json::node::parse;

    /// Minimal headers at each size boundary, and the blob decodes back to
    /// the same tree.
    #[test]
    fn jsonb_encoding_is_minimal_and_round_trips() {
        // (n, header): a string of n + 2 bytes, so payloads of 11, 12,
        // 255, 256, 65535 and 65536 bytes.
        for (len, header) in [
            (9usize, 1usize),
            (10, 2),
            (253, 2),
            (254, 3),
            (65533, 3),
            (65534, 5),
        ] {
            let text = format!("\"{}\"", "a".repeat(len + 2));
            let node = parse(text.as_bytes()).unwrap().node;
            let b = encode_jsonb(&node);
            assert_eq!(b.len(), header + len + 2, "payload {}", len + 2);
            assert_eq!(decode_jsonb(&b), Some(node));
        }
        let doc = r#"{"a":[1,2.5,"x",null,true,false,{"b":[]}],c:0x1F,'d':.5}"#;
        let node = parse(doc.as_bytes()).unwrap().node;
        assert_eq!(decode_jsonb(&encode_jsonb(&node)), Some(node));
    }

    #[test]
    fn walks_stop_cleanly() {
        let rows = |tree: bool, args: &[Value]| {
            let mut w = JsonEach::open(tree, args).unwrap();
            let mut n = 0;
            while w.next_row().unwrap().is_some() {
                n += 1;
            }
            n
        };
        assert_eq!(rows(false, &[]), 0);
        assert_eq!(rows(false, &[Value::Null]), 0);
        assert_eq!(rows(true, &[Value::Text("[[1],[2,[3]]]".into())]), 7);
        assert_eq!(
            rows(
                false,
                &[Value::Text("[1]".into()), Value::Text("$[9]".into())]
            ),
            0
        );
        assert!(JsonEach::open(false, &[Value::Text("[1".into())]).is_err());
        assert_eq!(atoi(b"12]"), 12);
        assert_eq!(atoi(b"-3]"), -3);
        assert_eq!(atoi(b"#-1]"), 0);
        assert_eq!(atoi(b"99999999999999999999]"), i64::MAX);
    }
}
