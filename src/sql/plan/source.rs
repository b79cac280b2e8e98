//! What a FROM item offers the planner: a table's or view's columns as a
//! source, the excluded/NEW/OLD rows of upserts and triggers, index hints.

use super::*;
use crate::sql::introspect::Introspect;

/// The source for reading table `t` under name `label`: its columns, then
/// the hidden rowid.
pub(super) fn table_source_of(t: &Arc<Table>, label: String) -> Source {
    // The rowid, and a rowid alias (which SQLite resolves as the rowid),
    // have no collation (sqlite3ExprCollSeq of a rowid reference is none):
    // in a comparison the other side's applies, and in a compound SELECT
    // a later SELECT's column gives the compound column's (1105543).
    let mut cols: Vec<ScopeCol> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| ScopeCol {
            table: Some(label.clone()),
            name: c.name.clone(),
            hidden: false,
            affinity: Some(c.affinity),
            collation: (t.rowid_alias != Some(i)).then_some(c.collation),
            origin: None,
            using_copy: None,
            json_value: false,
            decl: (!c.decl_type.is_empty()).then(|| Arc::from(c.decl_type.as_str())),
        })
        .collect();
    // The hidden last column is the rowid (also reachable as _rowid_
    // and oid, see Scope::resolve).
    // A WITHOUT ROWID table shows none: the column keeps its place (the
    // engine reads rows by it) under a name no SQL can write.
    cols.push(ScopeCol {
        table: Some(label.clone()),
        name: if t.without_rowid {
            String::new()
        } else if t.column("rowid").is_none() {
            "rowid".into()
        } else {
            "_rowid_".into()
        },
        hidden: true,
        affinity: Some(Affinity::Integer),
        collation: None,
        origin: None,
        using_copy: None,
        json_value: false,
        // SQLite's columnType gives a rowid "INTEGER".
        decl: Some(Arc::from("INTEGER")),
    });
    Source {
        plan: None,
        table: Some(t.clone()),
        cols,
        kind: JoinKind::Inner,
        on: Vec::new(),
        using_coalesce: Vec::new(),
        policy: Vec::new(),
        hint: None,
    }
}

/// The proposed row of an upsert, `excluded.*`: hidden, so an unqualified
/// name means the existing row's column; as in SQLite (registers, not
/// columns) its values have no affinity and no collation.
pub(super) fn excluded_cols(t: &Arc<Table>) -> Vec<ScopeCol> {
    let mut cols = table_source_of(t, "excluded".into()).cols;
    for c in cols.iter_mut() {
        c.hidden = true;
        c.affinity = None;
        c.collation = None;
    }
    cols
}

/// A trigger's row, `label.*` (NEW or OLD): as in SQLite its columns keep
/// their collation but have no affinity (only the rowid is INTEGER, and so
/// is a rowid alias, which SQLite resolves as the rowid).
pub(super) fn trigger_row_cols(t: &Arc<Table>, label: &str) -> Vec<ScopeCol> {
    let mut cols = table_source_of(t, label.into()).cols;
    let n = cols.len();
    for (i, c) in cols.iter_mut().enumerate().take(n - 1) {
        if Some(i) != t.rowid_alias {
            c.affinity = None;
        }
    }
    cols
}

