//! sealdb's own SQL syntax tree: what the rest of the engine sees.
//!
//! `parse.rs` converts sqlparser's (large, dialect-general) AST into this
//! small one, so an upgrade of the parser touches one file, and the binder
//! and planner only handle what sealdb supports. Names are kept as written;
//! lookups are case-insensitive.

use std::sync::Arc;

use crate::types::{CastType, Collation, Value};

/// One statement.
#[derive(Clone, Debug)]
pub enum Statement {
    /// A query.
    Query(Box<Query>),
    /// INSERT / REPLACE.
    Insert(Box<Insert>),
    /// UPDATE.
    Update(Box<Update>),
    /// DELETE.
    Delete(Box<Delete>),
    /// CREATE TABLE.
    CreateTable(Box<CreateTable>),
    /// CREATE [UNIQUE] INDEX.
    CreateIndex(Box<CreateIndex>),
    /// CREATE VIEW (the text is kept to store in the catalog).
    CreateView {
        /// View name.
        name: String,
        /// Explicit column names.
        columns: Vec<String>,
        /// The query.
        query: Box<Query>,
        /// The query's SQL text (stored in the catalog).
        query_sql: String,
        /// IF NOT EXISTS.
        if_not_exists: bool,
    },
    /// DROP TABLE / INDEX / VIEW.
    Drop {
        /// What kind of object.
        kind: ObjectKind,
        /// Names.
        names: Vec<String>,
        /// IF EXISTS.
        if_exists: bool,
    },
    /// BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE].
    Begin {
        /// IMMEDIATE or EXCLUSIVE: take the writer slot now, so that no
        /// later write of the transaction waits or fails for it (sealdb
        /// readers read snapshots, so EXCLUSIVE is IMMEDIATE, as in
        /// SQLite's WAL mode).
        immediate: bool,
    },
    /// COMMIT / END.
    Commit,
    /// ROLLBACK [TO savepoint].
    Rollback(Option<String>),
    /// SAVEPOINT name.
    Savepoint(String),
    /// RELEASE [SAVEPOINT] name.
    Release(String),
    /// EXPLAIN statement; `true`: EXPLAIN QUERY PLAN (SQLite's four
    /// columns), else sealdb's own plan tree.
    Explain(Box<Statement>, bool),
    /// CREATE TRIGGER.
    CreateTrigger(Box<CreateTrigger>),
    /// PRAGMA (see `db/pragma.rs` for those sealdb has).
    Pragma(Pragma),
    /// REINDEX [table or index].
    Reindex(Option<String>),
    /// VACUUM [main]: full compaction of the store.
    Vacuum,
    /// ANALYZE [main | [main.]table-or-index]: `None` measures every
    /// table (SQLite's sqlite_stat1 statistics).
    Analyze(Option<String>),
    /// SHOW CLUSTER: the replication members and their state.
    ShowCluster,
    /// SET name = value: a setting of this session (`read_consistency`).
    SetSession {
        /// The setting, lower case.
        name: String,
        /// Its value as written (quotes removed).
        value: String,
    },
    /// A security statement (users, roles, grants, policies, audit, host
    /// rules), applied by the `db` layer to the security catalog.
    Auth(Box<crate::auth::AuthStmt>),
    /// BACKUP TO, RESTORE FROM, SHOW BACKUP (run by the `db` layer).
    Backup(Box<crate::syntax::parse_backup::BackupStmt>),
    /// ALTER TABLE.
    AlterTable {
        /// The table.
        table: String,
        /// What to change.
        op: AlterOp,
    },
}

/// `PRAGMA [main.]name [= value | (value)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pragma {
    /// The pragma's name, lower case.
    pub name: String,
    /// Its value or argument.
    pub value: Option<PragmaValue>,
    /// Written `name = value` (a setting), not `name(value)`.
    pub assign: bool,
}

/// A pragma's value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PragmaValue {
    /// A name, keyword or string (SQLite reads them alike).
    Text(String),
    /// A number with its sign, as written.
    Number(String),
}

