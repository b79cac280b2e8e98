//! Running steps on both engines and judging each one.
//!
//! A step is a divergence when the engines disagree on success, on the
//! rows (see `compare`), or on a data change's count of changed rows, or
//! when a logic oracle (TLP, NoREC) fails on sealdb. A statement sealdb
//! refuses as not supported is a skip: it is not run on SQLite, so the two
//! databases stay the same. A sealdb success with a different answer is
//! always a divergence.
//!
//! One disagreement on success is allowed: a query with `sum()` that one
//! engine answers and the other fails with "integer overflow". sum() adds
//! integers exactly and fails as soon as a running total leaves 64 bits,
//! so whether it fails depends on the order the rows are added in when the
//! positive (or negative) terms alone overflow but the total does not;
//! that order is the plan's (SQLite may read an index, sealdb the table),
//! which SQL leaves open. When both succeed the totals must agree (an
//! integer total that fits is the same in every order). A data change so
//! excused (a sum() in a subquery of it) is counted and ends its case: the
//! databases may differ from there on, so nothing after it is judged.
//!
//! A logic oracle (TLP) failing on sealdb is a divergence unless SQLite
//! fails it the same way: when SQLite's answers to the query and to its
//! partitions differ too (a REAL sum rounds differently when its rows are
//! added partition by partition), sealdb's partitions must equal SQLite's
//! (its whole query was already compared with SQLite's).

use std::collections::BTreeMap;

use crate::compare::{compare_rows, show_rows, QuerySpec};
use crate::engine::{Engine, Mode, Outcome, Sealdb, Sqlite, V};
use crate::gen::Step;
use crate::order;

/// Counts over a run.
#[derive(Default, Clone)]
pub struct Stats {
    /// Statements run on both engines, by kind.
    pub by_kind: BTreeMap<&'static str, u64>,
    /// Statements sealdb refused as not supported, by message.
    pub unsupported: BTreeMap<String, u64>,
    /// Statements that failed on both engines.
    pub both_failed: u64,
    /// Queries with sum() one engine answered and the other failed with
    /// "integer overflow" (see the module documentation).
    pub sum_overflow: u64,
    /// TLP checks whose query and partitions differ on SQLite too, where
    /// sealdb's partitions are SQLite's (see the module documentation).
    pub tlp_shared: u64,
    /// Cases stopped early because a table grew too large (see
    /// `run_case`).
    pub cut_short: u64,
    /// Cases stopped early because a rowid came near the largest (see
    /// `run_case`).
    pub cut_rowid: u64,
    /// Data changes with sum() that one engine completed and the other
    /// failed with "integer overflow" (each stops its case).
    pub sum_overflow_change: u64,
    /// UPDATEs whose outcome differed from SQLite's and is SQLite's own
    /// when it visits the rows in sealdb's order (see `order`).
    pub update_order: u64,
    /// DELETEs so judged.
    pub delete_order: u64,
}

impl Stats {
    /// Adds `o` into `self`.
    pub fn merge(&mut self, o: &Stats) {
        for (k, v) in &o.by_kind {
            *self.by_kind.entry(k).or_default() += v;
        }
        for (k, v) in &o.unsupported {
            *self.unsupported.entry(k.clone()).or_default() += v;
        }
        self.both_failed += o.both_failed;
        self.sum_overflow += o.sum_overflow;
        self.tlp_shared += o.tlp_shared;
        self.cut_short += o.cut_short;
        self.cut_rowid += o.cut_rowid;
        self.sum_overflow_change += o.sum_overflow_change;
        self.update_order += o.update_order;
        self.delete_order += o.delete_order;
    }

    /// Statements run.
    pub fn statements(&self) -> u64 {
        self.by_kind.values().sum()
    }

    /// Statements skipped.
    pub fn skipped(&self) -> u64 {
        self.unsupported.values().sum()
    }
}

/// The two engines of one case.
pub struct Pair {
    seal: Sealdb,
    lite: Sqlite,
    /// The most rows any query's answer held so far.
    pub most_rows: usize,
    /// The databases may differ from here on (a data change excused for
    /// a sum() overflow in one engine's row order): the case must stop.
    pub parted: bool,
}

impl Pair {
    /// Two fresh, empty databases.
    pub fn new() -> Pair {
        Pair {
            seal: Sealdb::new(),
            lite: Sqlite::new(),
            most_rows: 0,
            parted: false,
        }
    }

