//! ALTER TABLE RENAME TO / RENAME COLUMN: the stored definitions that name
//! what is renamed are rewritten, as SQLite 3.26+ does (legacy_alter_table
//! off): the text of every view and trigger (triggers on other tables
//! included), and the table's own CHECK constraints and partial-index
//! WHERE clauses. Only the names that refer to the renamed table or column
//! change; the rest of the text is kept byte for byte, so `sqlite_schema`
//! shows the definition as written with the new name in it.
//!
//! Which names refer to it is decided by planning, not by guessing from
//! the text. The candidates are the words spelled like the old name; the
//! rewrite is the smallest set of them (fewest first) whose replacement
//! makes the definition plan, under the renamed schema, to exactly the
//! same uses as before — the same tables and views by id, the same
//! columns by id, with the same privileges and owners. So a common table
//! expression or an alias that shadows the name, a result alias spelled
//! like it, or a column of another table with that name is left alone,
//! and a rewrite can never change what a definition reads or writes: a
//! definer view or trigger runs with its owner's rights, and it goes on
//! reaching exactly what its owner chose. A definition for which no such
//! set exists (SQLite: it "would break") fails the whole ALTER: "error in
//! view v after rename: ...". So does one that planned before and no
//! longer does (a view reading a renamed column through another view).
//!
//! ```text
//!   candidates  words equal to the old name (a trigger's header aside:
//!               its ON table and UPDATE OF columns are renamed directly)
//!   search      subsets by size 0, 1, 2, ... (bounded), then greedy
//!   accept      plans under the new schema with the same uses (by id)
//! ```
//!
//! Views that read other rewritten views are done in passes, each against
//! the definitions rewritten so far. Row policies are not rewritten: they
//! are bound by id, a rename of their own table keeps them, and a rename
//! that would change what a policy's text names is refused (`depend`).

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::catalog::{Schema, Table, Trigger, View};
use crate::error::{Error, Result, SqlErrorKind};
use crate::sql::access::trigger_uses;
use crate::sql::plan::{Definer, ObjectUse, Planner};
use crate::syntax::ast::{CheckSpec, Statement};
use crate::syntax::parse::{parse, quoted_name, sql_tokens, SqlToken};

/// What an ALTER TABLE renames.
#[derive(Clone, Copy, Debug)]
pub enum Rename<'a> {
    /// Table `old` becomes `new`.
    Table {
        /// The table's name before.
        old: &'a str,
        /// After.
        new: &'a str,
    },
    /// Column `old` of table `table` becomes `new`.
    Column {
        /// The table.
        table: &'a str,
        /// The column's name before.
        old: &'a str,
        /// After.
        new: &'a str,
    },
}

impl Rename<'_> {
    fn old(&self) -> &str {
        match self {
            Rename::Table { old, .. } | Rename::Column { old, .. } => old,
        }
    }

    /// The text replacing a name token: SQLite writes a renamed table
    /// quoted; a column as the ALTER spelled it (quoted where needed, and
    /// where the token itself was quoted).
    fn replacement(&self, tok: &SqlToken) -> String {
        match self {
            Rename::Table { new, .. } => format!("\"{}\"", new.replace('"', "\"\"")),
            Rename::Column { new, .. } if tok.quoted => {
                format!("\"{}\"", new.replace('"', "\"\""))
            }
            Rename::Column { new, .. } => quoted_name(new),
        }
    }
}

/// The definitions a rename rewrote, to store in place of the old ones
/// (same names and ids).
pub struct Rewritten {
    /// Views.
    pub views: Vec<Arc<View>>,
    /// Triggers.
    pub triggers: Vec<Arc<Trigger>>,
}

/// How many plans one definition's search may make before it falls back
/// to the greedy search (a definition naming the table hundreds of times).
const SEARCH_BUDGET: usize = 2048;

