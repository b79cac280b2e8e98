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
    /// The right side's copy of a USING (or NATURAL) column: hidden from
    /// `*` (so also `hidden`) but not from `t.*`.
    pub(super) using_copy: bool,
    /// The declared type of the table column it reads, if it reads one
    /// directly (for `sqlite3_column_decltype`).
    pub(super) decl: Option<Arc<str>>,
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
