//! UPDATE ... FROM (SQLite 3.33): the target table joined with the FROM
//! list, the SET values computed over the joined row.
//!
//! ```text
//!   from-item-1 JOIN ... (each a FROM source as in SELECT)
//!     , target (its SELECT and UPDATE policies)
//!   WHERE ...                                    → FROM cols ++ target cols ++ rowid
//!   SET c = e over that row, RETURNING over the new target row only
//! ```
//!
//! The target is joined to the FROM list as a whole (SQLite nests a FROM
//! of several items), so it comes last; names resolve over the whole row
//! (the target's own name too, so the target named again in FROM must be
//! aliased or its columns are ambiguous). Privileges: SELECT on every
//! FROM column read and on target columns read, UPDATE on the assigned
//! columns; row policies: the target's SELECT and UPDATE policies and every FROM table's SELECT policies filter each source
//! before the join, so a hidden row never matches.

use super::*;

/// The planned joined rows of an UPDATE ... FROM.
pub struct UpdateFrom {
    /// The FROM columns ++ the target's columns ++ its rowid, WHERE
    /// applied.
    pub plan: Plan,
    /// The SET values over that row, one per assignment, in order.
    pub sets: Vec<PExpr>,
    /// Where in a row the target's values are (columns ++ rowid).
    pub target: std::ops::Range<usize>,
}

impl Planner<'_> {
    /// Plans `up` (which has a FROM list) over `table`. The join reads the
    /// target's rows (its ON terms and WHERE may name them), so the
    /// target's SELECT policies always apply, as [`reads_target`] decides
    /// for a plain UPDATE that reads them.
    pub fn update_from(&mut self, table: &Arc<Table>, up: &Update) -> Result<UpdateFrom> {
        let Some(from) = &up.from else {
            return Err(err(SqlErrorKind::Misuse, "UPDATE without FROM"));
        };
        let select_policy = self.row_policy(table, PolicyCmd::Select, false)?;
        let update_policy = self.row_policy(table, PolicyCmd::Update, false)?;
        let mut target = table_source_of(table, table.name.clone());
        let origin = self.track_reads(&table.name, &mut target.cols);
        // The SELECT policy first, so the UPDATE one never runs on a row
        // the user may not see.
        target.policy = [select_policy, update_policy]
            .into_iter()
            .flatten()
            .collect();
        target.hint = resolve_hint(table, up.hint.as_ref())?;
        let target_width = target.cols.len();
        let root = self.root.clone();
        // SQLite joins the target with the FROM clause as one unit (a FROM
        // of several items is a nested join): the FROM items first, so a
        // RIGHT or FULL join among them keeps its meaning and their ON
        // terms cannot name the target; then the target, whose access path
        // may use the WHERE terms that join it.
        let mut sources = Vec::new();
        self.flatten_from(from, root.as_deref(), &mut sources)?;
        // A FROM of several items is a nested join in SQLite, whose
        // columns must have distinct table names.
        if let Some(dup) = sources.iter().enumerate().find_map(|(i, s)| {
            let label = s.cols.first()?.table.as_deref()?;
            sources[..i]
                .iter()
                .any(|o| {
                    o.cols
                        .first()
                        .and_then(|c| c.table.as_deref())
                        .is_some_and(|l| l.eq_ignore_ascii_case(label))
                })
                .then(|| label.to_string())
        }) {
            return Err(err(
                SqlErrorKind::Ambiguous,
                format!("ambiguous table name in UPDATE ... FROM: {dup} (alias one of them)"),
            ));
        }
        // Their ON terms see the FROM items only, never the target ("no
        // such column", as SQLite's nested FROM).
        let from_cols: Vec<ScopeCol> = sources.iter().flat_map(|s| s.cols.clone()).collect();
        let from_scope = Scope::new(from_cols, root.as_deref());
        for on in sources.iter().flat_map(|s| &s.on) {
            self.expr(on, &from_scope)?;
        }
        let from_width: usize = sources.iter().map(|s| s.cols.len()).sum();
        sources.push(target);
        let all_cols: Vec<ScopeCol> = sources.iter().flat_map(|s| s.cols.clone()).collect();
        let scope = Scope::new(all_cols, root.as_deref());
        let plan = self.join_sources(&mut sources, up.filter.as_ref(), &scope)?;
        let sets = up
            .assignments
            .iter()
            .map(|(_, e)| self.expr(e, &scope))
            .collect::<Result<Vec<_>>>()?;
        // Reading no target column needs no SELECT on it, as in PostgreSQL.
        if let Some(o) = origin.filter(|o| {
            self.uses
                .get(*o)
                .is_some_and(|u| u.privilege == Privilege::Select && u.columns.is_empty())
        }) {
            self.uses.remove(o);
        }
        Ok(UpdateFrom {
            plan,
            sets,
            target: from_width..from_width + target_width,
        })
    }
}
