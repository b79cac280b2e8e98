//! JSON paths (`$`, `$.a`, `$."a b"`, `$[0]`, `$[#]`, `$[#-1]`) and the
//! lookups and edits that follow them, as SQLite's `jsonLookupStep`.
//!
//! A path is read one step at a time as the value is walked, so a step
//! that cannot apply (`.a` on an array) ends the walk as "not found"
//! before the rest of the path is even read, as in SQLite.

use super::node::{jsonb_node_at, jsonb_size_at, Node, TextKind, MAX_DEPTH};

/// Why a lookup found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Miss {
    /// The path names nothing in this value.
    NotFound,
    /// The path is malformed ("bad JSON path").
    BadPath,
    /// `json_array_insert` at something that is not an array element.
    NotArray,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// What an edit does at the place a path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Edit {
    /// `json_remove`.
    Delete,
    /// `json_replace`: only where something exists.
    Replace,
    /// `json_insert`: only where nothing exists.
    Insert,
    /// `json_set`: either.
    Set,
    /// `json_array_insert`: before an array element.
    ArrayInsert,
}

impl Edit {
    fn creates(self) -> bool {
        matches!(self, Edit::Insert | Edit::Set | Edit::ArrayInsert)
    }
}

/// One step of a path.
enum Step<'p> {
    /// `.key` (raw: no escapes in it).
    Key(&'p [u8], bool),
    /// `[N]`, `[#]`, `[#-N]`: the index, or from the end.
    Index(IndexSpec),
}

enum IndexSpec {
    At(u64),
    FromEnd(u64),
}

/// Reads the step at the start of `p`: the step and the rest of the path,
/// or `None` for a malformed step. The caller has checked `p` is not empty.
fn next_step(p: &[u8]) -> Option<(Step<'_>, &[u8])> {
    match p.first()? {
        b'.' => {
            let p = &p[1..];
            if p.first() == Some(&b'"') {
                let mut i = 1;
                while i < p.len() && p[i] != b'"' {
                    if p[i] == b'\\' && i + 1 < p.len() {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= p.len() {
                    return None;
                }
                let key = &p[1..i];
                let raw = !key.contains(&b'\\');
                Some((Step::Key(key, raw), &p[i + 1..]))
            } else {
                let n = p
                    .iter()
                    .position(|&c| c == b'.' || c == b'[')
                    .unwrap_or(p.len());
                if n == 0 {
                    return None;
                }
                Some((Step::Key(&p[..n], true), &p[n..]))
            }
        }
        b'[' => {
            let mut i = 1;
            let mut k: u64 = 0;
            while p.get(i).is_some_and(u8::is_ascii_digit) {
                if k < 0xffff_ffff {
                    k = k * 10 + u64::from(p[i] - b'0');
                }
                i += 1;
            }
            if i >= 2 && p.get(i) == Some(&b']') {
                return Some((Step::Index(IndexSpec::At(k)), &p[i + 1..]));
            }
            if p.get(1) != Some(&b'#') {
                return None;
            }
            let mut i = 2;
            let mut back: u64 = 0;
            if p.get(2) == Some(&b'-') && p.get(3).is_some_and(u8::is_ascii_digit) {
                i = 3;
                while p.get(i).is_some_and(u8::is_ascii_digit) {
                    if back < 0xffff_ffff {
                        back = back * 10 + u64::from(p[i] - b'0');
                    }
                    i += 1;
                }
            }
            if p.get(i) != Some(&b']') {
                return None;
            }
            Some((Step::Index(IndexSpec::FromEnd(back)), &p[i + 1..]))
        }
        _ => None,
    }
}

/// Whether object label `label` matches path key `key`.
fn label_matches(label: &Node, key: &[u8], raw: bool) -> bool {
    let Node::Text(kind, text) = label else {
        return false;
    };
    let raw_label = matches!(kind, TextKind::Plain | TextKind::Raw);
    if raw && raw_label {
        return text.as_bytes() == key;
    }
    let key_text = String::from_utf8_lossy(key);
    let k = if raw {
        key_text.into_owned()
    } else {
        super::node::unescape(&key_text)
    };
    label.text_value().is_some_and(|l| l == k)
}

fn index_of(spec: &IndexSpec, len: usize) -> Option<usize> {
    let len64 = u64::try_from(len).unwrap_or(u64::MAX);
    match spec {
        IndexSpec::At(k) => usize::try_from(*k).ok(),
        IndexSpec::FromEnd(back) => {
            if *back > len64 {
                None
            } else {
                usize::try_from(len64 - back).ok()
            }
        }
    }
}

/// Finds what `path` (after the `$`) names in `root`.
pub(crate) fn lookup<'n>(root: &'n Node, path: &[u8]) -> Result<&'n Node, Miss> {
    let mut node = root;
    let mut p = path;
    let mut depth = 0;
    while !p.is_empty() {
        depth += 1;
        if depth >= MAX_DEPTH {
            return Err(Miss::TooDeep);
        }
        let (step, rest) = match p.first() {
            Some(b'.') => {
                // An object is needed before the key is even read.
                let step = next_step(p).ok_or(Miss::BadPath)?;
                if !matches!(node, Node::Object(_)) {
                    return Err(Miss::NotFound);
                }
                step
            }
            Some(b'[') => {
                if !matches!(node, Node::Array(_)) {
                    return Err(Miss::NotFound);
                }
                next_step(p).ok_or(Miss::BadPath)?
            }
            _ => return Err(Miss::BadPath),
        };
        node = match (step, node) {
            (Step::Key(key, raw), Node::Object(members)) => members
                .iter()
                .find(|(l, _)| label_matches(l, key, raw))
                .map(|(_, v)| v)
                .ok_or(Miss::NotFound)?,
            (Step::Index(spec), Node::Array(items)) => {
                let i = index_of(&spec, items.len()).ok_or(Miss::NotFound)?;
                items.get(i).ok_or(Miss::NotFound)?
            }
            _ => return Err(Miss::NotFound),
        };
        p = rest;
    }
    Ok(node)
}

