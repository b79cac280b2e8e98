//! sealdb's sqlparser dialect: SQLite's grammar where sqlparser's SQLite
//! dialect departs from it.
//!
//! [`SealDialect`] wraps sqlparser's `SQLiteDialect` (identifiers, quoting,
//! `REPLACE INTO`, `GLOB` as an operator) and answers as it does, with
//! these corrections, each taken from SQLite's `parse.y`:
//!
//! ```text
//!   operator precedence, loosest first (SQLite's, lang_expr.html):
//!     OR · AND · NOT x · = == != <> IS IN LIKE GLOB BETWEEN ISNULL NOTNULL
//!     · < <= > >= · & | << >> · + - · * / % · || -> ->> · COLLATE · unary - + ~
//!   x IS y, x IS NOT y        any right operand (IS [NOT] DISTINCT FROM)
//!   x IS TRUE, x IS FALSE     the truth tests (also IS NOT TRUE / FALSE)
//!   x NOT GLOB y              (and NOT REGEXP, NOT MATCH)
//!   x ISNULL                  (sqlparser knows NOTNULL, not ISNULL)
//!   x << y, x >> y            bit shifts
//!   CREATE TABLE ... ) WITHOUT ROWID, STRICT   table options in any order,
//!                             separated by commas
//!   t INDEXED BY i, t NOT INDEXED   as the MySQL hints USE INDEX (i) and
//!                             USE INDEX (), rewritten by parse.rs
//!   PRAGMA name = value, PRAGMA name(value)   a value may be a signed
//!                             number, a string, or a name or keyword
//!                             (`t`, `"t"`, `ON`, `WAL`): names arrive as
//!                             double-quoted strings, so parse.rs reads a
//!                             name and a string alike (as SQLite does)
//! ```
//!
//! sqlparser's own precedences put `||` beside `*`, `<` beside `=`, `&`
//! above `|`, LIKE and IS below `=`, and unary minus below `||`; each of
//! those parses some expression differently from SQLite (`2 * 3 || 4` is
//! 68 in SQLite), so every level is set here.
//!
//! Invariant: this is the only place that changes how sqlparser reads
//! SQL; parse.rs converts whatever comes out into sealdb's AST.

use std::any::TypeId;

use sqlparser::ast::{BinaryOperator, Expr, Statement, UnaryOperator, Value};
use sqlparser::dialect::{Dialect, Precedence, SQLiteDialect};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// Operator precedences (higher binds tighter), SQLite's levels.
mod level {
    pub const OR: u8 = 5;
    pub const AND: u8 = 10;
    pub const NOT: u8 = 15;
    /// `=`, `==`, `!=`, `<>`, IS, IN, LIKE, GLOB, MATCH, REGEXP, BETWEEN.
    pub const EQUALITY: u8 = 20;
    /// `<`, `<=`, `>`, `>=`.
    pub const COMPARISON: u8 = 21;
    /// `&`, `|`, `<<`, `>>`.
    pub const BITWISE: u8 = 22;
    pub const ADDITIVE: u8 = 30;
    pub const MULTIPLICATIVE: u8 = 40;
    /// `||`, `->`, `->>`.
    pub const CONCAT: u8 = 45;
    /// The operand of unary `-`, `+`, `~`: tighter than every binary
    /// operator.
    pub const UNARY: u8 = 48;
}

/// Whether `t` is the bare word ISNULL (no keyword in sqlparser).
fn is_isnull(t: &Token) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("ISNULL"))
}

/// SQLite's grammar on top of sqlparser's SQLite dialect (see the module
/// documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct SealDialect {
    sqlite: SQLiteDialect,
}

