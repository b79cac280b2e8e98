//! The only user of `sqlparser`: SQL text → [`crate::syntax::ast`].
//!
//! sqlparser (SQLite dialect) tokenizes and parses; this module walks its
//! AST and builds ours, rejecting what sealdb does not support with a clear
//! `Unsupported` error instead of silently ignoring it. Parameters `?`,
//! `?N`, `$N`, `:name` and `@name` become 1-based [`Expr::Param`] indexes;
//! named ones are numbered in order of first appearance and their names
//! are returned so callers can bind by name.

use sqlparser::ast as sp;
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::*;
use crate::syntax::parse_auth::{is_auth_statement, parse_auth, split_statements};
use crate::types::{CastType, Value};

/// Parsed statements plus the parameter names (index i-1 → name of `?i`,
/// `None` for positional parameters).
pub struct Parsed {
    /// The statements, in order.
    pub statements: Vec<Statement>,
    /// Number of parameters.
    pub param_count: usize,
    /// Names of named parameters by index.
    pub param_names: Vec<Option<String>>,
}

/// Parses one or more `;`-separated statements.
pub fn parse(sql: &str) -> Result<Parsed> {
    if let Some(p) = crate::syntax::parse_backup::parse_backup(sql)? {
        return Ok(p);
    }
    // sealdb's own dialect: statements sqlparser does not know.
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("REINDEX"))
    {
        if words.len() > 2 {
            return Err(Error::sql(
                SqlErrorKind::Syntax,
                "syntax error: REINDEX takes at most one name",
            ));
        }
        return Ok(Parsed {
            statements: vec![Statement::Reindex(
                words.get(1).map(|w| w.trim_matches('"').to_string()),
            )],
            param_count: 0,
            param_names: Vec::new(),
        });
    }
    if may_hold_auth(sql) {
        let pieces = split_statements(sql)?;
        if pieces.iter().any(|p| is_auth_statement(p)) {
            return parse_pieces(&pieces);
        }
    }
    let rewritten = rewrite_sqlite_forms(sql);
    let stmts = Parser::parse_sql(&SQLiteDialect {}, &rewritten).map_err(syntax_error)?;
    let mut cx = Cx::default();
    let statements = stmts
        .into_iter()
        .map(|s| cx.statement(s))
        .collect::<Result<Vec<_>>>()?;
    Ok(Parsed {
        statements,
        param_count: cx.params.len(),
        param_names: cx.params,
    })
}

/// A cheap test that keeps ordinary statements on the direct path.
fn may_hold_auth(sql: &str) -> bool {
    const WORDS: [&str; 11] = [
        "grant",
        "revoke",
        "show",
        "reassign",
        "user",
        "role",
        "policy",
        "cluster",
        "security",
        "experimental_audit",
        "owner",
    ];
    let lower = sql.to_ascii_lowercase();
    WORDS.iter().any(|w| lower.contains(w))
}

/// A script mixing security statements with ordinary SQL, one statement
/// at a time (parameters numbered across the whole script).
fn parse_pieces(pieces: &[&str]) -> Result<Parsed> {
    let mut cx = Cx::default();
    let mut statements = Vec::new();
    for piece in pieces {
        if is_auth_statement(piece) {
            let st = parse_auth(piece, &mut |p| match cx.param(p)? {
                Expr::Param(i) => Ok(i),
                _ => Err(Error::sql(SqlErrorKind::Syntax, "bad parameter")),
            })?;
            statements.push(Statement::Auth(Box::new(st)));
            continue;
        }
        let inner = parse(piece)?;
        if inner.param_count > 0 {
            // Renumber this piece's parameters after the ones before it.
            if statements.is_empty() {
                cx.params = inner.param_names.clone();
            } else {
                return Err(Error::sql(
                    SqlErrorKind::Unsupported,
                    "parameters in a script that mixes security statements with other statements",
                ));
            }
        }
        statements.extend(inner.statements);
    }
    Ok(Parsed {
        statements,
        param_count: cx.params.len(),
        param_names: cx.params,
    })
}

/// Parses a single expression (column defaults stored in the catalog).
pub fn parse_expr(sql: &str) -> Result<Expr> {
    let dialect = SQLiteDialect {};
    let mut p = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(syntax_error)?;
    let e = p.parse_expr().map_err(syntax_error)?;
    Cx::default().expr(e)
}