    /// Runs one step; `Err` describes a divergence.
    pub fn check(&mut self, step: &Step, stats: &mut Stats) -> Result<(), String> {
        *stats.by_kind.entry(step.kind()).or_default() += 1;
        match step {
            Step::Exec {
                sql,
                params,
                counts,
            } => {
                if let Some(parts) = order::split_dml(sql) {
                    if let Some(r) = self.check_dml(sql, params, *counts, None, &parts, stats) {
                        return r;
                    }
                }
                let Some((s, l)) = self.both(sql, params, Mode::Exec, stats) else {
                    return Ok(());
                };
                match (&s, &l) {
                    (Outcome::Changed(a), Outcome::Changed(b)) => {
                        if *counts && a != b {
                            return Err(format!("rows changed: sealdb {a}, SQLite {b}"));
                        }
                        Ok(())
                    }
                    _ if sum_overflow_order(sql, &s, &l) => {
                        stats.sum_overflow_change += 1;
                        self.parted = true;
                        Ok(())
                    }
                    _ => agree_on_failure(&s, &l, stats),
                }
            }
            Step::Query { sql, params, spec } => {
                if let Some(parts) = order::split_dml(sql) {
                    if let Some(r) = self.check_dml(sql, params, true, Some(spec), &parts, stats) {
                        return r;
                    }
                }
                let Some((s, l)) = self.both(sql, params, Mode::Rows, stats) else {
                    return Ok(());
                };
                // A data change with RETURNING so excused leaves the
                // databases apart.
                if step.kind() == "returning" && sum_overflow_order(sql, &s, &l) {
                    stats.sum_overflow_change += 1;
                    self.parted = true;
                    return Ok(());
                }
                same_rows(sql, &s, &l, spec, stats)
            }
            Step::Tlp { base, parts, spec } => {
                let Some((s, l)) = self.both(base, &[], Mode::Rows, stats) else {
                    return Ok(());
                };
                same_rows(base, &s, &l, spec, stats)?;
                let Outcome::Rows(whole) = s else {
                    return Ok(());
                };
                match self.seal.run(parts, &[], Mode::Rows) {
                    Outcome::Rows(split) => {
                        let Err(e) = compare_rows(&whole, &split, spec) else {
                            return Ok(());
                        };
                        // SQLite may answer the two differently too (a
                        // REAL sum rounds differently when its rows are
                        // added in partitions): then sealdb's partitions
                        // must be SQLite's.
                        if let Outcome::Rows(lite) = self.lite.run(parts, &[], Mode::Rows) {
                            if compare_rows(&lite, &whole, spec).is_err()
                                && compare_rows(&split, &lite, spec).is_ok()
                            {
                                stats.tlp_shared += 1;
                                return Ok(());
                            }
                        }
                        Err(format!(
                            "TLP: the query and the union of its partitions differ on sealdb ({e})\n  query:\n{}  partitions:\n{}",
                            show_rows(&whole, 20),
                            show_rows(&split, 20)
                        ))
                    }
                    Outcome::Unsupported(m) => {
                        *stats.unsupported.entry(m).or_default() += 1;
                        Ok(())
                    }
                    other => self.oracle_failed(parts, other, stats),
                }
            }
            Step::NoRec { opt, unopt } => {
                let Some((s, l)) = self.both(opt, &[], Mode::Rows, stats) else {
                    return Ok(());
                };
                same_rows(opt, &s, &l, &QuerySpec::default(), stats)?;
                let Outcome::Rows(counted) = s else {
                    return Ok(());
                };
                match self.seal.run(unopt, &[], Mode::Rows) {
                    Outcome::Rows(summed) => {
                        if counted == summed {
                            Ok(())
                        } else {
                            Err(format!(
                                "NoREC: WHERE counts {}, evaluating the condition on every row counts {}",
                                show_rows(&counted, 1).trim(),
                                show_rows(&summed, 1).trim()
                            ))
                        }
                    }
                    Outcome::Unsupported(m) => {
                        *stats.unsupported.entry(m).or_default() += 1;
                        Ok(())
                    }
                    other => self.oracle_failed(unopt, other, stats),
                }
            }
        }
    }

