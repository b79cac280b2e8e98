//! The only user of `sqlparser`: SQL text → [`crate::syntax::ast`].
//!
//! sqlparser (SQLite dialect) tokenizes and parses; this module walks its
//! AST and builds ours, rejecting what sealdb does not support with a clear
//! `Unsupported` error instead of silently ignoring it. Parameters `?`,
//! `?N`, `$N`, `:name` and `@name` become 1-based [`Expr::Param`] indexes;
//! named ones are numbered in order of first appearance and their names
//! are returned so callers can bind by name.

use sqlparser::ast as sp;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::ast::*;
use crate::syntax::dialect::SealDialect;
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
    let decimal = rewrite_hex_integers(sql)?;
    let rewritten = rewrite_sqlite_forms(&decimal);
    let dialect = SealDialect::default();
    let tokens = Tokenizer::new(&dialect, &rewritten)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| syntax_error(ParserError::TokenizerError(e.to_string())))?;
    let stmts = Parser::new(&dialect)
        .with_tokens_with_locations(rewrite_index_hints(tokens))
        .parse_statements()
        .map_err(syntax_error)?;
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
    let dialect = SealDialect::default();
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

/// The object `n` names: `name` or `main.name` (sealdb has one database
/// per file, SQLite's `main`; another schema is refused, not ignored).
fn object_name(n: &sp::ObjectName) -> Result<String> {
    match n.0.as_slice() {
        [sp::ObjectNamePart::Identifier(i)] => Ok(i.value.clone()),
        [sp::ObjectNamePart::Identifier(schema), sp::ObjectNamePart::Identifier(i)] => {
            main_schema(schema)?;
            Ok(i.value.clone())
        }
        _ => Err(unsupported(format!("name {n}"))),
    }
}