fn syntax_error(e: ParserError) -> Error {
    let msg = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => "statement nested too deeply".to_string(),
    };
    // sqlparser appends " at Line: L, Column: C".
    let position = msg.rfind("Line: ").and_then(|i| {
        let rest = &msg[i + 6..];
        let (line, rest) = rest.split_once(", Column: ")?;
        let col: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some((line.trim().parse().ok()?, col.parse().ok()?))
    });
    let message = match msg.rfind(" at Line: ") {
        Some(i) => format!("syntax error: {}", &msg[..i]),
        None => format!("syntax error: {msg}"),
    };
    Error::Sql {
        kind: SqlErrorKind::Syntax,
        message,
        position,
    }
}

fn unsupported(what: impl std::fmt::Display) -> Error {
    Error::sql(
        SqlErrorKind::Unsupported,
        format!("{what} is not supported"),
    )
}

fn ident(i: sp::Ident) -> String {
    i.value
}

fn object_name(n: &sp::ObjectName) -> Result<String> {
    match n.0.last() {
        Some(sp::ObjectNamePart::Identifier(i)) => Ok(i.value.clone()),
        _ => Err(unsupported(format!("name {n}"))),
    }
}

#[derive(Default)]
struct Cx {
    params: Vec<Option<String>>,
}

impl Cx {
    fn statement(&mut self, s: sp::Statement) -> Result<Statement> {
        Ok(match s {
            sp::Statement::Query(q) => Statement::Query(Box::new(self.query(*q)?)),
            sp::Statement::Insert(i) => Statement::Insert(Box::new(self.insert(i)?)),
            sp::Statement::Update(u) => Statement::Update(Box::new(self.update(u)?)),
            sp::Statement::Delete(d) => Statement::Delete(Box::new(self.delete(d)?)),
            sp::Statement::CreateTable(c) => {
                Statement::CreateTable(Box::new(self.create_table(c)?))
            }
            sp::Statement::CreateIndex(c) => {
                let name = match &c.name {
                    Some(n) => object_name(n)?,
                    None => {
                        return Err(Error::sql(
                            SqlErrorKind::Syntax,
                            "CREATE INDEX needs a name",
                        ))
                    }
                };
                let mut columns = Vec::new();
                for col in c.columns {
                    let desc = matches!(col.column.options.sort, Some(sp::OrderBySort::Desc));
                    match col.column.expr {
                        sp::Expr::Identifier(i) => columns.push((i.value, desc)),
                        other => return Err(unsupported(format!("index on expression {other}"))),
                    }
                }
                Statement::CreateIndex(Box::new(CreateIndex {
                    name,
                    table: object_name(&c.table_name)?,
                    columns,
                    unique: c.unique,
                    if_not_exists: c.if_not_exists,
                }))
            }
            sp::Statement::CreateView(v) => Statement::CreateView {
                name: object_name(&v.name)?,
                columns: v.columns.into_iter().map(|c| c.name.value).collect(),
                query_sql: v.query.to_string(),
                query: Box::new(self.query(*v.query)?),
                if_not_exists: v.if_not_exists,
            },
            sp::Statement::Drop {
                object_type,
                if_exists,
                names,
                ..
            } => {
                let kind = match object_type {
                    sp::ObjectType::Table => ObjectKind::Table,
                    sp::ObjectType::Index => ObjectKind::Index,
                    sp::ObjectType::View => ObjectKind::View,
                    other => return Err(unsupported(format!("DROP {other}"))),
                };
                Statement::Drop {
                    kind,
                    names: names.iter().map(object_name).collect::<Result<_>>()?,
                    if_exists,
                }
            }
            sp::Statement::StartTransaction { .. } => Statement::Begin,
            sp::Statement::Commit { .. } => Statement::Commit,
            sp::Statement::Rollback { savepoint, .. } => Statement::Rollback(savepoint.map(ident)),
            sp::Statement::Savepoint { name } => Statement::Savepoint(name.value),
            sp::Statement::ReleaseSavepoint { name } => Statement::Release(name.value),
            sp::Statement::Explain { statement, .. } => {
                Statement::Explain(Box::new(self.statement(*statement)?))
            }
            sp::Statement::CreateTrigger(t) => {
                let sql = t.to_string();
                let timing = match t.period {
                    None | Some(sp::TriggerPeriod::Before) => TriggerTiming::Before,
                    Some(sp::TriggerPeriod::After) | Some(sp::TriggerPeriod::For) => {
                        TriggerTiming::After
                    }
                    Some(sp::TriggerPeriod::InsteadOf) => {
                        return Err(unsupported("INSTEAD OF triggers"))
                    }
                };
                let event = match t.events.as_slice() {
                    [sp::TriggerEvent::Insert] => TriggerEvent::Insert,
                    [sp::TriggerEvent::Delete] => TriggerEvent::Delete,
                    [sp::TriggerEvent::Update(cols)] => {
                        TriggerEvent::Update(cols.iter().map(|c| c.value.clone()).collect())
                    }
                    _ => return Err(unsupported("this trigger event")),
                };
                if matches!(
                    t.trigger_object,
                    Some(sp::TriggerObjectKind::ForEach(sp::TriggerObject::Statement))
                ) {
                    return Err(unsupported("FOR EACH STATEMENT triggers"));
                }
                let body = match t.statements {
                    Some(b) => b.statements().clone(),
                    None => return Err(unsupported("triggers that execute a function")),
                };
                Statement::CreateTrigger(Box::new(CreateTrigger {
                    name: object_name(&t.name)?,
                    table: object_name(&t.table_name)?,
                    timing,
                    event,
                    when: t.condition.map(|c| self.expr(c)).transpose()?,
                    body: body
                        .into_iter()
                        .map(|s| self.statement(s))
                        .collect::<Result<_>>()?,
                    sql,
                }))
            }
            sp::Statement::DropTrigger(d) => Statement::Drop {
                kind: ObjectKind::Trigger,
                names: vec![object_name(&d.trigger_name)?],
                if_exists: d.if_exists,
            },
            sp::Statement::Pragma { name, .. } => {
                Statement::Pragma(object_name(&name)?.to_ascii_lowercase())
            }
            sp::Statement::AlterTable(a) => {
                let table = object_name(&a.name)?;
                let [op] = <[sp::AlterTableOperation; 1]>::try_from(a.operations)
                    .map_err(|_| unsupported("several ALTER TABLE operations at once"))?;
                let op = match op {
                    sp::AlterTableOperation::AddColumn { column_def, .. } => {
                        AlterOp::AddColumn(self.column_spec(column_def)?)
                    }
                    sp::AlterTableOperation::DropColumn { column_names, .. } => {
                        match column_names.as_slice() {
                            [c] => AlterOp::DropColumn(c.value.clone()),
                            _ => return Err(unsupported("dropping several columns at once")),
                        }
                    }
                    sp::AlterTableOperation::RenameColumn {
                        old_column_name,
                        new_column_name,
                    } => AlterOp::RenameColumn(old_column_name.value, new_column_name.value),
                    sp::AlterTableOperation::RenameTable { table_name } => match table_name {
                        sp::RenameTableNameKind::As(n) | sp::RenameTableNameKind::To(n) => {
                            AlterOp::RenameTable(object_name(&n)?)
                        }
                    },
                    other => return Err(unsupported(format!("ALTER TABLE {other}"))),
                };
                Statement::AlterTable { table, op }
            }
            other => {
                let text = other.to_string();
                let word = text
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                return Err(unsupported(format!("the statement {word}")));
            }
        })
    }