impl SealDialect {
    /// `IS [NOT] ...` after `left`, the parser at `IS`.
    fn parse_is(&self, parser: &mut Parser, left: &Expr) -> Result<Expr, ParserError> {
        parser.next_token(); // IS
        let not = parser.parse_keyword(Keyword::NOT);
        let left = Box::new(left.clone());
        if parser.parse_keyword(Keyword::NULL) {
            return Ok(if not {
                Expr::IsNotNull(left)
            } else {
                Expr::IsNull(left)
            });
        }
        // `IS [NOT] DISTINCT FROM y` is `IS NOT y` / `IS y` (note the
        // inversion).
        let distinct = parser.parse_keywords(&[Keyword::DISTINCT, Keyword::FROM]);
        let right = parser.parse_subexpr(level::EQUALITY)?;
        let is_not = not != distinct;
        // SQLite: a right operand that is exactly TRUE or FALSE (maybe in
        // parentheses) makes a truth test, not a comparison with 1 or 0.
        let mut bare = &right;
        while let Expr::Nested(inner) = bare {
            bare = inner;
        }
        if !distinct {
            if let Expr::Value(v) = bare {
                if let Value::Boolean(b) = v.value {
                    return Ok(match (b, is_not) {
                        (true, false) => Expr::IsTrue(left),
                        (true, true) => Expr::IsNotTrue(left),
                        (false, false) => Expr::IsFalse(left),
                        (false, true) => Expr::IsNotFalse(left),
                    });
                }
            }
        }
        Ok(if is_not {
            Expr::IsDistinctFrom(left, Box::new(right))
        } else {
            Expr::IsNotDistinctFrom(left, Box::new(right))
        })
    }

    /// `NOT GLOB | REGEXP | MATCH y` after `left`, the parser at `NOT`:
    /// `NOT (left op y)`, which is the same in three-valued logic.
    fn parse_not_pattern(
        &self,
        parser: &mut Parser,
        left: &Expr,
        op: BinaryOperator,
    ) -> Result<Expr, ParserError> {
        parser.next_token(); // NOT
        parser.next_token(); // the operator keyword
        let right = parser.parse_subexpr(level::EQUALITY)?;
        Ok(Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr: Box::new(Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(left.clone()),
                op,
                right: Box::new(right),
            }))),
        })
    }

    /// `CREATE [TEMP] TABLE ...` with SQLite's table options: `WITHOUT
    /// ROWID` and `STRICT` in either order, separated by commas.
    fn parse_create_table(&self, parser: &mut Parser) -> Result<Statement, ParserError> {
        parser.next_token(); // CREATE
        let temporary = parser
            .parse_one_of_keywords(&[Keyword::TEMP, Keyword::TEMPORARY])
            .is_some();
        parser.next_token(); // TABLE
        let mut table =
            parser.parse_create_table(false, temporary, false, None, false, false, None)?;
        while parser.consume_token(&Token::Comma) {
            if parser.parse_keywords(&[Keyword::WITHOUT, Keyword::ROWID]) && !table.without_rowid {
                table.without_rowid = true;
            } else if parser.parse_keyword(Keyword::STRICT) && !table.strict {
                table.strict = true;
            } else {
                return parser.expected("WITHOUT ROWID or STRICT", parser.peek_token());
            }
        }
        Ok(Statement::CreateTable(table))
    }
}

/// `PRAGMA [schema.]name [= value | (value)]` with SQLite's values
/// (`pragma-value`: a signed number, a string or a name; sqlparser takes
/// no names, so `PRAGMA table_info(t)` and `PRAGMA journal_mode = WAL`
/// would fail there).
fn parse_pragma(parser: &mut Parser) -> Result<Statement, ParserError> {
    parser.next_token(); // PRAGMA
    let name = parser.parse_object_name(false)?;
    let (value, is_eq) = if parser.consume_token(&Token::LParen) {
        let v = pragma_value(parser)?;
        parser.expect_token(&Token::RParen)?;
        (Some(v), false)
    } else if parser.consume_token(&Token::Eq) {
        (Some(pragma_value(parser)?), true)
    } else {
        (None, false)
    };
    Ok(Statement::Pragma {
        name,
        value: value.map(Value::with_empty_span),
        is_eq,
    })
}

