//! The generator: random schemas and random statements over them, as SQL
//! text both engines run unchanged.
//!
//! A case is made from its seed alone, never from what an engine answered,
//! so a seed always replays the same statements. The generator keeps a
//! model of the schema it created (tables, columns with their declared
//! type, affinity and collation, keys, indexes) and a pool of values it
//! has written to each column, from which it draws literals so that
//! lookups, joins and conflicts actually hit rows.
//!
//! ```text
//!   schema   1-3 tables: rowid or WITHOUT ROWID, STRICT or not,
//!            INTEGER PRIMARY KEY [AUTOINCREMENT], single or composite
//!            keys in any type order, UNIQUE, NOT NULL, DEFAULT, COLLATE
//!            BINARY|NOCASE|RTRIM; indexes: UNIQUE, partial, multi-column,
//!            DESC, COLLATE
//!   data     INSERT / REPLACE / INSERT OR IGNORE with mixed-type values
//!   steps    queries (joins, subqueries, IN/BETWEEN/LIKE/GLOB, GROUP BY,
//!            HAVING, ordinals, ORDER BY/LIMIT, aggregates, compounds),
//!            data changes with every conflict clause and upserts,
//!            RETURNING, DDL, transactions, and TLP / NoREC checks
//! ```
//!
//! Only features sealdb implements or explicitly refuses are generated;
//! a refusal ("not supported") is counted as a skip by the driver.

use crate::compare::{ColCmp, Coll, QuerySpec};
use crate::engine::V;
use crate::rng::Rng;

/// One statement of a case, with what the driver checks for it.
#[derive(Clone, Debug)]
pub enum Step {
    /// DDL, a data change or transaction control: both succeed (with the
    /// same change count for a data change) or both fail.
    Exec {
        /// The SQL.
        sql: String,
        /// `?N` values.
        params: Vec<V>,
        /// Compare the change counts (data changes only).
        counts: bool,
    },
    /// A query (or a data change with RETURNING): the same rows.
    Query {
        /// The SQL.
        sql: String,
        /// `?N` values.
        params: Vec<V>,
        /// How to compare.
        spec: QuerySpec,
    },
    /// Ternary logic partitioning: `base` equals `parts` (the union of
    /// its WHERE p / NOT p / p IS NULL partitions) on sealdb, and `base`
    /// agrees with SQLite.
    Tlp {
        /// The unpartitioned query.
        base: String,
        /// Its partitions' union.
        parts: String,
        /// How to compare.
        spec: QuerySpec,
    },
    /// Non-optimizing reference engine construction: the count of rows
    /// matching `p` through WHERE (optimizable) equals the sum of `p`
    /// evaluated on every row (not optimizable), on sealdb; and the
    /// optimizable form agrees with SQLite.
    NoRec {
        /// `SELECT count(*) FROM ... WHERE p`.
        opt: String,
        /// `SELECT ... sum(CASE WHEN p THEN 1 ELSE 0 END) ...`.
        unopt: String,
    },
}

impl Step {
    /// The statement(s) as SQL text, for a report.
    pub fn sql(&self) -> String {
        match self {
            Step::Exec { sql, params, .. } | Step::Query { sql, params, .. } => {
                if params.is_empty() {
                    sql.clone()
                } else {
                    let p: Vec<String> = params.iter().map(V::literal).collect();
                    format!("{sql}  -- params: {}", p.join(", "))
                }
            }
            Step::Tlp { base, parts, .. } => format!("{base}\n  -- TLP partitions: {parts}"),
            Step::NoRec { opt, unopt } => format!("{opt}\n  -- NoREC: {unopt}"),
        }
    }

    /// What kind of statement this is, for the statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Step::Exec { sql, .. } => {
                let w = sql
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                match w.as_str() {
                    "INSERT" | "REPLACE" => "insert",
                    "UPDATE" => "update",
                    "DELETE" => "delete",
                    "CREATE" | "DROP" | "REINDEX" | "ALTER" => "ddl",
                    _ => "txn",
                }
            }
            Step::Query { sql, .. } => {
                let w = sql
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                if w == "SELECT" || w == "VALUES" {
                    "select"
                } else {
                    "returning"
                }
            }
            Step::Tlp { .. } => "tlp",
            Step::NoRec { .. } => "norec",
        }
    }
}

/// Type affinity (SQLite's rules on the declared type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aff {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

fn affinity(ty: &str) -> Aff {
    let t = ty.to_ascii_uppercase();
    if t.contains("INT") {
        Aff::Integer
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Aff::Text
    } else if t.contains("BLOB") || t.is_empty() {
        Aff::Blob
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        Aff::Real
    } else {
        Aff::Numeric
    }
}

#[derive(Clone, Debug)]
struct Col {
    name: String,
    aff: Aff,
    /// STRICT type (`INTEGER`, `TEXT`, ..., `ANY`) or None.
    strict_ty: Option<&'static str>,
    coll: Coll,
    not_null: bool,
    /// Values written to it (to draw hitting literals from).
    seen: Vec<V>,
}

#[derive(Clone, Debug)]
struct Index {
    name: String,
    cols: Vec<usize>,
    unique: bool,
    partial: bool,
    /// Every column uses its default collation (a valid upsert target).
    default_colls: bool,
}

#[derive(Clone, Debug)]
struct Table {
    cols: Vec<Col>,
    /// INTEGER PRIMARY KEY column (a rowid alias).
    ipk: Option<usize>,
    without_rowid: bool,
    /// Column lists of PRIMARY KEY and UNIQUE constraints, and unique
    /// non-partial indexes with default collations: valid ON CONFLICT
    /// targets, and columns whose non-NULL values are distinct.
    keys: Vec<Vec<usize>>,
    /// The keys of CREATE TABLE only, which always hold (a later CREATE
    /// UNIQUE INDEX may fail on existing duplicates).
    table_keys: Vec<Vec<usize>>,
    indexes: Vec<Index>,
}

/// A column reference in scope.
#[derive(Clone, Debug)]
struct CRef {
    sql: String,
    coll: Coll,
    /// Index into the table model (for drawing values), if from a table.
    src: Option<(usize, usize)>,
}

#[derive(Clone, Debug, Default)]
struct Scope {
    cols: Vec<CRef>,
    /// Aggregates allowed here.
    agg: bool,
}

/// One generated result column: its SQL and its collation.
struct Item {
    sql: String,
    coll: Coll,
    /// A group's representative or an aggregate (compared loosely).
    loose: bool,
}

/// The generator of one case.
pub struct Gen {
    rng: Rng,
    tables: Vec<Table>,
    next_index: usize,
    next_alias: usize,
    in_txn: bool,
    params: Vec<V>,
    /// Bound parameters may be used (not in DDL).
    allow_params: bool,
    /// Triggers exist (a data change may then change any table).
    pub has_triggers: bool,
    next_trigger: usize,
    /// Open savepoints (their numbers), outermost first.
    savepoints: Vec<usize>,
    /// The open transaction began with SAVEPOINT (not BEGIN).
    savepoints_began: bool,
}

const TEXTS: &[&str] = &[
    "a", "A", "b", "B", "ab", "aB", "Ab", "a ", "a  ", " a", "", "1", "2", "10", "01", "1.5",
    "1e2", "-3", " 4 ", "0x10", "abc", "ABC", "a%", "_b", "%", "é", "É", "12abc", "x'00'",
];
const REALS: &[f64] = &[
    0.5, 1.0, -1.5, 2.0, 3.25, 10.0, 100.5, -7.0, 1e3, 0.125, 1e14, 2.5e-3,
];
const BLOBS: &[&[u8]] = &[b"", b"\x00", b"a", b"A", b"ab", b"\x01\x02", b"1"];