    fn column_spec(&mut self, col: sp::ColumnDef) -> Result<ColumnSpec> {
        let decl = col.data_type.to_string();
        let decl = if decl.eq_ignore_ascii_case("unspecified") {
            String::new()
        } else {
            decl
        };
        let mut spec = ColumnSpec {
            name: col.name.value,
            decl_type: decl,
            not_null: false,
            default: None,
            primary_key: false,
            unique: false,
        };
        for opt in col.options {
            match opt.option {
                sp::ColumnOption::Null => {}
                sp::ColumnOption::NotNull => spec.not_null = true,
                sp::ColumnOption::Default(e) => {
                    // Checked now, stored as text, parsed again when used.
                    let text = e.to_string();
                    self.expr(e)?;
                    spec.default = Some(text);
                }
                sp::ColumnOption::PrimaryKey(_) => spec.primary_key = true,
                sp::ColumnOption::Unique(_) => spec.unique = true,
                sp::ColumnOption::Collation(_) | sp::ColumnOption::Comment(_) => {}
                sp::ColumnOption::Check(_) => return Err(unsupported("CHECK constraints")),
                sp::ColumnOption::ForeignKey(_) => {}
                sp::ColumnOption::DialectSpecific(_) => {}
                other => return Err(unsupported(format!("column option {other}"))),
            }
        }
        Ok(spec)
    }

    fn create_table(&mut self, c: sp::CreateTable) -> Result<CreateTable> {
        let mut out = CreateTable {
            name: object_name(&c.name)?,
            if_not_exists: c.if_not_exists,
            columns: Vec::new(),
            primary_key: Vec::new(),
            uniques: Vec::new(),
            as_query: match c.query {
                Some(q) => Some(Box::new(self.query(*q)?)),
                None => None,
            },
        };
        for col in c.columns {
            out.columns.push(self.column_spec(col)?);
        }
        let cols = |cs: Vec<sp::IndexColumn>| -> Result<Vec<String>> {
            cs.into_iter()
                .map(|c| match c.column.expr {
                    sp::Expr::Identifier(i) => Ok(i.value),
                    other => Err(unsupported(format!("key on expression {other}"))),
                })
                .collect()
        };
        for tc in c.constraints {
            match tc {
                sp::TableConstraint::PrimaryKey(pk) => out.primary_key = cols(pk.columns)?,
                sp::TableConstraint::Unique(u) => out.uniques.push(cols(u.columns)?),
                sp::TableConstraint::ForeignKey(_) => {}
                other => return Err(unsupported(format!("table constraint {other}"))),
            }
        }
        Ok(out)
    }