/// Accepts the schema qualifier `main` (any case) only.
fn main_schema(schema: &sp::Ident) -> Result<()> {
    if schema.value.eq_ignore_ascii_case("main") {
        Ok(())
    } else {
        Err(unsupported(format!(
            "the schema {} (only main; ATTACH and TEMP are not supported)",
            schema.value
        )))
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
                Statement::CreateIndex(Box::new(self.create_index(c)?))
            }
            sp::Statement::CreateView(v) => Statement::CreateView {
                if_not_exists: {
                    let plain = sp::CreateView {
                        or_alter: false,
                        or_replace: false,
                        materialized: false,
                        secure: false,
                        name_before_not_exists: false,
                        options: sp::CreateTableOptions::None,
                        cluster_by: Vec::new(),
                        comment: None,
                        with_no_schema_binding: false,
                        temporary: false,
                        copy_grants: false,
                        to: None,
                        params: None,
                        ..v.clone()
                    };
                    if plain != v
                        || v.columns
                            .iter()
                            .any(|c| c.data_type.is_some() || c.options.is_some())
                    {
                        let what = if v.temporary {
                            "temporary views"
                        } else {
                            "this CREATE VIEW option"
                        };
                        return Err(unsupported(what));
                    }
                    v.if_not_exists
                },
                name: object_name(&v.name)?,
                columns: v.columns.into_iter().map(|c| c.name.value).collect(),
                query_sql: v.query.to_string(),
                query: Box::new(self.query(*v.query)?),
            },
            sp::Statement::Drop {
                object_type,
                if_exists,
                names,
                cascade,
                restrict,
                purge,
                temporary,
                table,
            } => {
                if cascade || restrict || purge || temporary || table.is_some() {
                    return Err(unsupported(format!(
                        "DROP {object_type} with CASCADE, RESTRICT, PURGE, TEMPORARY or ON"
                    )));
                }
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
            sp::Statement::StartTransaction {
                modes,
                begin: _,
                transaction: _,
                modifier,
                statements,
                exception,
                has_end_keyword,
            } => {
                if !modes.is_empty() {
                    return Err(unsupported(
                        "transaction modes (ISOLATION LEVEL, READ ONLY)",
                    ));
                }
                if !statements.is_empty() || exception.is_some() || has_end_keyword {
                    return Err(unsupported("BEGIN ... END blocks"));
                }
                let immediate = match modifier {
                    None | Some(sp::TransactionModifier::Deferred) => false,
                    Some(
                        sp::TransactionModifier::Immediate | sp::TransactionModifier::Exclusive,
                    ) => true,
                    Some(other) => return Err(unsupported(format!("BEGIN {other}"))),
                };
                Statement::Begin { immediate }
            }
            sp::Statement::Commit {
                chain,
                end: _,
                modifier,
            } => {
                if chain || modifier.is_some() {
                    return Err(unsupported("COMMIT AND CHAIN or a COMMIT modifier"));
                }
                Statement::Commit
            }
            sp::Statement::Rollback { chain, savepoint } => {
                if chain {
                    return Err(unsupported("ROLLBACK AND CHAIN"));
                }
                Statement::Rollback(savepoint.map(ident))
            }
            sp::Statement::Savepoint { name } => Statement::Savepoint(name.value),
            sp::Statement::ReleaseSavepoint { name } => Statement::Release(name.value),
            sp::Statement::Explain {
                describe_alias,
                analyze,
                verbose,
                query_plan: _,
                estimate,
                statement,
                format,
                options,
            } => {
                // EXPLAIN and EXPLAIN QUERY PLAN both describe the plan.
                if describe_alias != sp::DescribeAlias::Explain
                    || analyze
                    || verbose
                    || estimate
                    || format.is_some()
                    || options.is_some()
                {
                    return Err(unsupported("EXPLAIN options (ANALYZE, VERBOSE, FORMAT)"));
                }
                Statement::Explain(Box::new(self.statement(*statement)?))
            }
            sp::Statement::CreateTrigger(t) => {
                let sql = t.to_string();
                if t.or_alter
                    || t.temporary
                    || t.or_replace
                    || t.is_constraint
                    || t.referenced_table_name.is_some()
                    || !t.referencing.is_empty()
                    || t.exec_body.is_some()
                    || t.statements_as
                    || t.characteristics.is_some()
                {
                    let what = if t.temporary {
                        "temporary triggers"
                    } else {
                        "this CREATE TRIGGER option"
                    };
                    return Err(unsupported(what));
                }
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
            sp::Statement::DropTrigger(d) => {
                if d.table_name.is_some() || d.option.is_some() {
                    return Err(unsupported("DROP TRIGGER ... ON or CASCADE/RESTRICT"));
                }
                Statement::Drop {
                    kind: ObjectKind::Trigger,
                    names: vec![object_name(&d.trigger_name)?],
                    if_exists: d.if_exists,
                }
            }
            sp::Statement::Pragma { name, value, .. } => {
                let name = object_name(&name)?.to_ascii_lowercase();
                if value.is_some() {
                    return Err(unsupported(format!("PRAGMA {name} with a value")));
                }
                Statement::Pragma(name)
            }
            sp::Statement::AlterTable(a) => {
                if a.if_exists
                    || a.only
                    || a.location.is_some()
                    || a.on_cluster.is_some()
                    || a.table_type.is_some()
                {
                    return Err(unsupported("this ALTER TABLE option"));
                }
                let table = object_name(&a.name)?;
                let [op] = <[sp::AlterTableOperation; 1]>::try_from(a.operations)
                    .map_err(|_| unsupported("several ALTER TABLE operations at once"))?;
                let op = match op {
                    sp::AlterTableOperation::AddColumn {
                        column_keyword: _,
                        if_not_exists,
                        column_def,
                        column_position,
                    } => {
                        if if_not_exists || column_position.is_some() {
                            return Err(unsupported("ADD COLUMN IF NOT EXISTS, FIRST or AFTER"));
                        }
                        AlterOp::AddColumn(self.column_spec(column_def)?)
                    }
                    sp::AlterTableOperation::DropColumn {
                        has_column_keyword: _,
                        column_names,
                        if_exists,
                        drop_behavior,
                    } => {
                        if if_exists || drop_behavior.is_some() {
                            return Err(unsupported("DROP COLUMN IF EXISTS, CASCADE or RESTRICT"));
                        }
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
            ..ColumnSpec::default()
        };
        // SQLite's column constraints; a constraint's name changes nothing.
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
                sp::ColumnOption::PrimaryKey(pk) => {
                    constraint_plain(&pk.characteristics, &pk.index_options, "PRIMARY KEY")?;
                    spec.primary_key = true;
                }
                sp::ColumnOption::Unique(u) => {
                    constraint_plain(&u.characteristics, &u.index_options, "UNIQUE")?;
                    spec.unique = true;
                }
                sp::ColumnOption::Collation(name) => {
                    spec.collation = Some(collation_named(&object_name(&name)?)?)
                }
                sp::ColumnOption::DialectSpecific(tokens) => {
                    // sqlparser's SQLite column words: AUTOINCREMENT, ASC,
                    // DESC (after PRIMARY KEY).
                    let words: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
                    match words
                        .iter()
                        .map(|w| w.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .as_slice()
                    {
                        [w] if w == "AUTOINCREMENT" && spec.primary_key => {
                            spec.autoincrement = true
                        }
                        [w] if w == "ASC" && spec.primary_key => {}
                        [w] if w == "DESC" && spec.primary_key => spec.primary_key_desc = true,
                        _ => {
                            return Err(Error::sql(
                                SqlErrorKind::Syntax,
                                format!("syntax error near {}", words.join(" ")),
                            ))
                        }
                    }
                }
                sp::ColumnOption::Check(_) => return Err(unsupported("CHECK constraints")),
                sp::ColumnOption::ForeignKey(_) => {
                    return Err(unsupported("FOREIGN KEY constraints (REFERENCES)"))
                }
                sp::ColumnOption::OnConflict(_) => {
                    return Err(unsupported("ON CONFLICT clauses on constraints"))
                }
                sp::ColumnOption::Generated { .. } => return Err(unsupported("generated columns")),
                other => return Err(unsupported(format!("column option {other}"))),
            }
        }
        Ok(spec)
    }

    fn create_table(&mut self, c: sp::CreateTable) -> Result<CreateTable> {
        // Whatever this conversion does not read must be unset: compare
        // the statement, with what is read cleared, with an empty one.
        let mut rest = c.clone();
        rest.if_not_exists = false;
        rest.columns = Vec::new();
        rest.constraints = Vec::new();
        rest.query = None;
        rest.without_rowid = false;
        rest.strict = false;
        if rest != sp::helpers::stmt_create_table::CreateTableBuilder::new(c.name.clone()).build() {
            let what = if c.temporary {
                "temporary tables".to_string()
            } else {
                "this CREATE TABLE option".to_string()
            };
            return Err(unsupported(what));
        }
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
            without_rowid: c.without_rowid,
            strict: c.strict,
        };
        for col in c.columns {
            out.columns.push(self.column_spec(col)?);
        }
        for tc in c.constraints {
            match tc {
                sp::TableConstraint::PrimaryKey(pk) => {
                    constraint_plain(&pk.characteristics, &pk.index_options, "PRIMARY KEY")?;
                    if !out.primary_key.is_empty() {
                        return Err(Error::sql(
                            SqlErrorKind::Syntax,
                            format!("table \"{}\" has more than one primary key", out.name),
                        ));
                    }
                    out.primary_key = indexed_columns(pk.columns)?;
                }
                sp::TableConstraint::Unique(u) => {
                    constraint_plain(&u.characteristics, &u.index_options, "UNIQUE")?;
                    out.uniques.push(indexed_columns(u.columns)?);
                }
                sp::TableConstraint::ForeignKey(_) => {
                    return Err(unsupported("FOREIGN KEY constraints"))
                }
                sp::TableConstraint::Check(_) => return Err(unsupported("CHECK constraints")),
                other => return Err(unsupported(format!("table constraint {other}"))),
            }
        }
        Ok(out)
    }

    fn create_index(&mut self, c: sp::CreateIndex) -> Result<CreateIndex> {
        let sp::CreateIndex {
            name,
            table_name,
            using,
            columns,
            unique,
            concurrently,
            r#async,
            if_not_exists,
            include,
            nulls_distinct,
            with,
            predicate,
            index_options,
            alter_options,
        } = c;
        if using.is_some()
            || concurrently
            || r#async
            || !include.is_empty()
            || nulls_distinct.is_some()
            || !with.is_empty()
            || !index_options.is_empty()
            || !alter_options.is_empty()
        {
            return Err(unsupported("this CREATE INDEX option"));
        }
        let name = match &name {
            Some(n) => object_name(n)?,
            None => {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    "CREATE INDEX needs a name",
                ))
            }
        };
        let filter = match predicate {
            Some(e) => {
                let text = e.to_string();
                self.expr(e)?;
                Some(text)
            }
            None => None,
        };
        Ok(CreateIndex {
            name,
            table: object_name(&table_name)?,
            columns: indexed_columns(columns)?,
            unique,
            if_not_exists,
            filter,
        })
    }

    fn insert(&mut self, i: sp::Insert) -> Result<Insert> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Insert {
            insert_token: _,
            optimizer_hints,
            or,
            ignore,
            into: _,
            table,
            table_alias,
            columns,
            overwrite,
            source,
            assignments,
            partitioned,
            after_columns,
            has_table_keyword,
            on,
            returning,
            output,
            replace_into,
            priority,
            insert_alias,
            settings,
            format_clause,
            multi_table_insert_type,
            multi_table_into_clauses,
            multi_table_when_clauses,
            multi_table_else_clause,
        } = i;
        if !optimizer_hints.is_empty()
            || ignore
            || table_alias.is_some()
            || overwrite
            || !assignments.is_empty()
            || partitioned.is_some()
            || !after_columns.is_empty()
            || has_table_keyword
            || output.is_some()
            || priority.is_some()
            || insert_alias.is_some()
            || settings.is_some()
            || format_clause.is_some()
            || multi_table_insert_type.is_some()
            || !multi_table_into_clauses.is_empty()
            || !multi_table_when_clauses.is_empty()
            || multi_table_else_clause.is_some()
        {
            return Err(unsupported("this form of INSERT"));
        }
        let table = match &table {
            sp::TableObject::TableName(n) => object_name(n)?,
            other => return Err(unsupported(format!("INSERT into {other}"))),
        };
        let on_conflict = if replace_into {
            Some(Conflict::Replace)
        } else {
            conflict_mode(or)
        };
        let upsert = match on {
            None => None,
            Some(sp::OnInsert::OnConflict(oc)) => {
                let target = match oc.conflict_target {
                    None => None,
                    Some(sp::ConflictTarget::Columns(cols)) => {
                        Some(cols.into_iter().map(ident).collect())
                    }
                    Some(sp::ConflictTarget::OnConstraint(_)) => {
                        return Err(unsupported("ON CONFLICT ON CONSTRAINT"))
                    }
                };
                let action = match oc.action {
                    sp::OnConflictAction::DoNothing => UpsertAction::Nothing,
                    // Without a target (SQLite 3.35+, the last clause): any
                    // uniqueness constraint, the first violated in order.
                    sp::OnConflictAction::DoUpdate(du) => {
                        let sets = self.assignments(du.assignments)?;
                        let filter = du.selection.map(|e| self.expr(e)).transpose()?;
                        UpsertAction::Update(sets, filter)
                    }
                };
                Some(Upsert { target, action })
            }
            Some(other) => return Err(unsupported(format!("INSERT ... {other}"))),
        };
        let columns = if columns.is_empty() {
            None
        } else {
            Some(columns.iter().map(object_name).collect::<Result<_>>()?)
        };
        Ok(Insert {
            table,
            columns,
            source: match source {
                Some(q) => Some(Box::new(self.query(*q)?)),
                None => None,
            },
            on_conflict,
            upsert,
            returning: self.items(returning.unwrap_or_default())?,
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

    /// The one table of an UPDATE or DELETE, with its index hint.
    fn single_table(&mut self, t: &sp::TableWithJoins) -> Result<(String, Option<IndexHint>)> {
        if !t.joins.is_empty() {
            return Err(unsupported("joins in UPDATE/DELETE"));
        }
        match self.table_factor(t.relation.clone())? {
            FromItem::Table {
                name,
                alias: None,
                hint,
            } => Ok((name, hint)),
            FromItem::Table { .. } => Err(unsupported("an alias for the table of UPDATE/DELETE")),
            _ => Err(unsupported(format!("target {}", t.relation))),
        }
    }

    fn update(&mut self, u: sp::Update) -> Result<Update> {
        let sp::Update {
            update_token: _,
            optimizer_hints,
            table,
            assignments,
            from,
            selection,
            returning,
            output,
            or,
            order_by,
            limit,
        } = u;
        if from.is_some() {
            return Err(unsupported("UPDATE ... FROM"));
        }
        if !optimizer_hints.is_empty() || output.is_some() {
            return Err(unsupported("this form of UPDATE"));
        }
        if !order_by.is_empty() || limit.is_some() {
            return Err(unsupported("UPDATE ... ORDER BY / LIMIT"));
        }
        let (table, hint) = self.single_table(&table)?;
        Ok(Update {
            table,
            hint,
            assignments: self.assignments(assignments)?,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            on_conflict: conflict_mode(or),
            returning: self.items(returning.unwrap_or_default())?,
        })
    }

    fn delete(&mut self, d: sp::Delete) -> Result<Delete> {
        let sp::Delete {
            delete_token: _,
            optimizer_hints,
            tables,
            from,
            using,
            selection,
            returning,
            output,
            order_by,
            limit,
        } = d;
        if !optimizer_hints.is_empty() || !tables.is_empty() || using.is_some() || output.is_some()
        {
            return Err(unsupported("this form of DELETE"));
        }
        if !order_by.is_empty() || limit.is_some() {
            return Err(unsupported("DELETE ... ORDER BY / LIMIT"));
        }
        let from = match &from {
            sp::FromTable::WithFromKeyword(f) | sp::FromTable::WithoutKeyword(f) => f,
        };
        let [t] = from.as_slice() else {
            return Err(unsupported("DELETE from several tables"));
        };
        let (table, hint) = self.single_table(t)?;
        Ok(Delete {
            table,
            hint,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            returning: self.items(returning.unwrap_or_default())?,
        })
    }

    fn query(&mut self, q: sp::Query) -> Result<Query> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Query {
            with,
            body,
            order_by: ob,
            limit_clause,
            fetch,
            locks,
            for_clause,
            settings,
            format_clause,
            pipe_operators,
        } = q;
        if with.is_some() {
            return Err(unsupported("WITH"));
        }
        if fetch.is_some()
            || !locks.is_empty()
            || for_clause.is_some()
            || settings.is_some()
            || format_clause.is_some()
            || !pipe_operators.is_empty()
        {
            return Err(unsupported("FETCH, FOR UPDATE and other query clauses"));
        }
        let body = self.set_expr(*body)?;
        let mut order_by = Vec::new();
        if let Some(ob) = ob {
            if ob.interpolate.is_some() {
                return Err(unsupported("ORDER BY ... INTERPOLATE"));
            }
            match ob.kind {
                sp::OrderByKind::Expressions(items) => {
                    for it in items {
                        if it.with_fill.is_some() {
                            return Err(unsupported("ORDER BY ... WITH FILL"));
                        }
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
        let (limit, offset) = match limit_clause {
            None => (None, None),
            Some(sp::LimitClause::LimitOffset { limit_by, .. }) if !limit_by.is_empty() => {
                return Err(unsupported("LIMIT ... BY"))
            }
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
                // Only UNION has an ALL form (SQLite's grammar); BY NAME
                // matches columns by name, which sealdb does not do.
                all: match (set_quantifier, op) {
                    (sp::SetQuantifier::None | sp::SetQuantifier::Distinct, _) => false,
                    (sp::SetQuantifier::All, sp::SetOperator::Union) => true,
                    (q, _) => return Err(unsupported(format!("{op} {q}"))),
                },
                left: Box::new(self.set_expr(*left)?),
                right: Box::new(self.set_expr(*right)?),
            },
            other => return Err(unsupported(format!("query body {other}"))),
        })
    }

    fn select(&mut self, s: sp::Select) -> Result<Select> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Select {
            select_token: _,
            optimizer_hints,
            distinct,
            select_modifiers,
            top,
            top_before_distinct: _,
            projection,
            exclude,
            into,
            from,
            lateral_views,
            prewhere,
            selection,
            connect_by,
            group_by,
            cluster_by,
            distribute_by,
            sort_by,
            having,
            named_window,
            qualify,
            window_before_qualify: _,
            value_table_mode,
            flavor,
        } = s;
        if !optimizer_hints.is_empty()
            || select_modifiers.is_some()
            || top.is_some()
            || exclude.is_some()
            || into.is_some()
            || !lateral_views.is_empty()
            || prewhere.is_some()
            || !connect_by.is_empty()
            || !cluster_by.is_empty()
            || !distribute_by.is_empty()
            || !sort_by.is_empty()
            || !named_window.is_empty()
            || qualify.is_some()
            || value_table_mode.is_some()
            || flavor != sp::SelectFlavor::Standard
        {
            return Err(unsupported(
                "this SELECT clause (TOP, INTO, WINDOW, QUALIFY, SORT BY, CLUSTER BY and the like)",
            ));
        }
        let distinct = match distinct {
            None | Some(sp::Distinct::All) => false,
            Some(sp::Distinct::Distinct) => true,
            Some(sp::Distinct::On(_)) => return Err(unsupported("DISTINCT ON")),
        };
        // Left-deep: `a, b JOIN c` is `(a, b) JOIN c`, as in SQLite.
        let mut joined: Option<FromItem> = None;
        for twj in from {
            let rel = self.table_factor(twj.relation)?;
            let mut item = match joined.take() {
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
            joined = Some(item);
        }
        let group_by = match group_by {
            sp::GroupByExpr::Expressions(_, modifiers) if !modifiers.is_empty() => {
                return Err(unsupported("GROUP BY ... WITH ROLLUP, CUBE or TOTALS"))
            }
            sp::GroupByExpr::Expressions(es, _) => es
                .into_iter()
                .map(|e| self.expr(e))
                .collect::<Result<_>>()?,
            sp::GroupByExpr::All(_) => return Err(unsupported("GROUP BY ALL")),
        };
        Ok(Select {
            distinct,
            items: self.items(projection)?,
            from: joined,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            group_by,
            having: having.map(|e| self.expr(e)).transpose()?,
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
                name,
                alias,
                args,
                with_hints,
                version,
                with_ordinality,
                partitions,
                json_path,
                sample,
                index_hints,
            } => {
                if args.is_some() {
                    return Err(unsupported(format!(
                        "the table-valued function {}()",
                        object_name(&name)?
                    )));
                }
                if !with_hints.is_empty()
                    || version.is_some()
                    || with_ordinality
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || sample.is_some()
                {
                    return Err(unsupported(format!("this table reference ({name})")));
                }
                let alias = plain_alias(alias)?;
                // INDEXED BY and NOT INDEXED arrive as USE INDEX (name)
                // and USE INDEX () (see rewrite_index_hints).
                let hint = match index_hints.as_slice() {
                    [] => None,
                    [h] if h.for_clause.is_none() => match (&h.hint_type, h.index_names.as_slice())
                    {
                        (sp::TableIndexHintType::Use, [i]) => {
                            Some(IndexHint::IndexedBy(i.value.clone()))
                        }
                        (sp::TableIndexHintType::Use, []) => Some(IndexHint::NotIndexed),
                        _ => return Err(unsupported(format!("index hint {h}"))),
                    },
                    _ => return Err(unsupported("several index hints")),
                };
                FromItem::Table {
                    name: object_name(&name)?,
                    alias,
                    hint,
                }
            }
            sp::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample,
            } => {
                if lateral || sample.is_some() {
                    return Err(unsupported("LATERAL or TABLESAMPLE on a subquery"));
                }
                FromItem::Subquery {
                    query: Box::new(self.query(*subquery)?),
                    alias: plain_alias(alias)?,
                }
            }
            sp::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                if alias.is_some() {
                    return Err(unsupported("an alias for a parenthesized join"));
                }
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
        let e_is_ceil = matches!(e, E::Ceil { .. });
        let b = |x: Expr| Box::new(x);
        Ok(match e {
            E::Identifier(i) => Expr::Column {
                table: None,
                name: i.value,
            },
            E::CompoundIdentifier(mut parts) => {
                let name = parts.pop().map(ident).unwrap_or_default();
                let table = parts.pop().map(ident);
                match parts.as_slice() {
                    [] => {}
                    [schema] => main_schema(schema)?,
                    _ => return Err(unsupported("a name with more than three parts")),
                }
                Expr::Column { table, name }
            }
            E::Value(v) => self.literal(v.value, false)?,
            E::Nested(e) => self.expr(*e)?,
            E::UnaryOp { op, expr } => {
                // sqlparser reads `-x COLLATE c` as `-(x COLLATE c)`; SQLite's
                // unary operators bind tighter than COLLATE, so it is
                // `(-x) COLLATE c` (which decides whether `-1 COLLATE c` is
                // an ORDER BY position). `-(x COLLATE c)` stays as written.
                if !matches!(op, sp::UnaryOperator::Not) {
                    if let E::Collate { .. } = &*expr {
                        let E::Collate {
                            expr: inner,
                            collation,
                        } = *expr
                        else {
                            return Err(Error::sql(SqlErrorKind::Syntax, "malformed expression"));
                        };
                        let operand = self.expr(E::UnaryOp { op, expr: inner })?;
                        return Ok(Expr::Collate(
                            b(operand),
                            collation_named(&object_name(&collation)?)?,
                        ));
                    }
                }
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
            // SQLite's JSON operators are functions of their operands.
            E::BinaryOp {
                left,
                op: op @ (sp::BinaryOperator::Arrow | sp::BinaryOperator::LongArrow),
                right,
            } => Expr::Function {
                name: if op == sp::BinaryOperator::Arrow {
                    "->"
                } else {
                    "->>"
                }
                .into(),
                args: vec![self.expr(*left)?, self.expr(*right)?],
                distinct: false,
                star: false,
            },
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
                    sp::BinaryOperator::Glob => {
                        return Ok(Expr::Like {
                            expr: b(self.expr(*left)?),
                            pattern: b(self.expr(*right)?),
                            escape: None,
                            negated: false,
                            glob: true,
                        })
                    }
                    // SQLite has no REGEXP or MATCH function built in.
                    sp::BinaryOperator::Regexp | sp::BinaryOperator::Match => {
                        return Err(Error::sql(
                            SqlErrorKind::UnknownFunction,
                            format!("no such function: {op}"),
                        ))
                    }
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
            E::IsTrue(e) => Expr::Unary(UnOp::IsTrue, b(self.expr(*e)?)),
            E::IsNotTrue(e) => Expr::Unary(UnOp::IsNotTrue, b(self.expr(*e)?)),
            E::IsFalse(e) => Expr::Unary(UnOp::IsFalse, b(self.expr(*e)?)),
            E::IsNotFalse(e) => Expr::Unary(UnOp::IsNotFalse, b(self.expr(*e)?)),
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
                kind,
                expr,
                data_type,
                format,
            } => {
                if kind != sp::CastKind::Cast || format.is_some() {
                    return Err(unsupported(
                        "TRY_CAST, SAFE_CAST, :: and CAST ... FORMAT (only CAST(x AS type))",
                    ));
                }
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
            E::Collate { expr, collation } => Expr::Collate(
                b(self.expr(*expr)?),
                collation_named(&object_name(&collation)?)?,
            ),
            // sqlparser reads trim(x) and trim(x, y) as its TRIM syntax;
            // SQLite's trim is an ordinary function (no BOTH/LEADING/FROM).
            E::Trim {
                trim_where: None,
                trim_what: None,
                expr,
                trim_characters,
            } => {
                let mut args = vec![self.expr(*expr)?];
                for c in trim_characters.unwrap_or_default() {
                    args.push(self.expr(c)?);
                }
                Expr::Function {
                    name: "trim".into(),
                    args,
                    distinct: false,
                    star: false,
                }
            }
            E::Trim { .. } => {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    "syntax error: TRIM takes no BOTH, LEADING, TRAILING or FROM",
                ))
            }
            E::Ceil { expr, field } | E::Floor { expr, field } => {
                let name = if e_is_ceil { "ceil" } else { "floor" };
                let mut args = vec![self.expr(*expr)?];
                match field {
                    sp::CeilFloorKind::DateTimeField(sp::DateTimeField::NoDateTime) => {}
                    sp::CeilFloorKind::Scale(v) => args.push(self.literal(v.value, false)?),
                    _ => return Err(unsupported(format!("{name}(... TO field)"))),
                }
                Expr::Function {
                    name: name.into(),
                    args,
                    distinct: false,
                    star: false,
                }
            }
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
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported("WITHIN GROUP and IGNORE/RESPECT NULLS"));
        }
        if f.uses_odbc_syntax || !matches!(f.parameters, sp::FunctionArguments::None) {
            return Err(unsupported(format!("the function call form {f}")));
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
                if !list.clauses.is_empty() {
                    return Err(unsupported(
                        "clauses inside a function's arguments (ORDER BY, LIMIT, SEPARATOR)",
                    ));
                }
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

/// A table or subquery alias's name; column names or `AT` after it are
/// refused, not ignored.
fn plain_alias(alias: Option<sp::TableAlias>) -> Result<Option<String>> {
    match alias {
        None => Ok(None),
        Some(a) if a.columns.is_empty() && a.at.is_none() => Ok(Some(a.name.value)),
        Some(_) => Err(unsupported("column names in a table alias")),
    }
}

/// The columns of an index or key: names, each maybe with COLLATE and
/// ASC/DESC.
fn indexed_columns(cols: Vec<sp::IndexColumn>) -> Result<Vec<IndexedColumn>> {
    cols.into_iter()
        .map(|c| {
            if c.operator_class.is_some()
                || c.column.with_fill.is_some()
                || c.column.options.nulls_first.is_some()
            {
                return Err(unsupported(format!("indexed column {c}")));
            }
            let desc = matches!(c.column.options.sort, Some(sp::OrderBySort::Desc));
            let (name, collation) = match c.column.expr {
                sp::Expr::Identifier(i) => (i.value, None),
                sp::Expr::Collate { expr, collation } => match *expr {
                    sp::Expr::Identifier(i) => {
                        (i.value, Some(collation_named(&object_name(&collation)?)?))
                    }
                    other => return Err(unsupported(format!("index on expression {other}"))),
                },
                other => return Err(unsupported(format!("index on expression {other}"))),
            };
            Ok(IndexedColumn {
                name,
                desc,
                collation,
            })
        })
        .collect()
}

/// A PRIMARY KEY or UNIQUE constraint has nothing SQLite would act on
/// but its columns (no DEFERRABLE, no index options).
fn constraint_plain(
    characteristics: &Option<sp::ConstraintCharacteristics>,
    options: &[sp::IndexOption],
    what: &str,
) -> Result<()> {
    if characteristics.is_some() {
        return Err(unsupported(format!(
            "DEFERRABLE or ENFORCED on a {what} constraint"
        )));
    }
    if !options.is_empty() {
        return Err(unsupported(format!("index options on a {what} constraint")));
    }
    Ok(())
}

/// The conflict resolution an `OR ...` clause names.
fn conflict_mode(or: Option<sp::SqliteOnConflict>) -> Option<Conflict> {
    or.map(|o| match o {
        sp::SqliteOnConflict::Abort => Conflict::Abort,
        sp::SqliteOnConflict::Fail => Conflict::Fail,
        sp::SqliteOnConflict::Ignore => Conflict::Ignore,
        sp::SqliteOnConflict::Replace => Conflict::Replace,
        sp::SqliteOnConflict::Rollback => Conflict::Rollback,
    })
}

/// The collating sequence called `name` (SQLite's error when none is).
pub fn collation_named(name: &str) -> Result<crate::types::Collation> {
    crate::types::Collation::from_name(name).ok_or_else(|| {
        Error::sql(
            SqlErrorKind::Misuse,
            format!("no such collation sequence: {name}"),
        )
    })
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

/// SQLite's index hints, which sqlparser's SQLite grammar lacks, as the
/// MySQL hints it parses (and parse.rs reads back): `INDEXED BY name` →
/// `USE INDEX (name)`, `NOT INDEXED` → `USE INDEX ()` (no index). Works on tokens,
/// so quoted names and text are safe.
fn rewrite_index_hints(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let is_word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if !tokens.iter().any(|t| is_word(&t.token, "INDEXED")) {
        return tokens;
    }
    // The next token after `i` that is not whitespace.
    let next_code = |i: usize| {
        (i + 1..tokens.len()).find(|&j| !matches!(tokens[j].token, Token::Whitespace(_)))
    };
    let mut out = Vec::with_capacity(tokens.len() + 4);
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i].token;
        let with = |t: Token| TokenWithSpan::new(t, tokens[i].span);
        let space = || with(Token::Whitespace(sqlparser::tokenizer::Whitespace::Space));
        let by = next_code(i).filter(|&j| is_word(&tokens[j].token, "BY"));
        let name = by
            .and_then(next_code)
            .filter(|&j| matches!(tokens[j].token, Token::Word(_)));
        if let (true, Some(n)) = (is_word(t, "INDEXED"), name) {
            out.extend([
                with(Token::make_keyword("USE")),
                space(),
                with(Token::make_keyword("INDEX")),
                with(Token::LParen),
                tokens[n].clone(),
                with(Token::RParen),
            ]);
            i = n + 1;
            continue;
        }
        let indexed = next_code(i).filter(|&j| is_word(&tokens[j].token, "INDEXED"));
        if let (true, Some(n)) = (
            matches!(t, Token::Word(w) if w.keyword == Keyword::NOT),
            indexed,
        ) {
            out.extend([
                with(Token::make_keyword("USE")),
                space(),
                with(Token::make_keyword("INDEX")),
                with(Token::LParen),
                with(Token::RParen),
            ]);
            i = n + 1;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// SQLite forms sqlparser lacks, rewritten to equivalent SQL it parses:
/// `x IN table` → `x IN (SELECT * FROM table)`. Quoted strings and
/// identifiers are left untouched.
fn rewrite_sqlite_forms(sql: &str) -> std::borrow::Cow<'_, str> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains(" IN") {
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

/// SQLite's hexadecimal integer literals (`0xff`, `0X1F`), which sqlparser
/// reads as blobs, rewritten to their decimal value: up to 16 hex digits,
/// read as a 64-bit two's-complement integer (`0xffffffffffffffff` is -1),
/// as SQLite does; more digits is an error ("hex literal too big").
/// Quoted text, quoted identifiers and comments are left alone.
fn rewrite_hex_integers(sql: &str) -> Result<std::borrow::Cow<'_, str>> {
    let lower = sql.as_bytes();
    if !lower
        .windows(2)
        .any(|w| w[0] == b'0' && (w[1] == b'x' || w[1] == b'X'))
    {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    let mut copied = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                i += 1;
                while i < b.len() {
                    if b[i] == close {
                        if close != b']' && b.get(i + 1) == Some(&close) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'0' if matches!(b.get(i + 1), Some(b'x' | b'X'))
                && b.get(i + 2).is_some_and(|d| d.is_ascii_hexdigit())
                && (i == 0 || !(word(b[i - 1]) || b[i - 1] == b'.')) =>
            {
                let start = i;
                let mut end = i + 2;
                while end < b.len() && b[end].is_ascii_hexdigit() {
                    end += 1;
                }
                if end < b.len() && (word(b[end]) || b[end] == b'.') {
                    // Not a hex literal (e.g. `0x1g`): leave it to the parser.
                    i = end;
                    continue;
                }
                let digits = sql[start + 2..end].trim_start_matches('0');
                if digits.len() > 16 {
                    return Err(Error::sql(
                        SqlErrorKind::Syntax,
                        format!("hex literal too big: {}", &sql[start..end]),
                    ));
                }
                let v = u64::from_str_radix(if digits.is_empty() { "0" } else { digits }, 16)
                    .map_err(|_| Error::sql(SqlErrorKind::Syntax, "malformed hex literal"))?;
                out.push_str(&sql[copied..start]);
                // A negative value is parenthesized: `x-0xffffffffffffffff`
                // must not become the comment `x--1`.
                let v = v as i64;
                if v < 0 {
                    out.push_str(&format!("({v})"));
                } else {
                    out.push_str(&v.to_string());
                }
                copied = end;
                i = end;
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    out.push_str(&sql[copied..]);
    Ok(std::borrow::Cow::Owned(out))
}
