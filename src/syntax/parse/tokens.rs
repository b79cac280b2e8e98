//! A statement's tokens with their byte ranges in its text, for edits that
//! must keep the rest of a stored definition exactly as written: ALTER
//! TABLE RENAME rewrites the names in the views and triggers that use
//! what it renames (`sql::rename`), as SQLite edits their text.
//!
//! Whitespace and comments are left out; every other token keeps its
//! place, so `text[start..end]` is the token as written.

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::names::LineStarts;
use super::{syntax_error, ParserError};
use crate::error::Result;
use crate::syntax::dialect::SealDialect;

/// One token of a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlToken {
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// A name or keyword, quotes removed (`None` for punctuation, numbers
    /// and strings).
    pub word: Option<String>,
    /// The word was quoted (`"a"`, `[a]`, `` `a` ``): a name, never a
    /// keyword.
    pub quoted: bool,
    /// A keyword as the tokenizer knows it (unquoted).
    pub keyword: bool,
    /// `.` (a qualified name's separator).
    pub dot: bool,
}

/// The tokens of `sql`.
pub fn sql_tokens(sql: &str) -> Result<Vec<SqlToken>> {
    let dialect = SealDialect::default();
    let tokens = Tokenizer::new(&dialect, sql)
        .with_unescape(true)
        .tokenize_with_location()
        .map_err(|e| syntax_error(ParserError::TokenizerError(e.to_string())))?;
    let lines = LineStarts::new(sql);
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        let (Some(start), Some(end)) = (
            lines.offset(sql, t.span.start),
            lines.offset(sql, t.span.end),
        ) else {
            continue;
        };
        let (word, quoted, keyword) = match &t.token {
            Token::Word(w) => (
                Some(w.value.clone()),
                w.quote_style.is_some(),
                w.quote_style.is_none() && w.keyword != Keyword::NoKeyword,
            ),
            _ => (None, false, false),
        };
        out.push(SqlToken {
            start,
            end,
            word,
            quoted,
            keyword,
            dot: t.token == Token::Period,
        });
    }
    Ok(out)
}

/// SQLite's reserved words: the keywords that cannot be names unquoted
/// (the others, such as `key` or `action`, fall back to names).
const SQLITE_RESERVED: &[&str] = &[
    "ADD",
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "AUTOINCREMENT",
    "BETWEEN",
    "CASE",
    "CHECK",
    "COLLATE",
    "COMMIT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DEFAULT",
    "DEFERRABLE",
    "DELETE",
    "DISTINCT",
    "DROP",
    "ELSE",
    "ESCAPE",
    "EXCEPT",
    "EXISTS",
    "FILTER",
    "FOREIGN",
    "FROM",
    "FULL",
    "GLOB",
    "GROUP",
    "HAVING",
    "IN",
    "INDEX",
    "INDEXED",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "LEFT",
    "LIMIT",
    "NATURAL",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PRIMARY",
    "REFERENCES",
    "REGEXP",
    "RETURNING",
    "RIGHT",
    "SELECT",
    "SET",
    "TABLE",
    "THEN",
    "TO",
    "TRANSACTION",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WINDOW",
];

/// `name` as it can be written in SQL: as is when it is a plain
/// identifier and no reserved word, else double-quoted.
pub fn quoted_name(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !SQLITE_RESERVED.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}