    fn insert(&mut self, i: sp::Insert) -> Result<Insert> {
        let table = match &i.table {
            sp::TableObject::TableName(n) => object_name(n)?,
            other => return Err(unsupported(format!("INSERT into {other}"))),
        };
        let mut on_conflict = if i.replace_into {
            Conflict::Replace
        } else {
            match i.or {
                Some(sp::SqliteOnConflict::Replace) => Conflict::Replace,
                Some(sp::SqliteOnConflict::Ignore) => Conflict::Ignore,
                _ => Conflict::Abort,
            }
        };
        if let Some(sp::OnInsert::OnConflict(oc)) = i.on {
            on_conflict = match oc.action {
                sp::OnConflictAction::DoNothing => Conflict::Ignore,
                sp::OnConflictAction::DoUpdate(du) => {
                    let sets = self.assignments(du.assignments)?;
                    let filter = du.selection.map(|e| self.expr(e)).transpose()?;
                    Conflict::Update(sets, filter)
                }
            };
        }
        let columns = if i.columns.is_empty() {
            None
        } else {
            Some(i.columns.iter().map(object_name).collect::<Result<_>>()?)
        };
        Ok(Insert {
            table,
            columns,
            source: match i.source {
                Some(q) => Some(Box::new(self.query(*q)?)),
                None => None,
            },
            on_conflict,
            returning: self.items(i.returning.unwrap_or_default())?,
        })
    }

    fn assignments(&mut self, a: Vec<sp::Assignment>) -> Result<Vec<(String, Expr)>> {
        a.into_iter()
            .map(|a| {
                let col = match a.target {
                    sp::AssignmentTarget::ColumnName(n) => object_name(&n)?,
                    sp::AssignmentTarget::Tuple(_) => return Err(unsupported("tuple assignment")),
                };
                Ok((col, self.expr(a.value)?))
            })
            .collect()
    }

    fn single_table(&mut self, t: &sp::TableWithJoins) -> Result<String> {
        if !t.joins.is_empty() {
            return Err(unsupported("joins in UPDATE/DELETE"));
        }
        match &t.relation {
            sp::TableFactor::Table { name, .. } => object_name(name),
            other => Err(unsupported(format!("target {other}"))),
        }
    }

    fn update(&mut self, u: sp::Update) -> Result<Update> {
        if u.from.is_some() {
            return Err(unsupported("UPDATE ... FROM"));
        }
        Ok(Update {
            table: self.single_table(&u.table)?,
            assignments: self.assignments(u.assignments)?,
            filter: u.selection.map(|e| self.expr(e)).transpose()?,
            on_conflict: match u.or {
                Some(sp::SqliteOnConflict::Replace) => Conflict::Replace,
                Some(sp::SqliteOnConflict::Ignore) => Conflict::Ignore,
                _ => Conflict::Abort,
            },
            returning: self.items(u.returning.unwrap_or_default())?,
        })
    }

    fn delete(&mut self, d: sp::Delete) -> Result<Delete> {
        let from = match &d.from {
            sp::FromTable::WithFromKeyword(f) | sp::FromTable::WithoutKeyword(f) => f,
        };
        let [t] = from.as_slice() else {
            return Err(unsupported("DELETE from several tables"));
        };
        Ok(Delete {
            table: self.single_table(t)?,
            filter: d.selection.map(|e| self.expr(e)).transpose()?,
            returning: self.items(d.returning.unwrap_or_default())?,
        })
    }

