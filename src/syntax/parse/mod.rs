//! The only user of `sqlparser`: SQL text → [`crate::syntax::ast`].
//!
//! sqlparser (SQLite dialect) tokenizes and parses; this module walks its
//! AST and builds ours, rejecting what sealdb does not support with a clear
//! `Unsupported` error instead of silently ignoring it. Parameters `?`,
//! `?N`, `$N`, `:name` and `@name` become 1-based [`Expr::Param`] indexes;
//! named ones are numbered in order of first appearance and their names
//! are returned so callers can bind by name.

mod ddl;
mod dml;
mod expr;
mod names;
mod query;
mod rewrite;
mod tokens;
mod window;

use ddl::*;
use rewrite::*;
pub use tokens::{quoted_name, sql_tokens, SqlToken};

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast as sp;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use crate::depth;
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

/// `VACUUM [main | "main"]` (the words after VACUUM). `VACUUM INTO` is
/// refused: a copy of the store is what BACKUP makes, encrypted and
/// verifiable.
fn vacuum(rest: &[&str]) -> Result<Statement> {
    match rest {
        [] => Ok(Statement::Vacuum),
        [schema] if schema.trim_matches('"').eq_ignore_ascii_case("main") => Ok(Statement::Vacuum),
        [w, ..] if w.eq_ignore_ascii_case("INTO") || rest.get(1).is_some_and(|w| w.eq_ignore_ascii_case("INTO")) => Err(Error::sql(
            SqlErrorKind::Unsupported,
            "VACUUM INTO is not supported (BACKUP makes an encrypted, verifiable copy of the store)",
        )),
        [schema] => Err(Error::sql(
            SqlErrorKind::Misuse,
            format!("unknown database {}", schema.trim_matches('"')),
        )),
        _ => Err(Error::sql(
            SqlErrorKind::Syntax,
            "syntax error: VACUUM takes at most a schema name",
        )),
    }
}