/// Finds what `path` (after the `$`) names in the JSONB `b` (an element
/// starting at offset 0): its offset, and the offset of its label when
/// the last step was an object key, else 0 (`jsonLookupStep`'s result and
/// `iLabel`). The offsets are what `json_each` and `json_tree` show.
pub(crate) fn lookup_jsonb(b: &[u8], path: &[u8]) -> Result<(usize, usize), Miss> {
    let (mut at, mut label) = (0usize, 0usize);
    let mut p = path;
    let mut depth = 0;
    while !p.is_empty() {
        depth += 1;
        if depth >= MAX_DEPTH {
            return Err(Miss::TooDeep);
        }
        let kind = b.get(at).map(|c| c & 0x0f);
        let (n, sz) = jsonb_size_at(b, at);
        let end = at + n + sz;
        let rest = match p.first() {
            Some(b'.') => {
                let (step, rest) = next_step(p).ok_or(Miss::BadPath)?;
                let Step::Key(key, raw) = step else {
                    return Err(Miss::BadPath);
                };
                if kind != Some(12) {
                    return Err(Miss::NotFound);
                }
                let mut j = at + n;
                let mut found = None;
                while j < end {
                    let (ln, lsz) = jsonb_size_at(b, j);
                    let v = j + ln + lsz;
                    let (vn, vsz) = jsonb_size_at(b, v);
                    if ln == 0 || vn == 0 {
                        break;
                    }
                    let hit = jsonb_node_at(b, j).is_some_and(|l| label_matches(&l, key, raw));
                    if hit {
                        found = Some((v, j));
                        break;
                    }
                    j = v + vn + vsz;
                }
                (at, label) = found.ok_or(Miss::NotFound)?;
                rest
            }
            Some(b'[') => {
                if kind != Some(11) {
                    return Err(Miss::NotFound);
                }
                let (step, rest) = next_step(p).ok_or(Miss::BadPath)?;
                let Step::Index(spec) = step else {
                    return Err(Miss::BadPath);
                };
                let mut items = Vec::new();
                let mut j = at + n;
                while j < end {
                    let (en, esz) = jsonb_size_at(b, j);
                    if en == 0 {
                        break;
                    }
                    items.push(j);
                    j += en + esz;
                }
                let i = index_of(&spec, items.len()).ok_or(Miss::NotFound)?;
                at = *items.get(i).ok_or(Miss::NotFound)?;
                label = 0;
                rest
            }
            _ => return Err(Miss::BadPath),
        };
        p = rest;
    }
    Ok((at, label))
}