impl PragmaValue {
    /// The value as text (a number as written).
    pub fn text(&self) -> &str {
        match self {
            PragmaValue::Text(s) | PragmaValue::Number(s) => s,
        }
    }
}

/// When a trigger runs relative to its row change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerTiming {
    /// Before the row is changed.
    Before,
    /// After the row is changed.
    After,
    /// INSTEAD OF the change, on a view (the view itself is never
    /// written).
    InsteadOf,
}

/// What a trigger fires on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TriggerEvent {
    /// INSERT.
    Insert,
    /// UPDATE [OF columns] (empty: any column).
    Update(Vec<String>),
    /// DELETE.
    Delete,
}

/// CREATE TRIGGER (row triggers: FOR EACH ROW).
#[derive(Clone, Debug)]
pub struct CreateTrigger {
    /// Trigger name.
    pub name: String,
    /// The table it watches.
    pub table: String,
    /// BEFORE / AFTER.
    pub timing: TriggerTiming,
    /// The event.
    pub event: TriggerEvent,
    /// WHEN condition (may use NEW. and OLD.).
    pub when: Option<Expr>,
    /// The body.
    pub body: Vec<Statement>,
    /// The statement's SQL text (stored in the catalog).
    pub sql: String,
}

/// ALTER TABLE operations.
#[derive(Clone, Debug)]
pub enum AlterOp {
    /// ADD [COLUMN] definition.
    AddColumn(ColumnSpec),
    /// DROP [COLUMN] name.
    DropColumn(String),
    /// RENAME [COLUMN] old TO new.
    RenameColumn(String, String),
    /// RENAME TO new.
    RenameTable(String),
}

/// Kinds of schema objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    /// A table.
    Table,
    /// An index.
    Index,
    /// A view.
    View,
    /// A trigger.
    Trigger,
}

/// A query: a set expression with ORDER BY / LIMIT / OFFSET, after the
/// common table expressions of its WITH clause.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// WITH: the common table expressions the body (and each other) may
    /// name. Shared, so that the planner can keep them in scope cheaply.
    pub with: Option<Arc<With>>,
    /// The body.
    pub body: SetExpr,
    /// ORDER BY items.
    pub order_by: Vec<OrderItem>,
    /// LIMIT.
    pub limit: Option<Expr>,
    /// OFFSET.
    pub offset: Option<Expr>,
}

/// A WITH clause. `RECURSIVE` is kept as written but, as in SQLite,
/// changes nothing: a CTE whose body is a UNION [ALL] naming itself in the
/// FROM clause of its right-hand SELECTs is recursive either way.
#[derive(Clone, Debug, PartialEq)]
pub struct With {
    /// WITH RECURSIVE.
    pub recursive: bool,
    /// The common table expressions, in order (names unique).
    pub ctes: Vec<Cte>,
}

/// One common table expression: `name [(columns)] AS [[NOT] MATERIALIZED]
/// (query)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cte {
    /// Its name (a FROM item with this name reads it instead of a table).
    pub name: String,
    /// Column names (empty: the query's).
    pub columns: Vec<String>,
    /// The query.
    pub query: Query,
    /// MATERIALIZED (Some(true)) / NOT MATERIALIZED (Some(false)): whether
    /// its rows are computed once and kept, or its query is run at each
    /// reference; None: kept when it is named more than once.
    pub materialized: Option<bool>,
}

/// SELECT, VALUES, or a set operation of them.
#[derive(Clone, Debug, PartialEq)]
pub enum SetExpr {
    /// A SELECT.
    Select(Box<Select>),
    /// VALUES rows.
    Values(Vec<Vec<Expr>>),
    /// A parenthesized query.
    Query(Box<Query>),
    /// UNION / INTERSECT / EXCEPT.
    SetOp {
        /// Which operation.
        op: SetOp,
        /// ALL (keep duplicates).
        all: bool,
        /// Left side.
        left: Box<SetExpr>,
        /// Right side.
        right: Box<SetExpr>,
    },
}

/// Set operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// UNION.
    Union,
    /// INTERSECT.
    Intersect,
    /// EXCEPT.
    Except,
}