    /// An UPDATE or DELETE under the visit-order oracle (see `order`): run
    /// on both, its outcome and every table compared at once; when they
    /// differ, SQLite's replay of it in sealdb's order must give sealdb's.
    /// `spec`: a query step (RETURNING). `None`: the oracle cannot run
    /// (the statement is then checked as any other, not yet run).
    fn check_dml(
        &mut self,
        sql: &str,
        params: &[V],
        counts: bool,
        spec: Option<&QuerySpec>,
        parts: &order::DmlParts,
        stats: &mut Stats,
    ) -> Option<Result<(), String>> {
        let what = if parts.delete { "DELETE" } else { "UPDATE" };
        let keys = order::key_columns(&mut self.lite, &parts.table)?;
        let orders = order::candidates(&mut self.seal, &mut self.lite, parts, &keys, params)?;
        let exec = |e: &mut Sqlite, q: &str| e.run(q, &[], Mode::Exec);
        // SQLite's state before the statement (see `order`).
        let copy = if self.lite.is_autocommit() {
            Some(self.lite.snapshot()?)
        } else if matches!(
            exec(&mut self.lite, "SAVEPOINT difftest_order"),
            Outcome::Changed(_)
        ) {
            None
        } else {
            return None;
        };
        let release = |e: &mut Sqlite, saved: bool| {
            if saved {
                // Gone when OR ROLLBACK ended the transaction.
                let _ = e.run("RELEASE difftest_order", &[], Mode::Exec);
            }
        };
        let saved = copy.is_none();
        let mode = if spec.is_some() {
            Mode::Rows
        } else {
            Mode::Exec
        };
        let Some((s, l)) = self.both(sql, params, mode, stats) else {
            release(&mut self.lite, saved);
            return Some(Ok(()));
        };
        let same = |a: &Outcome, b: &Outcome| match (a, b, spec) {
            (Outcome::Changed(x), Outcome::Changed(y), _) => !counts || x == y,
            (Outcome::Rows(x), Outcome::Rows(y), Some(spec)) => compare_rows(x, y, spec).is_ok(),
            (Outcome::Error(_), Outcome::Error(_), _) => true,
            _ => false,
        };
        let verdict = if same(&s, &l) {
            order::same_tables(&mut self.seal, &mut self.lite)
                .map_err(|e| format!("after the {what} {e}"))
        } else {
            match (&s, &l) {
                (Outcome::Changed(a), Outcome::Changed(b)) => {
                    Err(format!("rows changed: sealdb {a}, SQLite {b}"))
                }
                (Outcome::Rows(_), Outcome::Rows(_)) => Err("different RETURNING rows".into()),
                _ => agree_on_failure(&s, &l, &mut Stats::default()),
            }
        };
        let Err(diff) = verdict else {
            if matches!((&s, &l), (Outcome::Error(_), Outcome::Error(_))) {
                stats.both_failed += 1;
            }
            release(&mut self.lite, saved);
            return Some(Ok(()));
        };
        // What SQLite's own run tells of its statement journal: an error
        // that is no constraint failure, after which its tables are not
        // as before the statement, undid nothing (see `order::Journal`).
        let own_after = match &l {
            Outcome::Error(e) if saved && !e.contains("constraint failed") => {
                order::dump_tables(&mut self.lite)
            }
            _ => None,
        };
        let mut journals = vec![order::Journal::Undone];
        if saved {
            journals.push(order::Journal::Kept);
        }
        for o in &orders {
            for &journal in &journals {
                let mut fresh = match &copy {
                    Some(c) => match c.snapshot() {
                        Some(f) => Some(f),
                        None => break,
                    },
                    None => {
                        if !matches!(
                            exec(&mut self.lite, "ROLLBACK TO difftest_order"),
                            Outcome::Changed(_)
                        ) {
                            break;
                        }
                        None
                    }
                };
                let lite = fresh.as_mut().unwrap_or(&mut self.lite);
                if journal == order::Journal::Undone
                    && own_after.is_some()
                    && order::dump_tables(lite) != own_after
                {
                    continue;
                }
                let Some(r) = order::replay(lite, parts, &keys, o, params, journal) else {
                    continue;
                };
                if same(&s, &r) && order::same_tables(&mut self.seal, lite).is_ok() {
                    if parts.delete {
                        stats.delete_order += 1;
                    } else {
                        stats.update_order += 1;
                    }
                    if let Some(f) = fresh {
                        self.lite = f;
                    }
                    release(&mut self.lite, saved);
                    return Some(Ok(()));
                }
            }
        }
        release(&mut self.lite, saved);
        if sum_overflow_order(sql, &s, &l) {
            stats.sum_overflow_change += 1;
            self.parted = true;
            return Some(Ok(()));
        }
        Some(Err(format!(
            "{diff} (and not as SQLite does it in sealdb's order of the rows)\n  sealdb: {s:?}\n  SQLite: {l:?}"
        )))
    }

