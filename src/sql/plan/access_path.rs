//! Choosing how a table is read: point lookups, ranges and IN lists on the
//! rowid or an index, index order satisfying ORDER BY.

use super::*;

/// What an index key column holds, to find it in a condition: column
/// `Col(c)` of the source, or an expression, known by the form (`{:?}`)
/// of its binding over the combined row (see `sql::index_expr`).
#[derive(Clone, Copy)]
pub(super) enum KeyOf<'a> {
    Col(usize),
    Expr(&'a str),
}

impl KeyOf<'_> {
    fn is(&self, x: &PExpr, start: usize) -> bool {
        match self {
            KeyOf::Col(c) => matches!(x, PExpr::Col(i) if *i == start + c),
            KeyOf::Expr(form) => !matches!(x, PExpr::Col(_)) && format!("{x:?}") == *form,
        }
    }
}

/// The forms of the key expressions of `idx` (see [`KeyOf`]) for a
/// source at `start`: per key column, `Some` for an expression; empty
/// when it has none or they no longer bind (the index is then not used).
fn key_forms(table: &Table, idx: &crate::catalog::Index, start: usize) -> Vec<Option<String>> {
    if !idx.has_exprs() {
        return Vec::new();
    }
    let t = Arc::new(table.clone());
    match crate::sql::index_expr::bind_index_exprs(&t, idx) {
        Ok(bound) => bound
            .into_iter()
            .map(|e| e.map(|e| format!("{:?}", map_cols(e, &|i| i + start))))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// If `e` compares key `key` of the source at `start` with something
/// available before it under a rule `usable` accepts, returns (operator as
/// seen from the key, other side, the comparison's affinity).
pub(super) fn column_cmp(
    e: &PExpr,
    key: KeyOf,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<(BinOp, PExpr, Option<Affinity>)> {
    let PExpr::Cmp(op, a, b, rule) = e else {
        return None;
    };
    let is_col = |x: &PExpr| key.is(x, start);
    let flip = |op: BinOp| match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::Le => BinOp::Ge,
        BinOp::Gt => BinOp::Lt,
        BinOp::Ge => BinOp::Le,
        o => o,
    };
    if !matches!(
        op,
        BinOp::Eq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
    ) || !usable(rule)
    {
        return None;
    }
    if is_col(a) && available_before(b, start) {
        return Some((*op, (**b).clone(), rule.aff));
    }
    if is_col(b) && available_before(a, start) {
        return Some((flip(*op), (**a).clone(), rule.aff));
    }
    None
}

pub(super) fn in_list_on(
    e: &PExpr,
    key: KeyOf,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<(Vec<PExpr>, Option<Affinity>)> {
    match e {
        PExpr::InList(x, list, false, rule, _) if key.is(x, start) && usable(rule) => {
            if list.iter().all(|l| available_before(l, start)) {
                Some((list.clone(), rule.aff))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Optional lower and upper bounds, each with "inclusive" and the
/// affinity the probe value is given (see [`probe_affinity`]).
pub type Bounds = (
    Option<(PExpr, bool, Affinity)>,
    Option<(PExpr, bool, Affinity)>,
);

/// The values an index column may equal (alternatives, for IN) and the
/// affinity the probe values are given (see [`probe_affinity`]).
pub type EqValues = (Vec<PExpr>, Affinity);

/// A candidate index access: position, (score, SQLite's row width
/// estimate), equality values, range.
type IndexChoice = (
    usize,
    (usize, i32, Option<u64>),
    Vec<EqValues>,
    Option<Bounds>,
);

/// SQLite's size estimate of a column of declared type `decl`, in units
/// of an integer (`sqlite3AffinityType`'s `szEst`): text and blob 5, or
/// CHAR(k)/VARCHAR(k)/BLOB(k) k/4+1, anything else 1.
fn size_estimate(decl: &str) -> i32 {
    if decl.is_empty() {
        return 1;
    }
    // A port of sqlite3AffinityType's scan (a rolling 4-byte window).
    #[derive(PartialEq)]
    enum Aff {
        Numeric,
        Real,
        Text,
        Blob,
    }
    let lower = decl.to_ascii_lowercase();
    let b = lower.as_bytes();
    let word = |w: &[u8; 4]| u32::from_be_bytes(*w);
    let (mut h, mut aff, mut size_at) = (0u32, Aff::Numeric, None);
    for (i, &x) in b.iter().enumerate() {
        h = (h << 8).wrapping_add(u32::from(x));
        let loose = aff == Aff::Numeric || aff == Aff::Real;
        if h == word(b"char") {
            (aff, size_at) = (Aff::Text, Some(i + 1));
        } else if h == word(b"clob") || h == word(b"text") {
            aff = Aff::Text;
        } else if h == word(b"blob") && loose {
            aff = Aff::Blob;
            if b.get(i + 1) == Some(&b'(') {
                size_at = Some(i + 1);
            }
        } else if (h == word(b"real") || h == word(b"floa") || h == word(b"doub"))
            && aff == Aff::Numeric
        {
            aff = Aff::Real;
        } else if h & 0x00FF_FFFF == u32::from_be_bytes([0, b'i', b'n', b't']) {
            return 1;
        }
    }
    let text_or_blob = aff == Aff::Text || aff == Aff::Blob;
    if !text_or_blob {
        return 1;
    }
    let v: i32 = match size_at {
        Some(at) => {
            let digits: String = b[at..]
                .iter()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(|c| c.is_ascii_digit())
                .map(|&c| char::from(c))
                .collect();
            digits.parse().unwrap_or(0)
        }
        None => 16,
    };
    (v / 4 + 1).min(255)
}

/// SQLite's `sqlite3LogEst`: about 10 * log2(x).
fn log_est(mut x: u64) -> i32 {
    const A: [i32; 8] = [0, 2, 3, 5, 6, 7, 8, 9];
    let mut y = 40;
    if x < 8 {
        if x < 2 {
            return 0;
        }
        while x < 8 {
            y -= 10;
            x <<= 1;
        }
    } else {
        while x > 255 {
            y += 40;
            x >>= 4;
        }
        while x > 15 {
            y += 10;
            x >>= 1;
        }
    }
    A[(x & 7) as usize] + y - 10
}

/// SQLite's estimate of the width of an entry of `idx`
/// (`estimateIndexWidth`): its columns and the key it appends (the rowid,
/// or a WITHOUT ROWID table's other key columns); a WITHOUT ROWID table's
/// key index holds every column.
fn index_width(t: &Table, idx: &crate::catalog::Index) -> i32 {
    let cols: Vec<usize> = if t.without_rowid && idx.auto && idx.columns == t.primary_key {
        (0..t.columns.len()).collect()
    } else {
        let mut v = idx.columns.clone();
        if t.without_rowid {
            v.extend(t.primary_key.iter().filter(|c| !idx.columns.contains(c)));
        }
        v
    };
    // An expression's size is estimated as an untyped column's.
    let mut w: u64 = cols
        .iter()
        .map(|&c| {
            t.columns
                .get(c)
                .map_or(1, |col| size_estimate(&col.decl_type)) as u64
        })
        .sum();
    if !t.without_rowid {
        w += 1;
    }
    log_est(w * 4)
}

/// The affinity an index probe gives the value compared with an index
/// column of affinity `col` under a comparison of affinity `cmp`: none
/// when the comparison converts neither side (two columns neither of them
/// numeric, SQLite's `updateRangeAffinityStr` and `codeAllEqualityTerms`),
/// else the column's (the comparison's, which the index allows).
fn probe_affinity(cmp: Option<Affinity>, col: Affinity) -> Affinity {
    match cmp {
        None | Some(Affinity::Blob) => Affinity::Blob,
        Some(_) => col,
    }
}

/// The bounds on key `col` (of affinity `col_aff`) the conditions set.
pub(super) fn range_on(
    conds: &[&PExpr],
    col: KeyOf,
    col_aff: Affinity,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<Bounds> {
    range_on_from(conds, col, col_aff, start, usable).map(|(b, _)| b)
}

/// [`range_on`], with the positions in `conds` of the conditions that
/// gave the lower and the upper bound.
fn range_on_from(
    conds: &[&PExpr],
    col: KeyOf,
    col_aff: Affinity,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<(Bounds, [Option<usize>; 2])> {
    let mut lo = None;
    let mut hi = None;
    let mut from = [None, None];
    for (i, c) in conds.iter().enumerate() {
        if let Some((op, other, aff)) = column_cmp(c, col, start, usable) {
            let aff = probe_affinity(aff, col_aff);
            let (slot, at, incl) = match op {
                BinOp::Gt => (&mut lo, 0, false),
                BinOp::Ge => (&mut lo, 0, true),
                BinOp::Lt => (&mut hi, 1, false),
                BinOp::Le => (&mut hi, 1, true),
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some((other, incl, aff));
                from[at] = Some(i);
            }
        }
        if let PExpr::Between(x, a, b, false, [ra, rb]) = c {
            if col.is(x, start) && available_before(a, start) && available_before(b, start) {
                if usable(ra) && lo.is_none() {
                    lo = Some(((**a).clone(), true, probe_affinity(ra.aff, col_aff)));
                    from[0] = Some(i);
                }
                if usable(rb) && hi.is_none() {
                    hi = Some(((**b).clone(), true, probe_affinity(rb.aff, col_aff)));
                    from[1] = Some(i);
                }
            }
        }
    }
    if lo.is_some() || hi.is_some() {
        Some(((lo, hi), from))
    } else {
        None
    }
}

/// The values column `col` (of affinity `col_aff`) must equal.
pub(super) fn eq_on(
    conds: &[&PExpr],
    col: KeyOf,
    col_aff: Affinity,
    start: usize,
    usable: &dyn Fn(&CmpRule) -> bool,
) -> Option<EqValues> {
    for c in conds {
        if let Some((BinOp::Eq, other, aff)) = column_cmp(c, col, start, usable) {
            return Some((vec![other], probe_affinity(aff, col_aff)));
        }
    }
    conds.iter().find_map(|c| {
        in_list_on(c, col, start, usable).map(|(v, aff)| (v, probe_affinity(aff, col_aff)))
    })
}

/// Picks the access path of `table` (whose columns start at `start` in the
/// combined row) from the conditions `conds`. A comparison serves an index
/// column only when the index holds what it compares (SQLite's
/// `sqlite3IndexAffinityOk`) under the same collation. A partial index is
/// not used (its rows are only those its WHERE selects). With INDEXED BY
/// the named index is read, whole if no condition narrows it; NOT INDEXED
/// reads by rowid or in full.
///
/// With `use_stats` (queries; not UPDATE and DELETE, whose visit order
/// decides some outcomes and stays as without statistics), where ANALYZE
/// measured two candidate indexes the one whose equality prefix has
/// fewer estimated rows per key (`sqlite_stat1`'s number for that prefix)
/// wins; else, and on equal estimates, the rule above.
pub(super) fn choose_access(
    table: &Table,
    start: usize,
    conds: &[&PExpr],
    hint: Option<AccessHint>,
    use_stats: bool,
) -> Result<Access> {
    choose_access_serving(table, start, conds, hint, use_stats).map(|(a, _)| a)
}

/// [`choose_access`], with the positions in `conds` of the conditions the
/// access path alone already makes true of every row it reads, so they
/// need no filter: the comparisons of the rowid with a value that bound a
/// rowid range (the scan turns the value into an exact key bound: an
/// integer as is, a real rounded inward, a text or blob past every
/// number, NULL to no rows, as the comparison would decide), a BETWEEN
/// only when it gave both bounds. Terms implied by row values are never
/// among them (the row comparison still has to be tested).
pub(super) fn choose_access_serving(
    table: &Table,
    start: usize,
    conds: &[&PExpr],
    hint: Option<AccessHint>,
    use_stats: bool,
) -> Result<(Access, Vec<usize>)> {
    let mut served = Vec::new();
    let access = pick_access(table, start, conds, hint, use_stats, &mut served)?;
    Ok((access, served))
}

/// [`choose_access_serving`]'s choice; `served` receives the positions.
fn pick_access(
    table: &Table,
    start: usize,
    conds: &[&PExpr],
    hint: Option<AccessHint>,
    use_stats: bool,
    served: &mut Vec<usize>,
) -> Result<Access> {
    let given = conds.len();
    // Row comparisons serve through the single-term ones they imply.
    let implied = super::rowvalue::implied_terms(conds);
    let with_implied: Vec<&PExpr> = conds.iter().copied().chain(&implied).collect();
    let conds = with_implied.as_slice();
    let rowid_col = table.columns.len();
    let rowid_cols: Vec<usize> = std::iter::once(rowid_col)
        .chain(table.rowid_alias)
        .collect();
    let by_rowid = |r: &CmpRule| r.index_affinity_ok(Affinity::Integer);
    if hint.is_none() || hint == Some(AccessHint::NoIndex) {
        for &rc in &rowid_cols {
            if let Some((vals, _)) =
                eq_on(conds, KeyOf::Col(rc), Affinity::Integer, start, &by_rowid)
            {
                return Ok(Access::Rowids(vals));
            }
        }
    }
    if let Some(AccessHint::Index(i)) = hint {
        if table.indexes[i].filter.is_some() {
            return Err(err(SqlErrorKind::Misuse, "no query solution"));
        }
    }
    // Best index: most leading equality columns, then a range.
    let mut best: Option<IndexChoice> = None;
    for (ii, idx) in table.indexes.iter().enumerate() {
        let allowed = match hint {
            None => idx.filter.is_none(),
            Some(AccessHint::NoIndex) => false,
            Some(AccessHint::Index(i)) => i == ii,
        };
        if !allowed {
            continue;
        }
        // An expression key has no affinity (SQLite): it serves only
        // comparisons that convert nothing.
        let forms = key_forms(table, idx, start);
        if idx.has_exprs() && forms.is_empty() {
            continue;
        }
        let key = |k: usize| -> Option<(KeyOf, Affinity)> {
            match forms.get(k).and_then(Option::as_deref) {
                Some(f) => Some((KeyOf::Expr(f), Affinity::Blob)),
                None => {
                    let c = *idx.columns.get(k)?;
                    Some((KeyOf::Col(c), table.columns.get(c)?.affinity))
                }
            }
        };
        let usable_on = |k: usize, aff: Affinity| {
            let coll = idx.collation(k);
            move |r: &CmpRule| r.index_affinity_ok(aff) && r.coll == coll
        };
        let mut eq = Vec::new();
        for k in 0..idx.columns.len() {
            let Some((kk, aff)) = key(k) else { break };
            match eq_on(conds, kk, aff, start, &usable_on(k, aff)) {
                Some(v) => eq.push(v),
                None => break,
            }
        }
        let k = eq.len();
        let range = key(k)
            .filter(|_| !idx.desc.get(k).copied().unwrap_or(false))
            .and_then(|(kk, aff)| range_on(conds, kk, aff, start, &usable_on(k, aff)));
        let score = eq.len() * 2 + usize::from(range.is_some());
        // On a tie the narrower index wins (SQLite's whereLoopIsNoBetter
        // compares their width estimates), then the later one: SQLite
        // keeps a table's indexes newest first and its planner keeps the
        // first of equal plans. (This decides the order an UPDATE or
        // DELETE meets rows in.)
        let width = index_width(table, idx);
        let est = match (&table.stats, hint) {
            (Some(st), None) if use_stats && !eq.is_empty() => {
                st.of_index(idx.id).and_then(|v| v.get(eq.len()).copied())
            }
            _ => None,
        };
        let better = |b: &IndexChoice| match (est, b.1 .2) {
            (Some(x), Some(y)) if x != y => x < y,
            _ => score > b.1 .0 || (score == b.1 .0 && width <= b.1 .1),
        };
        if score > 0 && best.as_ref().is_none_or(better) {
            best = Some((ii, (score, width, est), eq, range));
        }
    }
    if let Some((index, _, eq, range)) = best {
        if !eq.is_empty() || range.is_some() {
            return Ok(Access::Index { index, eq, range });
        }
    }
    if let Some(AccessHint::Index(index)) = hint {
        // The whole index, in its order.
        return Ok(Access::Index {
            index,
            eq: Vec::new(),
            range: Some((None, None)),
        });
    }
    if !table.without_rowid {
        for &rc in &rowid_cols {
            if let Some(((lo, hi), from)) =
                range_on_from(conds, KeyOf::Col(rc), Affinity::Integer, start, &by_rowid)
            {
                for i in from.into_iter().flatten().filter(|&i| i < given) {
                    let whole = match conds[i] {
                        PExpr::Between(..) => from == [Some(i), Some(i)],
                        _ => true,
                    };
                    if whole && !served.contains(&i) {
                        served.push(i);
                    }
                }
                let plain = |b: Option<(PExpr, bool, Affinity)>| b.map(|(e, incl, _)| (e, incl));
                return Ok(Access::RowidRange(plain(lo), plain(hi)));
            }
        }
    }
    // A WITHOUT ROWID table is read in key order, as SQLite stores it
    // (which decides which of tied rows min()/max() or a GROUP BY shows,
    // and in which order UPDATE and DELETE meet its rows).
    if table.without_rowid {
        if let Some(index) = table
            .indexes
            .iter()
            .position(|i| i.auto && i.columns == table.primary_key)
        {
            return Ok(Access::Index {
                index,
                eq: Vec::new(),
                range: Some((None, None)),
            });
        }
    }
    Ok(Access::Full)
}

/// If reading `t` in rowid or index order, forwards or backwards, yields
/// rows already sorted by `keys` (columns, each ascending or descending),
/// the plan that does so (the scan's access path changed or kept, and its
/// direction set), else `None`.
///
/// Read backwards, every column of an index reverses at once: a column
/// declared ASC comes out descending with its NULLs last, one declared
/// DESC ascending with its NULLs first; so the keys must all agree with
/// one direction, NULL placement included. Leading equality columns are
/// constant and do not matter; rows tied on the keys come out in the
/// reversed order of the rest of the index key (the rowid last), as
/// SQLite's reverse scan gives them.
pub(super) fn ordered_scan(
    plan: &Plan,
    t: &Table,
    keys: &[SortKey],
    hint: Option<AccessHint>,
) -> Option<Plan> {
    let cols: Vec<(usize, &SortKey)> = keys
        .iter()
        .map(|k| match k.expr {
            PExpr::Col(i) => Some((i, k)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let scan = |table: &Arc<Table>, access: Access, reverse: bool| -> Plan {
        Arc::new(Node::Scan {
            table: table.clone(),
            access,
            reverse,
        })
    };
    match &**plan {
        Node::Filter(inner, pred) => {
            let p = ordered_scan(inner, t, keys, hint)?;
            Some(Arc::new(Node::Filter(p, pred.clone())))
        }
        Node::Scan { table, access, .. } => {
            let rowid = t.columns.len();
            // A rowid is never NULL: only the direction matters.
            let by_rowid =
                cols.len() == 1 && (cols[0].0 == rowid || Some(cols[0].0) == t.rowid_alias);
            match access {
                Access::Full | Access::RowidRange(..) | Access::Rowids(_) if by_rowid => {
                    Some(scan(table, access.clone(), keys[0].desc))
                }
                Access::Full if hint.is_none() => {
                    let (index, rev) = table.indexes.iter().enumerate().find_map(|(i, idx)| {
                        [false, true]
                            .into_iter()
                            .find(|&rev| index_sorts(idx, 0, rev, &cols))
                            .map(|rev| (i, rev))
                    })?;
                    let access = Access::Index {
                        index,
                        eq: Vec::new(),
                        range: Some((None, None)),
                    };
                    Some(scan(table, access, rev))
                }
                Access::Index { index, eq, range }
                    if eq.iter().all(|(alts, _)| alts.len() == 1) =>
                {
                    // The index chosen for the WHERE, or (unless INDEXED
                    // BY named it) another that serves the same equality
                    // and range terms and also gives the order, as SQLite
                    // prefers the plan without a sort.
                    let idx = &table.indexes[*index];
                    let served = eq.len() + usize::from(range.is_some());
                    let same_terms = |j: &crate::catalog::Index| {
                        j.filter.is_none()
                            && j.columns.len() >= served
                            && idx.columns.len() >= served
                            && j.columns[..served] == idx.columns[..served]
                            && (0..served).all(|p| j.collation(p) == idx.collation(p))
                            && (range.is_none() || j.desc.get(eq.len()) == idx.desc.get(eq.len()))
                    };
                    let candidates = std::iter::once(*index).chain(
                        (0..table.indexes.len())
                            .filter(|&j| hint.is_none() && j != *index)
                            .filter(|&j| same_terms(&table.indexes[j])),
                    );
                    candidates.into_iter().find_map(|j| {
                        let rev = eq_prefix_order(&table.indexes[j], eq.len(), &cols)?;
                        let access = Access::Index {
                            index: j,
                            eq: eq.clone(),
                            range: range.clone(),
                        };
                        Some(scan(table, access, rev))
                    })
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// The direction in which reading `idx` under `fixed` leading equality
/// columns gives the order of `keys`, if one does. Keys on those columns
/// are constant when they sort under the collation the equality holds
/// under (SQLite drops them too); the rest must follow the index order
/// after them. With no such rest, forwards.
fn eq_prefix_order(
    idx: &crate::catalog::Index,
    fixed: usize,
    keys: &[(usize, &SortKey)],
) -> Option<bool> {
    let fixed_cols = &idx.columns[..fixed.min(idx.columns.len())];
    let constant = |(c, key): &(usize, &SortKey)| {
        fixed_cols
            .iter()
            .position(|f| f == c)
            .is_some_and(|p| idx.collation(p) == key.coll)
    };
    let rest: Vec<(usize, &SortKey)> = keys.iter().filter(|k| !constant(k)).copied().collect();
    if rest.is_empty() {
        return Some(false);
    }
    [false, true]
        .into_iter()
        .find(|&rev| index_sorts(idx, fixed_cols.len(), rev, &rest))
}

/// Whether the columns of `idx` from `skip` on, read forwards or (with
/// `rev`) backwards, sort as `keys` (column, key) ask.
fn index_sorts(
    idx: &crate::catalog::Index,
    skip: usize,
    rev: bool,
    keys: &[(usize, &SortKey)],
) -> bool {
    idx.filter.is_none()
        && idx.columns.len() >= skip + keys.len()
        && keys.iter().enumerate().all(|(k, (col, key))| {
            let desc = idx.desc.get(skip + k).copied().unwrap_or(false) != rev;
            idx.columns[skip + k] == *col
                && key.desc == desc
                && key.nulls_first != desc
                && idx.collation(skip + k) == key.coll
        })
}
