//! What data changes and triggers need from the planner: the rows of a
//! table (under its row policies), expressions over its row, RETURNING.

use super::*;

impl<'s> Planner<'s> {
    /// Every row of `table` (columns ++ rowid) straight from its rows,
    /// through no index (for rebuilding or checking indexes).
    pub fn full_scan(table: &Arc<Table>) -> Plan {
        Arc::new(Node::Scan {
            table: table.clone(),
            access: Access::Full,
            reverse: false,
        })
    }

    /// Plans a single-table read for UPDATE/DELETE: rows of the table
    /// (columns ++ rowid) matching `filter`.
    pub fn table_rows(&mut self, table: &Arc<Table>, filter: Option<&Expr>) -> Result<Plan> {
        self.table_rows_for(table, filter, None, None, false)
    }

    /// [`Self::table_rows`] for UPDATE or DELETE (`cmd`): only the rows
    /// row-level security lets the user change — and, when the statement
    /// reads the rows (`reads_rows`, see [`reads_target`]), only rows the
    /// SELECT policies let it see, as in PostgreSQL — with the columns read
    /// by `filter` recorded as needing SELECT. The policies are applied
    /// before `filter`, so a WHERE clause never runs on a hidden row (no
    /// error oracle).
    pub fn table_rows_for(
        &mut self,
        table: &Arc<Table>,
        filter: Option<&Expr>,
        cmd: Option<PolicyCmd>,
        hint: Option<&IndexHint>,
        reads_rows: bool,
    ) -> Result<Plan> {
        let hint = resolve_hint(table, hint)?;
        let select_policy = match cmd {
            Some(_) if reads_rows => self.row_policy(table, PolicyCmd::Select, false)?,
            _ => None,
        };
        let policy = match cmd {
            Some(c) => self.row_policy(table, c, false)?,
            None => None,
        };
        let mut src = table_source_of(table, table.name.clone());
        let origin = match cmd {
            Some(_) => self.track_reads(&table.name, &mut src.cols),
            None => None,
        };
        let root = self.root.clone();
        let scope = Scope::new(src.cols, root.as_deref());
        let mut parts = Vec::new();
        if let Some(f) = filter {
            split_and(f.clone(), &mut parts);
        }
        let bound: Vec<PExpr> = parts
            .iter()
            .map(|p| self.expr(p, &scope))
            .collect::<Result<_>>()?;
        // A filter that reads no column (or none at all) needs no SELECT,
        // as in PostgreSQL: `DELETE FROM t` needs only DELETE.
        if let Some(o) = origin.filter(|o| {
            self.uses
                .get(*o)
                .is_some_and(|u| u.privilege == Privilege::Select && u.columns.is_empty())
        }) {
            self.uses.remove(o);
        }
        let access = choose_access(table, 0, &bound.iter().collect::<Vec<_>>(), hint, false)?;
        let mut plan: Plan = Arc::new(Node::Scan {
            table: table.clone(),
            access,
            reverse: false,
        });
        if let Some(p) = select_policy {
            plan = Arc::new(Node::Filter(plan, Arc::new(p)));
        }
        if let Some(p) = policy {
            plan = Arc::new(Node::Filter(plan, Arc::new(p)));
        }
        for b in bound {
            plan = Arc::new(Node::Filter(plan, Arc::new(b)));
        }
        Ok(plan)
    }

    /// Binds expressions over one table's row (columns ++ rowid), for
    /// UPDATE SET, RETURNING and DEFAULT.
    pub fn table_exprs(&mut self, table: &Arc<Table>, exprs: &[Expr]) -> Result<Vec<PExpr>> {
        let src = table_source_of(table, table.name.clone());
        let root = self.root.clone();
        let scope = Scope::new(src.cols, root.as_deref());
        exprs.iter().map(|e| self.expr(e, &scope)).collect()
    }

    /// Records the columns of `table` that `exprs` read (SET expressions,
    /// ON CONFLICT) as needing SELECT.
    pub fn reads_of(&mut self, table: &Arc<Table>, exprs: &[Expr]) -> Result<()> {
        let mut cols = table_source_of(table, table.name.clone()).cols;
        let origin = self.track_reads(&table.name, &mut cols);
        // `excluded` (the proposed row) is the statement's own data.
        cols.extend(excluded_cols(table));
        let root = self.root.clone();
        let scope = Scope::new(cols, root.as_deref());
        for e in exprs {
            self.expr(e, &scope)?;
        }
        // A SET of constants reads nothing: no SELECT needed.
        if let Some(o) = origin.filter(|o| self.uses.get(*o).is_some_and(|u| u.columns.is_empty()))
        {
            self.uses.remove(o);
        }
        Ok(())
    }

    /// Records the columns RETURNING reads as needing SELECT.
    pub fn returning_reads(&mut self, table: &Arc<Table>, items: &[SelectItem]) -> Result<()> {
        let mut exprs = Vec::new();
        for it in items {
            match it {
                SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                    for c in &table.columns {
                        exprs.push(Expr::Column {
                            table: None,
                            name: c.name.clone(),
                        });
                    }
                }
                SelectItem::Expr { expr, .. } => exprs.push(expr.clone()),
            }
        }
        self.reads_of(table, &exprs)
    }

    /// Binds an ON CONFLICT DO UPDATE expression over (existing row ++
    /// the proposed row, named `excluded`).
    pub fn upsert_expr(&mut self, table: &Arc<Table>, e: &Expr) -> Result<PExpr> {
        let mut cols = table_source_of(table, table.name.clone()).cols;
        cols.extend(excluded_cols(table));
        let root = self.root.clone();
        let scope = Scope::new(cols, root.as_deref());
        self.expr(e, &scope)
    }

    /// Result items over one table's row (RETURNING).
    pub fn returning(
        &mut self,
        table: &Arc<Table>,
        items: &[SelectItem],
    ) -> Result<(Vec<PExpr>, Vec<String>)> {
        let mut exprs = Vec::new();
        let mut names = Vec::new();
        for it in items {
            match it {
                SelectItem::Wildcard | SelectItem::QualifiedWildcard(_) => {
                    for c in &table.columns {
                        exprs.push(Expr::Column {
                            table: None,
                            name: c.name.clone(),
                        });
                        names.push(c.name.clone());
                    }
                }
                SelectItem::Expr { expr, alias, text } => {
                    names.push(
                        alias
                            .clone()
                            .or_else(|| text.clone())
                            .unwrap_or_else(|| expr_name(expr)),
                    );
                    exprs.push(expr.clone());
                }
            }
        }
        Ok((self.table_exprs(table, &exprs)?, names))
    }
}