    fn query(&mut self, q: sp::Query) -> Result<Query> {
        if q.with.is_some() {
            return Err(unsupported("WITH"));
        }
        let body = self.set_expr(*q.body)?;
        let mut order_by = Vec::new();
        if let Some(ob) = q.order_by {
            match ob.kind {
                sp::OrderByKind::Expressions(items) => {
                    for it in items {
                        order_by.push(OrderItem {
                            expr: self.expr(it.expr)?,
                            desc: matches!(it.options.sort, Some(sp::OrderBySort::Desc)),
                            nulls_first: it.options.nulls_first,
                        });
                    }
                }
                sp::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
            }
        }
        let (limit, offset) = match q.limit_clause {
            None => (None, None),
            Some(sp::LimitClause::LimitOffset { limit, offset, .. }) => (
                limit.map(|e| self.expr(e)).transpose()?,
                offset.map(|o| self.expr(o.value)).transpose()?,
            ),
            Some(sp::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(self.expr(limit)?), Some(self.expr(offset)?))
            }
        };
        Ok(Query {
            body,
            order_by,
            limit,
            offset,
        })
    }

    fn set_expr(&mut self, s: sp::SetExpr) -> Result<SetExpr> {
        Ok(match s {
            sp::SetExpr::Select(sel) => SetExpr::Select(Box::new(self.select(*sel)?)),
            sp::SetExpr::Query(q) => SetExpr::Query(Box::new(self.query(*q)?)),
            sp::SetExpr::Values(v) => SetExpr::Values(
                v.rows
                    .into_iter()
                    .map(|r| {
                        r.content
                            .into_iter()
                            .map(|e| self.expr(e))
                            .collect::<Result<Vec<_>>>()
                    })
                    .collect::<Result<_>>()?,
            ),
            sp::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => SetExpr::SetOp {
                op: match op {
                    sp::SetOperator::Union => SetOp::Union,
                    sp::SetOperator::Intersect => SetOp::Intersect,
                    sp::SetOperator::Except | sp::SetOperator::Minus => SetOp::Except,
                },
                all: matches!(set_quantifier, sp::SetQuantifier::All),
                left: Box::new(self.set_expr(*left)?),
                right: Box::new(self.set_expr(*right)?),
            },
            other => return Err(unsupported(format!("query body {other}"))),
        })
    }

    fn select(&mut self, s: sp::Select) -> Result<Select> {
        let distinct = match s.distinct {
            None | Some(sp::Distinct::All) => false,
            Some(sp::Distinct::Distinct) => true,
            Some(sp::Distinct::On(_)) => return Err(unsupported("DISTINCT ON")),
        };
        // Left-deep: `a, b JOIN c` is `(a, b) JOIN c`, as in SQLite.
        let mut from: Option<FromItem> = None;
        for twj in s.from {
            let rel = self.table_factor(twj.relation)?;
            let mut item = match from.take() {
                None => rel,
                Some(left) => FromItem::Join {
                    left: Box::new(left),
                    right: Box::new(rel),
                    kind: JoinKind::Inner,
                    on: None,
                    using: Vec::new(),
                },
            };
            for j in twj.joins {
                item = self.join(item, j)?;
            }
            from = Some(item);
        }
        let group_by = match s.group_by {
            sp::GroupByExpr::Expressions(es, _) => es
                .into_iter()
                .map(|e| self.expr(e))
                .collect::<Result<_>>()?,
            sp::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        };
        Ok(Select {
            distinct,
            items: self.items(s.projection)?,
            from,
            filter: s.selection.map(|e| self.expr(e)).transpose()?,
            group_by,
            having: s.having.map(|e| self.expr(e)).transpose()?,
        })
    }

    fn items(&mut self, items: Vec<sp::SelectItem>) -> Result<Vec<SelectItem>> {
        items
            .into_iter()
            .map(|it| {
                Ok(match it {
                    sp::SelectItem::UnnamedExpr(e) => SelectItem::Expr {
                        expr: self.expr(e)?,
                        alias: None,
                    },
                    sp::SelectItem::ExprWithAlias { expr, alias } => SelectItem::Expr {
                        expr: self.expr(expr)?,
                        alias: Some(alias.value),
                    },
                    sp::SelectItem::Wildcard(_) => SelectItem::Wildcard,
                    sp::SelectItem::QualifiedWildcard(
                        sp::SelectItemQualifiedWildcardKind::ObjectName(n),
                        _,
                    ) => SelectItem::QualifiedWildcard(object_name(&n)?),
                    other => return Err(unsupported(format!("result column {other}"))),
                })
            })
            .collect()
    }

    /// `left` joined with `j` (inner, cross, comma or left outer).
    fn join(&mut self, left: FromItem, j: sp::Join) -> Result<FromItem> {
        let right = self.table_factor(j.relation)?;
        let (kind, constraint) = match j.join_operator {
            sp::JoinOperator::Join(c)
            | sp::JoinOperator::Inner(c)
            | sp::JoinOperator::CrossJoin(c) => (JoinKind::Inner, c),
            sp::JoinOperator::Left(c) | sp::JoinOperator::LeftOuter(c) => (JoinKind::Left, c),
            other => return Err(unsupported(format!("join {other:?}"))),
        };
        let (on, using) = match constraint {
            sp::JoinConstraint::On(e) => (Some(self.expr(e)?), Vec::new()),
            sp::JoinConstraint::Using(cols) => (
                None,
                cols.iter().map(object_name).collect::<Result<Vec<_>>>()?,
            ),
            sp::JoinConstraint::None => (None, Vec::new()),
            sp::JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN")),
        };
        Ok(FromItem::Join {
            left: Box::new(left),
            right: Box::new(right),
            kind,
            on,
            using,
        })
    }

    fn table_factor(&mut self, t: sp::TableFactor) -> Result<FromItem> {
        Ok(match t {
            sp::TableFactor::Table {
                name, alias, args, ..
            } => {
                if args.is_some() {
                    return Err(unsupported("table functions"));
                }
                FromItem::Table {
                    name: object_name(&name)?,
                    alias: alias.map(|a| a.name.value),
                }
            }
            sp::TableFactor::Derived {
                subquery, alias, ..
            } => FromItem::Subquery {
                query: Box::new(self.query(*subquery)?),
                alias: alias.map(|a| a.name.value),
            },
            sp::TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                let twj = *table_with_joins;
                let mut item = self.table_factor(twj.relation)?;
                for j in twj.joins {
                    item = self.join(item, j)?;
                }
                item
            }
            other => return Err(unsupported(format!("FROM item {other}"))),
        })
    }

    fn param(&mut self, p: &str) -> Result<Expr> {
        if p == "?" {
            self.params.push(None);
            return Ok(Expr::Param(self.params.len()));
        }
        let rest = &p[1..];
        if let Ok(n) = rest.parse::<usize>() {
            if n == 0 || n > 32766 {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    format!("parameter {p} out of range"),
                ));
            }
            if self.params.len() < n {
                self.params.resize(n, None);
            }
            return Ok(Expr::Param(n));
        }
        if let Some(i) = self.params.iter().position(|x| x.as_deref() == Some(p)) {
            return Ok(Expr::Param(i + 1));
        }
        self.params.push(Some(p.to_string()));
        Ok(Expr::Param(self.params.len()))
    }

    fn literal(&mut self, v: sp::Value, negate: bool) -> Result<Expr> {
        Ok(Expr::Literal(match v {
            sp::Value::Number(s, _) => {
                let text = if negate { format!("-{s}") } else { s };
                number(&text)?
            }
            sp::Value::SingleQuotedString(s) => Value::Text(s),
            sp::Value::DoubleQuotedString(s) => {
                // SQLite: a double-quoted word is an identifier if it names a
                // column, else a string. We treat it as a column reference.
                return Ok(Expr::Column {
                    table: None,
                    name: s,
                });
            }
            sp::Value::HexStringLiteral(h) => Value::Blob(
                crate::crypto::keys::decode_hex(&h)
                    .map(|v| v.to_vec())
                    .ok_or_else(|| Error::sql(SqlErrorKind::Syntax, "malformed blob literal"))?,
            ),
            sp::Value::Boolean(b) => Value::Integer(i64::from(b)),
            sp::Value::Null => Value::Null,
            sp::Value::Placeholder(p) => return self.param(&p),
            other => return Err(unsupported(format!("literal {other}"))),
        }))
    }

    fn expr(&mut self, e: sp::Expr) -> Result<Expr> {
        use sp::Expr as E;
        let b = |x: Expr| Box::new(x);
        Ok(match e {
            E::Identifier(i) => Expr::Column {
                table: None,
                name: i.value,
            },
            E::CompoundIdentifier(mut parts) => {
                let name = parts.pop().map(ident).unwrap_or_default();
                let table = parts.pop().map(ident);
                Expr::Column { table, name }
            }
            E::Value(v) => self.literal(v.value, false)?,
            E::Nested(e) => self.expr(*e)?,
            E::UnaryOp { op, expr } => {
                if let (sp::UnaryOperator::Minus, E::Value(v)) = (&op, &*expr) {
                    if let sp::Value::Number(..) = v.value {
                        let E::Value(v) = *expr else {
                            return Err(Error::sql(SqlErrorKind::Syntax, "malformed expression"));
                        };
                        return self.literal(v.value, true);
                    }
                }
                let op = match op {
                    sp::UnaryOperator::Minus => UnOp::Neg,
                    sp::UnaryOperator::Plus => UnOp::Plus,
                    sp::UnaryOperator::Not => UnOp::Not,
                    sp::UnaryOperator::BitwiseNot => UnOp::BitNot,
                    other => return Err(unsupported(format!("operator {other}"))),
                };
                Expr::Unary(op, b(self.expr(*expr)?))
            }
            E::BinaryOp { left, op, right } => {
                let op = match op {
                    sp::BinaryOperator::Plus => BinOp::Add,
                    sp::BinaryOperator::Minus => BinOp::Sub,
                    sp::BinaryOperator::Multiply => BinOp::Mul,
                    sp::BinaryOperator::Divide => BinOp::Div,
                    sp::BinaryOperator::Modulo => BinOp::Rem,
                    sp::BinaryOperator::StringConcat => BinOp::Concat,
                    sp::BinaryOperator::Eq => BinOp::Eq,
                    sp::BinaryOperator::NotEq => BinOp::Ne,
                    sp::BinaryOperator::Lt => BinOp::Lt,
                    sp::BinaryOperator::LtEq => BinOp::Le,
                    sp::BinaryOperator::Gt => BinOp::Gt,
                    sp::BinaryOperator::GtEq => BinOp::Ge,
                    sp::BinaryOperator::And => BinOp::And,
                    sp::BinaryOperator::Or => BinOp::Or,
                    sp::BinaryOperator::BitwiseAnd => BinOp::BitAnd,
                    sp::BinaryOperator::BitwiseOr => BinOp::BitOr,
                    sp::BinaryOperator::PGBitwiseShiftLeft => BinOp::Shl,
                    sp::BinaryOperator::PGBitwiseShiftRight => BinOp::Shr,
                    other => return Err(unsupported(format!("operator {other}"))),
                };
                Expr::Binary(op, b(self.expr(*left)?), b(self.expr(*right)?))
            }
            E::IsNull(e) => Expr::IsNull(b(self.expr(*e)?), false),
            E::IsNotNull(e) => Expr::IsNull(b(self.expr(*e)?), true),
            E::IsDistinctFrom(l, r) => {
                Expr::Binary(BinOp::IsNot, b(self.expr(*l)?), b(self.expr(*r)?))
            }
            E::IsNotDistinctFrom(l, r) => {
                Expr::Binary(BinOp::Is, b(self.expr(*l)?), b(self.expr(*r)?))
            }
            E::IsTrue(e) => Expr::Binary(
                BinOp::Is,
                b(self.expr(*e)?),
                b(Expr::Literal(Value::Integer(1))),
            ),
            E::IsFalse(e) => Expr::Binary(
                BinOp::Is,
                b(self.expr(*e)?),
                b(Expr::Literal(Value::Integer(0))),
            ),
            E::InList {
                expr,
                list,
                negated,
            } => Expr::InList {
                expr: b(self.expr(*expr)?),
                list: list
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
                negated,
            },
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => Expr::InSubquery {
                expr: b(self.expr(*expr)?),
                query: Box::new(self.query(*subquery)?),
                negated,
            },
            E::Exists { subquery, negated } => {
                Expr::Exists(Box::new(self.query(*subquery)?), negated)
            }
            E::Subquery(q) => Expr::Subquery(Box::new(self.query(*q)?)),
            E::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: b(self.expr(*expr)?),
                low: b(self.expr(*low)?),
                high: b(self.expr(*high)?),
                negated,
            },
            // LIKE is already case-insensitive (ASCII), so ILIKE is the same.
            E::Like {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            }
            | E::ILike {
                negated,
                expr,
                pattern,
                escape_char,
                any: false,
            } => Expr::Like {
                expr: b(self.expr(*expr)?),
                pattern: b(self.expr(*pattern)?),
                escape: escape_char
                    .map(|e| self.expr(*e))
                    .transpose()?
                    .map(Box::new),
                negated,
                glob: false,
            },
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => Expr::Case {
                operand: operand.map(|o| self.expr(*o)).transpose()?.map(Box::new),
                whens: conditions
                    .into_iter()
                    .map(|w| Ok((self.expr(w.condition)?, self.expr(w.result)?)))
                    .collect::<Result<_>>()?,
                otherwise: else_result
                    .map(|e| self.expr(*e))
                    .transpose()?
                    .map(Box::new),
            },
            E::Cast {
                expr, data_type, ..
            } => {
                let t = data_type.to_string().to_ascii_uppercase();
                let ty = match crate::types::affinity_of_type(&t) {
                    crate::types::Affinity::Integer => CastType::Integer,
                    crate::types::Affinity::Real => CastType::Real,
                    crate::types::Affinity::Text => CastType::Text,
                    crate::types::Affinity::Blob => CastType::Blob,
                    crate::types::Affinity::Numeric => CastType::Numeric,
                };
                Expr::Cast(b(self.expr(*expr)?), ty)
            }
            E::Function(f) => self.function(f)?,
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                let mut args = vec![self.expr(*expr)?];
                if let Some(f) = substring_from {
                    args.push(self.expr(*f)?);
                }
                if let Some(f) = substring_for {
                    args.push(self.expr(*f)?);
                }
                Expr::Function {
                    name: "substr".into(),
                    args,
                    distinct: false,
                    star: false,
                }
            }
            E::Collate { expr, .. } => self.expr(*expr)?,
            E::Tuple(_) => return Err(unsupported("row values")),
            other => return Err(unsupported(format!("expression {other}"))),
        })
    }

    fn function(&mut self, f: sp::Function) -> Result<Expr> {
        if f.over.is_some() {
            return Err(unsupported("window functions"));
        }
        if f.filter.is_some() {
            return Err(unsupported("FILTER clauses"));
        }
        let name = object_name(&f.name)?.to_ascii_lowercase();
        let mut args = Vec::new();
        let mut distinct = false;
        let mut star = false;
        match f.args {
            sp::FunctionArguments::None => {}
            sp::FunctionArguments::Subquery(_) => return Err(unsupported("subquery arguments")),
            sp::FunctionArguments::List(list) => {
                distinct = matches!(
                    list.duplicate_treatment,
                    Some(sp::DuplicateTreatment::Distinct)
                );
                for a in list.args {
                    match a {
                        sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => {
                            args.push(self.expr(e)?)
                        }
                        sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => star = true,
                        other => return Err(unsupported(format!("function argument {other}"))),
                    }
                }
            }
        }
        if distinct && (star || args.len() != 1) {
            return Err(Error::sql(
                SqlErrorKind::Misuse,
                "DISTINCT aggregates must have exactly one argument",
            ));
        }
        Ok(Expr::Function {
            name,
            args,
            distinct,
            star,
        })
    }
}

