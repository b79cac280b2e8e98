//! Result column names as SQLite gives them: a result column without `AS`
//! is named by its expression's text exactly as written (`a  +  1`,
//! `COUNT( * )`, `'lit'`), which applications read through
//! `cursor.description`, `sqlite3_column_name` and dictionary rows.
//!
//! sqlparser's spans do not cover whole expressions (a call's span stops
//! before its `)`), so the texts come from the tokens instead: a result
//! list runs from its `SELECT [DISTINCT|ALL]` or `RETURNING` keyword to
//! the first clause keyword, `)` or `;` at its own parenthesis depth, and
//! its items are split at the commas of that depth. SQL expressions have
//! no comma outside parentheses, so the split is exact; a list whose item
//! count differs from the parsed one (a construct this scan does not
//! know) gets no texts, and its names fall back to the planner's.

use std::collections::HashMap;

use sqlparser::keywords::Keyword;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

/// The longest statement text whose result columns are named by their
/// text.
const MAX_NAMED_SQL: usize = 8 * 1024;

/// The result lists of one statement's text, by the location of the
/// keyword that opens each (`SELECT` or `RETURNING`).
#[derive(Default)]
pub(super) struct ItemTexts {
    lists: HashMap<(u64, u64), Vec<String>>,
    /// Where each `RETURNING` keyword is, in text order.
    returning: Vec<(u64, u64)>,
}

impl ItemTexts {
    /// Scans `tokens` (tokenized from `sql`, with locations).
    pub(super) fn scan(sql: &str, tokens: &[TokenWithSpan]) -> ItemTexts {
        let mut out = ItemTexts::default();
        // Each list is scanned to its end and nested lists lie inside
        // their parents' texts, so the work and the texts grow with length
        // times nesting: past this size names fall back to the planner's.
        if sql.len() > MAX_NAMED_SQL {
            return out;
        }
        let lines = LineStarts::new(sql);
        for (i, t) in tokens.iter().enumerate() {
            let opener = match &t.token {
                Token::Word(w) if w.quote_style.is_none() => w.keyword,
                _ => continue,
            };
            if !matches!(opener, Keyword::SELECT | Keyword::RETURNING) {
                continue;
            }
            let key = (t.span.start.line, t.span.start.column);
            if opener == Keyword::RETURNING {
                out.returning.push(key);
            }
            if let Some(items) = list_after(sql, &lines, tokens, i + 1, opener == Keyword::SELECT) {
                out.lists.insert(key, items);
            }
        }
        out
    }

    /// The texts of the SELECT whose keyword is at `at`.
    pub(super) fn select(&self, at: Location) -> Option<&[String]> {
        self.lists.get(&(at.line, at.column)).map(|v| v.as_slice())
    }

    /// The texts of the RETURNING list of the data change whose keyword
    /// (INSERT, UPDATE, DELETE) is at `statement`: the first RETURNING
    /// after it (a data change holds no other statement).
    pub(super) fn returning(&self, statement: Location) -> Option<&[String]> {
        if statement.line == 0 {
            return None;
        }
        let key = self
            .returning
            .iter()
            .find(|k| **k > (statement.line, statement.column))?;
        self.lists.get(key).map(|v| v.as_slice())
    }
}