/// One pragma value: a number (with its sign), a string, or a name or
/// keyword (as a double-quoted string).
fn pragma_value(parser: &mut Parser) -> Result<Value, ParserError> {
    let sign = match parser.peek_token_ref().token {
        Token::Minus => Some("-"),
        Token::Plus => Some(""),
        _ => None,
    };
    if sign.is_some() {
        parser.next_token();
    }
    let t = parser.next_token();
    match (sign, t.token) {
        (Some(s), Token::Number(n, l)) => Ok(Value::Number(format!("{s}{n}"), l)),
        (None, Token::Number(n, l)) => Ok(Value::Number(n, l)),
        (None, Token::SingleQuotedString(s)) => Ok(Value::SingleQuotedString(s)),
        (None, Token::DoubleQuotedString(s)) => Ok(Value::DoubleQuotedString(s)),
        (None, Token::Word(w)) => Ok(Value::DoubleQuotedString(w.value)),
        (_, other) => Err(ParserError::ParserError(format!(
            "Expected: a number, string or name as the pragma's value, found: {other}"
        ))),
    }
}

impl Dialect for SealDialect {
    // sqlparser's `dialect_of!` checks (SQLite-only grammar inside the
    // parser) see this dialect as SQLite's.
    fn dialect(&self) -> TypeId {
        TypeId::of::<SQLiteDialect>()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        self.sqlite.is_delimited_identifier_start(ch)
    }

    fn identifier_quote_style(&self, identifier: &str) -> Option<char> {
        self.sqlite.identifier_quote_style(identifier)
    }

    fn is_identifier_start(&self, ch: char) -> bool {
        self.sqlite.is_identifier_start(ch)
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        self.sqlite.is_identifier_part(ch)
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        self.sqlite.supports_filter_during_aggregation()
    }

    fn supports_start_transaction_modifier(&self) -> bool {
        self.sqlite.supports_start_transaction_modifier()
    }

    fn supports_in_empty_list(&self) -> bool {
        self.sqlite.supports_in_empty_list()
    }

    fn supports_limit_comma(&self) -> bool {
        self.sqlite.supports_limit_comma()
    }

    fn supports_asc_desc_in_column_definition(&self) -> bool {
        self.sqlite.supports_asc_desc_in_column_definition()
    }

    fn supports_dollar_placeholder(&self) -> bool {
        self.sqlite.supports_dollar_placeholder()
    }

    fn supports_notnull_operator(&self) -> bool {
        self.sqlite.supports_notnull_operator()
    }

    fn supports_comma_separated_trim(&self) -> bool {
        self.sqlite.supports_comma_separated_trim()
    }

    fn supports_numeric_literal_underscores(&self) -> bool {
        self.sqlite.supports_numeric_literal_underscores()
    }

    fn supports_bitwise_shift_operators(&self) -> bool {
        true
    }

    // SQLite's INDEXED BY / NOT INDEXED reach the parser as MySQL's index
    // hints (see parse.rs, rewrite_index_hints), whose USE is then no
    // table alias.
    fn supports_table_hints(&self) -> bool {
        true
    }

    fn is_table_alias(&self, kw: &Keyword, _parser: &mut Parser) -> bool {
        *kw != Keyword::USE && !sqlparser::keywords::RESERVED_FOR_TABLE_ALIAS.contains(kw)
    }