impl Gen {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            tables: Vec::new(),
            next_index: 0,
            next_alias: 0,
            in_txn: false,
            params: Vec::new(),
            allow_params: true,
            has_triggers: false,
            next_trigger: 0,
            savepoints: Vec::new(),
            savepoints_began: false,
        }
    }

    // ---- values ---------------------------------------------------------

    fn fresh_value(&mut self, aff: Aff) -> V {
        let r = &mut self.rng;
        let natural = r.chance(60);
        let class = if natural {
            match aff {
                Aff::Integer | Aff::Numeric => 1,
                Aff::Real => 2,
                Aff::Text => 3,
                Aff::Blob => r.below(5),
            }
        } else {
            r.below(5)
        };
        match class {
            0 => V::Null,
            1 => {
                if r.chance(8) {
                    V::Int(*r.pick(&[
                        i64::MAX,
                        i64::MIN,
                        i64::MAX - 1,
                        -i64::MAX,
                        9_007_199_254_740_993,
                        4_294_967_296,
                        -2_147_483_648,
                    ]))
                } else {
                    V::Int(r.range(-3, 12))
                }
            }
            2 => V::Real(*r.pick(REALS) * if r.chance(20) { -1.0 } else { 1.0 }),
            3 => V::Text(r.pick(TEXTS).to_string()),
            _ => V::Blob(r.pick(BLOBS).to_vec()),
        }
    }

    /// A value for column `c` of table `t`: often one already written.
    fn value_for(&mut self, t: usize, c: usize) -> V {
        let col = &self.tables[t].cols[c];
        if !col.seen.is_empty() && self.rng.chance(45) {
            let i = self.rng.below(col.seen.len());
            return self.tables[t].cols[c].seen[i].clone();
        }
        let aff = col.aff;
        let strict = col.strict_ty;
        let not_null = col.not_null;
        let mut v = self.fresh_value(aff);
        // Mostly values a NOT NULL column takes.
        while not_null && v == V::Null && self.rng.chance(85) {
            v = self.fresh_value(aff);
        }
        if let Some(ty) = strict {
            // Mostly values a STRICT column takes; now and then one it
            // must refuse.
            if !self.rng.chance(10) {
                v = match (ty, &v) {
                    (_, V::Null) => v,
                    ("INTEGER" | "INT", V::Int(_)) => v,
                    ("INTEGER" | "INT", _) => V::Int(self.rng.range(-3, 12)),
                    ("REAL", V::Int(_) | V::Real(_)) => v,
                    ("REAL", _) => V::Real(*self.rng.pick(REALS)),
                    ("TEXT", V::Text(_)) => v,
                    ("TEXT", _) => V::Text(self.rng.pick(TEXTS).to_string()),
                    ("BLOB", V::Blob(_)) => v,
                    ("BLOB", _) => V::Blob(self.rng.pick(BLOBS).to_vec()),
                    _ => v,
                };
            }
        }
        // SQLite gives a random rowid when the largest is taken: keep
        // rowid aliases well below it.
        if self.tables[t].ipk == Some(c) {
            if let V::Int(i) = v {
                if i > i64::MAX - 100_000 {
                    v = V::Int(i64::MAX - 100_000);
                }
            }
        }
        let col = &mut self.tables[t].cols[c];
        if col.seen.len() < 24 && !col.seen.contains(&v) {
            col.seen.push(v.clone());
        }
        v
    }

    /// A literal (or now and then a bound parameter) for a column.
    fn lit_for(&mut self, src: Option<(usize, usize)>) -> String {
        let v = match src {
            Some((t, c)) if t < self.tables.len() => {
                let mut v = self.value_for(t, c);
                // The same value in another type: '5' for 5, 5 for '5'.
                if self.rng.chance(15) {
                    v = match v {
                        V::Int(i) => V::Text(i.to_string()),
                        V::Text(s) if s.trim().parse::<i64>().is_ok() => {
                            V::Int(s.trim().parse().unwrap_or(0))
                        }
                        V::Real(r) => V::Text(crate::engine::real_literal(r)),
                        other => other,
                    };
                }
                v
            }
            _ => {
                let aff = *self.rng.pick(&[Aff::Integer, Aff::Text, Aff::Real]);
                self.fresh_value(aff)
            }
        };
        self.lit_of(v)
    }

    fn lit_of(&mut self, v: V) -> String {
        if self.allow_params && self.rng.chance(8) {
            self.params.push(v);
            return format!("?{}", self.params.len());
        }
        if let V::Int(i) = v {
            if (0..=4096).contains(&i) && self.rng.chance(5) {
                return format!("0x{i:x}");
            }
        }
        v.literal()
    }

    // ---- schema ---------------------------------------------------------

    /// CREATE TABLE statements for a new schema.
    pub fn schema(&mut self) -> Vec<Step> {
        let n = 1 + self.rng.below(3);
        let mut steps = Vec::new();
        for i in 0..n {
            steps.push(self.create_table(i));
        }
        for _ in 0..self.rng.below(4) {
            if let Some(s) = self.create_index() {
                steps.push(s);
            }
        }
        steps
    }

    fn create_table(&mut self, ti: usize) -> Step {
        let r = &mut self.rng;
        let strict = r.chance(15);
        let ncols = 2 + r.below(4);
        let mut cols = Vec::new();
        let mut defs = Vec::new();
        // Key shape: none, INTEGER PRIMARY KEY, one column, or composite.
        let key_shape = r.below(10);
        let without_rowid = key_shape >= 2 && r.chance(30);
        let pk: Vec<usize> = match key_shape {
            0..=1 => Vec::new(),
            2..=3 => vec![0],
            4..=5 => vec![0],
            _ => {
                let k = 2 + r.below(2).min(ncols - 2);
                let mut v: Vec<usize> = (0..ncols).collect();
                // A random order of the key columns.
                for i in (1..v.len()).rev() {
                    let j = r.below(i + 1);
                    v.swap(i, j);
                }
                v.truncate(k);
                v
            }
        };
        let ipk = key_shape == 2 && !without_rowid;
        let column_pk = pk.len() == 1 && matches!(key_shape, 2 | 4 | 5);
        for c in 0..ncols {
            let ty: &'static str = if key_shape == 2 && c == 0 {
                "INTEGER"
            } else if strict {
                r.choose(&["INT", "INTEGER", "REAL", "TEXT", "BLOB", "ANY"])
            } else {
                r.choose(&[
                    "INTEGER",
                    "INT",
                    "TEXT",
                    "REAL",
                    "BLOB",
                    "NUMERIC",
                    "",
                    "VARCHAR(10)",
                    "DOUBLE",
                    "BOOLEAN",
                    "BIGINT",
                    "CHARACTER(5)",
                    "FLOAT",
                    "DECIMAL(10,2)",
                ])
            };
            let coll = match r.below(10) {
                0..=5 => None,
                6 => Some(Coll::Binary),
                7..=8 => Some(Coll::NoCase),
                _ => Some(Coll::Rtrim),
            };
            let not_null = r.chance(15);
            let mut def = format!("c{c}");
            if !ty.is_empty() {
                def.push(' ');
                def.push_str(ty);
            }
            if ipk && c == 0 {
                def.push_str(" PRIMARY KEY");
                if r.chance(40) {
                    def.push_str(" AUTOINCREMENT");
                }
            } else if column_pk && pk[0] == c {
                def.push_str(" PRIMARY KEY");
            }
            if let Some(cl) = coll {
                def.push_str(" COLLATE ");
                def.push_str(cl.name());
            }
            if not_null {
                def.push_str(" NOT NULL");
            }
            let unique = !(ipk && c == 0) && r.chance(12);
            if unique {
                def.push_str(" UNIQUE");
            }
            if r.chance(15) {
                let v = match affinity(ty) {
                    Aff::Text => V::Text(r.pick(TEXTS).to_string()),
                    _ => V::Int(r.range(-1, 5)),
                };
                def.push_str(&format!(" DEFAULT {}", v.literal()));
            }
            defs.push(def);
            cols.push(Col {
                name: format!("c{c}"),
                aff: if strict && ty == "ANY" {
                    Aff::Blob
                } else {
                    affinity(ty)
                },
                strict_ty: if strict { Some(ty) } else { None },
                coll: coll.unwrap_or(Coll::Binary),
                not_null,
                seen: Vec::new(),
            });
        }
        // A rowid alias: INTEGER PRIMARY KEY in any spelling (the column's
        // constraint or the table's, as long as the type is exactly
        // INTEGER) of a rowid table.
        let alias = !without_rowid
            && pk == [0]
            && defs[0].starts_with("c0 INTEGER")
            && !defs[0].starts_with("c0 INTEGER(");
        let mut keys: Vec<Vec<usize>> = Vec::new();
        if !pk.is_empty() {
            if pk.len() > 1 || key_shape == 3 {
                let names: Vec<String> = pk.iter().map(|c| format!("c{c}")).collect();
                defs.push(format!("PRIMARY KEY ({})", names.join(", ")));
            }
            keys.push(pk.clone());
        }
        for (c, d) in defs.iter().enumerate().take(ncols) {
            if d.contains(" UNIQUE") {
                keys.push(vec![c]);
            }
        }
        if r.chance(25) {
            let a = r.below(ncols);
            let b = (a + 1 + r.below(ncols - 1)) % ncols;
            defs.push(format!("UNIQUE (c{a}, c{b})"));
            keys.push(vec![a, b]);
        }
        let mut sql = format!("CREATE TABLE t{ti} ({})", defs.join(", "));
        let mut opts = Vec::new();
        if without_rowid {
            opts.push("WITHOUT ROWID");
        }
        if strict {
            opts.push("STRICT");
        }
        if !opts.is_empty() {
            sql.push(' ');
            sql.push_str(&opts.join(", "));
        }
        self.tables.push(Table {
            cols,
            ipk: if alias { Some(0) } else { None },
            without_rowid,
            table_keys: keys.clone(),
            keys,
            indexes: Vec::new(),
        });
        Step::Exec {
            sql,
            params: Vec::new(),
            counts: false,
        }
    }

    fn create_index(&mut self) -> Option<Step> {
        if self.tables.is_empty() {
            return None;
        }
        let t = self.rng.below(self.tables.len());
        let ncols = self.tables[t].cols.len();
        let k = 1 + self.rng.below(3.min(ncols));
        let mut cols = Vec::new();
        let mut parts = Vec::new();
        let mut default_colls = true;
        while cols.len() < k {
            let c = self.rng.below(ncols);
            if cols.contains(&c) {
                continue;
            }
            cols.push(c);
            let mut p = format!("c{c}");
            if self.rng.chance(20) {
                let cl = *self.rng.pick(&[Coll::Binary, Coll::NoCase, Coll::Rtrim]);
                if cl != self.tables[t].cols[c].coll {
                    default_colls = false;
                }
                p.push_str(" COLLATE ");
                p.push_str(cl.name());
            }
            if self.rng.chance(30) {
                p.push_str(" DESC");
            }
            parts.push(p);
        }
        let unique = self.rng.chance(35);
        let partial = self.rng.chance(25);
        let name = format!("i{}", self.next_index);
        self.next_index += 1;
        let mut sql = format!(
            "CREATE {}INDEX {name} ON t{t} ({})",
            if unique { "UNIQUE " } else { "" },
            parts.join(", ")
        );
        if partial {
            let sc = self.table_scope(t, None);
            self.allow_params = false;
            let p = self.pred_simple(&sc);
            self.allow_params = true;
            sql.push_str(" WHERE ");
            sql.push_str(&p);
        }
        if unique && !partial && default_colls {
            self.tables[t].keys.push(cols.clone());
        }
        self.tables[t].indexes.push(Index {
            name,
            cols,
            unique,
            partial,
            default_colls,
        });
        Some(Step::Exec {
            sql,
            params: Vec::new(),
            counts: false,
        })
    }

    // ---- scopes ---------------------------------------------------------

    fn table_scope(&self, t: usize, alias: Option<&str>) -> Scope {
        let tb = &self.tables[t];
        Scope {
            cols: tb
                .cols
                .iter()
                .enumerate()
                .map(|(i, c)| CRef {
                    sql: match alias {
                        Some(a) => format!("{a}.{}", c.name),
                        None => c.name.clone(),
                    },
                    coll: c.coll,
                    src: Some((t, i)),
                })
                .collect(),
            agg: false,
        }
    }

    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("a{}", self.next_alias)
    }

    // ---- expressions ----------------------------------------------------

    fn col(&mut self, sc: &Scope) -> CRef {
        self.rng.pick(&sc.cols).clone()
    }

    /// A scalar expression.
    fn expr(&mut self, sc: &Scope, depth: u32) -> String {
        if sc.cols.is_empty() {
            return self.lit_for(None);
        }
        if depth == 0 || self.rng.chance(35) {
            return if self.rng.chance(70) {
                self.col(sc).sql
            } else {
                let c = self.col(sc);
                self.lit_for(c.src)
            };
        }
        let d = depth - 1;
        match self.rng.below(16) {
            0..=2 => {
                let op = *self
                    .rng
                    .pick(&["+", "-", "*", "/", "%", "||", "&", "|", "<<", ">>"]);
                format!("({} {op} {})", self.expr(sc, d), self.expr(sc, d))
            }
            3 => {
                let op = *self.rng.pick(&["-", "+", "~"]);
                format!("{op}({})", self.expr(sc, d))
            }
            4..=5 => {
                let (f, n) = *self.rng.pick(&[
                    ("abs", 1),
                    ("length", 1),
                    ("lower", 1),
                    ("upper", 1),
                    ("typeof", 1),
                    ("coalesce", 2),
                    ("ifnull", 2),
                    ("nullif", 2),
                    ("iif", 3),
                    ("instr", 2),
                    ("substr", 3),
                    ("substr", 2),
                    ("trim", 1),
                    ("ltrim", 1),
                    ("rtrim", 1),
                    ("hex", 1),
                    ("quote", 1),
                    ("round", 1),
                    ("replace", 3),
                    ("max", 2),
                    ("min", 2),
                    ("unicode", 1),
                ]);
                let args: Vec<String> = (0..n).map(|_| self.expr(sc, d)).collect();
                format!("{f}({})", args.join(", "))
            }
            6 => {
                let ty = *self
                    .rng
                    .pick(&["INTEGER", "TEXT", "REAL", "NUMERIC", "BLOB"]);
                format!("CAST({} AS {ty})", self.expr(sc, d))
            }
            7 => {
                let cl = *self.rng.pick(&[Coll::Binary, Coll::NoCase, Coll::Rtrim]);
                format!("({} COLLATE {})", self.expr(sc, d), cl.name())
            }
            8 => {
                let n = 1 + self.rng.below(2);
                let mut s = String::from("CASE");
                let operand = self.rng.chance(40);
                if operand {
                    s.push(' ');
                    s.push_str(&self.expr(sc, d));
                }
                for _ in 0..n {
                    let w = if operand {
                        self.expr(sc, d)
                    } else {
                        self.pred(sc, d)
                    };
                    s.push_str(&format!(" WHEN {w} THEN {}", self.expr(sc, d)));
                }
                if self.rng.chance(60) {
                    s.push_str(&format!(" ELSE {}", self.expr(sc, d)));
                }
                s.push_str(" END");
                s
            }
            9 if sc.agg => self.aggregate(sc, d),
            10 if !self.tables.is_empty() => self.scalar_subquery(sc),
            _ => format!("({})", self.pred(sc, d)),
        }
    }

    /// A condition (usually on columns, so that index lookups happen).
    fn pred(&mut self, sc: &Scope, depth: u32) -> String {
        if sc.cols.is_empty() || depth == 0 || self.rng.chance(40) {
            return self.pred_simple(sc);
        }
        let d = depth - 1;
        match self.rng.below(12) {
            0..=2 => format!("({} AND {})", self.pred(sc, d), self.pred(sc, d)),
            3..=4 => format!("({} OR {})", self.pred(sc, d), self.pred(sc, d)),
            5 => format!("NOT ({})", self.pred(sc, d)),
            6 => {
                let op = *self.rng.pick(&["=", "<", ">=", "<>", "IS", "IS NOT"]);
                format!("({} {op} {})", self.expr(sc, d), self.expr(sc, d))
            }
            7 if !self.tables.is_empty() => {
                let t = self.rng.below(self.tables.len());
                let al = self.alias();
                let inner = self.table_scope(t, Some(&al));
                let c = self.col(sc);
                let ic = self.col(&inner);
                let extra = if self.rng.chance(50) {
                    format!(" AND {}", self.pred_simple(&inner))
                } else {
                    String::new()
                };
                format!(
                    "{}EXISTS (SELECT 1 FROM t{t} AS {al} WHERE {} = {}{extra})",
                    if self.rng.chance(30) { "NOT " } else { "" },
                    ic.sql,
                    c.sql
                )
            }
            8 if !self.tables.is_empty() => {
                let t = self.rng.below(self.tables.len());
                let al = self.alias();
                let inner = self.table_scope(t, Some(&al));
                let c = self.col(sc);
                let ic = self.col(&inner);
                let w = self.pred(&inner, 1);
                format!(
                    "{} {}IN (SELECT {} FROM t{t} AS {al} WHERE {w})",
                    c.sql,
                    if self.rng.chance(30) { "NOT " } else { "" },
                    ic.sql
                )
            }
            9 => format!(
                "({}) IS {}",
                self.pred(sc, d),
                self.rng.pick(&["TRUE", "FALSE", "NOT TRUE", "NOT FALSE"])
            ),
            10 if sc.agg => {
                let a = self.aggregate(sc, d);
                let c = self.col(sc);
                let l = self.lit_for(c.src);
                let op = *self.rng.pick(&["=", "<", ">", ">=", "<>"]);
                format!("{a} {op} {l}")
            }
            _ => self.pred_simple(sc),
        }
    }

    /// A comparison of a column with literals: what index lookups serve.
    fn pred_simple(&mut self, sc: &Scope) -> String {
        if sc.cols.is_empty() {
            return "1".into();
        }
        let c = self.col(sc);
        let lhs = if self.rng.chance(10) {
            let cl = *self.rng.pick(&[Coll::Binary, Coll::NoCase, Coll::Rtrim]);
            format!("{} COLLATE {}", c.sql, cl.name())
        } else {
            c.sql.clone()
        };
        let neg = if self.rng.chance(20) { "NOT " } else { "" };
        match self.rng.below(14) {
            0..=4 => {
                let op = *self
                    .rng
                    .pick(&["=", "==", "<", "<=", ">", ">=", "<>", "!=", "IS", "IS NOT"]);
                let v = self.lit_for(c.src);
                format!("{lhs} {op} {v}")
            }
            5..=6 => {
                let n = 1 + self.rng.below(4);
                let vs: Vec<String> = (0..n).map(|_| self.lit_for(c.src)).collect();
                format!("{lhs} {neg}IN ({})", vs.join(", "))
            }
            7..=8 => {
                let a = self.lit_for(c.src);
                let b = self.lit_for(c.src);
                format!("{lhs} {neg}BETWEEN {a} AND {b}")
            }
            9 => format!(
                "{lhs} IS {}NULL",
                if self.rng.chance(50) { "NOT " } else { "" }
            ),
            10 => {
                let p = *self
                    .rng
                    .pick(&["a%", "A%", "%b", "_", "%", "a_", "1%", "%a%", "a", "\\_%"]);
                if p.contains('\\') {
                    format!("{lhs} {neg}LIKE '{p}' ESCAPE '\\'")
                } else {
                    format!("{lhs} {neg}LIKE '{p}'")
                }
            }
            11 => {
                let p = *self
                    .rng
                    .pick(&["a*", "A*", "*b", "?", "*", "[aA]*", "[^a]*", "1*", "*a*"]);
                format!("{lhs} {neg}GLOB '{p}'")
            }
            12 => {
                // Another column of the same scope.
                let d = self.col(sc);
                let op = *self.rng.pick(&["=", "<", ">=", "<>", "IS"]);
                format!("{lhs} {op} {}", d.sql)
            }
            _ => {
                // A key prefix: equalities on the leading columns of an
                // index or key of the column's table, then maybe a range.
                self.key_probe(sc)
                    .unwrap_or_else(|| format!("{lhs} IS NOT NULL"))
            }
        }
    }

    fn key_probe(&mut self, sc: &Scope) -> Option<String> {
        let (t, _) = self.col(sc).src?;
        let tb = &self.tables[t];
        let mut cands: Vec<Vec<usize>> = tb.keys.clone();
        cands.extend(tb.indexes.iter().map(|i| i.cols.clone()));
        if cands.is_empty() {
            return None;
        }
        let key = self.rng.pick(&cands).clone();
        let n = 1 + self.rng.below(key.len());
        let mut terms = Vec::new();
        for (i, &c) in key.iter().take(n).enumerate() {
            let cref = sc.cols.iter().find(|r| r.src == Some((t, c)))?.clone();
            let v = self.lit_for(cref.src);
            if i + 1 == n && self.rng.chance(40) {
                let op = *self.rng.pick(&["<", "<=", ">", ">="]);
                terms.push(format!("{} {op} {v}", cref.sql));
            } else if self.rng.chance(15) {
                let w = self.lit_for(cref.src);
                terms.push(format!("{} IN ({v}, {w})", cref.sql));
            } else {
                terms.push(format!("{} = {v}", cref.sql));
            }
        }
        Some(terms.join(" AND "))
    }

    fn aggregate(&mut self, sc: &Scope, depth: u32) -> String {
        let inner = Scope {
            cols: sc.cols.clone(),
            agg: false,
        };
        let x = if self.rng.chance(70) {
            self.col(&inner).sql
        } else {
            self.expr(&inner, depth.min(1))
        };
        match self.rng.below(10) {
            0 => "count(*)".into(),
            1 => format!("count({x})"),
            2 => format!("count(DISTINCT {x})"),
            3 => format!("sum({x})"),
            4 => format!("total({x})"),
            5 => format!("avg({x})"),
            6 => format!("min({x})"),
            7 => format!("max({x})"),
            // The length does not depend on the order of the rows (quote:
            // a blob's NUL would end the length early).
            8 => format!("length(group_concat(quote({x})))"),
            _ => format!("sum(DISTINCT {x})"),
        }
    }

    /// `(SELECT agg FROM t WHERE ...)`, maybe correlated.
    fn scalar_subquery(&mut self, outer: &Scope) -> String {
        let t = self.rng.below(self.tables.len());
        let al = self.alias();
        let inner = self.table_scope(t, Some(&al));
        let c = self.col(&inner);
        let agg = match self.rng.below(4) {
            0 => "count(*)".to_string(),
            1 => format!("count({})", c.sql),
            2 => format!("sum({})", c.sql),
            _ => format!("total({})", c.sql),
        };
        let w = if !outer.cols.is_empty() && self.rng.chance(50) {
            let o = self.col(outer);
            format!("{} = {}", c.sql, o.sql)
        } else {
            self.pred_simple(&inner)
        };
        format!("(SELECT {agg} FROM t{t} AS {al} WHERE {w})")
    }

    // ---- queries --------------------------------------------------------

    /// A FROM clause and its scope.
    fn from(&mut self) -> (String, Scope) {
        let t = self.rng.below(self.tables.len());
        let a = self.alias();
        let mut sc = self.table_scope(t, Some(&a));
        let mut from = format!("t{t} AS {a}");
        if self.rng.chance(8) {
            // A subquery in FROM.
            let b = self.alias();
            let inner = self.table_scope(t, None);
            let w = self.pred(&inner, 1);
            let cols: Vec<String> = inner.cols.iter().map(|c| c.sql.clone()).collect();
            from = format!("(SELECT {} FROM t{t} WHERE {w}) AS {b}", cols.join(", "));
            sc = Scope {
                cols: inner
                    .cols
                    .iter()
                    .map(|c| CRef {
                        sql: format!("{b}.{}", c.sql),
                        coll: c.coll,
                        src: c.src,
                    })
                    .collect(),
                agg: false,
            };
        }
        if self.tables.len() > 1 && self.rng.chance(35) || self.rng.chance(10) {
            let u = self.rng.below(self.tables.len());
            let b = self.alias();
            let right = self.table_scope(u, Some(&b));
            let mut both = sc.clone();
            both.cols.extend(right.cols.iter().cloned());
            let kind = *self.rng.pick(&[
                "JOIN",
                "LEFT JOIN",
                "CROSS JOIN",
                ",",
                "INNER JOIN",
                "LEFT OUTER JOIN",
            ]);
            from = if kind == "," || kind == "CROSS JOIN" {
                format!("{from} {kind} t{u} AS {b}")
            } else if self.rng.chance(15) {
                // USING on a column name both tables have.
                let n = self.tables[t].cols.len().min(self.tables[u].cols.len());
                format!("{from} {kind} t{u} AS {b} USING (c{})", self.rng.below(n))
            } else {
                let l = self.col(&sc);
                let r = self.col(&right);
                let mut on = format!("{} = {}", l.sql, r.sql);
                if self.rng.chance(30) {
                    on = format!("{on} AND {}", self.pred_simple(&both));
                }
                format!("{from} {kind} t{u} AS {b} ON {on}")
            };
            sc = both;
        }
        (from, sc)
    }

    /// A result column.
    fn item(&mut self, sc: &Scope) -> Item {
        let c = self.col(sc);
        if self.rng.chance(55) {
            return Item {
                sql: c.sql,
                coll: c.coll,
                loose: false,
            };
        }
        let e = self.expr(sc, 2);
        if self.rng.chance(10) {
            let cl = *self.rng.pick(&[Coll::Binary, Coll::NoCase, Coll::Rtrim]);
            return Item {
                sql: format!("{e} COLLATE {}", cl.name()),
                coll: cl,
                loose: false,
            };
        }
        Item {
            coll: coll_of_expr(&e, sc),
            sql: e,
            loose: false,
        }
    }

    /// A SELECT with its comparison spec.
    pub fn select(&mut self) -> Step {
        self.params.clear();
        let (sql, spec) = self.select_inner();
        Step::Query {
            sql,
            params: std::mem::take(&mut self.params),
            spec,
        }
    }

    fn select_inner(&mut self) -> (String, QuerySpec) {
        let (from, sc) = self.from();
        let mut items: Vec<Item> = Vec::new();
        let mut sql = String::from("SELECT ");
        let mode = self.rng.below(10);
        let mut group = String::new();
        let mut having = String::new();
        let mut distinct = false;
        match mode {
            // Aggregates with GROUP BY.
            0..=1 => {
                let nk = 1 + self.rng.below(2);
                let mut keys = Vec::new();
                for _ in 0..nk {
                    let it = if self.rng.chance(75) {
                        let c = self.col(&sc);
                        Item {
                            sql: c.sql,
                            coll: c.coll,
                            loose: true,
                        }
                    } else {
                        let e = self.expr(&sc, 1);
                        Item {
                            coll: coll_of_expr(&e, &sc),
                            sql: e,
                            loose: true,
                        }
                    };
                    keys.push(it.sql.clone());
                    items.push(it);
                }
                let agg_sc = Scope {
                    cols: sc.cols.clone(),
                    agg: true,
                };
                for _ in 0..1 + self.rng.below(2) {
                    let a = self.aggregate(&agg_sc, 1);
                    items.push(Item {
                        sql: a,
                        coll: Coll::Loosest,
                        loose: true,
                    });
                }
                // Keys by ordinal or by expression.
                let gk: Vec<String> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        if self.rng.chance(30) {
                            (i + 1).to_string()
                        } else {
                            k.clone()
                        }
                    })
                    .collect();
                group = format!(" GROUP BY {}", gk.join(", "));
                if self.rng.chance(40) {
                    having = format!(" HAVING {}", self.having(&agg_sc, &keys));
                }
            }
            // Aggregates over everything.
            2 => {
                let agg_sc = Scope {
                    cols: sc.cols.clone(),
                    agg: true,
                };
                for _ in 0..1 + self.rng.below(3) {
                    let a = self.aggregate(&agg_sc, 1);
                    items.push(Item {
                        sql: a,
                        coll: Coll::Loosest,
                        loose: true,
                    });
                }
            }
            // DISTINCT.
            3 => {
                distinct = true;
                for _ in 0..1 + self.rng.below(3) {
                    let mut it = self.item(&sc);
                    it.loose = true;
                    items.push(it);
                }
            }
            _ => {
                for _ in 0..1 + self.rng.below(4) {
                    let it = self.item(&sc);
                    items.push(it);
                }
            }
        }
        if distinct {
            sql.push_str("DISTINCT ");
        }
        sql.push_str(
            &items
                .iter()
                .map(|i| i.sql.clone())
                .collect::<Vec<_>>()
                .join(", "),
        );
        sql.push_str(" FROM ");
        sql.push_str(&from);
        if self.rng.chance(70) {
            sql.push_str(" WHERE ");
            let p = self.pred(&sc, 2);
            sql.push_str(&p);
        }
        sql.push_str(&group);
        sql.push_str(&having);
        let mut spec = QuerySpec {
            cols: items
                .iter()
                .map(|i| {
                    if i.loose {
                        ColCmp::Loose(i.coll)
                    } else {
                        ColCmp::Exact
                    }
                })
                .collect(),
            ..QuerySpec::default()
        };
        // A compound select now and then (same column count).
        let mut merged_compound = false;
        if mode >= 3 && self.rng.chance(12) {
            let op = *self
                .rng
                .pick(&["UNION", "UNION ALL", "INTERSECT", "EXCEPT"]);
            let (f2, sc2) = self.from();
            let its: Vec<Item> = (0..items.len()).map(|_| self.item(&sc2)).collect();
            let w = self.pred(&sc2, 1);
            sql = format!(
                "{sql} {op} SELECT {} FROM {f2} WHERE {w}",
                its.iter()
                    .map(|i| i.sql.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            // UNION ALL keeps the left side's DISTINCT representatives
            // (compared loosely), the others make every column one.
            if op != "UNION ALL" {
                spec.cols = items.iter().map(|i| ColCmp::Loose(i.coll)).collect();
                merged_compound = true;
            }
            // A column's collation in a compound is the left one's when it
            // is a column or COLLATE, else the right one's: unknown here in
            // general, so order by such columns is checked loosely.
            for (i, it) in its.iter().enumerate() {
                if it.coll != items[i].coll {
                    items[i].coll = Coll::Loosest;
                    spec.cols[i] = ColCmp::Loose(Coll::Loosest);
                }
            }
        }
        // ORDER BY result ordinals; LIMIT only with ORDER BY.
        if self.rng.chance(40) {
            let mut ks = Vec::new();
            let n = 1 + self.rng.below(items.len());
            // SQLite runs a UNION, INTERSECT or EXCEPT whose ORDER BY has
            // a COLLATE as `SELECT * FROM (compound) ORDER BY ..`
            // (convertCompoundSelectToSubquery). There a leading term
            // without COLLATE counts as already satisfied by the
            // subquery's merge order, which sorts under the compound's
            // collation (the first SELECT's that has one), while the
            // outer sort groups ties under the leftmost SELECT's alone
            // (wherePathMatchSubqueryOB; sqlite3SubqueryColumnTypes): the
            // rows come in an order no single collation gives. So such an
            // ORDER BY gets a COLLATE on every term or on none.
            let collate_all = merged_compound && self.rng.chance(15);
            for _ in 0..n {
                let i = self.rng.below(items.len());
                let mut coll = items[i].coll;
                let mut k = (i + 1).to_string();
                if collate_all || (!merged_compound && self.rng.chance(15)) {
                    coll = *self.rng.pick(&[Coll::Binary, Coll::NoCase, Coll::Rtrim]);
                    k.push_str(&format!(" COLLATE {}", coll.name()));
                }
                if self.rng.chance(40) {
                    k.push_str(" DESC");
                }
                if self.rng.chance(10) {
                    k.push_str(self.rng.choose(&[" NULLS FIRST", " NULLS LAST"]));
                }
                ks.push(k);
                spec.order.push((i, coll));
            }
            sql.push_str(&format!(" ORDER BY {}", ks.join(", ")));
            // Which groups SQLite computes under a LIMIT depends on its
            // plan, and sum() is the one aggregate that can fail (integer
            // overflow): no LIMIT with it. Nor with abs(), the one scalar
            // function that can (abs(-9223372036854775808)): once SQLite's
            // sorter holds LIMIT rows it skips a row whose ORDER BY key
            // does not sort first before computing its other columns, so
            // whether an error in a row left out is raised is the plan's.
            if self.rng.chance(40) && !sql.contains("sum(") && !sql.contains("abs(") {
                sql.push_str(&format!(" LIMIT {}", self.rng.below(6)));
                if self.rng.chance(40) {
                    sql.push_str(&format!(" OFFSET {}", self.rng.below(4)));
                }
                spec.limited = true;
            }
        }
        (sql, spec)
    }

    /// A HAVING condition: on aggregates, or on the group keys (never on
    /// another column, whose value would come from an arbitrary row).
    fn having(&mut self, agg_sc: &Scope, keys: &[String]) -> String {
        let mut terms = Vec::new();
        for _ in 0..1 + self.rng.below(2) {
            if self.rng.chance(60) || keys.is_empty() {
                let a = self.aggregate(agg_sc, 1);
                let c = self.col(agg_sc);
                let l = self.lit_for(c.src);
                let op = *self.rng.pick(&["=", "<", ">", ">=", "<>", "IS NOT"]);
                terms.push(format!("{a} {op} {l}"));
            } else {
                let k = self.rng.pick(keys).clone();
                let src = agg_sc.cols.iter().find(|c| c.sql == k).and_then(|c| c.src);
                let l = self.lit_for(src);
                let op = *self.rng.pick(&["=", "<", ">", ">=", "<>", "IS NOT"]);
                terms.push(format!("{k} {op} {l}"));
            }
        }
        terms.join(*self.rng.pick(&[" AND ", " OR "]))
    }

    /// `SELECT max(u), bare columns FROM t`: the bare columns come from
    /// the row holding the maximum (u is a key column, so it is unique).
    pub fn bare_minmax(&mut self) -> Option<Step> {
        let t = self.rng.below(self.tables.len());
        let tb = &self.tables[t];
        let singles: Vec<usize> = tb
            .table_keys
            .iter()
            .filter(|k| k.len() == 1)
            .map(|k| k[0])
            .collect();
        if singles.is_empty() {
            return None;
        }
        self.params.clear();
        let u = *self.rng.pick(&singles);
        let sc = self.table_scope(t, None);
        let f = *self.rng.pick(&["max", "min"]);
        let ncols = self.tables[t].cols.len();
        let bare: Vec<String> = (0..1 + self.rng.below(2))
            .map(|_| format!("c{}", self.rng.below(ncols)))
            .collect();
        let w = self.pred(&sc, 1);
        let group = self.rng.chance(30);
        let sql = if group {
            let g = self.rng.below(ncols);
            format!(
                "SELECT c{g}, {f}(c{u}), {} FROM t{t} WHERE c{u} IS NOT NULL AND ({w}) GROUP BY c{g}",
                bare.join(", ")
            )
        } else {
            format!(
                "SELECT {f}(c{u}), {} FROM t{t} WHERE c{u} IS NOT NULL AND ({w})",
                bare.join(", ")
            )
        };
        let coll = self.tables[t].cols[u].coll;
        let mut cols = Vec::new();
        if group {
            cols.push(ColCmp::Loose(Coll::Loosest));
        }
        cols.push(ColCmp::Loose(coll));
        cols.extend(bare.iter().map(|_| ColCmp::Exact));
        if group {
            // Within a group of loosely equal keys the bare columns of
            // the extreme row are exact, but the key's representative is
            // not: compare all loosely.
            cols = cols.iter().map(|_| ColCmp::Loose(Coll::Loosest)).collect();
        }
        Some(Step::Query {
            sql,
            params: std::mem::take(&mut self.params),
            spec: QuerySpec {
                cols,
                ..QuerySpec::default()
            },
        })
    }

    /// A TLP check on a query without aggregates, with DISTINCT, or with
    /// an aggregate that combines over partitions.
    pub fn tlp(&mut self) -> Step {
        self.params.clear();
        let (from, sc) = self.from();
        let p = self.pred(&sc, 2);
        let w = if self.rng.chance(50) {
            Some(self.pred(&sc, 1))
        } else {
            None
        };
        let cond = |x: &str| match &w {
            Some(w) => format!("({w}) AND ({x})"),
            None => x.to_string(),
        };
        let whole = match &w {
            Some(w) => format!(" WHERE {w}"),
            None => String::new(),
        };
        let parts_of = |sel: &str| -> Vec<String> {
            vec![
                format!("{sel} FROM {from} WHERE {}", cond(&p)),
                format!("{sel} FROM {from} WHERE {}", cond(&format!("NOT ({p})"))),
                format!(
                    "{sel} FROM {from} WHERE {}",
                    cond(&format!("({p}) IS NULL"))
                ),
            ]
        };
        let kind = self.rng.below(4);
        let (base, parts, spec) = match kind {
            0 | 1 => {
                let items: Vec<Item> = (0..1 + self.rng.below(3)).map(|_| self.item(&sc)).collect();
                let list = items
                    .iter()
                    .map(|i| i.sql.clone())
                    .collect::<Vec<_>>()
                    .join(", ");
                let distinct = kind == 1;
                let sel = format!("SELECT {}{list}", if distinct { "DISTINCT " } else { "" });
                let spec = QuerySpec {
                    cols: items
                        .iter()
                        .map(|i| {
                            if distinct {
                                ColCmp::Loose(i.coll)
                            } else {
                                ColCmp::Exact
                            }
                        })
                        .collect(),
                    ..QuerySpec::default()
                };
                let glue = if distinct { " UNION " } else { " UNION ALL " };
                (
                    format!("{sel} FROM {from}{whole}"),
                    parts_of(&sel).join(glue),
                    spec,
                )
            }
            2 => {
                // GROUP BY keys: the union of the partitions' groups.
                let c = self.col(&sc);
                let sel = format!("SELECT {}", c.sql);
                let spec = QuerySpec {
                    cols: vec![ColCmp::Loose(c.coll)],
                    ..QuerySpec::default()
                };
                let parts: Vec<String> = parts_of(&sel)
                    .into_iter()
                    .map(|q| format!("{q} GROUP BY {}", c.sql))
                    .collect();
                (
                    format!("{sel} FROM {from}{whole} GROUP BY {}", c.sql),
                    parts.join(" UNION "),
                    spec,
                )
            }
            _ => {
                let c = self.col(&sc);
                let (mut agg, mut outer) = *self.rng.pick(&[
                    ("count(*)", "sum"),
                    ("max", "max"),
                    ("min", "min"),
                    ("sum", "sum"),
                    ("count", "sum"),
                ]);
                // max(c) compares under c's collation, but its result
                // has none: the outer max() must name it again (and an
                // untracked one cannot be named).
                let minmax = agg == "max" || agg == "min";
                if minmax && c.coll == Coll::Loosest {
                    (agg, outer) = ("count(*)", "sum");
                }
                let outer_arg = if minmax && c.coll != Coll::Loosest {
                    format!("x COLLATE {}", c.coll.name())
                } else {
                    "x".to_string()
                };
                let a = if agg == "count(*)" {
                    agg.to_string()
                } else {
                    format!("{agg}({})", c.sql)
                };
                let sel = format!("SELECT {a} AS x");
                let spec = QuerySpec {
                    cols: vec![ColCmp::Loose(c.coll)],
                    ..QuerySpec::default()
                };
                (
                    format!("{sel} FROM {from}{whole}"),
                    format!(
                        "SELECT {outer}({outer_arg}) FROM ({})",
                        parts_of(&sel).join(" UNION ALL ")
                    ),
                    spec,
                )
            }
        };
        // Bound parameters would be numbered differently in the two
        // texts; TLP uses literals only.
        if !self.params.is_empty() {
            let ps = std::mem::take(&mut self.params);
            let fix = |s: &str| {
                let mut s = s.to_string();
                for (i, v) in ps.iter().enumerate().rev() {
                    s = s.replace(&format!("?{}", i + 1), &v.literal());
                }
                s
            };
            return Step::Tlp {
                base: fix(&base),
                parts: fix(&parts),
                spec,
            };
        }
        Step::Tlp { base, parts, spec }
    }

    /// A NoREC check.
    pub fn norec(&mut self) -> Step {
        self.params.clear();
        let (from, sc) = self.from();
        let p = self.pred(&sc, 2);
        let ps = std::mem::take(&mut self.params);
        let mut p = p;
        for (i, v) in ps.iter().enumerate().rev() {
            p = p.replace(&format!("?{}", i + 1), &v.literal());
        }
        Step::NoRec {
            opt: format!("SELECT count(*) FROM {from} WHERE {p}"),
            unopt: format!("SELECT coalesce(sum(CASE WHEN {p} THEN 1 ELSE 0 END), 0) FROM {from}"),
        }
    }

    // ---- data changes ---------------------------------------------------

    fn conflict_clause(&mut self) -> &'static str {
        match self.rng.below(12) {
            0..=1 => "OR IGNORE ",
            2..=3 => "OR REPLACE ",
            4 => "OR ABORT ",
            5 => "OR FAIL ",
            6 => "OR ROLLBACK ",
            _ => "",
        }
    }

    fn row_values(&mut self, t: usize, cols: &[usize]) -> String {
        let vs: Vec<String> = cols
            .iter()
            .map(|&c| {
                if self.tables[t].ipk == Some(c) && self.rng.chance(40) {
                    return "NULL".to_string();
                }
                let v = self.value_for(t, c);
                self.lit_of(v)
            })
            .collect();
        format!("({})", vs.join(", "))
    }

    fn returning(&mut self, t: usize) -> Option<String> {
        if !self.rng.chance(10) {
            return None;
        }
        let sc = self.table_scope(t, None);
        Some(if self.rng.chance(40) {
            " RETURNING *".to_string()
        } else {
            let e = self.expr(&sc, 1);
            format!(" RETURNING {}, {e}", self.col(&sc).sql)
        })
    }

    fn dml_step(&mut self, sql: String, ret: Option<String>) -> Step {
        let params = std::mem::take(&mut self.params);
        match ret {
            Some(r) => Step::Query {
                sql: format!("{sql}{r}"),
                params,
                spec: QuerySpec {
                    numeric: true,
                    ..QuerySpec::default()
                },
            },
            None => Step::Exec {
                sql,
                params,
                counts: true,
            },
        }
    }

    /// An INSERT (or REPLACE, or upsert) into table `t`.
    pub fn insert(&mut self, t: usize) -> Step {
        self.params.clear();
        let ncols = self.tables[t].cols.len();
        let all: Vec<usize> = (0..ncols).collect();
        let cols: Vec<usize> = if self.rng.chance(40) {
            all.clone()
        } else {
            let mut v: Vec<usize> = all
                .iter()
                .copied()
                .filter(|_| self.rng.chance(70))
                .collect();
            if v.is_empty() {
                v.push(self.rng.below(ncols));
            }
            if self.rng.chance(30) {
                v.reverse();
            }
            v
        };
        let list = if cols == all && self.rng.chance(50) {
            String::new()
        } else {
            format!(
                " ({})",
                cols.iter()
                    .map(|c| format!("c{c}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let kind = self.rng.below(20);
        let ret = self.returning(t);
        if kind == 0 {
            return self.dml_step(format!("INSERT INTO t{t} DEFAULT VALUES"), ret);
        }
        if kind == 1 && self.tables.len() > 1 {
            let u = self.rng.below(self.tables.len());
            let a = self.alias();
            let sc = self.table_scope(u, Some(&a));
            let exprs: Vec<String> = cols.iter().map(|_| self.expr(&sc, 1)).collect();
            let w = self.pred(&sc, 1);
            let or = self.conflict_clause();
            // The rows go in in the SELECT's order, which decides which of
            // two conflicting rows wins and which rowid each gets; an
            // ORDER BY on every value and its type fixes it for both
            // engines.
            let order: Vec<String> = exprs.iter().map(|e| format!("{e}, typeof({e})")).collect();
            return self.dml_step(
                format!(
                    "INSERT {or}INTO t{t}{list} SELECT {} FROM t{u} AS {a} WHERE {w} ORDER BY {}",
                    exprs.join(", "),
                    order.join(", ")
                ),
                ret,
            );
        }
        let nrows = 1 + self.rng.below(3);
        let rows: Vec<String> = (0..nrows).map(|_| self.row_values(t, &cols)).collect();
        let values = rows.join(", ");
        if kind <= 5 && !list.is_empty() {
            // Upsert.
            let keys = self.tables[t].keys.clone();
            let target = if !keys.is_empty() && self.rng.chance(85) {
                let k = self.rng.pick(&keys).clone();
                format!(
                    "({})",
                    k.iter()
                        .map(|c| format!("c{c}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else if self.rng.chance(50) {
                // A target no constraint matches: an error in SQLite.
                format!("(c{})", self.rng.below(ncols))
            } else {
                String::new()
            };
            let action = if target.is_empty() || self.rng.chance(30) {
                "DO NOTHING".to_string()
            } else {
                let sc = self.table_scope(t, None);
                let mut sets = Vec::new();
                for _ in 0..1 + self.rng.below(2) {
                    let c = self.rng.below(ncols);
                    let v = match self.rng.below(3) {
                        0 => format!("excluded.c{c}"),
                        1 => self.expr(&sc, 1),
                        _ => format!("c{c} || excluded.c{c}"),
                    };
                    sets.push(format!("c{c} = {v}"));
                }
                let w = if self.rng.chance(30) {
                    format!(" WHERE {}", self.pred_simple(&sc))
                } else {
                    String::new()
                };
                format!("DO UPDATE SET {}{w}", sets.join(", "))
            };
            return self.dml_step(
                format!("INSERT INTO t{t}{list} VALUES {values} ON CONFLICT {target} {action}"),
                ret,
            );
        }
        let head = if kind == 6 {
            "REPLACE ".to_string()
        } else {
            format!("INSERT {}", self.conflict_clause())
        };
        self.dml_step(format!("{head}INTO t{t}{list} VALUES {values}"), ret)
    }

    /// An UPDATE of table `t`.
    pub fn update(&mut self, t: usize) -> Step {
        self.params.clear();
        let sc = self.table_scope(t, None);
        let ncols = self.tables[t].cols.len();
        let mut sets = Vec::new();
        for _ in 0..1 + self.rng.below(2) {
            let c = self.rng.below(ncols);
            let v = if self.rng.chance(50) {
                let v = self.value_for(t, c);
                self.lit_of(v)
            } else {
                self.expr(&sc, 1)
            };
            sets.push(format!("c{c} = {v}"));
        }
        let or = self.conflict_clause();
        let mut sql = format!("UPDATE {or}t{t} SET {}", sets.join(", "));
        if self.rng.chance(85) {
            sql.push_str(" WHERE ");
            let p = self.pred(&sc, 1);
            sql.push_str(&p);
        }
        let ret = self.returning(t);
        self.dml_step(sql, ret)
    }

    /// A DELETE from table `t`.
    pub fn delete(&mut self, t: usize) -> Step {
        self.params.clear();
        let sc = self.table_scope(t, None);
        let mut sql = format!("DELETE FROM t{t}");
        if self.rng.chance(92) {
            sql.push_str(" WHERE ");
            let p = self.pred(&sc, 1);
            sql.push_str(&p);
        }
        let ret = self.returning(t);
        self.dml_step(sql, ret)
    }

    /// Every row of table `t` (with its rowid where it has one).
    pub fn dump(&self, t: usize) -> Step {
        let tb = &self.tables[t];
        let sql = if tb.without_rowid {
            format!("SELECT * FROM t{t}")
        } else {
            format!("SELECT rowid, * FROM t{t}")
        };
        Step::Query {
            sql,
            params: Vec::new(),
            spec: QuerySpec::default(),
        }
    }

    /// Number of tables.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// Index of a random table.
    pub fn some_table(&mut self) -> usize {
        self.rng.below(self.tables.len())
    }

    /// Rows to start with: a few INSERTs per table.
    pub fn populate(&mut self) -> Vec<(usize, Step)> {
        let mut out = Vec::new();
        for t in 0..self.tables.len() {
            for _ in 0..2 + self.rng.below(8) {
                self.params.clear();
                let ncols = self.tables[t].cols.len();
                let cols: Vec<usize> = (0..ncols).collect();
                let rows: Vec<String> = (0..1 + self.rng.below(4))
                    .map(|_| self.row_values(t, &cols))
                    .collect();
                let or = if self.rng.chance(50) {
                    "OR IGNORE "
                } else {
                    ""
                };
                let sql = format!("INSERT {or}INTO t{t} VALUES {}", rows.join(", "));
                out.push((t, self.dml_step(sql, None)));
            }
        }
        out
    }

    /// DDL during a case: an index made or dropped, REINDEX, or a
    /// statement naming something that does not exist.
    pub fn ddl(&mut self) -> Step {
        let plain = |sql: String| Step::Exec {
            sql,
            params: Vec::new(),
            counts: false,
        };
        match self.rng.below(8) {
            0..=2 => match self.create_index() {
                Some(s) => s,
                None => plain("DROP INDEX IF EXISTS nosuch".into()),
            },
            3 => {
                let t = self.some_table();
                if let Some(i) = self.tables[t].indexes.pop() {
                    if i.unique && !i.partial && i.default_colls {
                        if let Some(p) = self.tables[t].keys.iter().rposition(|k| *k == i.cols) {
                            self.tables[t].keys.remove(p);
                        }
                    }
                    plain(format!("DROP INDEX {}", i.name))
                } else {
                    plain(format!("DROP INDEX IF EXISTS nosuch{t}"))
                }
            }
            4 => {
                let t = self.some_table();
                let target = match self.rng.below(4) {
                    0 => String::new(),
                    1 => format!(" t{t}"),
                    2 => match self.tables[t].indexes.first() {
                        Some(i) => format!(" {}", i.name),
                        None => " nosuch".into(),
                    },
                    _ => " nosuch".into(),
                };
                plain(format!("REINDEX{target}"))
            }
            5 => {
                let t = self.some_table();
                let hint = if self.rng.chance(50) {
                    "NOT INDEXED"
                } else {
                    "INDEXED BY nosuch"
                };
                let sc = self.table_scope(t, None);
                let p = self.pred_simple(&sc);
                Step::Query {
                    sql: format!("SELECT * FROM t{t} {hint} WHERE {p}"),
                    params: std::mem::take(&mut self.params),
                    spec: QuerySpec::default(),
                }
            }
            6 => plain(format!("DROP TABLE IF EXISTS nosuch{}", self.rng.below(3))),
            _ => Step::Query {
                sql: "SELECT nosuch FROM nosuch".into(),
                params: Vec::new(),
                spec: QuerySpec::default(),
            },
        }
    }

    /// CREATE TRIGGER: a row trigger whose body changes another table or
    /// its own (SQLite does not recurse into a trigger already running).
    pub fn create_trigger(&mut self) -> Step {
        self.allow_params = false;
        let t = self.some_table();
        let name = format!("tr{}", self.next_trigger);
        self.next_trigger += 1;
        self.has_triggers = true;
        let timing = *self.rng.pick(&["BEFORE", "AFTER"]);
        let ncols = self.tables[t].cols.len();
        let (event, rowref) = match self.rng.below(3) {
            0 => ("INSERT".to_string(), "new"),
            1 => {
                if self.rng.chance(40) {
                    (format!("UPDATE OF c{}", self.rng.below(ncols)), "new")
                } else {
                    ("UPDATE".to_string(), *self.rng.pick(&["new", "old"]))
                }
            }
            _ => ("DELETE".to_string(), "old"),
        };
        // The triggering row's columns, as NEW.c or OLD.c.
        let row = Scope {
            cols: (0..ncols)
                .map(|c| CRef {
                    sql: format!("{rowref}.c{c}"),
                    coll: self.tables[t].cols[c].coll,
                    src: Some((t, c)),
                })
                .collect(),
            agg: false,
        };
        let when = if self.rng.chance(30) {
            format!(" WHEN {}", self.pred_simple(&row))
        } else {
            String::new()
        };
        let mut body = Vec::new();
        for _ in 0..1 + self.rng.below(2) {
            let u = self.some_table();
            let un = self.tables[u].cols.len();
            let target = self.table_scope(u, None);
            body.push(match self.rng.below(3) {
                0 => {
                    let vals: Vec<String> = (0..un)
                        .map(|c| {
                            if self.rng.chance(50) {
                                self.col(&row).sql
                            } else {
                                self.lit_for(Some((u, c)))
                            }
                        })
                        .collect();
                    format!("INSERT OR IGNORE INTO t{u} VALUES ({})", vals.join(", "))
                }
                1 => {
                    let c = self.rng.below(un);
                    let v = self.col(&row).sql;
                    let w = self.pred_simple(&target);
                    let one = self.one_row(u, &w);
                    format!("UPDATE OR IGNORE t{u} SET c{c} = {v} WHERE {one}")
                }
                _ => {
                    let c = self.rng.below(un);
                    let v = self.col(&row).sql;
                    let one = self.one_row(u, &format!("c{c} = {v}"));
                    format!("DELETE FROM t{u} WHERE {one}")
                }
            });
        }
        self.allow_params = true;
        Step::Exec {
            sql: format!(
                "CREATE TRIGGER {name} {timing} {event} ON t{t}{when} BEGIN {}; END",
                body.join("; ")
            ),
            params: Vec::new(),
            counts: false,
        }
    }

    /// A condition on table `u` that holds for at most one row: the first
    /// row, in key order, for which `w` holds. A statement in a trigger
    /// body that visits several rows may end differently depending on the
    /// order it visits them in (OR IGNORE keeps the first row to take a
    /// UNIQUE value; each row's deletion fires its own triggers), which
    /// SQLite leaves unspecified; the visit-order oracle judges the
    /// statement that fires the trigger, not the trigger's own (901594,
    /// 906455).
    fn one_row(&self, u: usize, w: &str) -> String {
        let t = &self.tables[u];
        if !t.without_rowid {
            return format!("rowid = (SELECT min(rowid) FROM t{u} WHERE {w})");
        }
        let pk = &t.table_keys[0];
        let order: Vec<String> = pk.iter().map(|k| format!("c{k}")).collect();
        let order = order.join(", ");
        let conds: Vec<String> = pk
            .iter()
            .map(|k| format!("c{k} = (SELECT c{k} FROM t{u} WHERE {w} ORDER BY {order} LIMIT 1)"))
            .collect();
        conds.join(" AND ")
    }

    /// BEGIN / COMMIT / ROLLBACK and savepoints (tracked so that they are
    /// mostly valid).
    pub fn txn(&mut self) -> Step {
        let sql = if !self.in_txn {
            self.in_txn = true;
            self.savepoints.clear();
            if self.rng.chance(20) {
                self.savepoints.push(0);
                "SAVEPOINT s0".to_string()
            } else {
                "BEGIN".to_string()
            }
        } else {
            match self.rng.below(6) {
                0 | 1 => {
                    let n = self.savepoints.len() + 1;
                    self.savepoints.push(n);
                    format!("SAVEPOINT s{n}")
                }
                2 if !self.savepoints.is_empty() => {
                    let i = self.rng.below(self.savepoints.len());
                    let n = self.savepoints[i];
                    // ROLLBACK TO keeps the savepoint open.
                    self.savepoints.truncate(i + 1);
                    format!("ROLLBACK TO s{n}")
                }
                3 if !self.savepoints.is_empty() => {
                    let i = self.rng.below(self.savepoints.len());
                    let n = self.savepoints[i];
                    self.savepoints.truncate(i);
                    // Releasing the outermost savepoint of a transaction
                    // that SAVEPOINT began ends the transaction.
                    if i == 0 && self.savepoints_began {
                        self.in_txn = false;
                    }
                    format!("RELEASE s{n}")
                }
                4 => {
                    self.in_txn = false;
                    "ROLLBACK".to_string()
                }
                _ => {
                    self.in_txn = false;
                    "COMMIT".to_string()
                }
            }
        };
        if sql.starts_with("SAVEPOINT s0") {
            self.savepoints_began = true;
        } else if sql == "BEGIN" {
            self.savepoints_began = false;
        }
        Step::Exec {
            sql,
            params: Vec::new(),
            counts: false,
        }
    }

    /// A random statement of the main phase, and the tables it changes.
    pub fn step(&mut self) -> (Step, Option<usize>) {
        let t = self.some_table();
        match self.rng.below(100) {
            0..=37 => (self.select(), None),
            38..=41 => match self.bare_minmax() {
                Some(s) => (s, None),
                None => (self.select(), None),
            },
            42..=51 => (self.tlp(), None),
            52..=57 => (self.norec(), None),
            58..=73 => (self.insert(t), Some(t)),
            74..=83 => (self.update(t), Some(t)),
            84..=89 => (self.delete(t), Some(t)),
            90..=93 => (self.ddl(), None),
            94 if self.next_trigger < 3 => (self.create_trigger(), None),
            _ => (self.txn(), Some(t)),
        }
    }
}

/// The collation SQLite gives an expression result: BINARY unless an
/// explicit COLLATE inside it propagates (which one is not tracked, so
/// such a column is compared under the loosest folding).
fn coll_of_expr(sql: &str, sc: &Scope) -> Coll {
    // A bare column keeps its own collation (SQLite's sqlite3ExprCollSeq),
    // also through unary plus and CAST, nested in any order
    // (`+(CAST(c AS TEXT))`: 1102479); any other expression has none
    // unless COLLATE is written in it.
    let mut e = sql;
    loop {
        if let Some(c) = sc.cols.iter().find(|c| c.sql == e) {
            return c.coll;
        }
        if let Some(inner) = e.strip_prefix("+(").and_then(|x| x.strip_suffix(')')) {
            e = inner;
            continue;
        }
        if let Some((inner, _)) = e
            .strip_prefix("CAST(")
            .and_then(|x| x.strip_suffix(')'))
            .and_then(|x| x.rsplit_once(" AS "))
        {
            e = inner;
            continue;
        }
        break;
    }
    if sql.contains("COLLATE") {
        Coll::Loosest
    } else {
        Coll::Binary
    }
}
