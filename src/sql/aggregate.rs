//! Aggregate functions: `count`, `sum`, `total`, `avg`, `min`, `max` and
//! `group_concat`, each with an optional DISTINCT.
//!
//! An [`Aggregator`] is the running state of one aggregate over one group:
//! the executor makes one per (group, aggregate call), feeds it the
//! evaluated arguments of every row with [`Aggregator::update`], and reads
//! the result with [`Aggregator::finish`].
//!
//! ```text
//!   agg_kind("SUM", 1, false) ──▶ AggKind::Sum ──▶ Aggregator::new(kind, distinct)
//!   for each row in the group:   update(&[x])          (count(*): update(&[]))
//!   at the end of the group:     finish() ──▶ Value or Err(integer overflow)
//! ```
//!
//! Semantics are SQLite's (`func.c`, 3.43 and later for the sums):
//!
//! * Every aggregate but `count(*)` ignores rows whose (first) argument is
//!   NULL.
//! * `sum` stays INTEGER while every input is an integer (text that looks
//!   like an integer counts as one), becomes REAL once a non-integer is
//!   seen, and is NULL when no non-NULL input was seen. Integer overflow is
//!   an error at [`Aggregator::finish`] unless a non-integer input comes
//!   after it. Once REAL, the sum is compensated (Kahan-Babuska-Neumaier).
//! * `total` is the same sum as a REAL, 0.0 when empty, never an error.
//! * `avg` is that double divided by the count; NULL when empty.
//! * `min` and `max` use the sort order ([`crate::types::compare`], text
//!   under the argument's collation), keep the first of equal values, and
//!   are NULL when empty.
//! * `group_concat(x [, sep])` joins the text forms of `x`; the separator
//!   (default ",") is the one given with the row being appended, and a NULL
//!   separator adds nothing. NULL when empty; `''` when the only input is
//!   `''`.
//!
//! DISTINCT keeps the first argument of each row in a set under
//! [`crate::types::compare`] equality, text under the argument's collation
//! (so 1 and 1.0 are the same value, and '1' is another) and skips rows
//! whose value was seen before.
//!
//! Invariant: `update` and `finish` never panic; the only error from
//! `finish` is integer overflow in `sum`, and `update` fails only on a wrong
//! number of arguments.

use std::cmp::Ordering;

use crate::error::{Error, Result, SqlErrorKind};
use crate::types::{numeric_affinity_of_text, Collation, DistinctSet, OrderedValue, Value};

/// The built-in aggregate functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `count(x)`: rows where x is not NULL.
    Count,
    /// `count(*)` (or `count()`): all rows.
    CountStar,
    /// `sum(x)`.
    Sum,
    /// `total(x)`.
    Total,
    /// `avg(x)`.
    Avg,
    /// `min(x)` with one argument (with more it is a scalar function).
    Min,
    /// `max(x)` with one argument (with more it is a scalar function).
    Max,
    /// `group_concat(x)`, `group_concat(x, sep)`, `string_agg(x, sep)`.
    GroupConcat,
    /// `json_group_array(x)`; `json`: x is a JSON function's result, so it
    /// is embedded as JSON rather than quoted.
    JsonGroupArray {
        /// The argument carries the JSON mark.
        json: bool,
    },
    /// `json_group_object(name, value)`; `json` as for `JsonGroupArray`,
    /// of the value.
    JsonGroupObject {
        /// The value argument carries the JSON mark.
        json: bool,
    },
}

impl AggKind {
    /// The SQL name of this aggregate, for messages.
    pub fn name(self) -> &'static str {
        match self {
            AggKind::Count | AggKind::CountStar => "count",
            AggKind::Sum => "sum",
            AggKind::Total => "total",
            AggKind::Avg => "avg",
            AggKind::Min => "min",
            AggKind::Max => "max",
            AggKind::GroupConcat => "group_concat",
            AggKind::JsonGroupArray { .. } => "json_group_array",
            AggKind::JsonGroupObject { .. } => "json_group_object",
        }
    }

    /// Whether this is `min` or `max`, whose extreme row supplies the bare
    /// columns of its query (SQLite's documented rule).
    pub fn picks_row(self) -> bool {
        matches!(self, AggKind::Min | AggKind::Max)
    }

    /// Whether `nargs` arguments are right for this aggregate.
    fn accepts(self, nargs: usize) -> bool {
        match self {
            AggKind::CountStar => nargs == 0,
            AggKind::GroupConcat => nargs == 1 || nargs == 2,
            AggKind::JsonGroupObject { .. } => nargs == 2,
            _ => nargs == 1,
        }
    }
}

