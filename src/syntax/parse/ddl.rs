//! CREATE TABLE / CREATE INDEX: column definitions, constraints, indexed
//! columns and conflict clauses, as sealdb honours them (anything else is
//! refused as not supported).

use super::*;

impl Cx {
    pub(super) fn column_spec(&mut self, col: sp::ColumnDef) -> Result<ColumnSpec> {
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
                sp::ColumnOption::Check(c) => {
                    let name = c.name.or(opt.name.clone()).map(|n| n.value);
                    spec.checks
                        .push(self.check_spec(name, *c.expr, c.enforced)?);
                }
                sp::ColumnOption::ForeignKey(fk) => {
                    let mut f = foreign_key_spec(fk)?;
                    f.columns = vec![spec.name.clone()];
                    f.column_level = true;
                    spec.references.push(f);
                }
                sp::ColumnOption::OnConflict(_) => {
                    return Err(unsupported("ON CONFLICT clauses on constraints"))
                }
                sp::ColumnOption::Generated {
                    generated_as,
                    sequence_options,
                    generation_expr,
                    generation_expr_mode,
                    ..
                } => {
                    let Some(e) = generation_expr else {
                        return Err(unsupported("identity columns (GENERATED ... AS IDENTITY)"));
                    };
                    if sequence_options.is_some()
                        || matches!(generated_as, sp::GeneratedAs::ByDefault)
                        || spec.generated.is_some()
                    {
                        return Err(unsupported(format!("this generated column form ({e})")));
                    }
                    let stored = matches!(
                        generation_expr_mode,
                        Some(sp::GeneratedExpressionMode::Stored)
                    ) || matches!(generated_as, sp::GeneratedAs::ExpStored);
                    let text = e.to_string();
                    self.expr(e)?;
                    spec.generated = Some(GeneratedSpec { expr: text, stored });
                }
                other => return Err(unsupported(format!("column option {other}"))),
            }
        }
        Ok(spec)
    }

    pub(super) fn create_table(&mut self, mut c: sp::CreateTable) -> Result<CreateTable> {
        // Whatever this conversion does not read must be unset: compare
        // the statement, with what is read cleared, with an empty one. The
        // parts read are taken out first, not cloned (they may nest
        // deeply); `with_parser` leaves room for cloning the rest.
        let columns = std::mem::take(&mut c.columns);
        let constraints = std::mem::take(&mut c.constraints);
        let query = c.query.take();
        let mut rest = c.clone();
        rest.if_not_exists = false;
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
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            as_query: match query {
                Some(q) => Some(Box::new(self.query(*q)?)),
                None => None,
            },
            without_rowid: c.without_rowid,
            strict: c.strict,
        };
        for col in columns {
            let spec = self.column_spec(col)?;
            out.checks.extend(spec.checks.iter().cloned());
            out.foreign_keys.extend(spec.references.iter().cloned());
            out.columns.push(spec);
        }
        let mut table_checks = Vec::new();
        for tc in constraints {
            match tc {
                sp::TableConstraint::PrimaryKey(pk) => {
                    constraint_plain(&pk.characteristics, &pk.index_options, "PRIMARY KEY")?;
                    if !out.primary_key.is_empty() {
                        return Err(Error::sql(
                            SqlErrorKind::Syntax,
                            format!("table \"{}\" has more than one primary key", out.name),
                        ));
                    }
                    out.primary_key = self.indexed_columns(pk.columns, false)?;
                }
                sp::TableConstraint::Unique(u) => {
                    constraint_plain(&u.characteristics, &u.index_options, "UNIQUE")?;
                    out.uniques.push(self.indexed_columns(u.columns, false)?);
                }
                sp::TableConstraint::ForeignKey(fk) => {
                    if fk.index_name.is_some() {
                        return Err(unsupported("an index name in FOREIGN KEY"));
                    }
                    let columns: Vec<String> = fk.columns.iter().map(|c| c.value.clone()).collect();
                    let mut f = foreign_key_spec(fk)?;
                    f.columns = columns;
                    out.foreign_keys.push(f);
                }
                sp::TableConstraint::Check(c) => {
                    let name = c.name.map(|n| n.value);
                    let check = self.check_spec(name, *c.expr, c.enforced)?;
                    table_checks.push(check);
                }
                other => return Err(unsupported(format!("table constraint {other}"))),
            }
        }
        out.checks.extend(table_checks);
        Ok(out)
    }

    /// A CHECK constraint: its expression must be one sealdb takes (parsed
    /// here, bound against the table when it is created).
    fn check_spec(
        &mut self,
        name: Option<String>,
        e: sp::Expr,
        enforced: Option<bool>,
    ) -> Result<CheckSpec> {
        if enforced.is_some() {
            return Err(unsupported("CHECK ... [NOT] ENFORCED"));
        }
        let text = e.to_string();
        self.expr(e)?;
        Ok(CheckSpec { name, expr: text })
    }

    pub(super) fn create_index(&mut self, c: sp::CreateIndex) -> Result<CreateIndex> {
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
            columns: self.indexed_columns(columns, true)?,
            unique,
            if_not_exists,
            filter,
        })
    }
}