/// A SELECT core.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    /// DISTINCT.
    pub distinct: bool,
    /// Result columns.
    pub items: Vec<SelectItem>,
    /// FROM (joined left to right; empty = one row of nothing).
    pub from: Option<FromItem>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// GROUP BY.
    pub group_by: Vec<Expr>,
    /// HAVING.
    pub having: Option<Expr>,
    /// WINDOW: the named window definitions, in order (a definition may
    /// name an earlier one as its base).
    pub windows: Vec<(String, WindowSpec)>,
}

/// One result column.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// `*`.
    Wildcard,
    /// `t.*`.
    QualifiedWildcard(String),
    /// An expression, optionally named.
    Expr {
        /// The expression.
        expr: Expr,
        /// `AS name`.
        alias: Option<String>,
        /// The expression as written, unless it is a plain column: what
        /// SQLite names a result column without `AS`.
        text: Option<String>,
    },
}

/// A FROM item.
#[derive(Clone, Debug, PartialEq)]
pub enum FromItem {
    /// A table, view or common table expression.
    Table {
        /// Its name.
        name: String,
        /// Written `main.name`: a table or view, never a CTE.
        qualified: bool,
        /// Alias.
        alias: Option<String>,
        /// INDEXED BY / NOT INDEXED.
        hint: Option<IndexHint>,
    },
    /// A subquery.
    Subquery {
        /// The query.
        query: Box<Query>,
        /// Alias.
        alias: Option<String>,
    },
    /// A table-valued function: `name(args)` (sealdb has the
    /// `pragma_*` ones, see `sql::introspect`).
    Function {
        /// Its name as written.
        name: String,
        /// Its arguments.
        args: Vec<Expr>,
        /// Alias.
        alias: Option<String>,
    },
    /// A join.
    Join {
        /// Left side.
        left: Box<FromItem>,
        /// Right side.
        right: Box<FromItem>,
        /// Inner, left, right or full.
        kind: JoinKind,
        /// ON condition.
        on: Option<Expr>,
        /// USING columns.
        using: Vec<String>,
        /// NATURAL: USING every column name both sides have (found when
        /// planning; `on` and `using` are then empty).
        natural: bool,
    },
}

/// How a table may be read (SQLite's INDEXED BY and NOT INDEXED).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexHint {
    /// INDEXED BY name: through this index (an error if there is none).
    IndexedBy(String),
    /// NOT INDEXED: through no index.
    NotIndexed,
}

/// Join kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    /// Inner, cross or comma join.
    Inner,
    /// LEFT [OUTER] JOIN.
    Left,
    /// RIGHT [OUTER] JOIN: every row of the right side, the left side
    /// NULL where none matches.
    Right,
    /// FULL [OUTER] JOIN: LEFT and RIGHT at once.
    Full,
}