/// Which aggregate a call `name(args)` is, if any: `name` is matched
/// case-insensitively, `nargs` is the number of arguments and `star` says
/// the call was written `name(*)`. `None` means "not an aggregate" — a
/// scalar function (such as `min(a, b)`), or a misuse for the binder to
/// report.
pub fn agg_kind(name: &str, nargs: usize, star: bool) -> Option<AggKind> {
    let name = name.to_ascii_lowercase();
    if star {
        return (name == "count" && nargs == 0).then_some(AggKind::CountStar);
    }
    let kind = match name.as_str() {
        "count" if nargs == 0 => AggKind::CountStar,
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "total" => AggKind::Total,
        "avg" => AggKind::Avg,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "group_concat" => AggKind::GroupConcat,
        "string_agg" if nargs == 2 => AggKind::GroupConcat,
        "json_group_array" => AggKind::JsonGroupArray { json: false },
        "json_group_object" => AggKind::JsonGroupObject { json: false },
        _ => return None,
    };
    kind.accepts(nargs).then_some(kind)
}

impl AggKind {
    /// This kind, noting for the JSON aggregates whether their value
    /// argument (the last of `args`) is a JSON function's result.
    pub fn marking_json(self, args: &[crate::syntax::ast::Expr]) -> AggKind {
        let json = args
            .last()
            .is_some_and(crate::sql::functions::is_json_result);
        match self {
            AggKind::JsonGroupArray { .. } => AggKind::JsonGroupArray { json },
            AggKind::JsonGroupObject { .. } => AggKind::JsonGroupObject { json },
            other => other,
        }
    }
}

/// The running sum shared by `sum`, `total` and `avg` (SQLite's `SumCtx`):
/// an exact integer sum until a non-integer input or an overflow, then a
/// Kahan-Babuska-Neumaier compensated double sum (SQLite 3.43 and later).
#[derive(Clone, Debug, Default)]
struct Sum {
    /// Non-NULL inputs seen.
    count: i64,
    /// Exact integer sum, valid while not `approx`.
    int_sum: i64,
    /// The compensated sum: `real_sum + real_err`.
    real_sum: f64,
    real_err: f64,
    /// The sum is a double (a non-integer input was seen, or the integer
    /// sum overflowed).
    approx: bool,
    /// The integer sum overflowed and no non-integer came after.
    overflow: bool,
}

/// Integers this large lose bits as a double: added in two parts.
const BIG: i64 = 4_503_599_627_370_496;

impl Sum {
    fn kbn_step(&mut self, r: f64) {
        let s = self.real_sum;
        let t = s + r;
        if s.abs() > r.abs() {
            self.real_err += (s - t) + r;
        } else {
            self.real_err += (r - t) + s;
        }
        self.real_sum = t;
    }

    fn kbn_step_int(&mut self, i: i64) {
        if !(-BIG < i && i < BIG) {
            let small = i % 16384;
            self.kbn_step((i - small) as f64);
            self.kbn_step(small as f64);
        } else {
            self.kbn_step(i as f64);
        }
    }

    fn kbn_init(&mut self, i: i64) {
        if !(-BIG < i && i < BIG) {
            let small = i % 16384;
            self.real_sum = (i - small) as f64;
            self.real_err = small as f64;
        } else {
            self.real_sum = i as f64;
            self.real_err = 0.0;
        }
    }

    /// The double value of the sum (`total`, `avg`, a non-integer `sum`).
    fn as_real(&self) -> f64 {
        if self.approx {
            if self.real_err.is_finite() {
                self.real_sum + self.real_err
            } else {
                self.real_sum
            }
        } else {
            self.int_sum as f64
        }
    }

