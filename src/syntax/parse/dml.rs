//! INSERT (with upserts and RETURNING), UPDATE and DELETE.

use super::*;

impl Cx {
    pub(super) fn insert(&mut self, i: sp::Insert) -> Result<Insert> {
        // Every field named, so that a new one in sqlparser is looked at.
        let sp::Insert {
            insert_token,
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
            with: None,
            table,
            columns,
            source: match source {
                Some(q) => Some(Box::new(self.query(*q)?)),
                None => None,
            },
            on_conflict,
            upsert,
            returning: self.returning(returning, insert_token.0.span.start)?,
        })
    }

    /// The RETURNING list of the statement whose keyword is at `at`, with
    /// its items' texts. (Not found from the items' own spans: sqlparser
    /// computes an expression's span by unguarded recursion, which a deep
    /// expression would overflow.)
    fn returning(
        &mut self,
        items: Option<Vec<sp::SelectItem>>,
        at: sqlparser::tokenizer::Location,
    ) -> Result<Vec<SelectItem>> {
        let items = items.unwrap_or_default();
        let texts = if items.is_empty() {
            None
        } else {
            self.texts.returning(at).map(<[_]>::to_vec)
        };
        self.items(items, texts)
    }

    /// SET items; `(a, b) = (x, y)` is `a = x, b = y`, and `(a, b) =
    /// (SELECT ...)` gives each column its term of the subquery's row
    /// ([`Expr::RowField`]), as SQLite's `sqlite3ExprListAppendVector`.
    pub(super) fn assignments(&mut self, a: Vec<sp::Assignment>) -> Result<Vec<(String, Expr)>> {
        let mut out = Vec::with_capacity(a.len());
        for a in a {
            let names = match a.target {
                sp::AssignmentTarget::ColumnName(n) => {
                    out.push((object_name(&n)?, self.expr(a.value)?));
                    continue;
                }
                sp::AssignmentTarget::Tuple(names) => {
                    names.iter().map(object_name).collect::<Result<Vec<_>>>()?
                }
            };
            let n = names.len();
            match self.expr(a.value)? {
                Expr::Row(terms) if terms.len() == n => out.extend(names.into_iter().zip(terms)),
                Expr::Subquery(q) => {
                    let query = Arc::new(*q);
                    out.extend(names.into_iter().enumerate().map(|(index, c)| {
                        let field = Expr::RowField {
                            query: query.clone(),
                            index,
                            of: n,
                        };
                        (c, field)
                    }));
                }
                other if n == 1 => out.extend(names.into_iter().map(|c| (c, other.clone()))),
                other => {
                    let got = match &other {
                        Expr::Row(terms) => terms.len(),
                        _ => 1,
                    };
                    return Err(Error::sql(
                        SqlErrorKind::Misuse,
                        format!("{n} columns assigned {got} values"),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The one table of an UPDATE or DELETE, with its index hint.
    pub(super) fn single_table(
        &mut self,
        t: &sp::TableWithJoins,
    ) -> Result<(String, Option<IndexHint>)> {
        if !t.joins.is_empty() {
            return Err(unsupported("joins in UPDATE/DELETE"));
        }
        match self.table_factor(t.relation.clone())? {
            FromItem::Table {
                name,
                alias: None,
                hint,
                qualified: _,
            } => Ok((name, hint)),
            FromItem::Table { .. } => Err(unsupported("an alias for the table of UPDATE/DELETE")),
            _ => Err(unsupported(format!("target {}", t.relation))),
        }
    }

    pub(super) fn update(&mut self, u: sp::Update) -> Result<Update> {
        let sp::Update {
            update_token,
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
        let from = match from {
            None => None,
            Some(sp::UpdateTableFromKind::AfterSet(list)) => self.joined_from(list)?,
            Some(sp::UpdateTableFromKind::BeforeSet(_)) => {
                return Err(unsupported("UPDATE ... FROM before SET"))
            }
        };
        if !optimizer_hints.is_empty() || output.is_some() {
            return Err(unsupported("this form of UPDATE"));
        }
        if !order_by.is_empty() || limit.is_some() {
            return Err(unsupported("UPDATE ... ORDER BY / LIMIT"));
        }
        let (table, hint) = self.single_table(&table)?;
        Ok(Update {
            with: None,
            table,
            hint,
            assignments: self.assignments(assignments)?,
            from,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            on_conflict: conflict_mode(or),
            returning: self.returning(returning, update_token.0.span.start)?,
        })
    }

    pub(super) fn delete(&mut self, d: sp::Delete) -> Result<Delete> {
        let sp::Delete {
            delete_token,
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
            with: None,
            table,
            hint,
            filter: selection.map(|e| self.expr(e)).transpose()?,
            returning: self.returning(returning, delete_token.0.span.start)?,
        })
    }
}