/// `ANALYZE [schema | [schema.]name]` (the text after ANALYZE): SQLite
/// takes a lone `main` as the schema before any table of that name.
/// sealdb has no TEMP schema: naming it is refused; other dialects' forms
/// (`ANALYZE TABLE t COMPUTE STATISTICS`) are syntax errors, as in SQLite.
fn analyze(rest: &str) -> Result<Statement> {
    let syntax = || {
        Error::sql(
            SqlErrorKind::Syntax,
            "syntax error: ANALYZE takes at most one [schema.]name",
        )
    };
    let unquote = |w: &str| -> Result<String> {
        let w = w.trim();
        let inner = match (w.chars().next(), w.chars().last()) {
            (Some('"'), Some('"')) | (Some('`'), Some('`')) | (Some('\''), Some('\''))
                if w.len() >= 2 =>
            {
                &w[1..w.len() - 1]
            }
            (Some('['), Some(']')) => &w[1..w.len() - 1],
            _ if w.contains(char::is_whitespace) => return Err(syntax()),
            _ => w,
        };
        Ok(inner.to_string())
    };
    let schema_ok = |s: &str| -> Result<()> {
        if s.eq_ignore_ascii_case("main") {
            Ok(())
        } else if s.eq_ignore_ascii_case("temp") {
            Err(Error::sql(
                SqlErrorKind::Unsupported,
                "ANALYZE temp is not supported: sealdb has no TEMP schema",
            ))
        } else {
            Err(Error::sql(
                SqlErrorKind::Misuse,
                format!("unknown database {s}"),
            ))
        }
    };
    if rest.is_empty() {
        return Ok(Statement::Analyze(None));
    }
    let parts: Vec<&str> = rest.split('.').collect();
    match parts.as_slice() {
        [one] => {
            let name = unquote(one)?;
            if name.eq_ignore_ascii_case("main") {
                return Ok(Statement::Analyze(None));
            }
            if name.eq_ignore_ascii_case("temp") {
                schema_ok(&name)?;
            }
            if name.is_empty() {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    "syntax error near ANALYZE",
                ));
            }
            Ok(Statement::Analyze(Some(name)))
        }
        [schema, name] => {
            schema_ok(&unquote(schema)?)?;
            let name = unquote(name)?;
            if name.is_empty() {
                return Err(Error::sql(
                    SqlErrorKind::Syntax,
                    "syntax error near ANALYZE",
                ));
            }
            Ok(Statement::Analyze(Some(name)))
        }
        _ => Err(syntax()),
    }
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
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("ANALYZE"))
    {
        return Ok(Parsed {
            statements: vec![analyze(&words[1..].join(" "))?],
            param_count: 0,
            param_names: Vec::new(),
        });
    }
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("VACUUM"))
    {
        return Ok(Parsed {
            statements: vec![vacuum(&words[1..])?],
            param_count: 0,
            param_names: Vec::new(),
        });
    }
    if let Some(st) = session_statement(&words) {
        return Ok(Parsed {
            statements: vec![st?],
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
    let mut out = None;
    with_parser(&rewritten, true, |parser, cx| {
        let stmts = parser.parse_statements().map_err(syntax_error)?;
        let statements = stmts
            .into_iter()
            .map(|s| cx.statement(s))
            .collect::<Result<Vec<_>>>()?;
        out = Some(Parsed {
            statements,
            param_count: cx.params.len(),
            param_names: std::mem::take(&mut cx.params),
        });
        Ok(())
    })?;
    out.ok_or_else(|| Error::sql(SqlErrorKind::Syntax, "syntax error: empty statement"))
}

/// Stack each unit of [`nesting_bound`] may take while sqlparser's tree
/// is built, converted and dropped (its drop glue recurses unguarded, a
/// few frames per level).
const STACK_PER_LEVEL: usize = 1024;

/// Highest [`nesting_bound`] parsed at all: far above what
/// [`depth::MAX_EXPR_DEPTH`] lets through, low enough that sqlparser's
/// tree can be dropped within a bounded stack.
const NESTING_BOUND_CAP: usize = 10 * depth::MAX_EXPR_DEPTH;

/// For statements with GLOB, MATCH or REGEXP, whose left operand
/// sqlparser's SQLite dialect clones with unguarded clone glue (frames of
/// several KiB per level in debug builds), and for CREATE TABLE, whose
/// options are compared on a clone (see `Cx::create_table`): stack per
/// level, and the highest bound parsed.
const CLONING_STACK_PER_LEVEL: usize = 8 * 1024;
const CLONING_BOUND_CAP: usize = 2 * depth::MAX_EXPR_DEPTH;

/// Tokenizes `sql` and hands a parser over its tokens to `work`, with a
/// converter [`Cx`] — after making sure sqlparser's tree cannot overflow
/// the stack: a statement that may nest beyond [`NESTING_BOUND_CAP`] is
/// refused before it is parsed, and `work` runs where the stack has room
/// for the deepest tree the tokens can make. (sqlparser builds chains of
/// left-associative operators in a loop, so `1+1+…` is as deep as it is
/// long, and its tree's drop glue recurses without any guard.)
///
/// With `index_hints`, `INDEXED BY` and `NOT INDEXED` are rewritten for
/// sqlparser first (see [`rewrite_index_hints`]).
fn with_parser(
    sql: &str,
    index_hints: bool,
    work: impl FnOnce(&mut Parser, &mut Cx) -> Result<()>,
) -> Result<()> {
    let dialect = SealDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| syntax_error(ParserError::TokenizerError(e.to_string())))?;
    let texts = names::ItemTexts::scan(sql, &tokens);
    let (tokens, cte_hints, frame_excludes) = if index_hints {
        let (tokens, hints) = rewrite_cte_hints(rewrite_index_hints(tokens));
        let (tokens, excludes) = rewrite_frame_excludes(tokens);
        (tokens, hints, excludes)
    } else {
        (tokens, HashMap::new(), HashMap::new())
    };
    let bound = nesting_bound(&tokens);
    let keyword = |k: &[Keyword]| {
        tokens.iter().any(|t| {
            matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && k.contains(&w.keyword))
        })
    };
    let cloning = keyword(&[Keyword::GLOB, Keyword::MATCH, Keyword::REGEXP])
        || (keyword(&[Keyword::CREATE]) && keyword(&[Keyword::TABLE]));
    let (per_level, cap) = if cloning {
        (CLONING_STACK_PER_LEVEL, CLONING_BOUND_CAP)
    } else {
        (STACK_PER_LEVEL, NESTING_BOUND_CAP)
    };
    if bound > cap {
        return Err(depth::expression_too_deep());
    }
    let mut cx = Cx {
        red_zone: bound.saturating_mul(per_level) + depth::RED_ZONE,
        texts,
        cte_hints,
        frame_excludes,
        ..Cx::default()
    };
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(depth::MAX_PARSE_NESTING)
        .with_tokens_with_locations(tokens);
    depth::with_stack(cx.red_zone, || work(&mut parser, &mut cx))
}

