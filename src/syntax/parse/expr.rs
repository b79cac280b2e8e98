//! Expressions: parameters, literals, operators, CASE, CAST, function
//! calls, subqueries.

use super::*;

impl Cx {
    pub(super) fn param(&mut self, p: &str) -> Result<Expr> {
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

    pub(super) fn literal(&mut self, v: sp::Value, negate: bool) -> Result<Expr> {
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

    pub(super) fn expr(&mut self, e: sp::Expr) -> Result<Expr> {
        self.level(|cx| cx.expr_node(e))
    }

    fn expr_node(&mut self, e: sp::Expr) -> Result<Expr> {
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
            // Parentheses are no level of their own (as in SQLite); the
            // parser bounds how deeply they nest.
            E::Nested(e) => self.guarded(|cx| cx.expr_node(*e))?,
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
                filter: None,
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
            } => {
                let expr = self.expr(*expr)?;
                let list = list
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<Vec<_>>>()?;
                match expr {
                    Expr::Row(terms) => row_in_values(terms, list, negated)?,
                    expr => Expr::InList {
                        expr: b(expr),
                        list,
                        negated,
                    },
                }
            }
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
                    filter: None,
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
                    filter: None,
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
                    filter: None,
                }
            }
            E::Tuple(items) => Expr::Row(
                items
                    .into_iter()
                    .map(|e| self.expr(e))
                    .collect::<Result<_>>()?,
            ),
            other => return Err(unsupported(format!("expression {other}"))),
        })
    }

    pub(super) fn function(&mut self, f: sp::Function) -> Result<Expr> {
        if !f.within_group.is_empty() || f.null_treatment.is_some() {
            return Err(unsupported("WITHIN GROUP and IGNORE/RESPECT NULLS"));
        }
        if f.uses_odbc_syntax || !matches!(f.parameters, sp::FunctionArguments::None) {
            return Err(unsupported(format!("the function call form {f}")));
        }
        let name = object_name(&f.name)?.to_ascii_lowercase();
        // SQLite's RAISE(IGNORE | ROLLBACK | ABORT | FAIL, msg): a
        // keyword form, not a call (a function named raise cannot exist).
        if name == "raise" {
            return self.raise(f);
        }
        // Where the name starts: how a frame's EXCLUDE finds its window.
        let owner = match f.name.0.last() {
            Some(sp::ObjectNamePart::Identifier(i)) => span_key(i),
            _ => (0, 0),
        };
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
        if let Some(over) = f.over {
            return self.window_call(name, owner, (args, distinct, star), f.filter, over);
        }
        let filter = f.filter.map(|e| self.expr(*e)).transpose()?.map(Box::new);
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
            filter,
        })
    }

    /// `RAISE(IGNORE)` or `RAISE(ROLLBACK | ABORT | FAIL, msg)`, as
    /// SQLite's grammar has them (the message any expression); anything
    /// else is the syntax error SQLite gives.
    fn raise(&mut self, f: sp::Function) -> Result<Expr> {
        let near = |what: &dyn std::fmt::Display| {
            Error::sql(
                SqlErrorKind::Syntax,
                format!("near \"{what}\": syntax error"),
            )
        };
        let plain = f.over.is_none()
            && f.filter.is_none()
            && f.within_group.is_empty()
            && f.null_treatment.is_none();
        let sp::FunctionArguments::List(list) = f.args else {
            return Err(near(&"RAISE"));
        };
        if !plain || list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
            return Err(near(&"RAISE"));
        }
        let mut args = list.args.into_iter();
        let action =
            match args.next() {
                Some(sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(
                    sp::Expr::Identifier(id),
                ))) if id.quote_style.is_none() => match id.value.to_ascii_lowercase().as_str() {
                    "ignore" => Conflict::Ignore,
                    "rollback" => Conflict::Rollback,
                    "abort" => Conflict::Abort,
                    "fail" => Conflict::Fail,
                    _ => return Err(near(&id.value)),
                },
                Some(other) => return Err(near(&other)),
                None => return Err(near(&")")),
            };
        let message = match (action, args.next(), args.next()) {
            (Conflict::Ignore, None, _) => None,
            (Conflict::Ignore, Some(_), _) => return Err(near(&",")),
            (_, Some(sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e))), None) => {
                Some(Box::new(self.expr(e)?))
            }
            (_, None, _) => return Err(near(&")")),
            (_, Some(other), None) => return Err(near(&other)),
            (_, Some(_), Some(_)) => return Err(near(&",")),
        };
        Ok(Expr::Raise(action, message))
    }
}

/// `(a, b) IN (list)`: as in SQLite's parser, the list becomes a VALUES
/// subquery, each item a row value of as many terms as the left side
/// (else "IN(...) element has N terms - expected M").
fn row_in_values(terms: Vec<Expr>, list: Vec<Expr>, negated: bool) -> Result<Expr> {
    let n = terms.len();
    let mut rows = Vec::with_capacity(list.len());
    for item in list {
        let row = match item {
            Expr::Row(r) if r.len() == n => r,
            other => {
                let got = match &other {
                    Expr::Row(r) => r.len(),
                    _ => 1,
                };
                return Err(Error::sql(
                    SqlErrorKind::Misuse,
                    format!(
                        "IN(...) element has {got} term{} - expected {n}",
                        if got == 1 { "" } else { "s" }
                    ),
                ));
            }
        };
        rows.push(row);
    }
    Ok(Expr::InSubquery {
        expr: Box::new(Expr::Row(terms)),
        query: Box::new(Query {
            with: None,
            body: SetExpr::Values(rows),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        }),
        negated,
    })
}

/// A numeric literal: integer if it fits, else real (as SQLite).
pub(super) fn number(text: &str) -> Result<Value> {
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