    fn parse_statement(&self, parser: &mut Parser) -> Option<Result<Statement, ParserError>> {
        let create_table = parser.peek_keyword(Keyword::CREATE)
            && match &parser.peek_nth_token_ref(1).token {
                Token::Word(w) if w.keyword == Keyword::TABLE => true,
                Token::Word(w) if matches!(w.keyword, Keyword::TEMP | Keyword::TEMPORARY) => {
                    matches!(&parser.peek_nth_token_ref(2).token,
                        Token::Word(t) if t.keyword == Keyword::TABLE)
                }
                _ => false,
            };
        if create_table {
            return Some(self.parse_create_table(parser));
        }
        if parser.peek_keyword(Keyword::PRAGMA) {
            return Some(parse_pragma(parser));
        }
        self.sqlite.parse_statement(parser)
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        // Unary minus, plus and ~ bind tighter than every binary operator
        // (sqlparser's bind looser than `||`).
        let op = match &parser.peek_token_ref().token {
            Token::Minus => UnaryOperator::Minus,
            Token::Plus => UnaryOperator::Plus,
            Token::Tilde => UnaryOperator::BitwiseNot,
            _ => return None,
        };
        parser.next_token();
        Some(parser.parse_subexpr(level::UNARY).map(|e| Expr::UnaryOp {
            op,
            expr: Box::new(e),
        }))
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        let next = |n: usize| match &parser.peek_nth_token_ref(n).token {
            Token::Word(w) => Some(w.keyword),
            _ => None,
        };
        if is_isnull(&parser.peek_token_ref().token) {
            parser.next_token();
            return Some(Ok(Expr::IsNull(Box::new(expr.clone()))));
        }
        match (next(0), next(1)) {
            (Some(Keyword::IS), _) => return Some(self.parse_is(parser, expr)),
            (Some(Keyword::NOT), Some(Keyword::GLOB)) => {
                return Some(self.parse_not_pattern(parser, expr, BinaryOperator::Glob))
            }
            (Some(Keyword::NOT), Some(Keyword::REGEXP)) => {
                return Some(self.parse_not_pattern(parser, expr, BinaryOperator::Regexp))
            }
            (Some(Keyword::NOT), Some(Keyword::MATCH)) => {
                return Some(self.parse_not_pattern(parser, expr, BinaryOperator::Match))
            }
            _ => {}
        }
        self.sqlite.parse_infix(parser, expr, precedence)
    }

    fn get_next_precedence(&self, parser: &Parser) -> Option<Result<u8, ParserError>> {
        let level = match &parser.peek_token_ref().token {
            t if is_isnull(t) => level::EQUALITY,
            // SQLite's parse.y: `%left CONCAT PTR` (PTR is -> and ->>).
            Token::StringConcat | Token::Arrow | Token::LongArrow => level::CONCAT,
            Token::Lt | Token::LtEq | Token::Gt | Token::GtEq => level::COMPARISON,
            Token::ShiftLeft | Token::ShiftRight | Token::Ampersand | Token::Pipe => level::BITWISE,
            Token::Word(w) if w.keyword == Keyword::NOT => {
                match &parser.peek_nth_token_ref(1).token {
                    Token::Word(w)
                        if matches!(
                            w.keyword,
                            Keyword::GLOB | Keyword::REGEXP | Keyword::MATCH
                        ) =>
                    {
                        level::EQUALITY
                    }
                    _ => return None,
                }
            }
            _ => return None,
        };
        Some(Ok(level))
    }

    fn prec_value(&self, prec: Precedence) -> u8 {
        match prec {
            Precedence::Period => 100,
            Precedence::DoubleColon => 50,
            Precedence::AtTz => 41,
            Precedence::MulDivModOp => level::MULTIPLICATIVE,
            Precedence::PlusMinus => level::ADDITIVE,
            Precedence::Xor
            | Precedence::Ampersand
            | Precedence::Caret
            | Precedence::Pipe
            | Precedence::Colon
            | Precedence::PgOther => level::BITWISE,
            Precedence::Between | Precedence::Eq | Precedence::Like | Precedence::Is => {
                level::EQUALITY
            }
            Precedence::UnaryNot => level::NOT,
            Precedence::And => level::AND,
            Precedence::Or => level::OR,
        }
    }
}