impl Planner<'_> {
    /// What the principal (the session's user, or the owner of the view
    /// or trigger being planned) may see of the schema; nothing when the
    /// planner knows no principal.
    fn visible_schema(&self, what: Introspect) -> crate::sql::introspect::Visible {
        let (Some(sec), Some(roles)) = (&self.sec, self.principal()) else {
            return crate::sql::introspect::Visible::nothing();
        };
        let mut seen = crate::sql::introspect::Visible::of(self.schema, &sec.auth, &roles);
        if matches!(what, Introspect::TableInfo | Introspect::TableXinfo) && !self.describing {
            let planned = seen
                .views()
                .iter()
                .map(|name| (name.clone(), self.view_column_names(name)))
                .collect();
            seen.set_view_columns(self.schema, planned);
        }
        seen
    }

    /// The columns of view `name` with their affinities, as planning it
    /// (as its owner, as reading it would) gives them; `None` if it
    /// cannot be planned.
    fn view_column_names(&self, name: &str) -> Option<Vec<(String, Option<Affinity>)>> {
        let v = self.schema.view(name)?;
        let mut p = Planner::new(self.schema)
            .with_security(self.sec.clone())
            .executing();
        p.describing = true;
        let key = v.name.to_lowercase();
        p.expanding.push(key.clone());
        p.acting.push(Definer::View(key));
        let planned = p.query_in(&v.query, None).ok()?;
        let names = if v.columns.is_empty() {
            planned.columns
        } else {
            v.columns.clone()
        };
        Some(
            names
                .into_iter()
                .zip(planned.types.iter().map(|t| t.aff))
                .collect(),
        )
    }

    /// The source reading introspection `what` under `label`, with its
    /// bound arguments. It needs no privilege: it shows only what the
    /// principal may see.
    pub(super) fn introspect_source(
        &self,
        what: Introspect,
        args: Vec<PExpr>,
        label: &str,
    ) -> Result<Source> {
        what.check_args(args.len())?;
        let width = what.visible_width();
        let cols = what
            .columns()
            .into_iter()
            .enumerate()
            .map(|(i, (name, aff))| ScopeCol {
                table: Some(label.to_string()),
                name: name.to_string(),
                hidden: i >= width,
                affinity: Some(aff),
                collation: Some(Collation::Binary),
                origin: None,
                decl: None,
                using_copy: None,
                json_value: false,
            })
            .collect();
        Ok(Source {
            plan: Some(Arc::new(Node::Introspect {
                what,
                args,
                seen: Arc::new(self.visible_schema(what)),
            })),
            table: None,
            cols,
            kind: JoinKind::Inner,
            on: Vec::new(),
            using_coalesce: Vec::new(),
            policy: Vec::new(),
            hint: None,
        })
    }

    /// A table-valued function in FROM; `left`: the columns of the FROM
    /// items before it, which its arguments may read.
    pub(super) fn function_source(
        &mut self,
        name: &str,
        args: &[Expr],
        alias: Option<&str>,
        left: Vec<ScopeCol>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        if let Some(tree) = json_each_function(name) {
            return self.json_each_source(tree, name, args, alias, left, parent);
        }
        let Some(what) = Introspect::of_function(name) else {
            return Err(err(
                SqlErrorKind::Unsupported,
                format!("the table-valued function {name}() is not supported"),
            ));
        };
        let scope = Scope::new(left, parent);
        let bound = args
            .iter()
            .map(|a| self.expr(a, &scope))
            .collect::<Result<Vec<_>>>()?;
        self.introspect_source(what, bound, alias.unwrap_or(name))
    }
}

/// `Some(tree)` when `name` is `json_each` (false) or `json_tree` (true).
pub(super) fn json_each_function(name: &str) -> Option<bool> {
    match name.to_ascii_lowercase().as_str() {
        "json_each" => Some(false),
        "json_tree" => Some(true),
        _ => None,
    }
}

/// SQLite answers `json_each` without arguments from equality constraints
/// on its hidden `json` and `root` columns (`WHERE json = '...'`), which
/// sealdb does not read: refused rather than answered with no rows.
pub(super) fn json_each_without_arguments(name: &str) -> Error {
    err(
        SqlErrorKind::Unsupported,
        format!(
            "{0} without its argument is not supported: write {0}('json' [, 'path'])",
            name.to_ascii_lowercase()
        ),
    )
}

