//! SQLite's typing of expressions: the affinity and the collating
//! sequence of an expression, and from the two operands of a comparison
//! the rule it compares by (datatype3.html §4.2 and §7.1, ported from
//! `sqlite3ExprAffinity`, `sqlite3ExprCollSeq`, `sqlite3CompareAffinity`
//! and `sqlite3BinaryCompareCollSeq`).
//!
//! ```text
//!   expression            affinity              collation
//!   column                the column's          the column's (BINARY default)
//!   CAST(x AS t)          t's                   x's
//!   x COLLATE c           x's                   c, explicit
//!   +x                    none                  x's
//!   (SELECT x ...)        x's                   none
//!   anything else         none                  its first operand with an
//!                                               explicit COLLATE, else none
//!
//!   a <op> b              affinity: both have one → NUMERIC if either is
//!                         numeric, else none; one has one → that one
//!                         collation: a's if explicit, else b's if explicit,
//!                         else a's, else b's, else BINARY
//! ```
//!
//! `x IN (list)` compares under x's affinity and collation; `x IN
//! (SELECT y ...)` as `x = y`; `x BETWEEN a AND b` as `x >= a AND x <= b`;
//! `CASE x WHEN y` as `x = y`.

use std::cmp::Ordering;

use crate::types::{
    apply_comparison_affinity, comparison_affinity, Affinity, CastType, Collation, Value,
};

/// What SQLite's typing rules know of a bound expression.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExprType {
    /// Its affinity (`None`: no affinity).
    pub aff: Option<Affinity>,
    /// Its collating sequence, if it defines one.
    pub coll: Option<Collation>,
    /// An explicit COLLATE is in it, outside subqueries (SQLite's
    /// `EP_Collate`).
    pub explicit: bool,
}

impl ExprType {
    /// A column of affinity `aff` and collation `coll`.
    pub fn column(aff: Option<Affinity>, coll: Option<Collation>) -> ExprType {
        ExprType {
            aff,
            coll,
            explicit: false,
        }
    }

    /// An operator or function over `parts` (in SQLite's operand order):
    /// no affinity, and the collation of the first part holding an
    /// explicit COLLATE, if any.
    pub fn combine(parts: &[ExprType]) -> ExprType {
        match parts.iter().find(|p| p.explicit) {
            Some(p) => ExprType {
                aff: None,
                coll: p.coll,
                explicit: true,
            },
            None => ExprType::default(),
        }
    }
}

/// How two values are compared: the comparison affinity applied to both
/// operands first (none: compared as they are), then the collating
/// sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CmpRule {
    /// Comparison affinity (`Some(Blob)` changes nothing, like `None`).
    pub aff: Option<Affinity>,
    /// Collating sequence.
    pub coll: Collation,
}

impl CmpRule {
    /// The rule of `l <op> r`.
    pub fn between(l: &ExprType, r: &ExprType) -> CmpRule {
        CmpRule {
            aff: comparison_affinity(l.aff, r.aff),
            coll: compare_collation(l, r),
        }
    }

    /// `a` and `b` compared under this rule: `None` when either is NULL.
    pub fn cmp(&self, a: &Value, b: &Value) -> Option<Ordering> {
        match self.aff {
            Some(aff) if needs_conversion(a, aff) || needs_conversion(b, aff) => {
                let a = apply_comparison_affinity(a.clone(), aff);
                let b = apply_comparison_affinity(b.clone(), aff);
                self.coll.sql_cmp(&a, &b)
            }
            _ => self.coll.sql_cmp(a, b),
        }
    }

    /// `a IS b` under this rule.
    pub fn is(&self, a: &Value, b: &Value) -> bool {
        match (a.is_null(), b.is_null()) {
            (true, true) => true,
            (false, false) => self.cmp(a, b) == Some(Ordering::Equal),
            _ => false,
        }
    }

    /// Whether an index column of affinity `col` can serve a comparison
    /// under this rule (SQLite's `sqlite3IndexAffinityOk`): the stored
    /// keys must be what the comparison converts the column's values to.
    pub fn index_affinity_ok(&self, col: Affinity) -> bool {
        match self.aff {
            None | Some(Affinity::Blob) => true,
            Some(Affinity::Text) => col == Affinity::Text,
            Some(_) => col.is_numeric(),
        }
    }

    /// The value an index probe looks for when the comparison's other
    /// operand is `v`: `v` under the comparison affinity.
    pub fn probe_value(&self, v: Value) -> Value {
        match self.aff {
            Some(aff) => apply_comparison_affinity(v, aff),
            None => v,
        }
    }
}

/// Whether comparison affinity `aff` changes `v`: text under a numeric
/// affinity, a number under TEXT.
fn needs_conversion(v: &Value, aff: Affinity) -> bool {
    match v {
        Value::Text(_) => aff.is_numeric(),
        Value::Integer(_) | Value::Real(_) => aff == Affinity::Text,
        _ => false,
    }
}

/// The collating sequence of `l <op> r` (`sqlite3BinaryCompareCollSeq`).
pub fn compare_collation(l: &ExprType, r: &ExprType) -> Collation {
    let c = if l.explicit {
        l.coll
    } else if r.explicit {
        r.coll
    } else {
        l.coll.or(r.coll)
    };
    c.unwrap_or_default()
}

/// The collating sequence a function that compares its arguments uses
/// (`min`, `max`, `nullif`, the aggregates' DISTINCT): that of its first
/// argument defining one, else BINARY.
pub fn function_collation(args: &[ExprType]) -> Collation {
    args.iter().find_map(|t| t.coll).unwrap_or_default()
}