/// The value to create where a path continues past a missing element:
/// `value` itself at the end of the path, else an empty array or object
/// with the rest of the path created inside it (`NotFound` when the rest
/// cannot be created, such as `[3]` of a new array).
fn create(rest: &[u8], value: &Node, edit: Edit, depth: usize) -> Result<Node, Miss> {
    if rest.is_empty() {
        return Ok(value.clone());
    }
    if depth >= MAX_DEPTH {
        return Err(Miss::TooDeep);
    }
    let mut fresh = if rest.first() == Some(&b'.') {
        Node::Object(Vec::new())
    } else {
        Node::Array(Vec::new())
    };
    edit_at(&mut fresh, rest, value, edit, depth + 1, false)?;
    Ok(fresh)
}

/// Applies `edit` with `value` at `path` (after the `$`, not empty) in
/// `node`. `after_index` says the path so far ended with `]` (for
/// `json_array_insert`).
pub(crate) fn edit_at(
    node: &mut Node,
    path: &[u8],
    value: &Node,
    edit: Edit,
    depth: usize,
    after_index: bool,
) -> Result<(), Miss> {
    if depth >= MAX_DEPTH {
        return Err(Miss::TooDeep);
    }
    match path.first() {
        Some(b'.') => {
            let (step, rest) = next_step(path).ok_or(Miss::BadPath)?;
            let Node::Object(members) = node else {
                return Err(Miss::NotFound);
            };
            let Step::Key(key, raw) = step else {
                return Err(Miss::BadPath);
            };
            if let Some(pos) = members.iter().position(|(l, _)| label_matches(l, key, raw)) {
                if rest.is_empty() {
                    return match edit {
                        Edit::Delete => {
                            members.remove(pos);
                            Ok(())
                        }
                        Edit::Insert => Ok(()),
                        Edit::ArrayInsert => Err(Miss::NotArray),
                        Edit::Set | Edit::Replace => {
                            members[pos].1 = value.clone();
                            Ok(())
                        }
                    };
                }
                return edit_at(&mut members[pos].1, rest, value, edit, depth + 1, false);
            }
            if !edit.creates() {
                return Err(Miss::NotFound);
            }
            if edit == Edit::ArrayInsert && !rest.ends_with(b"]") {
                return Err(Miss::NotArray);
            }
            let created = create(rest, value, edit, depth)?;
            let key_text = String::from_utf8_lossy(key).into_owned();
            let label = if raw {
                Node::Text(TextKind::Raw, key_text)
            } else {
                Node::Text(TextKind::Json5, key_text)
            };
            members.push((label, created));
            Ok(())
        }
        Some(b'[') => {
            let Node::Array(items) = node else {
                return Err(Miss::NotFound);
            };
            let (step, rest) = next_step(path).ok_or(Miss::BadPath)?;
            let Step::Index(spec) = step else {
                return Err(Miss::BadPath);
            };
            let i = index_of(&spec, items.len()).ok_or(Miss::NotFound)?;
            if i < items.len() {
                if rest.is_empty() {
                    return match edit {
                        Edit::Delete => {
                            items.remove(i);
                            Ok(())
                        }
                        Edit::Insert => Ok(()),
                        Edit::ArrayInsert => {
                            items.insert(i, value.clone());
                            Ok(())
                        }
                        Edit::Set | Edit::Replace => {
                            items[i] = value.clone();
                            Ok(())
                        }
                    };
                }
                return edit_at(&mut items[i], rest, value, edit, depth + 1, true);
            }
            if i > items.len() || !edit.creates() {
                return Err(Miss::NotFound);
            }
            let created = create(rest, value, edit, depth)?;
            items.push(created);
            Ok(())
        }
        None => {
            // The whole value ($), handled by the caller.
            let _ = after_index;
            Err(Miss::BadPath)
        }
        _ => Err(Miss::BadPath),
    }
}