/// Rewrites the definitions that name what `what` renames. `before` is the
/// schema before the ALTER; `after` the same with the table changed (its
/// name, or its column's name, and its CHECKs and index filters already
/// rewritten by [`rewrite_table_exprs`]). Returns the views and triggers
/// to store in place of the old ones.
///
/// `sees(id)`: whether the session may see the object with that id (a
/// trigger: its table); an error about one it may not see names nothing
/// of it, as a hidden object is missing everywhere else.
pub fn rewrite_dependents(
    before: &Schema,
    after: &Schema,
    what: Rename<'_>,
    sees: &dyn Fn(u32) -> bool,
) -> Result<Rewritten> {
    let mut current = after.clone();
    let mut pending: Vec<Pending> = Vec::new();
    let mut views: Vec<_> = before.views.values().cloned().collect();
    views.sort_by_key(|v| v.id);
    for v in views {
        let tokens = sql_tokens(&v.sql)?;
        let cands = candidates(&tokens, what.old(), 0);
        if cands.is_empty() {
            continue;
        }
        // One that does not plan cannot be checked: as SQLite, the rename
        // fails (its text may name the renamed object).
        let mut p = Planner::new(before);
        if let Err(e) = p.query(&v.query) {
            return Err(broken("view", &v.name, &e, sees(v.id)));
        }
        let uses = p.take_uses();
        pending.push(Pending {
            kind: Kind::View(v.clone()),
            text: v.sql.clone(),
            uses: canonical(before, uses),
            tokens,
            cands,
            fixed: Vec::new(),
        });
    }
    let mut triggers: Vec<_> = before.triggers.values().cloned().collect();
    triggers.sort_by_key(|t| t.id);
    for trig in triggers {
        let tokens = sql_tokens(&trig.sql)?;
        let (body_from, fixed) = trigger_header(&tokens, &trig, what);
        let cands = candidates(&tokens, what.old(), body_from);
        if cands.is_empty() && fixed.is_empty() {
            continue;
        }
        // A trigger on a view (INSTEAD OF) is not planned here, so a
        // rewrite of it could not be checked: refused rather than left
        // naming what no longer exists.
        let Some(table) = before.table(&trig.table) else {
            let seen = before.view(&trig.table).is_some_and(|v| sees(v.id));
            return Err(if seen {
                Error::sql(
                    SqlErrorKind::Unsupported,
                    format!(
                        "renaming what trigger {} on view {} names is not supported (drop and recreate the trigger)",
                        trig.name, trig.table
                    ),
                )
            } else {
                unseen()
            });
        };
        let uses = trigger_uses(before, table, &trig, &None)
            .map_err(|e| broken("trigger", &trig.name, &e, sees(table.id)))?;
        pending.push(Pending {
            kind: Kind::Trigger(trig.clone()),
            text: trig.sql.clone(),
            uses: canonical(before, uses),
            tokens,
            cands,
            fixed,
        });
    }
    let mut new_views = Vec::new();
    let mut new_triggers = Vec::new();
    // Passes: a view over another rewritten view plans only once that one
    // is rewritten.
    while !pending.is_empty() {
        let mut progress = false;
        let mut left = Vec::new();
        for p in pending {
            match p.solve(&current, what)? {
                Some(Solved::View(v)) => {
                    current.views.insert(v.name.to_lowercase(), v.clone());
                    new_views.push(v);
                    progress = true;
                }
                Some(Solved::Trigger(t)) => {
                    current.triggers.insert(t.name.to_lowercase(), t.clone());
                    new_triggers.push(t);
                    progress = true;
                }
                None => left.push(p),
            }
        }
        if !progress {
            let p = &left[0];
            let seen = match &p.kind {
                Kind::View(v) => sees(v.id),
                Kind::Trigger(t) => before.table(&t.table).is_some_and(|x| sees(x.id)),
            };
            return Err(p.breaks(&current, seen));
        }
        pending = left;
    }
    // Everything that planned before must still plan (a view reading a
    // renamed column through a rewritten view does not).
    check_all_still_plan(before, &current, sees)?;
    Ok(Rewritten {
        views: new_views,
        triggers: new_triggers,
    })
}