/// The affinity of `CAST(x AS t)`.
pub fn cast_affinity(t: CastType) -> Affinity {
    match t {
        CastType::Integer => Affinity::Integer,
        CastType::Real => Affinity::Real,
        CastType::Text => Affinity::Text,
        CastType::Blob => Affinity::Blob,
        CastType::Numeric => Affinity::Numeric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(aff: Affinity, coll: Collation) -> ExprType {
        ExprType::column(Some(aff), Some(coll))
    }

    #[test]
    fn comparison_rules() {
        let lit = ExprType::default();
        let int_col = col(Affinity::Integer, Collation::Binary);
        let text_nocase = col(Affinity::Text, Collation::NoCase);
        let blob_col = col(Affinity::Blob, Collation::Binary);
        // One column: its affinity and collation.
        let r = CmpRule::between(&lit, &int_col);
        assert_eq!(
            (r.aff, r.coll),
            (Some(Affinity::Integer), Collation::Binary)
        );
        let r = CmpRule::between(&text_nocase, &lit);
        assert_eq!((r.aff, r.coll), (Some(Affinity::Text), Collation::NoCase));
        // Two columns: NUMERIC if either is numeric; the left collation.
        let r = CmpRule::between(&blob_col, &int_col);
        assert_eq!(r.aff, Some(Affinity::Numeric));
        let r = CmpRule::between(&int_col, &text_nocase);
        assert_eq!(
            (r.aff, r.coll),
            (Some(Affinity::Numeric), Collation::Binary)
        );
        let r = CmpRule::between(&text_nocase, &blob_col);
        assert_eq!((r.aff, r.coll), (None, Collation::NoCase));
        // An explicit COLLATE on the right wins over the left column's.
        let explicit = ExprType {
            aff: None,
            coll: Some(Collation::Rtrim),
            explicit: true,
        };
        assert_eq!(
            CmpRule::between(&text_nocase, &explicit).coll,
            Collation::Rtrim
        );
        assert_eq!(
            ExprType::combine(&[lit, explicit]).coll,
            Some(Collation::Rtrim)
        );
        assert_eq!(ExprType::combine(&[text_nocase, lit]).coll, None);
    }

    #[test]
    fn comparing_under_a_rule() {
        let t = |s: &str| Value::Text(s.to_string());
        let numeric = CmpRule {
            aff: Some(Affinity::Integer),
            coll: Collation::Binary,
        };
        assert_eq!(
            numeric.cmp(&Value::Integer(5), &t("5")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            numeric.cmp(&Value::Integer(5), &t("x")),
            Some(Ordering::Less)
        );
        let text = CmpRule {
            aff: Some(Affinity::Text),
            coll: Collation::NoCase,
        };
        assert_eq!(
            text.cmp(&t("10"), &Value::Integer(10)),
            Some(Ordering::Equal)
        );
        assert_eq!(text.cmp(&t("A"), &t("a")), Some(Ordering::Equal));
        assert!(text.is(&Value::Null, &Value::Null));
        assert_eq!(
            CmpRule::default().cmp(&Value::Integer(1), &t("1")),
            Some(Ordering::Less)
        );
    }
}

/// Lists at least this long of constants are looked up in an [`InSet`].
pub const IN_SET_MIN: usize = 16;

/// The constants of a long `x IN (c1, c2, ...)`, as the comparison sees
/// them (each under the rule's affinity) and sorted under its collation:
/// a row's value, converted the same way, is found by binary search
/// instead of being compared with every item. Same answers as comparing
/// one by one, because [`CmpRule::cmp`] is the collation's order of the
/// two converted values (converting a value that needs no conversion
/// leaves it as it is) and that order is total.
#[derive(Debug)]
pub struct InSet {
    sorted: Vec<Value>,
    has_null: bool,
    rule: CmpRule,
}

impl InSet {
    /// The set of `items` under `rule`, if there are at least
    /// [`IN_SET_MIN`] of them and each is a constant.
    pub fn of<'a>(
        items: impl ExactSizeIterator<Item = Option<&'a Value>>,
        rule: CmpRule,
    ) -> Option<InSet> {
        if items.len() < IN_SET_MIN {
            return None;
        }
        let mut sorted = Vec::with_capacity(items.len());
        let mut has_null = false;
        for v in items {
            match v? {
                Value::Null => has_null = true,
                v => sorted.push(rule.converted(v).into_owned()),
            }
        }
        sorted.sort_by(|a, b| rule.coll.compare(a, b));
        Some(InSet {
            sorted,
            has_null,
            rule,
        })
    }

    /// `v IN (...)`: `Some(true)` if an item equals `v`, `None` if none
    /// does and `v` or an item is NULL, else `Some(false)`.
    pub fn contains(&self, v: &Value) -> Option<bool> {
        if v.is_null() {
            return None;
        }
        let p = self.rule.converted(v);
        let found = self
            .sorted
            .binary_search_by(|x| self.rule.coll.compare(x, &p))
            .is_ok();
        match (found, self.has_null) {
            (false, true) => None,
            (found, _) => Some(found),
        }
    }
}

impl CmpRule {
    /// `v` as this rule compares it (its affinity applied if needed).
    fn converted<'v>(&self, v: &'v Value) -> std::borrow::Cow<'v, Value> {
        match self.aff {
            Some(aff) if needs_conversion(v, aff) => {
                std::borrow::Cow::Owned(apply_comparison_affinity(v.clone(), aff))
            }
            _ => std::borrow::Cow::Borrowed(v),
        }
    }
}