    fn add(&mut self, v: &Value) {
        // sqlite3_value_numeric_type: text that is a well-formed integer
        // counts as an integer; any other text or blob counts as a REAL
        // holding its numeric prefix.
        let integer = match v {
            Value::Null => return,
            Value::Integer(i) => Some(*i),
            Value::Text(s) => match numeric_affinity_of_text(s, false) {
                Some(Value::Integer(i)) => Some(i),
                _ => None,
            },
            Value::Real(_) | Value::Blob(_) => None,
        };
        self.count = self.count.saturating_add(1);
        match (self.approx, integer) {
            (false, Some(i)) => match self.int_sum.checked_add(i) {
                Some(s) => self.int_sum = s,
                None => {
                    self.overflow = true;
                    self.kbn_init(self.int_sum);
                    self.approx = true;
                    self.kbn_step_int(i);
                }
            },
            (false, None) => {
                self.kbn_init(self.int_sum);
                self.approx = true;
                self.kbn_step(v.to_f64());
            }
            (true, Some(i)) => self.kbn_step_int(i),
            (true, None) => {
                // A non-integer after an overflow makes the sum a plain
                // double (SQLite 3.43+).
                self.overflow = false;
                self.kbn_step(v.to_f64());
            }
        }
    }
}

impl Sum {
    /// Takes `v` back out of the sum (SQLite's `sumInverse`, for a
    /// window frame's leaving row): exact while the sum is an integer,
    /// else compensated; an integer underflow makes it a double that
    /// reports overflow, as a step's overflow does.
    fn remove(&mut self, v: &Value) {
        let integer = match v {
            Value::Null => return,
            Value::Integer(i) => Some(*i),
            Value::Text(s) => match numeric_affinity_of_text(s, false) {
                Some(Value::Integer(i)) => Some(i),
                _ => None,
            },
            Value::Real(_) | Value::Blob(_) => None,
        };
        self.count = self.count.saturating_sub(1);
        if !self.approx {
            match self.int_sum.checked_sub(v.to_i64()) {
                Some(s) => {
                    self.int_sum = s;
                    return;
                }
                None => {
                    self.overflow = true;
                    self.approx = true;
                    self.kbn_init(self.int_sum);
                }
            }
        }
        match integer {
            Some(i) if i != i64::MIN => self.kbn_step_int(-i),
            Some(_) => {
                self.kbn_step_int(i64::MAX);
                self.kbn_step_int(1);
            }
            None => self.kbn_step(-v.to_f64()),
        }
    }
}

/// The per-kind state of an aggregate.
#[derive(Clone, Debug)]
enum State {
    Count(i64),
    Sum(Sum),
    Best(Option<Value>),
    Concat(Option<String>),
    /// The JSON text so far, without its closing bracket.
    Json(Option<String>),
}

/// The running state of one aggregate call over one group.
#[derive(Clone, Debug)]
pub struct Aggregator {
    kind: AggKind,
    /// Values of the first argument seen so far, when DISTINCT.
    distinct: Option<DistinctSet>,
    state: State,
    /// `min`/`max`: whether the last row fed holds the extreme so far (or
    /// no value was seen yet), so that bare columns read that row.
    took_last: bool,
    /// The collation `min`/`max` compare text under and DISTINCT tells
    /// equal values by.
    coll: Collation,
}

impl Aggregator {
    /// A fresh aggregate of `kind`; `distinct` for `kind(DISTINCT x)`
    /// (ignored for `count(*)`, which has no argument).
    pub fn new(kind: AggKind, distinct: bool) -> Self {
        let state = match kind {
            AggKind::Count | AggKind::CountStar => State::Count(0),
            AggKind::Sum | AggKind::Total | AggKind::Avg => State::Sum(Sum::default()),
            AggKind::Min | AggKind::Max => State::Best(None),
            AggKind::GroupConcat => State::Concat(None),
            AggKind::JsonGroupArray { .. } | AggKind::JsonGroupObject { .. } => State::Json(None),
        };
        let distinct = (distinct && kind != AggKind::CountStar).then(DistinctSet::new);
        Aggregator {
            kind,
            distinct,
            state,
            took_last: false,
            coll: Collation::Binary,
        }
    }