/// An upper bound of how deep sqlparser's tree for `tokens` can be.
///
/// Every node of sqlparser's expression tree consumes at least one token
/// that is not a name or a literal (an operator, a keyword, a
/// parenthesis), and a comma (or WHEN/THEN/ELSE inside CASE) ends every
/// expression open at its level. So the depth reachable inside one
/// parenthesized group is at most the counted tokens of its longest
/// comma-separated run plus the depth of the deepest group nested in that
/// run; set operations (UNION, ...) chain across commas and add to the
/// whole group. CASE ... END counts as a group.
fn nesting_bound(tokens: &[TokenWithSpan]) -> usize {
    #[derive(Default)]
    struct Group {
        case: bool,
        /// Counted tokens of the current run.
        run: usize,
        /// Deepest group closed inside the current run.
        run_child: usize,
        /// Deepest finished run.
        best: usize,
        /// Set operations in this group.
        set_ops: usize,
    }
    impl Group {
        fn end_run(&mut self) {
            self.best = self.best.max(self.run + self.run_child);
            self.run = 0;
            self.run_child = 0;
        }
        fn close(mut self) -> usize {
            self.end_run();
            self.best + self.set_ops + 1
        }
    }
    let mut stack = vec![Group::default()];
    let mut deepest = 0;
    let close_top = |stack: &mut Vec<Group>| {
        if let Some(g) = stack.pop() {
            let d = g.close();
            match stack.last_mut() {
                Some(parent) => parent.run_child = parent.run_child.max(d),
                None => return d,
            }
        }
        0
    };
    for t in tokens {
        let word = match &t.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
            _ => None,
        };
        match (&t.token, word) {
            (Token::Whitespace(_) | Token::EOF, _) => {}
            (Token::Number(..) | Token::SingleQuotedString(_) | Token::Placeholder(_), _) => {}
            (Token::Word(_), None) | (Token::Word(_), Some(Keyword::NoKeyword)) => {}
            (Token::LParen, _) => stack.push(Group::default()),
            (_, Some(Keyword::CASE)) => stack.push(Group {
                case: true,
                ..Group::default()
            }),
            (Token::RParen, _) if stack.len() > 1 && !stack.last().is_some_and(|g| g.case) => {
                close_top(&mut stack);
            }
            (_, Some(Keyword::END)) if stack.last().is_some_and(|g| g.case) => {
                close_top(&mut stack);
            }
            (Token::Comma, _) => {
                if let Some(g) = stack.last_mut() {
                    g.end_run();
                }
            }
            (_, Some(Keyword::WHEN | Keyword::THEN | Keyword::ELSE))
                if stack.last().is_some_and(|g| g.case) =>
            {
                if let Some(g) = stack.last_mut() {
                    g.run += 1;
                    g.end_run();
                }
            }
            (_, Some(Keyword::UNION | Keyword::INTERSECT | Keyword::EXCEPT)) => {
                if let Some(g) = stack.last_mut() {
                    g.set_ops += 1;
                }
            }
            (Token::SemiColon, _) => {
                while !stack.is_empty() {
                    deepest = deepest.max(close_top(&mut stack));
                }
                stack.push(Group::default());
            }
            _ => {
                if let Some(g) = stack.last_mut() {
                    g.run += 1;
                }
            }
        }
    }
    while !stack.is_empty() {
        deepest = deepest.max(close_top(&mut stack));
    }
    deepest
}