/// Rewrites the CHECK constraints and partial-index WHERE clauses of
/// `new` (the table after the rename, `old` before) that name what is
/// renamed; each must bind to the same expression as before.
pub fn rewrite_table_exprs(old: &Arc<Table>, new: &mut Table, what: Rename<'_>) -> Result<()> {
    for i in 0..new.checks.len() {
        let spec = old.checks[i].clone();
        let Ok(before) = check_shape(old, &spec) else {
            continue;
        };
        let tokens = sql_tokens(&spec.expr)?;
        let cands = candidates(&tokens, what.old(), 0);
        if cands.is_empty() {
            continue;
        }
        let probe = Arc::new(new.clone());
        let found = search(&cands, |set| {
            let expr = edit(&spec.expr, &tokens, set, &[], what);
            let candidate = CheckSpec {
                name: spec.name.clone(),
                expr,
            };
            check_shape(&probe, &candidate).is_ok_and(|s| s == before)
        });
        match found {
            Some(set) => new.checks[i].expr = edit(&spec.expr, &tokens, &set, &[], what),
            None => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!(
                    "error in table {} after rename: CHECK ({}) would no longer mean what it did",
                    old.name, spec.expr
                ),
                ))
            }
        }
    }
    for k in 0..new.indexes.len() {
        let Some(filter) = old.indexes[k].filter.clone() else {
            continue;
        };
        let Ok(before) = crate::sql::write::bind_index_filter(old, &filter) else {
            continue;
        };
        let before = format!("{before:?}");
        let tokens = sql_tokens(&filter)?;
        let cands = candidates(&tokens, what.old(), 0);
        if cands.is_empty() {
            continue;
        }
        let probe = Arc::new(new.clone());
        let found = search(&cands, |set| {
            let f = edit(&filter, &tokens, set, &[], what);
            crate::sql::write::bind_index_filter(&probe, &f)
                .is_ok_and(|b| format!("{b:?}") == before)
        });
        match found {
            Some(set) => new.indexes[k].filter = Some(edit(&filter, &tokens, &set, &[], what)),
            None => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!(
                        "error in index {} after rename: its WHERE clause would no longer mean what it did",
                        old.indexes[k].name
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// One CHECK bound over `t`, as text (column positions included), or an
/// error if it does not bind.
fn check_shape(t: &Arc<Table>, spec: &CheckSpec) -> Result<String> {
    let mut one = (**t).clone();
    one.checks = vec![spec.clone()];
    crate::sql::check::bound_shapes(&Arc::new(one))
}

enum Kind {
    View(Arc<View>),
    Trigger(Arc<Trigger>),
}

enum Solved {
    View(Arc<View>),
    Trigger(Arc<Trigger>),
}

/// A definition to rewrite.
struct Pending {
    kind: Kind,
    text: String,
    /// Its uses before the rename, canonical.
    uses: BTreeSet<String>,
    tokens: Vec<SqlToken>,
    /// Tokens that may name what is renamed (indexes into `tokens`).
    cands: Vec<usize>,
    /// Tokens renamed whatever the search finds (a trigger's header).
    fixed: Vec<usize>,
}

impl Pending {
    fn name(&self) -> (&'static str, &str) {
        match &self.kind {
            Kind::View(v) => ("view", &v.name),
            Kind::Trigger(t) => ("trigger", &t.name),
        }
    }

    /// The definition with `text` in place of its own, if it parses.
    fn rebuilt(&self, text: &str, what: Rename<'_>) -> Option<Solved> {
        match &self.kind {
            Kind::View(v) => {
                let mut nv = (**v).clone();
                nv.sql = text.to_string();
                let parsed = parse(&nv.to_sql()).ok()?;
                let Some(Statement::CreateView { query, .. }) =
                    parsed.statements.into_iter().next()
                else {
                    return None;
                };
                nv.query = *query;
                if let (Rename::Table { old, new }, Some(binds)) = (what, nv.binds.as_mut()) {
                    for (name, _) in binds.iter_mut() {
                        if name.eq_ignore_ascii_case(old) {
                            *name = new.to_lowercase();
                        }
                    }
                }
                Some(Solved::View(Arc::new(nv)))
            }
            Kind::Trigger(t) => {
                let parsed = parse(text).ok()?;
                let Some(Statement::CreateTrigger(ct)) = parsed.statements.into_iter().next()
                else {
                    return None;
                };
                Some(Solved::Trigger(Arc::new(Trigger { id: t.id, def: *ct })))
            }
        }
    }

    /// Whether `solved` plans under `schema` (with it in place) to the
    /// same uses as before.
    fn same_uses(&self, schema: &Schema, solved: &Solved) -> bool {
        let mut s = schema.clone();
        let uses = match solved {
            Solved::View(v) => {
                s.views.insert(v.name.to_lowercase(), v.clone());
                view_uses(&s, &v.query)
            }
            Solved::Trigger(t) => {
                s.triggers.insert(t.name.to_lowercase(), t.clone());
                s.table(&t.table)
                    .filter(|_| upsert_targets_hold(&s, t))
                    .and_then(|table| trigger_uses(&s, table, t, &None).ok())
            }
        };
        uses.is_some_and(|u| canonical(&s, u) == self.uses)
    }

    fn solve(&self, schema: &Schema, what: Rename<'_>) -> Result<Option<Solved>> {
        let found = search(&self.cands, |set| {
            let text = edit(&self.text, &self.tokens, set, &self.fixed, what);
            self.rebuilt(&text, what)
                .is_some_and(|s| self.same_uses(schema, &s))
        });
        let Some(set) = found else {
            return Ok(None);
        };
        if !self.each_names_the_column(schema, &set, what) {
            return Ok(None);
        }
        let text = edit(&self.text, &self.tokens, &set, &self.fixed, what);
        Ok(self.rebuilt(&text, what))
    }

    /// For a column rename, whether each rewritten word names the table's
    /// column itself, not a column of a subquery or view that took its
    /// name from it (SQLite rewrites only the former, and the rename then
    /// fails): with that word alone spelled as a probe column added to
    /// the table, the definition must still plan.
    fn each_names_the_column(&self, schema: &Schema, set: &[usize], what: Rename<'_>) -> bool {
        let Rename::Column { table, new, .. } = what else {
            return true;
        };
        let Some(t) = schema.table(table) else {
            return false;
        };
        let Some(pos) = t.column(new) else {
            return false;
        };
        let mut probe_table = (**t).clone();
        let mut col = probe_table.columns[pos].clone();
        col.name = PROBE.to_string();
        col.id = probe_table.next_column_id;
        probe_table.columns.push(col);
        let mut probe = schema.clone();
        probe
            .tables
            .insert(probe_table.name.to_lowercase(), Arc::new(probe_table));
        set.iter().all(|&i| {
            let mut replaced: Vec<(usize, String)> = set
                .iter()
                .chain(&self.fixed)
                .map(|&k| (k, what.replacement(&self.tokens[k])))
                .collect();
            for r in replaced.iter_mut() {
                if r.0 == i {
                    r.1 = PROBE.to_string();
                }
            }
            let text = edit_with(&self.text, &self.tokens, replaced);
            match self.rebuilt(&text, what) {
                Some(Solved::View(v)) => {
                    probe.views.insert(v.name.to_lowercase(), v.clone());
                    view_uses(&probe, &v.query).is_some()
                }
                Some(Solved::Trigger(tr)) => {
                    probe.triggers.insert(tr.name.to_lowercase(), tr.clone());
                    probe
                        .table(&tr.table)
                        .is_some_and(|tb| trigger_uses(&probe, tb, &tr, &None).is_ok())
                }
                None => false,
            }
        })
    }

    /// SQLite's error for a definition no rewrite keeps working.
    fn breaks(&self, schema: &Schema, seen: bool) -> Error {
        if !seen {
            return unseen();
        }
        let (kind, name) = self.name();
        let why = match &self.kind {
            Kind::View(v) => Planner::new(schema).query(&v.query).err(),
            Kind::Trigger(t) => schema
                .table(&t.table)
                .and_then(|table| trigger_uses(schema, table, t, &None).err()),
        };
        let why = why.map_or_else(
            || "it would no longer mean what it did".to_string(),
            |e| message_of(&e),
        );
        Error::sql(
            SqlErrorKind::Misuse,
            format!("error in {kind} {name} after rename: {why}"),
        )
    }
}

/// SQLite's refusal when a definition the rename would edit is already
/// broken.
fn broken(kind: &str, name: &str, e: &Error, seen: bool) -> Error {
    if !seen {
        return unseen();
    }
    Error::sql(
        SqlErrorKind::Misuse,
        format!("error in {kind} {name}: {}", message_of(e)),
    )
}

/// The refusal when what would break is hidden from the session.
fn unseen() -> Error {
    Error::sql(
        SqlErrorKind::Misuse,
        "cannot rename: a view or trigger you may not see refers to it (its owner must change it first)",
    )
}

fn message_of(e: &Error) -> String {
    match e {
        Error::Sql { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Refuses the rename if a view or trigger that planned under `before`
/// does not under `after`.
fn check_all_still_plan(before: &Schema, after: &Schema, sees: &dyn Fn(u32) -> bool) -> Result<()> {
    let mut views: Vec<_> = after.views.values().collect();
    views.sort_by_key(|v| v.id);
    for v in views {
        let was = before
            .view(&v.name)
            .is_some_and(|old| Planner::new(before).query(&old.query).is_ok());
        if let (true, Err(e)) = (was, Planner::new(after).query(&v.query)) {
            if !sees(v.id) {
                return Err(unseen());
            }
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("error in view {} after rename: {}", v.name, message_of(&e)),
            ));
        }
    }
    let mut triggers: Vec<_> = after.triggers.values().collect();
    triggers.sort_by_key(|t| t.id);
    for t in triggers {
        let was = before
            .triggers
            .get(&t.name.to_lowercase())
            .is_some_and(|old| {
                before
                    .table(&old.table)
                    .is_some_and(|table| trigger_uses(before, table, old, &None).is_ok())
            });
        if !was {
            continue;
        }
        let now = match after.table(&t.table) {
            Some(_) if !upsert_targets_hold(after, t) => Err(Error::sql(
                SqlErrorKind::UnknownColumn,
                "an ON CONFLICT target names no column of its table",
            )),
            Some(table) => trigger_uses(after, table, t, &None).map(|_| ()),
            None => Err(Error::sql(
                SqlErrorKind::UnknownTable,
                format!("no such table: {}", t.table),
            )),
        };
        if let Err(e) = now {
            if !after.table(&t.table).is_some_and(|x| sees(x.id)) {
                return Err(unseen());
            }
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!(
                    "error in trigger {} after rename: {}",
                    t.name,
                    message_of(&e)
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the upsert targets (`ON CONFLICT (cols)`) in `trig`'s body
/// name columns of their tables: planning does not read them (they are
/// matched to a constraint when a row conflicts), so a rename checks them
/// here.
fn upsert_targets_hold(schema: &Schema, trig: &Trigger) -> bool {
    trig.body.iter().all(|st| match st {
        Statement::Insert(ins) => match ins.upsert.as_ref().and_then(|u| u.target.as_ref()) {
            Some(cols) => schema
                .table(&ins.table)
                .is_some_and(|t| cols.iter().all(|c| t.column(c).is_some())),
            None => true,
        },
        _ => true,
    })
}

/// What a view's query uses, planned as `referrers` plans it (no
/// principal: every use is listed); `None` if it does not plan.
fn view_uses(schema: &Schema, q: &crate::syntax::ast::Query) -> Option<Vec<ObjectUse>> {
    let mut p = Planner::new(schema);
    p.query(q).ok()?;
    Some(p.take_uses())
}

/// Uses in a form that survives renames: tables and views by id, a
/// table's columns by id (a view's by name: they have no ids), policies by
/// their table's id.
fn canonical(schema: &Schema, uses: Vec<ObjectUse>) -> BTreeSet<String> {
    uses.into_iter()
        .map(|u| {
            let (object, columns) = if let Some(t) = schema.table(&u.object) {
                let cols: BTreeSet<String> = u
                    .columns
                    .iter()
                    .map(|c| match t.column(c) {
                        Some(i) => t.columns[i].id.to_string(),
                        None if ["rowid", "oid", "_rowid_"].contains(&c.as_str()) => "rowid".into(),
                        None => format!("?{c}"),
                    })
                    .collect();
                (format!("table {}", t.id), cols)
            } else if let Some(v) = schema.view(&u.object) {
                (format!("view {}", v.id), u.columns.clone())
            } else {
                (format!("name {}", u.object), u.columns.clone())
            };
            let definer = match &u.definer {
                Some(Definer::Policy(t)) => format!("policy of {:?}", schema.object_id(t)),
                other => format!("{other:?}"),
            };
            format!("{object} {:?} {columns:?} {definer}", u.privilege)
        })
        .collect()
}

/// Tokens from `from` on that are words equal to `old`.
fn candidates(tokens: &[SqlToken], old: &str, from: usize) -> Vec<usize> {
    (from..tokens.len())
        .filter(|&i| {
            tokens[i]
                .word
                .as_deref()
                .is_some_and(|w| w.eq_ignore_ascii_case(old))
        })
        .collect()
}

/// A trigger's header: where its WHEN clause or body starts, and the
/// header's tokens that name what is renamed (the table after ON; the
/// columns of UPDATE OF), renamed when the trigger is on that table.
fn trigger_header(tokens: &[SqlToken], trig: &Trigger, what: Rename<'_>) -> (usize, Vec<usize>) {
    let kw = |i: usize, k: &str| {
        tokens[i].keyword
            && tokens[i]
                .word
                .as_deref()
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
    };
    // The first ON of a CREATE TRIGGER is its `ON table` (a name spelled
    // ON would be quoted, and so no keyword).
    let Some(on) = (0..tokens.len()).find(|&i| kw(i, "ON")) else {
        return (tokens.len(), Vec::new());
    };
    // The table's name: the word after ON, or after `schema .`.
    let mut table_at = on + 1;
    if tokens.get(table_at + 1).is_some_and(|t| t.dot) {
        table_at += 2;
    }
    let body_from = table_at + 1;
    let mut fixed = Vec::new();
    match what {
        Rename::Table { old, .. }
            if trig.table.eq_ignore_ascii_case(old) && table_at < tokens.len() =>
        {
            fixed.push(table_at);
        }
        Rename::Column { table, old, .. } if trig.table.eq_ignore_ascii_case(table) => {
            if let Some(of) = (0..on).find(|&i| kw(i, "OF")) {
                fixed.extend((of + 1..on).filter(|&i| {
                    tokens[i]
                        .word
                        .as_deref()
                        .is_some_and(|w| w.eq_ignore_ascii_case(old))
                }));
            }
        }
        _ => {}
    }
    (body_from.min(tokens.len()), fixed)
}

/// The name of the column [`Pending::each_names_the_column`] adds.
const PROBE: &str = "sealdb_rename_probe_column";

/// `text` with the tokens `set` and `fixed` replaced by the new name.
fn edit(
    text: &str,
    tokens: &[SqlToken],
    set: &[usize],
    fixed: &[usize],
    what: Rename<'_>,
) -> String {
    let replaced = set
        .iter()
        .chain(fixed)
        .map(|&i| (i, what.replacement(&tokens[i])))
        .collect();
    edit_with(text, tokens, replaced)
}

/// `text` with each token `(i, by)` replaced by `by`.
fn edit_with(text: &str, tokens: &[SqlToken], mut replaced: Vec<(usize, String)>) -> String {
    replaced.sort_by_key(|r| r.0);
    replaced.dedup_by_key(|r| r.0);
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    for (i, by) in replaced {
        let t = &tokens[i];
        out.push_str(&text[last..t.start]);
        out.push_str(&by);
        last = t.end;
    }
    out.push_str(&text[last..]);
    out
}

/// The smallest subset of `cands` (fewest first, then in order) that
/// `accept` takes, tried until [`SEARCH_BUDGET`] subsets were; then the
/// greedy answer: all of them, less each one `accept` does without.
fn search(cands: &[usize], mut accept: impl FnMut(&[usize]) -> bool) -> Option<Vec<usize>> {
    let n = cands.len();
    let mut tried = 0usize;
    for size in 0..=n {
        let mut idx: Vec<usize> = (0..size).collect();
        loop {
            if tried >= SEARCH_BUDGET {
                return greedy(cands, &mut accept);
            }
            tried += 1;
            let set: Vec<usize> = idx.iter().map(|&i| cands[i]).collect();
            if accept(&set) {
                return Some(set);
            }
            // The next combination of `size` out of `n`.
            let Some(k) = (0..size).rev().find(|&k| idx[k] < n - size + k) else {
                break;
            };
            idx[k] += 1;
            for j in k + 1..size {
                idx[j] = idx[j - 1] + 1;
            }
        }
    }
    None
}

fn greedy(cands: &[usize], accept: &mut impl FnMut(&[usize]) -> bool) -> Option<Vec<usize>> {
    let mut set = cands.to_vec();
    if !accept(&set) {
        return None;
    }
    let mut i = 0;
    while i < set.len() {
        let mut fewer = set.clone();
        fewer.remove(i);
        if accept(&fewer) {
            set = fewer;
        } else {
            i += 1;
        }
    }
    Some(set)
}