    /// The same aggregate comparing text under `coll` (the collation of
    /// its argument): for `min`, `max` and DISTINCT.
    pub fn with_collation(mut self, coll: Collation) -> Self {
        self.coll = coll;
        self
    }

    /// For `min`/`max`: whether the row last fed to [`Self::update`] is the
    /// one bare columns should come from: it set a new extreme (ties keep
    /// the earlier row), or it was NULL while no value had been seen yet.
    /// As SQLite's `minmaxStep` and its accumulator "magnet".
    pub fn took_last_row(&self) -> bool {
        self.took_last
    }

    /// Notes a row its FILTER kept out: it is not fed, and so is not the
    /// row bare columns come from.
    pub fn skip_row(&mut self) {
        self.took_last = false;
    }

    /// Which aggregate this is.
    pub fn kind(&self) -> AggKind {
        self.kind
    }

    /// Feeds one row's evaluated arguments: `[]` for `count(*)`, `[x]` for
    /// the others, `[x]` or `[x, sep]` for `group_concat`. A wrong number of
    /// arguments is a [`SqlErrorKind::Misuse`] error.
    pub fn update(&mut self, args: &[Value]) -> Result<()> {
        self.update_marked(args, false)
    }

    /// [`Self::update`] where `json` says this row's value argument of a
    /// JSON aggregate carries the JSON mark (known only as the row is read:
    /// a `json_each` value that is an array, a `json_extract` of one).
    pub fn update_marked(&mut self, args: &[Value], json: bool) -> Result<()> {
        if !self.kind.accepts(args.len()) {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                format!(
                    "wrong number of arguments to function {}()",
                    self.kind.name()
                ),
            ));
        }
        let Some(x) = args.first() else {
            // count(*): every row counts.
            if let State::Count(n) = &mut self.state {
                *n = n.saturating_add(1);
            }
            return Ok(());
        };
        if let State::Json(acc) = &mut self.state {
            // NULL values are kept (as null); NULL labels are skipped.
            if let Some(seen) = &mut self.distinct {
                if !seen.insert(OrderedValue(x.clone())) {
                    return Ok(());
                }
            }
            return match self.kind {
                AggKind::JsonGroupObject { json: fixed } => {
                    let json = fixed || json;
                    let Some(label) = x.to_text() else {
                        return Ok(());
                    };
                    let s = acc.get_or_insert_with(|| "{".to_string());
                    if s.len() > 1 {
                        s.push(',');
                    }
                    crate::sql::functions::json::node::quote_string(s, &label);
                    s.push(':');
                    let v = args.get(1).unwrap_or(&Value::Null);
                    crate::sql::functions::json::append_sql_value(s, v, json)
                }
                AggKind::JsonGroupArray { json: fixed } => {
                    let json = fixed || json;
                    let s = acc.get_or_insert_with(|| "[".to_string());
                    if s.len() > 1 {
                        s.push(',');
                    }
                    crate::sql::functions::json::append_sql_value(s, x, json)
                }
                _ => Ok(()),
            };
        }
        if x.is_null() {
            self.took_last = matches!(self.state, State::Best(None));
            return Ok(());
        }
        if let Some(seen) = &mut self.distinct {
            if !seen.insert(OrderedValue(self.coll.fold_value(x).into_owned())) {
                self.took_last = false;
                return Ok(());
            }
        }
        match &mut self.state {
            State::Count(n) => *n = n.saturating_add(1),
            State::Sum(sum) => sum.add(x),
            State::Best(best) => {
                let replace = match best {
                    None => true,
                    Some(b) => {
                        let ord = self.coll.compare(b, x);
                        if self.kind == AggKind::Max {
                            ord == Ordering::Less
                        } else {
                            ord == Ordering::Greater
                        }
                    }
                };
                if replace {
                    *best = Some(x.clone());
                }
                self.took_last = replace;
            }
            State::Json(_) => {}
            State::Concat(acc) => {
                let text = x.to_text().unwrap_or_default();
                match acc {
                    None => *acc = Some(text),
                    Some(s) => {
                        match args.get(1) {
                            None => s.push(','),
                            Some(sep) => {
                                if let Some(sep) = sep.to_text() {
                                    s.push_str(&sep);
                                }
                            }
                        }
                        s.push_str(&text);
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes one row's arguments back out (a window frame's leaving row,
    /// fed before by [`Self::update`]): for `count` and the sums only
    /// (SQLite's `xInverse`); the other kinds are a misuse error.
    pub fn inverse(&mut self, args: &[Value]) -> Result<()> {
        match (&mut self.state, args.first()) {
            (State::Count(n), None) if self.kind == AggKind::CountStar => {
                *n = n.saturating_sub(1);
            }
            (State::Count(n), Some(x)) if self.kind == AggKind::Count => {
                if !x.is_null() {
                    *n = n.saturating_sub(1);
                }
            }
            (State::Sum(sum), Some(x)) => sum.remove(x),
            _ => {
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!("{}() cannot take a row back out", self.kind.name()),
                ))
            }
        }
        Ok(())
    }

    /// The aggregate's value over the rows fed so far. Can be called more
    /// than once (e.g. for window-like uses); it does not consume the state.
    /// The only error is `sum` overflowing the integer range
    /// ([`SqlErrorKind::Overflow`], "integer overflow").
    pub fn finish(&self) -> Result<Value> {
        Ok(match &self.state {
            State::Count(n) => Value::Integer(*n),
            State::Sum(sum) => match self.kind {
                AggKind::Total => Value::real(sum.as_real()),
                AggKind::Avg if sum.count > 0 => Value::real(sum.as_real() / sum.count as f64),
                AggKind::Avg => Value::Null,
                _ if sum.count == 0 => Value::Null,
                _ if sum.overflow => {
                    return Err(Error::sql(SqlErrorKind::Overflow, "integer overflow"));
                }
                _ if sum.approx => Value::real(sum.as_real()),
                _ => Value::Integer(sum.int_sum),
            },
            State::Best(best) => best.clone().unwrap_or(Value::Null),
            State::Concat(acc) => acc.clone().map_or(Value::Null, Value::Text),
            State::Json(acc) => {
                let object = matches!(self.kind, AggKind::JsonGroupObject { .. });
                let mut s = acc
                    .clone()
                    .unwrap_or_else(|| if object { "{" } else { "[" }.to_string());
                s.push(if object { '}' } else { ']' });
                Value::Text(s)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2^63 as a double (the nearest double to i64::MAX).
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;

    fn i(v: i64) -> Value {
        Value::Integer(v)
    }
    fn r(v: f64) -> Value {
        Value::Real(v)
    }
    fn t(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
    fn b(v: &[u8]) -> Value {
        Value::Blob(v.to_vec())
    }
    const N: Value = Value::Null;

    /// Runs `kind` over one-argument rows.
    fn run(kind: AggKind, distinct: bool, rows: &[Value]) -> Result<Value> {
        let mut agg = Aggregator::new(kind, distinct);
        for row in rows {
            agg.update(std::slice::from_ref(row))?;
        }
        agg.finish()
    }

    fn ok(kind: AggKind, rows: &[Value]) -> Value {
        run(kind, false, rows).unwrap_or_else(|e| panic!("{kind:?}: {e}"))
    }

    fn is_overflow(res: Result<Value>) -> bool {
        matches!(
            res,
            Err(Error::Sql {
                kind: SqlErrorKind::Overflow,
                ..
            })
        )
    }

    #[test]
    fn kinds_by_name_and_arity() {
        assert_eq!(agg_kind("count", 0, true), Some(AggKind::CountStar));
        assert_eq!(agg_kind("COUNT", 0, false), Some(AggKind::CountStar));
        assert_eq!(agg_kind("Count", 1, false), Some(AggKind::Count));
        assert_eq!(agg_kind("count", 2, false), None);
        assert_eq!(agg_kind("sum", 0, true), None);
        assert_eq!(agg_kind("sum", 1, false), Some(AggKind::Sum));
        assert_eq!(agg_kind("total", 1, false), Some(AggKind::Total));
        assert_eq!(agg_kind("AVG", 1, false), Some(AggKind::Avg));
        assert_eq!(agg_kind("min", 1, false), Some(AggKind::Min));
        assert_eq!(agg_kind("max", 1, false), Some(AggKind::Max));
        assert_eq!(
            agg_kind("max", 2, false),
            None,
            "max(a, b) is the scalar function"
        );
        assert_eq!(
            agg_kind("group_concat", 1, false),
            Some(AggKind::GroupConcat)
        );
        assert_eq!(
            agg_kind("group_concat", 2, false),
            Some(AggKind::GroupConcat)
        );
        assert_eq!(agg_kind("group_concat", 3, false), None);
        assert_eq!(agg_kind("abs", 1, false), None);
        assert_eq!(agg_kind("sum", 2, false), None);
    }

    #[test]
    fn count_and_count_star() {
        let rows = [N, i(1), t(""), N, r(0.0)];
        assert_eq!(ok(AggKind::Count, &rows), i(3));
        let mut star = Aggregator::new(AggKind::CountStar, false);
        for _ in 0..5 {
            assert!(star.update(&[]).is_ok());
        }
        assert_eq!(star.finish().ok(), Some(i(5)));
        assert_eq!(ok(AggKind::Count, &[]), i(0));
        assert_eq!(
            Aggregator::new(AggKind::CountStar, false).finish().ok(),
            Some(i(0))
        );
    }

    #[test]
    fn empty_and_all_null_groups() {
        for rows in [&[][..], &[N, N][..]] {
            assert_eq!(ok(AggKind::Sum, rows), N);
            assert_eq!(ok(AggKind::Total, rows), r(0.0));
            assert_eq!(ok(AggKind::Avg, rows), N);
            assert_eq!(ok(AggKind::Min, rows), N);
            assert_eq!(ok(AggKind::Max, rows), N);
            assert_eq!(ok(AggKind::GroupConcat, rows), N);
            assert_eq!(ok(AggKind::Count, rows), i(0));
        }
    }

    #[test]
    fn sum_types() {
        assert_eq!(ok(AggKind::Sum, &[i(1), i(2), N, i(3)]), i(6));
        assert_eq!(ok(AggKind::Sum, &[i(1), r(2.5)]), r(3.5));
        assert_eq!(ok(AggKind::Sum, &[r(1.0), r(2.0)]), r(3.0));
        assert_eq!(ok(AggKind::Sum, &[t("12")]), i(12));
        assert_eq!(ok(AggKind::Sum, &[t(" 12 "), i(1)]), i(13));
        assert_eq!(ok(AggKind::Sum, &[t("1.5")]), r(1.5));
        assert_eq!(ok(AggKind::Sum, &[t("abc")]), r(0.0));
        assert_eq!(ok(AggKind::Sum, &[t("12abc")]), r(12.0));
        assert_eq!(ok(AggKind::Sum, &[b(b"12")]), r(12.0));
        assert_eq!(ok(AggKind::Total, &[i(1), i(2)]), r(3.0));
        assert_eq!(ok(AggKind::Avg, &[i(1), i(2)]), r(1.5));
        assert_eq!(ok(AggKind::Avg, &[t("abc")]), r(0.0));
        assert_eq!(ok(AggKind::Avg, &[t("12")]), r(12.0));
        // Compensated summation, as SQLite 3.43+.
        assert_eq!(ok(AggKind::Sum, &[r(1e16), r(1.0), r(-1e16)]), r(1.0));
        // inf + -inf is NaN, which is NULL.
        assert_eq!(
            ok(AggKind::Sum, &[r(f64::INFINITY), r(f64::NEG_INFINITY)]),
            N
        );
    }

    #[test]
    fn sum_overflow() {
        assert!(is_overflow(run(AggKind::Sum, false, &[i(i64::MAX), i(1)])));
        assert!(is_overflow(run(AggKind::Sum, false, &[i(i64::MIN), i(-1)])));
        // Overflow first, then a real: a double (SQLite 3.43+).
        assert_eq!(
            ok(AggKind::Sum, &[i(i64::MAX), i(1), r(1.5)]),
            r(TWO_63 + 1.5)
        );
        // A real first: the sum is approximate and cannot overflow.
        assert_eq!(ok(AggKind::Sum, &[r(1.5), i(i64::MAX), i(1)]), r(TWO_63));
        // Going out of range and back in is still an overflow.
        assert!(is_overflow(run(
            AggKind::Sum,
            false,
            &[i(i64::MAX), i(1), i(-1)]
        )));
        assert_eq!(ok(AggKind::Sum, &[i(i64::MAX), i(-1), i(1)]), i(i64::MAX));
        // total and avg never fail.
        assert_eq!(ok(AggKind::Total, &[i(i64::MAX), i(1)]), r(TWO_63));
        assert_eq!(
            ok(AggKind::Avg, &[i(i64::MAX), i(1)]),
            r(4.611686018427388e18)
        );
    }

    #[test]
    fn min_and_max() {
        let rows = [i(3), N, r(1.5), t("a"), b(&[0]), i(-7)];
        assert_eq!(ok(AggKind::Min, &rows), i(-7));
        assert_eq!(ok(AggKind::Max, &rows), b(&[0]));
        // The first of equal values wins.
        assert_eq!(ok(AggKind::Min, &[i(1), r(1.0)]), i(1));
        assert_eq!(ok(AggKind::Max, &[i(1), r(1.0)]), i(1));
        assert_eq!(ok(AggKind::Min, &[r(1.0), i(1)]), r(1.0));
        assert_eq!(ok(AggKind::Max, &[t("b"), t("B"), t("a")]), t("b"));
        assert_eq!(ok(AggKind::Max, &[i(i64::MAX), r(TWO_63)]), r(TWO_63));
    }

    #[test]
    fn min_max_report_the_row_holding_the_extreme() {
        let mut max = Aggregator::new(AggKind::Max, false);
        let mut took = Vec::new();
        for v in [N, N, i(3), i(1), i(3), N, i(7)] {
            max.update(std::slice::from_ref(&v)).expect("update");
            took.push(max.took_last_row());
        }
        // NULLs before any value, the first 3 (not the tie), then 7.
        assert_eq!(took, [true, true, true, false, false, false, true]);
        assert!(AggKind::Max.picks_row() && AggKind::Min.picks_row());
        assert!(!AggKind::Sum.picks_row());
    }

    #[test]
    fn group_concat_default_and_custom_separators() {
        assert_eq!(
            ok(AggKind::GroupConcat, &[t("a"), N, i(1), r(2.5), b(b"B")]),
            t("a,1,2.5,B")
        );
        assert_eq!(ok(AggKind::GroupConcat, &[t("")]), t(""));
        assert_eq!(ok(AggKind::GroupConcat, &[t(""), t("")]), t(","));
        let mut agg = Aggregator::new(AggKind::GroupConcat, false);
        for (x, sep) in [
            (t("a"), t("-")),
            (t("b"), N),
            (t("c"), t("+")),
            (N, t("!")),
            (i(4), t("")),
        ] {
            assert!(agg.update(&[x, sep]).is_ok());
        }
        // The separator comes with the row it precedes; NULL adds nothing.
        assert_eq!(agg.finish().ok(), Some(t("ab+c4")));
    }

    #[test]
    fn distinct_uses_compare_equality() {
        let rows = [i(1), r(1.0), t("1"), N, i(2), i(2)];
        assert_eq!(run(AggKind::Count, true, &rows).ok(), Some(i(3)));
        assert_eq!(run(AggKind::Sum, true, &rows).ok(), Some(i(4)));
        assert_eq!(
            run(AggKind::GroupConcat, true, &rows).ok(),
            Some(t("1,1,2"))
        );
        assert_eq!(
            run(AggKind::Avg, true, &[i(1), i(1), i(3)]).ok(),
            Some(r(2.0))
        );
        assert_eq!(
            run(AggKind::Total, true, &[r(0.5), r(0.5)]).ok(),
            Some(r(0.5))
        );
        assert_eq!(run(AggKind::Min, true, &[i(2), i(2)]).ok(), Some(i(2)));
        // Duplicates that would overflow are skipped under DISTINCT.
        assert_eq!(
            run(AggKind::Sum, true, &[i(i64::MAX), i(i64::MAX)]).ok(),
            Some(i(i64::MAX))
        );
        // DISTINCT dedups on the first argument only.
        let mut agg = Aggregator::new(AggKind::GroupConcat, true);
        for (x, sep) in [(t("a"), t(";")), (t("a"), t("|")), (t("b"), t("|"))] {
            assert!(agg.update(&[x, sep]).is_ok());
        }
        assert_eq!(agg.finish().ok(), Some(t("a|b")));
        // count(*) has no argument to be distinct on.
        let mut star = Aggregator::new(AggKind::CountStar, true);
        assert!(star.update(&[]).is_ok());
        assert!(star.update(&[]).is_ok());
        assert_eq!(star.finish().ok(), Some(i(2)));
    }

    #[test]
    fn wrong_argument_counts_are_errors() {
        let mut agg = Aggregator::new(AggKind::Sum, false);
        assert!(matches!(
            agg.update(&[]),
            Err(Error::Sql {
                kind: SqlErrorKind::Misuse,
                ..
            })
        ));
        assert!(agg.update(&[i(1), i(2)]).is_err());
        let mut star = Aggregator::new(AggKind::CountStar, false);
        assert!(star.update(&[i(1)]).is_err());
        let mut gc = Aggregator::new(AggKind::GroupConcat, false);
        assert!(gc.update(&[t("a"), t(","), t("x")]).is_err());
        assert_eq!(agg.finish().ok(), Some(N));
    }

    #[test]
    fn finish_is_repeatable() {
        let mut agg = Aggregator::new(AggKind::Sum, false);
        assert!(agg.update(&[i(2)]).is_ok());
        assert_eq!(agg.finish().ok(), Some(i(2)));
        assert!(agg.update(&[i(3)]).is_ok());
        assert_eq!(agg.finish().ok(), Some(i(5)));
        assert_eq!(agg.kind(), AggKind::Sum);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn small_or_huge() -> impl Strategy<Value = i64> {
            prop_oneof![-1000i64..1000, any::<i64>(), Just(i64::MAX), Just(i64::MIN)]
        }

        proptest! {
            #[test]
            fn integer_sum_is_exact_or_overflows(xs in proptest::collection::vec(small_or_huge(), 0..8)) {
                let rows: Vec<Value> = xs.iter().map(|&x| Value::Integer(x)).collect();
                // Oracle: prefix sums in i128; overflow iff one leaves the i64 range.
                let mut acc: i128 = 0;
                let mut overflowed = false;
                for &x in &xs {
                    acc += i128::from(x);
                    overflowed |= i64::try_from(acc).is_err();
                }
                let got = run(AggKind::Sum, false, &rows);
                if xs.is_empty() {
                    prop_assert_eq!(got.ok(), Some(Value::Null));
                } else if overflowed {
                    prop_assert!(is_overflow(got));
                } else {
                    prop_assert_eq!(got.ok(), Some(Value::Integer(i64::try_from(acc).unwrap_or(0))));
                }
                let count = run(AggKind::Count, false, &rows).ok();
                prop_assert_eq!(count, Some(Value::Integer(i64::try_from(xs.len()).unwrap_or(0))));
                let max = run(AggKind::Max, false, &rows).ok();
                prop_assert_eq!(max, Some(xs.iter().max().map_or(Value::Null, |&m| Value::Integer(m))));
                let min = run(AggKind::Min, false, &rows).ok();
                prop_assert_eq!(min, Some(xs.iter().min().map_or(Value::Null, |&m| Value::Integer(m))));
            }

            #[test]
            fn distinct_count_matches_a_set(xs in proptest::collection::vec(-5i64..5, 0..12)) {
                // Mix integers and equal reals: DISTINCT must treat 2 and 2.0 as one.
                let rows: Vec<Value> = xs
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| if k % 2 == 0 { Value::Integer(x) } else { Value::Real(x as f64) })
                    .collect();
                let distinct: std::collections::BTreeSet<i64> = xs.iter().copied().collect();
                let want = i64::try_from(distinct.len()).unwrap_or(0);
                prop_assert_eq!(run(AggKind::Count, true, &rows).ok(), Some(Value::Integer(want)));
            }
        }
    }
}