/// A numeric literal: integer if it fits, else real (as SQLite).
fn number(text: &str) -> Result<Value> {
    let t = text.replace('_', "");
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16)
            .map(|v| Value::Integer(v as i64))
            .map_err(|_| Error::sql(SqlErrorKind::Syntax, format!("malformed number {text}")));
    }
    if !t.contains(['.', 'e', 'E']) {
        if let Ok(i) = t.parse::<i64>() {
            return Ok(Value::Integer(i));
        }
    }
    t.parse::<f64>()
        .map(Value::Real)
        .map_err(|_| Error::sql(SqlErrorKind::Syntax, format!("malformed number {text}")))
}

/// SQLite forms sqlparser lacks, rewritten to equivalent SQL it parses:
/// `x IN table` → `x IN (SELECT * FROM table)`, and the `NOT INDEXED` /
/// `INDEXED BY name` hints (which do not change results) are dropped.
/// Quoted strings and identifiers are left untouched.
fn rewrite_sqlite_forms(sql: &str) -> std::borrow::Cow<'_, str> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains(" IN") && !upper.contains("INDEXED") {
        return std::borrow::Cow::Borrowed(sql);
    }
    // Split into (is_code, text) segments.
    let mut tokens: Vec<(bool, String)> = Vec::new();
    let mut chars = sql.chars().peekable();
    let mut cur = String::new();
    while let Some(c) = chars.next() {
        if c == '\'' || c == '"' || c == '`' || c == '[' {
            tokens.push((true, std::mem::take(&mut cur)));
            let close = if c == '[' { ']' } else { c };
            let mut q = String::from(c);
            while let Some(d) = chars.next() {
                q.push(d);
                if d == close {
                    if chars.peek() == Some(&close) && close != ']' {
                        q.push(close);
                        chars.next();
                        continue;
                    }
                    break;
                }
            }
            tokens.push((false, q));
        } else {
            cur.push(c);
        }
    }
    tokens.push((true, cur));
    let mut out = String::with_capacity(sql.len() + 32);
    for (code, text) in tokens {
        if !code {
            out.push_str(&text);
            continue;
        }
        let words: Vec<&str> = text.split_inclusive(|c: char| c.is_whitespace()).collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i].trim();
            let next = words.get(i + 1).map(|x| x.trim()).unwrap_or("");
            if w.eq_ignore_ascii_case("NOT") && next.eq_ignore_ascii_case("INDEXED") {
                i += 2;
                continue;
            }
            if w.eq_ignore_ascii_case("INDEXED") && next.eq_ignore_ascii_case("BY") {
                i += 3;
                continue;
            }
            if w.eq_ignore_ascii_case("IN")
                && !next.is_empty()
                && next
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && next.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                out.push_str(words[i]);
                out.push_str(&format!("(SELECT * FROM {next}) "));
                i += 2;
                continue;
            }
            out.push_str(words[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(out)
}