    /// A logic oracle's rewritten query failed on sealdb: a divergence
    /// unless SQLite fails on it too.
    fn oracle_failed(&mut self, sql: &str, seal: Outcome, stats: &mut Stats) -> Result<(), String> {
        let lite = self.lite.run(sql, &[], Mode::Rows);
        if sum_overflow_order(sql, &seal, &lite) {
            stats.sum_overflow += 1;
            return Ok(());
        }
        agree_on_failure(&seal, &lite, stats)
            .map_err(|e| format!("oracle rewrite: {e}\n  rewrite: {sql}"))
    }

    /// Runs on sealdb, then (unless sealdb refused it) on SQLite.
    fn both(
        &mut self,
        sql: &str,
        params: &[V],
        mode: Mode,
        stats: &mut Stats,
    ) -> Option<(Outcome, Outcome)> {
        let s = self.seal.run(sql, params, mode);
        if let Outcome::Unsupported(m) = &s {
            *stats.unsupported.entry(m.clone()).or_default() += 1;
            return None;
        }
        let l = self.lite.run(sql, params, mode);
        if let Outcome::Rows(r) = &l {
            self.most_rows = self.most_rows.max(r.len());
        }
        Some((s, l))
    }

    /// Whether some rowid table's largest rowid (on SQLite) is within
    /// `margin` of the largest there is.
    pub fn rowid_near_limit(&mut self, margin: i64) -> bool {
        let Outcome::Rows(tables) = self.lite.run(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite%' AND upper(sql) NOT LIKE '%WITHOUT ROWID%'",
            &[],
            Mode::Rows,
        ) else {
            return false;
        };
        tables.iter().any(|t| {
            let Some(V::Text(name)) = t.first() else {
                return false;
            };
            matches!(
                self.lite.run(&format!("SELECT max(rowid) FROM {name}"), &[], Mode::Rows),
                Outcome::Rows(r) if matches!(r.first().and_then(|r| r.first()), Some(V::Int(m)) if *m > i64::MAX - margin)
            )
        })
    }

    /// Runs on SQLite alone (to record expected results).
    pub fn sqlite(&mut self, sql: &str, params: &[V], mode: Mode) -> Outcome {
        self.lite.run(sql, params, mode)
    }

    /// Runs on sealdb alone (to replay a regression script).
    pub fn sealdb(&mut self, sql: &str, params: &[V], mode: Mode) -> Outcome {
        self.seal.run(sql, params, mode)
    }
}

fn agree_on_failure(s: &Outcome, l: &Outcome, stats: &mut Stats) -> Result<(), String> {
    match (s, l) {
        (Outcome::Error(_), Outcome::Error(_)) => {
            stats.both_failed += 1;
            Ok(())
        }
        (Outcome::Error(e), _) => Err(format!("sealdb failed ({e}), SQLite succeeded")),
        (_, Outcome::Error(e)) => Err(format!("sealdb succeeded, SQLite failed ({e})")),
        (a, b) => Err(format!("different outcomes: sealdb {a:?}, SQLite {b:?}")),
    }
}

/// Whether `sql`'s outcomes differ only in that one engine's sum()
/// overflowed (an order the plan chose; see the module documentation).
fn sum_overflow_order(sql: &str, s: &Outcome, l: &Outcome) -> bool {
    let overflow = |o: &Outcome| matches!(o, Outcome::Error(e) if e.contains("integer overflow"));
    let rows = |o: &Outcome| matches!(o, Outcome::Rows(_) | Outcome::Changed(_));
    sql.to_ascii_lowercase().contains("sum(")
        && ((overflow(s) && rows(l)) || (rows(s) && overflow(l)))
}

fn same_rows(
    sql: &str,
    s: &Outcome,
    l: &Outcome,
    spec: &QuerySpec,
    stats: &mut Stats,
) -> Result<(), String> {
    if sum_overflow_order(sql, s, l) {
        stats.sum_overflow += 1;
        return Ok(());
    }
    match (s, l) {
        (Outcome::Rows(a), Outcome::Rows(b)) => compare_rows(a, b, spec).map_err(|e| {
            format!(
                "{e}\n  sealdb:\n{}  SQLite:\n{}",
                show_rows(a, 30),
                show_rows(b, 30)
            )
        }),
        _ => agree_on_failure(s, l, stats),
    }
}

/// Runs `steps` on two fresh databases; the first divergence as (step
/// index, description).
pub fn run_steps(steps: &[Step], stats: &mut Stats) -> Result<(), (usize, String)> {
    let mut pair = Pair::new();
    for (i, st) in steps.iter().enumerate() {
        pair.check(st, stats).map_err(|e| (i, e))?;
    }
    Ok(())
}