/// An ORDER BY item.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// Sort key.
    pub expr: Expr,
    /// DESC.
    pub desc: bool,
    /// NULLS FIRST (Some(true)) / LAST (Some(false)); default: NULLs first
    /// ascending, last descending (SQLite's: NULL is the smallest value).
    pub nulls_first: Option<bool>,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// +
    Add,
    /// -
    Sub,
    /// *
    Mul,
    /// /
    Div,
    /// %
    Rem,
    /// ||
    Concat,
    /// =
    Eq,
    /// <> / !=
    Ne,
    /// <
    Lt,
    /// <=
    Le,
    /// >
    Gt,
    /// >=
    Ge,
    /// AND
    And,
    /// OR
    Or,
    /// IS (null-safe equality)
    Is,
    /// IS NOT
    IsNot,
    /// &
    BitAnd,
    /// |
    BitOr,
    /// <<
    Shl,
    /// >>
    Shr,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// -x
    Neg,
    /// +x
    Plus,
    /// NOT x
    Not,
    /// ~x
    BitNot,
    /// x IS TRUE: 1 when x is true, else 0 (also for NULL).
    IsTrue,
    /// x IS NOT TRUE.
    IsNotTrue,
    /// x IS FALSE: 1 when x is false, else 0 (also for NULL).
    IsFalse,
    /// x IS NOT FALSE.
    IsNotFalse,
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A literal.
    Literal(Value),
    /// A column, optionally qualified.
    Column {
        /// Table or alias.
        table: Option<String>,
        /// Column name.
        name: String,
    },
    /// A parameter, 1-based.
    Param(usize),
    /// Unary operation.
    Unary(UnOp, Box<Expr>),
    /// Binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// IS [NOT] NULL.
    IsNull(Box<Expr>, bool),
    /// [NOT] IN (list).
    InList {
        /// Tested value.
        expr: Box<Expr>,
        /// Candidates.
        list: Vec<Expr>,
        /// NOT IN.
        negated: bool,
    },
    /// [NOT] IN (subquery).
    InSubquery {
        /// Tested value.
        expr: Box<Expr>,
        /// Subquery.
        query: Box<Query>,
        /// NOT IN.
        negated: bool,
    },
    /// [NOT] EXISTS (subquery).
    Exists(Box<Query>, bool),
    /// A scalar subquery.
    Subquery(Box<Query>),
    /// [NOT] BETWEEN.
    Between {
        /// Tested value.
        expr: Box<Expr>,
        /// Low bound.
        low: Box<Expr>,
        /// High bound.
        high: Box<Expr>,
        /// NOT BETWEEN.
        negated: bool,
    },
    /// [NOT] LIKE / GLOB.
    Like {
        /// Tested text.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// ESCAPE.
        escape: Option<Box<Expr>>,
        /// NOT LIKE.
        negated: bool,
        /// GLOB instead of LIKE.
        glob: bool,
    },
    /// CASE.
    Case {
        /// CASE x WHEN ...
        operand: Option<Box<Expr>>,
        /// WHEN / THEN pairs.
        whens: Vec<(Expr, Expr)>,
        /// ELSE.
        otherwise: Option<Box<Expr>>,
    },
    /// CAST.
    Cast(Box<Expr>, CastType),
    /// `x COLLATE name`: compare `x` under this collating sequence.
    Collate(Box<Expr>, Collation),
    /// A function call (scalar or aggregate).
    Function {
        /// Name.
        name: String,
        /// Arguments.
        args: Vec<Expr>,
        /// DISTINCT.
        distinct: bool,
        /// `f(*)`.
        star: bool,
        /// `FILTER (WHERE ...)` of an aggregate call: only the rows it
        /// holds for are fed to the aggregate (a scalar function refuses
        /// it).
        filter: Option<Box<Expr>>,
    },
    /// A row value `(a, b, ...)` of two or more terms (SQLite's
    /// rowvalue.html): allowed only where SQLite allows a vector, as an
    /// operand of a comparison, IN, BETWEEN or CASE; elsewhere "row value
    /// misused".
    Row(Vec<Expr>),
    /// Term `index` of the `of` columns of the first row of `query` (NULL
    /// without rows): the value `UPDATE ... SET (a, b) = (SELECT ...)`
    /// assigns to one column. The terms of one such assignment share the
    /// `Arc`, so that the query runs once per row for all of them.
    RowField {
        /// The row subquery.
        query: Arc<Query>,
        /// Which of its columns.
        index: usize,
        /// How many columns the assignment names (the query must have as
        /// many).
        of: usize,
    },
    /// A window function call (`f(...) [FILTER (WHERE ...)] OVER ...`).
    Window(Box<WindowCall>),
    /// SQLite's `RAISE(IGNORE)` and `RAISE(ROLLBACK | ABORT | FAIL, msg)`
    /// of a trigger program: stop the row's processing (IGNORE, no
    /// message) or fail with `msg`, undoing what the conflict resolution
    /// of the same name undoes. Never `Conflict::Replace`.
    Raise(Conflict, Option<Box<Expr>>),
}

/// A window function call: `name(args) [FILTER (WHERE filter)] OVER
/// window`, a built-in window function or an aggregate computed over a
/// frame of rows (see `sql::window`).
#[derive(Clone, Debug, PartialEq)]
pub struct WindowCall {
    /// The function's name, lower case.
    pub name: String,
    /// Arguments.
    pub args: Vec<Expr>,
    /// `f(*)`.
    pub star: bool,
    /// `f(DISTINCT x)` (refused, as in SQLite).
    pub distinct: bool,
    /// FILTER (WHERE ...): only the rows it holds for enter the frame.
    pub filter: Option<Box<Expr>>,
    /// The window it runs over.
    pub over: Over,
}