/// sealdb's session statements: `SHOW CLUSTER`, `SET read_consistency
/// = value` (or `TO value`; the value a word or a quoted string, which may
/// hold a space: `'local 500ms'`). `None`: not one of these.
fn session_statement(words: &[&str]) -> Option<Result<Statement>> {
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if words.len() == 2 && is(0, "SHOW") && is(1, "CLUSTER") {
        return Some(Ok(Statement::ShowCluster));
    }
    if !(is(0, "SET") && words.get(1).is_some()) {
        return None;
    }
    let (name, rest) = match words[1].split_once('=') {
        Some((n, v)) => (
            n,
            std::iter::once(v)
                .chain(words[2..].iter().copied())
                .collect::<Vec<_>>(),
        ),
        None => {
            let mut rest: Vec<&str> = words[2..].to_vec();
            match rest.first() {
                Some(&"=") => {
                    rest.remove(0);
                }
                Some(w) if w.eq_ignore_ascii_case("TO") => {
                    rest.remove(0);
                }
                Some(w) if w.starts_with('=') => {
                    rest[0] = &w[1..];
                }
                _ => return None,
            }
            (words[1], rest)
        }
    };
    if !name.eq_ignore_ascii_case("read_consistency") {
        return None;
    }
    let value = rest.join(" ");
    let value = value.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or(value);
    if value.is_empty() {
        return Some(Err(Error::sql(
            SqlErrorKind::Syntax,
            "syntax error: SET read_consistency needs a value",
        )));
    }
    Some(Ok(Statement::SetSession {
        name: name.to_ascii_lowercase(),
        value: value.to_string(),
    }))
}