/// The item texts of the result list whose first token is at `from`.
fn list_after(
    sql: &str,
    lines: &LineStarts,
    tokens: &[TokenWithSpan],
    mut from: usize,
    select: bool,
) -> Option<Vec<String>> {
    let significant = |t: &TokenWithSpan| !matches!(t.token, Token::Whitespace(_));
    if select {
        // SELECT DISTINCT / SELECT ALL: the quantifier is not an item's.
        let next = tokens[from..].iter().position(significant)? + from;
        if matches!(&tokens[next].token, Token::Word(w)
            if w.quote_style.is_none() && matches!(w.keyword, Keyword::DISTINCT | Keyword::ALL))
        {
            from = next + 1;
        }
    }
    let mut items = Vec::new();
    let mut depth = 0usize;
    // (first, last) significant token of the current item.
    let mut span: Option<(Location, Location)> = None;
    let mut previous_keyword = Keyword::NoKeyword;
    let push = |span: &mut Option<(Location, Location)>, items: &mut Vec<String>| {
        let (a, b) = span.take()?;
        let text = sql.get(lines.offset(sql, a)?..lines.offset(sql, b)?)?;
        items.push(text.trim().to_string());
        Some(())
    };
    for t in &tokens[from..] {
        if !significant(t) {
            continue;
        }
        let keyword = match &t.token {
            Token::Word(w) if w.quote_style.is_none() => w.keyword,
            _ => Keyword::NoKeyword,
        };
        match &t.token {
            Token::EOF | Token::SemiColon if depth == 0 => break,
            Token::LParen => depth += 1,
            Token::RParen if depth == 0 => break,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                push(&mut span, &mut items)?;
                previous_keyword = Keyword::NoKeyword;
                continue;
            }
            Token::Word(_) if depth == 0 && ends_list(keyword, previous_keyword) => break,
            _ => {}
        }
        previous_keyword = keyword;
        span = Some(match span {
            None => (t.span.start, t.span.end),
            Some((a, _)) => (a, t.span.end),
        });
    }
    push(&mut span, &mut items)?;
    Some(items)
}

/// Whether `keyword` at the list's own depth ends a result list
/// (`IS DISTINCT FROM` is an operator, not the FROM clause).
fn ends_list(keyword: Keyword, previous: Keyword) -> bool {
    match keyword {
        Keyword::FROM => previous != Keyword::DISTINCT,
        Keyword::WHERE
        | Keyword::GROUP
        | Keyword::HAVING
        | Keyword::WINDOW
        | Keyword::ORDER
        | Keyword::LIMIT
        | Keyword::UNION
        | Keyword::INTERSECT
        | Keyword::EXCEPT => true,
        _ => false,
    }
}

/// Byte offsets of the text's lines, to turn the tokenizer's 1-based
/// (line, character column) locations into byte offsets.
pub(super) struct LineStarts(Vec<usize>);

impl LineStarts {
    pub(super) fn new(sql: &str) -> LineStarts {
        let mut starts = vec![0];
        starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        LineStarts(starts)
    }

    pub(super) fn offset(&self, sql: &str, at: Location) -> Option<usize> {
        let line = usize::try_from(at.line).ok()?.checked_sub(1)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        let start = *self.0.get(line)?;
        let rest = sql.get(start..)?;
        match rest.char_indices().nth(column) {
            Some((i, _)) => Some(start + i),
            // Just past the text's last character.
            None if rest.chars().count() == column => Some(sql.len()),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::dialect::SealDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn lists(sql: &str) -> Vec<Vec<String>> {
        let tokens = Tokenizer::new(&SealDialect::default(), sql)
            .tokenize_with_location()
            .expect("tokens");
        let texts = ItemTexts::scan(sql, &tokens);
        let mut keys: Vec<_> = texts.lists.keys().copied().collect();
        keys.sort();
        keys.iter().map(|k| texts.lists[k].clone()).collect()
    }

    #[test]
    fn items_are_split_at_their_own_depth() {
        assert_eq!(
            lists("SELECT DISTINCT a  +   1, f(x, (y)) AS z, *, t.* FROM t WHERE 1"),
            vec![vec!["a  +   1", "f(x, (y)) AS z", "*", "t.*"]]
        );
        assert_eq!(
            lists("select (select  1), x is distinct from y\n , 'é,', 2 from (select 3) union select 4"),
            vec![
                vec!["(select  1)", "x is distinct from y", "'é,'", "2"],
                vec!["1"],
                vec!["3"],
                vec!["4"],
            ]
        );
        assert_eq!(
            lists("INSERT INTO t VALUES (1) RETURNING id*2, b;"),
            vec![vec!["id*2", "b"]]
        );
    }
}