impl WindowCall {
    /// Every expression of the call: arguments, FILTER, and, for a
    /// window written here, its PARTITION BY, ORDER BY and frame offsets.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut v: Vec<&Expr> = self.args.iter().collect();
        v.extend(self.filter.as_deref());
        if let Over::Spec(spec) = &self.over {
            v.extend(spec.exprs());
        }
        v
    }
}

impl WindowSpec {
    /// PARTITION BY and ORDER BY terms and frame offsets.
    pub fn exprs(&self) -> Vec<&Expr> {
        let mut v: Vec<&Expr> = self.partition_by.iter().collect();
        v.extend(self.order_by.iter().map(|o| &o.expr));
        if let Some(f) = &self.frame {
            for b in [&f.start, &f.end] {
                if let FrameBound::Preceding(e) | FrameBound::Following(e) = b {
                    v.push(e);
                }
            }
        }
        v
    }
}

/// What follows OVER.
#[derive(Clone, Debug, PartialEq)]
pub enum Over {
    /// `OVER name`: a window of the SELECT's WINDOW clause, as it is.
    Named(String),
    /// `OVER (...)`: a window written here (it may start from a named one).
    Spec(WindowSpec),
}

/// A window: `[base] [PARTITION BY ...] [ORDER BY ...] [frame]`.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowSpec {
    /// The named window it extends (its PARTITION BY, ORDER BY and frame
    /// are taken, under SQLite's rules of what may be added).
    pub base: Option<String>,
    /// PARTITION BY.
    pub partition_by: Vec<Expr>,
    /// ORDER BY.
    pub order_by: Vec<OrderItem>,
    /// The frame; None: the default (`RANGE BETWEEN UNBOUNDED PRECEDING
    /// AND CURRENT ROW`), which a window extending this one may replace.
    pub frame: Option<Frame>,
}

/// A frame: which rows around the current one an aggregate sees.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// ROWS, RANGE or GROUPS.
    pub units: FrameUnits,
    /// Where it starts.
    pub start: FrameBound,
    /// Where it ends.
    pub end: FrameBound,
    /// EXCLUDE; None when not written (written, even as NO OTHERS,
    /// SQLite computes each row's frame afresh, which shows in sums and
    /// min/max ties).
    pub exclude: Option<FrameExclude>,
}

/// A frame's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameUnits {
    /// ROWS: offsets count rows.
    Rows,
    /// RANGE: offsets are distances in the (single) ORDER BY value.
    Range,
    /// GROUPS: offsets count groups of peers.
    Groups,
}

/// One end of a frame.
#[derive(Clone, Debug, PartialEq)]
pub enum FrameBound {
    /// UNBOUNDED PRECEDING.
    UnboundedPreceding,
    /// `expr PRECEDING`.
    Preceding(Box<Expr>),
    /// CURRENT ROW.
    CurrentRow,
    /// `expr FOLLOWING`.
    Following(Box<Expr>),
    /// UNBOUNDED FOLLOWING.
    UnboundedFollowing,
}

/// A frame's EXCLUDE clause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameExclude {
    /// EXCLUDE NO OTHERS (the default).
    NoOthers,
    /// EXCLUDE CURRENT ROW.
    CurrentRow,
    /// EXCLUDE GROUP: the current row and its peers.
    Group,
    /// EXCLUDE TIES: the current row's peers, not the row itself.
    Ties,
}