/// A cheap test that keeps ordinary statements on the direct path.
fn may_hold_auth(sql: &str) -> bool {
    const WORDS: [&str; 12] = [
        "token",
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

/// Every name and string in `sql`, as the tokenizer reads them (quotes
/// removed): what a stored definition could name. (Introspection shows a
/// view's or trigger's text only if none of these is hidden from the
/// reader; a keyword counts too, harmlessly.)
pub fn words(sql: &str) -> Result<Vec<String>> {
    let dialect = SealDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize()
        .map_err(|e| syntax_error(ParserError::TokenizerError(e.to_string())))?;
    Ok(tokens
        .into_iter()
        .filter_map(|t| match t {
            Token::Word(w) => Some(w.value),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s),
            _ => None,
        })
        .collect())
}

/// Parses a single expression (column defaults stored in the catalog).
pub fn parse_expr(sql: &str) -> Result<Expr> {
    let mut out = None;
    with_parser(sql, false, |p, cx| {
        let e = p.parse_expr().map_err(syntax_error)?;
        out = Some(cx.expr(e)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::sql(SqlErrorKind::Syntax, "syntax error: empty expression"))
}

fn syntax_error(e: ParserError) -> Error {
    let msg = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => {
            return depth::too_complex(format!(
                "statement nested too deeply (parentheses, function calls and subqueries nest at most {} parser levels)",
                depth::MAX_PARSE_NESTING
            ))
        }
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
    /// Expression levels entered (see [`depth::MAX_EXPR_DEPTH`]).
    depth: usize,
    /// Stack a conversion step keeps free: enough to drop the deepest
    /// sqlparser subtree this statement can have (an error drops the
    /// unconverted rest of the tree wherever it happens).
    red_zone: usize,
    /// The result lists' texts, for naming result columns.
    texts: names::ItemTexts,
    /// `[NOT] MATERIALIZED` of each CTE, by the position of its name
    /// (sqlparser reads the hint only in its PostgreSQL dialect; see
    /// `rewrite_cte_hints`).
    cte_hints: HashMap<(u64, u64), bool>,
    /// The EXCLUDE clause of each window frame, by the position of the
    /// name owning the window (see `rewrite_frame_excludes`).
    frame_excludes: HashMap<(u64, u64), FrameExclude>,
    /// Converting a trigger body: SQLite's grammar has no WITH before its
    /// INSERT, UPDATE and DELETE statements.
    in_trigger: bool,
}

/// Where an identifier starts (line, column): how a CTE's name finds the
/// hint the token rewrite took out.
fn span_key(i: &sp::Ident) -> (u64, u64) {
    (i.span.start.line, i.span.start.column)
}

impl Cx {
    /// Runs one expression level of the conversion: refused beyond
    /// [`depth::MAX_EXPR_DEPTH`] levels (a leaf is level 1, as SQLite
    /// counts; a subquery adds no level of its own, its expressions do).
    fn level<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= depth::MAX_EXPR_DEPTH {
            return Err(depth::expression_too_deep());
        }
        self.depth += 1;
        let r = self.guarded(step);
        self.depth -= 1;
        r
    }

    /// Runs one step of the conversion on a fresh stack segment when this
    /// one runs low (see `red_zone`).
    fn guarded<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let red_zone = self.red_zone.max(depth::RED_ZONE);
        stacker::maybe_grow(red_zone, red_zone + depth::SEGMENT, || step(self))
    }

    /// A query, or `WITH ... INSERT | UPDATE | DELETE` (sqlparser makes
    /// those a query whose body is the data change).
    fn query_statement(&mut self, q: sp::Query) -> Result<Statement> {
        if !matches!(
            *q.body,
            sp::SetExpr::Insert(_) | sp::SetExpr::Update(_) | sp::SetExpr::Delete(_)
        ) {
            return Ok(Statement::Query(Box::new(self.query(q)?)));
        }
        // sqlparser leaves the other clauses empty after a data change.
        let sp::Query { with, body, .. } = q;
        if self.in_trigger && with.is_some() {
            return Err(Error::sql(
                SqlErrorKind::Syntax,
                "syntax error: WITH cannot begin an INSERT, UPDATE or DELETE in a trigger body",
            ));
        }
        let with = with.map(|w| self.with(w)).transpose()?;
        let (sp::SetExpr::Insert(st) | sp::SetExpr::Update(st) | sp::SetExpr::Delete(st)) = *body
        else {
            return Err(unsupported("this query body"));
        };
        let mut st = self.statement(st)?;
        match &mut st {
            Statement::Insert(i) => i.with = with,
            Statement::Update(u) => u.with = with,
            Statement::Delete(d) => d.with = with,
            _ => return Err(unsupported("WITH before this statement")),
        }
        Ok(st)
    }

    fn statement(&mut self, s: sp::Statement) -> Result<Statement> {
        Ok(match s {
            sp::Statement::Query(q) => self.query_statement(*q)?,
            sp::Statement::Insert(i) => Statement::Insert(Box::new(self.insert(i)?)),
            sp::Statement::Update(u) => Statement::Update(Box::new(self.update(u)?)),
            sp::Statement::Delete(d) => Statement::Delete(Box::new(self.delete(d)?)),
            sp::Statement::CreateTable(c) => {
                Statement::CreateTable(Box::new(self.create_table(c)?))
            }
            sp::Statement::CreateIndex(c) => {
                Statement::CreateIndex(Box::new(self.create_index(c)?))
            }
            sp::Statement::CreateView(v) => {
                // Every field named, so a new one in sqlparser is looked
                // at; none is cloned (the query may nest deeply, and
                // sqlparser's clone glue recurses unguarded).
                let sp::CreateView {
                    or_alter,
                    or_replace,
                    materialized,
                    secure,
                    name,
                    name_before_not_exists,
                    columns,
                    query,
                    options,
                    cluster_by,
                    comment,
                    with_no_schema_binding,
                    if_not_exists,
                    temporary,
                    copy_grants,
                    to,
                    params,
                } = v;
                if temporary {
                    return Err(unsupported("temporary views"));
                }
                if or_alter
                    || or_replace
                    || materialized
                    || secure
                    || name_before_not_exists
                    || !matches!(options, sp::CreateTableOptions::None)
                    || !cluster_by.is_empty()
                    || comment.is_some()
                    || with_no_schema_binding
                    || copy_grants
                    || to.is_some()
                    || params.is_some()
                    || columns
                        .iter()
                        .any(|c| c.data_type.is_some() || c.options.is_some())
                {
                    return Err(unsupported("this CREATE VIEW option"));
                }
                let query_sql = query.to_string();
                // A view's columns are not named by their text: readers of
                // the view would see its definition, which is its owner's
                // business (docs/security.md); and the stored text is
                // sqlparser's rendering, so names would change on reopen.
                let texts = std::mem::take(&mut self.texts);
                let query = self.query(*query);
                self.texts = texts;
                Statement::CreateView {
                    if_not_exists,
                    name: object_name(&name)?,
                    columns: columns.into_iter().map(|c| c.name.value).collect(),
                    query_sql,
                    query: Box::new(query?),
                }
            }
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
                query_plan,
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
                Statement::Explain(Box::new(self.statement(*statement)?), query_plan)
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
                    Some(sp::TriggerPeriod::InsteadOf) => TriggerTiming::InsteadOf,
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
                // Moved out, not cloned: a deep body must not be copied
                // by recursive clone glue.
                let body = match t.statements {
                    Some(sp::ConditionalStatements::Sequence { statements }) => statements,
                    Some(sp::ConditionalStatements::BeginEnd(b)) => b.statements,
                    None => return Err(unsupported("triggers that execute a function")),
                };
                let outer = std::mem::replace(&mut self.in_trigger, true);
                let body = body
                    .into_iter()
                    .map(|s| self.statement(s))
                    .collect::<Result<Vec<_>>>();
                self.in_trigger = outer;
                let body = body?;
                Statement::CreateTrigger(Box::new(CreateTrigger {
                    name: object_name(&t.name)?,
                    table: object_name(&t.table_name)?,
                    timing,
                    event,
                    when: t.condition.map(|c| self.expr(c)).transpose()?,
                    body,
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
            sp::Statement::Pragma { name, value, is_eq } => {
                let name = object_name(&name)?.to_ascii_lowercase();
                let value = match value.map(|v| v.value) {
                    None => None,
                    Some(sp::Value::Number(n, _)) => Some(PragmaValue::Number(n)),
                    Some(sp::Value::SingleQuotedString(s) | sp::Value::DoubleQuotedString(s)) => {
                        Some(PragmaValue::Text(s))
                    }
                    Some(other) => {
                        return Err(Error::sql(
                            SqlErrorKind::Syntax,
                            format!("syntax error: PRAGMA {name} takes a number, string or name, not {other}"),
                        ))
                    }
                };
                Statement::Pragma(Pragma {
                    name,
                    value,
                    assign: is_eq,
                })
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
            sp::Statement::Analyze(a)
                if a.partitions.is_none()
                    && !a.for_columns
                    && a.columns.is_empty()
                    && !a.cache_metadata
                    && !a.noscan
                    && !a.compute_statistics
                    && !a.has_table_keyword =>
            {
                // In a script: the same forms as a lone ANALYZE.
                let parts: Vec<String> = match &a.table_name {
                    None => Vec::new(),
                    Some(n) => {
                        n.0.iter()
                            .map(|p| match p {
                                sp::ObjectNamePart::Identifier(i) => Ok(i.value.clone()),
                                other => Err(unsupported(format!("ANALYZE {other}"))),
                            })
                            .collect::<Result<_>>()?
                    }
                };
                analyze(&parts.join("."))?
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