impl Planner<'_> {
    /// `json_each(...)` / `json_tree(...)` in FROM: its arguments are
    /// bound like any expression over the FROM items before it (so reading
    /// a column needs the privilege to read it, and a row policy of that
    /// table applies to the rows it comes from); it reads nothing else.
    fn json_each_source(
        &mut self,
        tree: bool,
        name: &str,
        args: &[Expr],
        alias: Option<&str>,
        left: Vec<ScopeCol>,
        parent: Option<&Scope>,
    ) -> Result<Source> {
        if args.is_empty() {
            return Err(json_each_without_arguments(name));
        }
        if args.len() > 2 {
            return Err(err(
                SqlErrorKind::Misuse,
                format!(
                    "too many arguments on {}() - max 2",
                    name.to_ascii_lowercase()
                ),
            ));
        }
        let scope = Scope::new(left, parent);
        let bound = args
            .iter()
            .map(|a| self.expr(a, &scope))
            .collect::<Result<Vec<_>>>()?;
        let label = alias.unwrap_or(name).to_string();
        let visible = crate::sql::functions::json::each::VISIBLE;
        let cols = crate::sql::functions::json::each::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| ScopeCol {
                table: Some(label.clone()),
                name: (*c).to_string(),
                hidden: i >= visible,
                // Declared without a type, as in SQLite.
                affinity: Some(Affinity::Blob),
                collation: Some(Collation::Binary),
                origin: None,
                decl: None,
                using_copy: None,
                json_value: *c == "value",
            })
            .collect();
        Ok(Source {
            plan: Some(Arc::new(Node::JsonEach { tree, args: bound })),
            table: None,
            cols,
            kind: JoinKind::Inner,
            on: Vec::new(),
            using_coalesce: Vec::new(),
            policy: Vec::new(),
            hint: None,
        })
    }
}

/// A FROM source during planning.
pub(super) struct Source {
    pub(super) plan: Option<Plan>,
    pub(super) table: Option<Arc<Table>>,
    pub(super) cols: Vec<ScopeCol>,
    /// How this source joins the sources before it.
    pub(super) kind: JoinKind,
    pub(super) on: Vec<Expr>,
    /// USING terms whose left side is several left tables' copies (in a
    /// FROM clause with a RIGHT or FULL join): `coalesce(lefts) = right`,
    /// the coalesce typed as its first argument (SQLite's AFF_DEFER).
    pub(super) using_coalesce: Vec<(Vec<Expr>, Expr)>,
    /// Row-level security filters over this source's own row, applied in
    /// order (a later one never runs on a row an earlier one removed).
    pub(super) policy: Vec<PExpr>,
    /// INDEXED BY (the index's position) / NOT INDEXED.
    pub(super) hint: Option<AccessHint>,
}

/// An index hint resolved against its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AccessHint {
    /// NOT INDEXED.
    NoIndex,
    /// INDEXED BY the table's index at this position.
    Index(usize),
}

/// Resolves `hint` against table `t`: SQLite's "no such index" when the
/// index does not exist (on this table).
pub(super) fn resolve_hint(t: &Table, hint: Option<&IndexHint>) -> Result<Option<AccessHint>> {
    Ok(match hint {
        None => None,
        Some(IndexHint::NotIndexed) => Some(AccessHint::NoIndex),
        Some(IndexHint::IndexedBy(name)) => {
            let pos = t
                .indexes
                .iter()
                .position(|i| i.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| err(SqlErrorKind::UnknownTable, format!("no such index: {name}")))?;
            Some(AccessHint::Index(pos))
        }
    })
}

/// Text shown as the column name of an expression.
pub(super) fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Column { name, .. } => name.clone(),
        Expr::Literal(v) => v.to_text().unwrap_or_else(|| "NULL".into()),
        Expr::Function {
            name, args, star, ..
        } => {
            if *star {
                format!("{name}(*)")
            } else {
                format!(
                    "{name}({})",
                    args.iter().map(expr_name).collect::<Vec<_>>().join(", ")
                )
            }
        }
        Expr::Param(i) => format!("?{i}"),
        _ => "expr".into(),
    }
}