/// INSERT.
#[derive(Clone, Debug)]
pub struct Insert {
    /// WITH before INSERT: CTEs its source query, upsert and RETURNING
    /// may name (the target is always a table).
    pub with: Option<Arc<With>>,
    /// Target table.
    pub table: String,
    /// Column list (None: all, in order).
    pub columns: Option<Vec<String>>,
    /// Rows (None: DEFAULT VALUES).
    pub source: Option<Box<Query>>,
    /// Conflict handling (`INSERT OR ...`, `REPLACE`); None: none named
    /// (ABORT, unless a firing statement's applies).
    pub on_conflict: Option<Conflict>,
    /// `ON CONFLICT [(target)] DO ...`.
    pub upsert: Option<Upsert>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// What a statement does when a row violates a constraint (SQLite's
/// conflict resolution algorithms, `OR ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// Fail the statement, undoing its changes (default).
    Abort,
    /// Fail the statement, keeping the changes it made before.
    Fail,
    /// Skip the row.
    Ignore,
    /// Delete the conflicting rows, then write.
    Replace,
    /// Fail the statement and roll the transaction back.
    Rollback,
}

/// `ON CONFLICT [(target)] DO NOTHING | DO UPDATE ...` of an INSERT.
#[derive(Clone, Debug)]
pub struct Upsert {
    /// The columns of the PRIMARY KEY or UNIQUE constraint it applies to
    /// (None: any uniqueness constraint).
    pub target: Option<Vec<String>>,
    /// What to do.
    pub action: UpsertAction,
}

/// The action of an upsert.
#[derive(Clone, Debug)]
pub enum UpsertAction {
    /// DO NOTHING: skip the row.
    Nothing,
    /// DO UPDATE SET ... [WHERE ...] on the conflicting row.
    Update(Vec<(String, Expr)>, Option<Expr>),
}

/// UPDATE.
#[derive(Clone, Debug)]
pub struct Update {
    /// WITH before UPDATE: CTEs its expressions may name (the target is
    /// always a table).
    pub with: Option<Arc<With>>,
    /// Target table.
    pub table: String,
    /// INDEXED BY / NOT INDEXED.
    pub hint: Option<IndexHint>,
    /// SET column = expr.
    pub assignments: Vec<(String, Expr)>,
    /// FROM (SQLite 3.33's UPDATE ... FROM): joined to the target, which
    /// comes first; SET and WHERE read the joined row.
    pub from: Option<FromItem>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// OR REPLACE / IGNORE / ...; None: none named.
    pub on_conflict: Option<Conflict>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// DELETE.
#[derive(Clone, Debug)]
pub struct Delete {
    /// WITH before DELETE: CTEs its expressions may name (the target is
    /// always a table).
    pub with: Option<Arc<With>>,
    /// Target table.
    pub table: String,
    /// INDEXED BY / NOT INDEXED.
    pub hint: Option<IndexHint>,
    /// WHERE.
    pub filter: Option<Expr>,
    /// RETURNING items.
    pub returning: Vec<SelectItem>,
}

/// A column in CREATE TABLE.
#[derive(Clone, Debug, Default)]
pub struct ColumnSpec {
    /// Name.
    pub name: String,
    /// Declared type (may be empty).
    pub decl_type: String,
    /// NOT NULL.
    pub not_null: bool,
    /// DEFAULT expression as SQL text (parsed again when used).
    pub default: Option<String>,
    /// PRIMARY KEY on the column.
    pub primary_key: bool,
    /// `PRIMARY KEY DESC` (which, as in SQLite, keeps an INTEGER PRIMARY
    /// KEY from aliasing the rowid).
    pub primary_key_desc: bool,
    /// AUTOINCREMENT (on an INTEGER PRIMARY KEY).
    pub autoincrement: bool,
    /// UNIQUE on the column.
    pub unique: bool,
    /// COLLATE: the column's default collating sequence.
    pub collation: Option<Collation>,
    /// CHECK constraints written on the column.
    pub checks: Vec<CheckSpec>,
    /// `REFERENCES parent ...` written on the column (its FOREIGN KEY
    /// constraints, with this column as their only child column).
    pub references: Vec<ForeignKeySpec>,
    /// `GENERATED ALWAYS AS (expr) VIRTUAL | STORED` (or `AS (expr)`).
    pub generated: Option<GeneratedSpec>,
}

/// What a FOREIGN KEY does to the child rows when their parent key is
/// deleted or changed (SQLite's `ON DELETE` / `ON UPDATE`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FkAction {
    /// NO ACTION (the default): the constraint is checked as usual.
    #[default]
    NoAction,
    /// RESTRICT: refused at once, even when the constraint is deferred.
    Restrict,
    /// SET NULL: the child key columns become NULL.
    SetNull,
    /// SET DEFAULT: the child key columns take their DEFAULT.
    SetDefault,
    /// CASCADE: the child rows are deleted, or their key follows the
    /// parent's.
    Cascade,
}