impl Cx {
    /// The columns of an index or key: names or (`exprs`: in CREATE
    /// INDEX) expressions, each maybe with COLLATE and ASC/DESC.
    pub(super) fn indexed_columns(
        &mut self,
        cols: Vec<sp::IndexColumn>,
        exprs: bool,
    ) -> Result<Vec<IndexedColumn>> {
        let mut out = Vec::with_capacity(cols.len());
        for c in cols {
            if c.operator_class.is_some()
                || c.column.with_fill.is_some()
                || c.column.options.nulls_first.is_some()
            {
                return Err(unsupported(format!("indexed column {c}")));
            }
            let desc = matches!(c.column.options.sort, Some(sp::OrderBySort::Desc));
            let (e, collation) = match c.column.expr {
                sp::Expr::Collate { expr, collation } => {
                    (*expr, Some(collation_named(&object_name(&collation)?)?))
                }
                other => (other, None),
            };
            let mut e = e;
            while let sp::Expr::Nested(inner) = e {
                e = *inner;
            }
            let (name, expr) = match e {
                sp::Expr::Identifier(i) => (i.value, None),
                // SQLite takes a string there for a column name.
                sp::Expr::Value(sp::ValueWithSpan {
                    value: sp::Value::SingleQuotedString(s),
                    ..
                }) => (s, None),
                other if exprs => {
                    let text = other.to_string();
                    self.expr(other)?;
                    (String::new(), Some(text))
                }
                _ => {
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        "expressions prohibited in PRIMARY KEY and UNIQUE constraints",
                    ))
                }
            };
            out.push(IndexedColumn {
                name,
                desc,
                collation,
                expr,
            });
        }
        Ok(out)
    }
}

/// A PRIMARY KEY or UNIQUE constraint has nothing SQLite would act on
/// but its columns (no DEFERRABLE, no index options).
pub(super) fn constraint_plain(
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
pub(super) fn conflict_mode(or: Option<sp::SqliteOnConflict>) -> Option<Conflict> {
    or.map(|o| match o {
        sp::SqliteOnConflict::Abort => Conflict::Abort,
        sp::SqliteOnConflict::Fail => Conflict::Fail,
        sp::SqliteOnConflict::Ignore => Conflict::Ignore,
        sp::SqliteOnConflict::Replace => Conflict::Replace,
        sp::SqliteOnConflict::Rollback => Conflict::Rollback,
    })
}

/// A FOREIGN KEY clause as SQLite reads it (the child columns are the
/// caller's): `MATCH SIMPLE` is what SQLite always does, any other MATCH
/// and `[NOT] ENFORCED` are refused; the constraint is deferred only when
/// `DEFERRABLE INITIALLY DEFERRED` (SQLite's `defer_subclause`).
fn foreign_key_spec(fk: sp::ForeignKeyConstraint) -> Result<ForeignKeySpec> {
    if let Some(m) = &fk.match_kind {
        if !matches!(m, sp::ConstraintReferenceMatchKind::Simple) {
            return Err(unsupported(format!("FOREIGN KEY ... {m}")));
        }
    }
    let action = |a: Option<sp::ReferentialAction>| match a {
        None | Some(sp::ReferentialAction::NoAction) => FkAction::NoAction,
        Some(sp::ReferentialAction::Restrict) => FkAction::Restrict,
        Some(sp::ReferentialAction::SetNull) => FkAction::SetNull,
        Some(sp::ReferentialAction::SetDefault) => FkAction::SetDefault,
        Some(sp::ReferentialAction::Cascade) => FkAction::Cascade,
    };
    let mut deferred = false;
    if let Some(c) = &fk.characteristics {
        if c.enforced.is_some() {
            return Err(unsupported("FOREIGN KEY ... [NOT] ENFORCED"));
        }
        if c.initially.is_some() && c.deferrable.is_none() {
            return Err(Error::sql(
                SqlErrorKind::Syntax,
                "near \"INITIALLY\": syntax error",
            ));
        }
        deferred =
            c.deferrable == Some(true) && c.initially == Some(sp::DeferrableInitial::Deferred);
    }
    Ok(ForeignKeySpec {
        columns: Vec::new(),
        parent: object_name(&fk.foreign_table)?,
        parent_columns: fk
            .referred_columns
            .iter()
            .map(|c| c.value.clone())
            .collect(),
        on_delete: action(fk.on_delete),
        on_update: action(fk.on_update),
        deferred,
        column_level: false,
    })
}
