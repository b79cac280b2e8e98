//! Name resolution: the columns in scope at each level of a query (with
//! their tables, affinities and collations) and how a name finds one.

use super::*;

#[derive(Clone, Debug)]
pub(super) struct ScopeCol {
    pub(super) table: Option<String>,
    pub(super) name: String,
    pub(super) hidden: bool,
    pub(super) affinity: Option<Affinity>,
    /// Its collating sequence (None: none, as `excluded.x`).
    pub(super) collation: Option<Collation>,
    /// The table or view use this column is read from (an index into
    /// `Planner::uses`), for privilege checks.
    pub(super) origin: Option<usize>,
    /// The right side's copy of a USING (or NATURAL) column, with the kind
    /// of that join: hidden from `*` (so also `hidden`) but not from `t.*`;
    /// the kind says which copy an unqualified name means (see
    /// [`Scope::resolve`]).
    pub(super) using_copy: Option<JoinKind>,
    /// The declared type of the table column it reads, if it reads one
    /// directly (for `sqlite3_column_decltype`).
    pub(super) decl: Option<Arc<str>>,
    /// The `value` column of `json_each` / `json_tree`: its `type` column
    /// follows it, and a value whose type is `array` or `object` carries
    /// SQLite's JSON subtype (a JSON function embeds it as JSON).
    pub(super) json_value: bool,
}

pub(super) struct Scope<'a> {
    pub(super) cols: Vec<ScopeCol>,
    pub(super) parent: Option<&'a Scope<'a>>,
    /// Set when a name resolved to an enclosing scope.
    pub(super) correlated: std::cell::Cell<bool>,
    /// A marker scope between a subquery and its enclosing query: it adds
    /// no row level of its own.
    pub(super) transparent: bool,
}

/// A resolved column name.
pub(super) struct Resolved {
    /// Query levels out (0: this query's row).
    pub(super) depth: usize,
    /// Position in that row.
    pub(super) index: usize,
    pub(super) affinity: Option<Affinity>,
    pub(super) collation: Option<Collation>,
    /// The (use, column) it reads, for privilege checks.
    pub(super) origin: Option<(usize, String)>,
    /// The declared type of the table column it reads directly, if any.
    pub(super) decl: Option<Arc<str>>,
    /// A USING column of a FULL join named without its table: the value is
    /// `coalesce` of `index` and these positions (same depth), each with the
    /// (use, column) it reads.
    pub(super) coalesce: Vec<(usize, Option<(usize, String)>)>,
    /// A `json_each` value column: the position of its row's `type`, in
    /// the row at `depth` (see [`ScopeCol::json_value`]).
    pub(super) json_type: Option<usize>,
}

pub(super) static SUB_IDS: AtomicUsize = AtomicUsize::new(1);