impl FkAction {
    /// Its name as SQLite spells it (`PRAGMA foreign_key_list`).
    pub fn name(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
            FkAction::Cascade => "CASCADE",
        }
    }
}

/// A FOREIGN KEY constraint as written (column `REFERENCES` or table
/// `FOREIGN KEY (...) REFERENCES`). Names are kept as written: SQLite
/// resolves the parent table and key when a row changes, not at CREATE.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForeignKeySpec {
    /// The child columns (empty on a column's REFERENCES: that column).
    pub columns: Vec<String>,
    /// The parent table.
    pub parent: String,
    /// The parent key columns (empty: the parent's PRIMARY KEY).
    pub parent_columns: Vec<String>,
    /// ON DELETE.
    pub on_delete: FkAction,
    /// ON UPDATE.
    pub on_update: FkAction,
    /// `DEFERRABLE INITIALLY DEFERRED`: checked at COMMIT.
    pub deferred: bool,
    /// Written on its column (`REFERENCES`), which it goes with when the
    /// column is dropped.
    pub column_level: bool,
}

/// A generated column's definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GeneratedSpec {
    /// The expression as SQL text (parsed again when bound).
    pub expr: String,
    /// STORED (else VIRTUAL, SQLite's default).
    pub stored: bool,
}

/// A CHECK constraint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckSpec {
    /// `CONSTRAINT name`.
    pub name: Option<String>,
    /// The expression as SQL text (parsed again when bound).
    pub expr: String,
}

/// A column of an index or of a PRIMARY KEY / UNIQUE constraint.
#[derive(Clone, Debug)]
pub struct IndexedColumn {
    /// Column name (empty for an expression).
    pub name: String,
    /// DESC.
    pub desc: bool,
    /// COLLATE (default: the column's; an expression's: BINARY).
    pub collation: Option<Collation>,
    /// An index on an expression: its SQL text (only in CREATE INDEX).
    pub expr: Option<String>,
}

impl IndexedColumn {
    /// The column `name`, ascending, under its own collation.
    pub fn plain(name: impl Into<String>) -> IndexedColumn {
        IndexedColumn {
            name: name.into(),
            desc: false,
            collation: None,
            expr: None,
        }
    }
}

/// CREATE TABLE.
#[derive(Clone, Debug)]
pub struct CreateTable {
    /// Name.
    pub name: String,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
    /// Columns.
    pub columns: Vec<ColumnSpec>,
    /// Table-level PRIMARY KEY columns.
    pub primary_key: Vec<IndexedColumn>,
    /// Table-level UNIQUE column lists.
    pub uniques: Vec<Vec<IndexedColumn>>,
    /// CHECK constraints, on columns and on the table, in the order they
    /// are written (the first false one is the one reported).
    pub checks: Vec<CheckSpec>,
    /// FOREIGN KEY constraints, columns' and table's, in the order they
    /// are written.
    pub foreign_keys: Vec<ForeignKeySpec>,
    /// CREATE TABLE ... AS query.
    pub as_query: Option<Box<Query>>,
    /// WITHOUT ROWID.
    pub without_rowid: bool,
    /// STRICT.
    pub strict: bool,
}

/// CREATE INDEX.
#[derive(Clone, Debug)]
pub struct CreateIndex {
    /// Index name.
    pub name: String,
    /// Table.
    pub table: String,
    /// Columns.
    pub columns: Vec<IndexedColumn>,
    /// UNIQUE.
    pub unique: bool,
    /// IF NOT EXISTS.
    pub if_not_exists: bool,
    /// WHERE of a partial index, as SQL text (parsed again when used).
    pub filter: Option<String>,
}