impl<'a> Scope<'a> {
    pub(super) fn new(cols: Vec<ScopeCol>, parent: Option<&'a Scope<'a>>) -> Scope<'a> {
        Scope {
            cols,
            parent,
            correlated: std::cell::Cell::new(false),
            transparent: false,
        }
    }

    /// Finds `table.name` here (depth 0) or in a parent.
    pub(super) fn resolve(&self, table: Option<&str>, name: &str) -> Result<Resolved> {
        let find = |name: &str| -> Vec<(usize, &ScopeCol)> {
            self.cols
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.name.eq_ignore_ascii_case(name)
                        && match table {
                            Some(t) => c
                                .table
                                .as_deref()
                                .is_some_and(|ct| ct.eq_ignore_ascii_case(t)),
                            None => true,
                        }
                })
                .collect()
        };
        let mut hits = find(name);
        if hits.is_empty()
            && (name.eq_ignore_ascii_case("_rowid_") || name.eq_ignore_ascii_case("oid"))
        {
            hits = find("rowid")
                .into_iter()
                .filter(|(_, c)| c.hidden)
                .collect();
        }
        if table.is_none()
            && hits
                .iter()
                .any(|(_, c)| matches!(c.using_copy, Some(JoinKind::Right | JoinKind::Full)))
        {
            return using_match(&hits, name);
        }
        let visible: Vec<&(usize, &ScopeCol)> = hits.iter().filter(|(_, c)| !c.hidden).collect();
        if visible.len() > 1 {
            return Err(err(
                SqlErrorKind::Ambiguous,
                format!("ambiguous column name: {name}"),
            ));
        }
        if let Some((i, c)) = visible
            .first()
            .map(|x| **x)
            .or_else(|| hits.first().copied())
        {
            return Ok(Resolved {
                depth: 0,
                index: i,
                affinity: c.affinity,
                collation: c.collation,
                origin: c.origin.map(|o| (o, c.name.clone())),
                decl: c.decl.clone(),
                coalesce: Vec::new(),
                json_type: c.json_value.then_some(i + 1),
            });
        }
        match self.parent {
            Some(p) => {
                let mut r = p.resolve(table, name)?;
                self.correlated.set(true);
                r.depth += usize::from(!self.transparent);
                Ok(r)
            }
            None => {
                let full = match table {
                    Some(t) => format!("{t}.{name}"),
                    None => name.to_string(),
                };
                Err(err(
                    SqlErrorKind::UnknownColumn,
                    format!("no such column: {full}"),
                ))
            }
        }
    }
}

/// An unqualified name that a RIGHT or FULL join's USING shares, found as
/// SQLite's lookupName does, the tables taken left to right: a later copy
/// from an inner or LEFT join's USING keeps the earlier one, a RIGHT
/// join's replaces it (its side is never NULL-extended), a FULL join's
/// joins it in a `coalesce` (either may be); a copy not from a USING is
/// ambiguous.
fn using_match(hits: &[(usize, &ScopeCol)], name: &str) -> Result<Resolved> {
    let mut cnt = 0usize;
    let mut current: Option<(usize, &ScopeCol)> = None;
    let mut full: Option<Vec<(usize, &ScopeCol)>> = None;
    for &(i, c) in hits
        .iter()
        .filter(|(_, c)| !c.hidden || c.using_copy.is_some())
    {
        if cnt > 0 {
            match c.using_copy {
                None => full = None,
                Some(JoinKind::Inner | JoinKind::Left) => continue,
                Some(JoinKind::Right) => {
                    cnt = 0;
                    full = None;
                }
                Some(JoinKind::Full) => {
                    if let Some(prev) = current {
                        full.get_or_insert_with(Vec::new).push(prev);
                    }
                }
            }
        }
        cnt += 1;
        current = Some((i, c));
    }
    let ambiguous = || {
        err(
            SqlErrorKind::Ambiguous,
            format!("ambiguous column name: {name}"),
        )
    };
    let Some((i, c)) = current else {
        return Err(ambiguous());
    };
    let origin = |c: &ScopeCol| c.origin.map(|o| (o, c.name.clone()));
    match (cnt, full) {
        (1, _) => Ok(Resolved {
            depth: 0,
            index: i,
            affinity: c.affinity,
            collation: c.collation,
            origin: origin(c),
            decl: c.decl.clone(),
            coalesce: Vec::new(),
            json_type: c.json_value.then_some(i + 1),
        }),
        (n, Some(mut list)) if list.len() + 1 == n => {
            list.push((i, c));
            let (fi, fc) = list[0];
            Ok(Resolved {
                depth: 0,
                index: fi,
                // SQLite's coalesce here (AFF_DEFER) has its first
                // argument's affinity and collation.
                affinity: fc.affinity,
                collation: fc.collation,
                origin: origin(fc),
                decl: None,
                coalesce: list[1..].iter().map(|(j, x)| (*j, origin(x))).collect(),
                json_type: None,
            })
        }
        _ => Err(ambiguous()),
    }
}
