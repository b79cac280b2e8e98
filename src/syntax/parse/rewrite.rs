//! Rewrites of the text or tokens before sqlparser sees them, for SQLite
//! forms its dialect lacks (INDEXED BY / NOT INDEXED, hex integer literals,
//! other SQLite spellings).

use super::*;

/// SQLite's index hints, which sqlparser's SQLite grammar lacks, as the
/// MySQL hints it parses (and parse.rs reads back): `INDEXED BY name` →
/// `USE INDEX (name)`, `NOT INDEXED` → `USE INDEX ()` (no index). Works on tokens,
/// so quoted names and text are safe.
pub(super) fn rewrite_index_hints(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
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
/// `x IN table` → `x IN (SELECT * FROM table)` (the table a bare or
/// quoted name, which may be a common table expression; a `)`, `,` or `;`
/// may follow it). Quoted strings and identifiers are left untouched.
pub(super) fn rewrite_sqlite_forms(sql: &str) -> std::borrow::Cow<'_, str> {
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
    // The code before a quoted segment ended with the word IN.
    let mut after_in = false;
    for (code, text) in tokens {
        if !code {
            if after_in && text.starts_with(['"', '`', '[']) {
                out.push_str(&format!("(SELECT * FROM {text})"));
            } else {
                out.push_str(&text);
            }
            after_in = false;
            continue;
        }
        let words: Vec<&str> = text.split_inclusive(|c: char| c.is_whitespace()).collect();
        after_in = words
            .last()
            .is_some_and(|w| w.trim().eq_ignore_ascii_case("IN"));
        let mut i = 0;
        while i < words.len() {
            let w = words[i].trim();
            let next = words.get(i + 1).map(|x| x.trim()).unwrap_or("");
            // The name, then only closing punctuation.
            let name_len = next
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(next.len());
            let (name, rest) = next.split_at(name_len);
            if w.eq_ignore_ascii_case("IN")
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && rest.chars().all(|c| matches!(c, ')' | ',' | ';'))
            {
                out.push_str(words[i]);
                out.push_str(&format!("(SELECT * FROM {name}){rest} "));
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
pub(super) fn rewrite_hex_integers(sql: &str) -> Result<std::borrow::Cow<'_, str>> {
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

/// SQLite's `name [(columns)] AS [NOT] MATERIALIZED (query)` in a WITH
/// clause: sqlparser reads the hint only in its PostgreSQL dialect, so it
/// is taken out of the tokens here and returned by the position of the
/// CTE's name (true: MATERIALIZED), where `Cx::with` looks it up.
pub(super) fn rewrite_cte_hints(
    tokens: Vec<TokenWithSpan>,
) -> (Vec<TokenWithSpan>, HashMap<(u64, u64), bool>) {
    let mut hints = HashMap::new();
    let is_kw = |t: &Token, k: Keyword| matches!(t, Token::Word(w) if w.quote_style.is_none() && w.keyword == k);
    if !tokens
        .iter()
        .any(|t| is_kw(&t.token, Keyword::MATERIALIZED))
    {
        return (tokens, hints);
    }
    let code: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let mut drop = vec![false; tokens.len()];
    for (ci, &i) in code.iter().enumerate() {
        if !is_kw(&tokens[i].token, Keyword::MATERIALIZED) {
            continue;
        }
        // MATERIALIZED, then `(`; before it NOT (optional), then AS.
        if code
            .get(ci + 1)
            .is_none_or(|&n| tokens[n].token != Token::LParen)
        {
            continue;
        }
        let mut back = ci;
        let not = back
            .checked_sub(1)
            .filter(|&p| is_kw(&tokens[code[p]].token, Keyword::NOT));
        if let Some(p) = not {
            back = p;
        }
        let Some(as_pos) = back
            .checked_sub(1)
            .filter(|&p| is_kw(&tokens[code[p]].token, Keyword::AS))
        else {
            continue;
        };
        // The name: right before AS, or before its column list.
        let mut name_pos = as_pos.checked_sub(1);
        if name_pos.is_some_and(|p| tokens[code[p]].token == Token::RParen) {
            let mut depth = 0usize;
            let mut p = name_pos.unwrap_or(0);
            name_pos = None;
            loop {
                match tokens[code[p]].token {
                    Token::RParen => depth += 1,
                    Token::LParen => {
                        depth -= 1;
                        if depth == 0 {
                            name_pos = p.checked_sub(1);
                            break;
                        }
                    }
                    _ => {}
                }
                match p.checked_sub(1) {
                    Some(q) => p = q,
                    None => break,
                }
            }
        }
        let Some(np) = name_pos else { continue };
        if !matches!(tokens[code[np]].token, Token::Word(_)) {
            continue;
        }
        let start = tokens[code[np]].span.start;
        hints.insert((start.line, start.column), not.is_none());
        drop[i] = true;
        if let Some(p) = not {
            drop[code[p]] = true;
        }
    }
    let out = tokens
        .into_iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(t, _)| t)
        .collect();
    (out, hints)
}

/// A frame's `EXCLUDE NO OTHERS | CURRENT ROW | GROUP | TIES`, which
/// sqlparser's window grammar lacks: taken out of the tokens and kept by
/// the position of the name that owns the window (the function called
/// `f(...) [FILTER (...)] OVER (...)`, or `name` of `WINDOW name AS
/// (...)`), where the conversion finds it again (see `Cx::frame`). An
/// EXCLUDE whose owner is not found is left for sqlparser to refuse.
pub(super) fn rewrite_frame_excludes(
    tokens: Vec<TokenWithSpan>,
) -> (Vec<TokenWithSpan>, HashMap<(u64, u64), FrameExclude>) {
    let mut found = HashMap::new();
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if !tokens.iter().any(|t| word(&t.token, "EXCLUDE")) {
        return (tokens, found);
    }
    let code: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    let tok = |ci: usize| &tokens[code[ci]].token;
    // The code position of the `(` matching the `)` at `close`.
    let open_of = |close: usize| {
        let mut depth = 0usize;
        let mut p = close;
        loop {
            match tok(p) {
                Token::RParen => depth += 1,
                Token::LParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(p);
                    }
                }
                _ => {}
            }
            p = p.checked_sub(1)?;
        }
    };
    let mut drop = vec![false; tokens.len()];
    for ci in 0..code.len() {
        if !word(tok(ci), "EXCLUDE") {
            continue;
        }
        let next = |k: usize| code.get(ci + k).map(|&i| &tokens[i].token);
        let (what, len) = match (next(1), next(2)) {
            (Some(a), Some(b)) if word(a, "NO") && word(b, "OTHERS") => (FrameExclude::NoOthers, 3),
            (Some(a), Some(b)) if word(a, "CURRENT") && word(b, "ROW") => {
                (FrameExclude::CurrentRow, 3)
            }
            (Some(a), _) if word(a, "GROUP") => (FrameExclude::Group, 2),
            (Some(a), _) if word(a, "TIES") => (FrameExclude::Ties, 2),
            _ => continue,
        };
        // The `(` the window is written in: the nearest unclosed one.
        let mut depth = 0usize;
        let mut p = ci;
        let open = loop {
            let Some(q) = p.checked_sub(1) else {
                break None;
            };
            p = q;
            match tok(p) {
                Token::RParen => depth += 1,
                Token::LParen if depth == 0 => break Some(p),
                Token::LParen => depth -= 1,
                _ => {}
            }
        };
        let Some(before) = open.and_then(|o| o.checked_sub(1)) else {
            continue;
        };
        let owner = if word(tok(before), "AS") {
            before.checked_sub(1)
        } else if word(tok(before), "OVER") {
            // Back over `FILTER (...)`, then over the arguments `(...)`.
            let mut p = before.checked_sub(1);
            if let Some(q) = p.filter(|&q| *tok(q) == Token::RParen) {
                let o = open_of(q);
                if o.and_then(|o| o.checked_sub(1))
                    .is_some_and(|f| word(tok(f), "FILTER"))
                {
                    p = o.and_then(|o| o.checked_sub(2));
                }
            }
            p.filter(|&q| *tok(q) == Token::RParen)
                .and_then(open_of)
                .and_then(|o| o.checked_sub(1))
        } else {
            None
        };
        let Some(owner) = owner.filter(|&o| matches!(tok(o), Token::Word(_))) else {
            continue;
        };
        let start = tokens[code[owner]].span.start;
        found.insert((start.line, start.column), what);
        for k in 0..len {
            drop[code[ci + k]] = true;
        }
    }
    let out = tokens
        .into_iter()
        .zip(drop)
        .filter(|(_, d)| !d)
        .map(|(t, _)| t)
        .collect();
    (out, found)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use crate::syntax::ast::{Expr, FromItem, SetExpr, Statement};
    use crate::syntax::parse::parse;

    fn query(sql: &str) -> crate::syntax::ast::Query {
        match parse(sql).unwrap().statements.remove(0) {
            Statement::Query(q) => *q,
            other => panic!("{sql}: not a query: {other:?}"),
        }
    }

    #[test]
    fn materialized_hints_reach_their_ctes() {
        let q = query(
            "WITH a AS MATERIALIZED (SELECT 1), b(x, y) AS NOT MATERIALIZED (SELECT 1, 2), \
             \"c d\" AS (SELECT 3), e(z) as materialized (select 4) SELECT * FROM a",
        );
        let w = q.with.unwrap();
        let hints: Vec<_> = w
            .ctes
            .iter()
            .map(|c| (c.name.as_str(), c.materialized))
            .collect();
        assert_eq!(
            hints,
            [
                ("a", Some(true)),
                ("b", Some(false)),
                ("c d", None),
                ("e", Some(true))
            ]
        );
        assert_eq!(w.ctes[1].columns, ["x", "y"]);
        assert!(!w.recursive);
        // A column or table named materialized is not a hint.
        let q = query(
            "WITH materialized AS (SELECT 1 AS materialized) SELECT materialized FROM materialized",
        );
        assert_eq!(q.with.unwrap().ctes[0].materialized, None);
    }

    #[test]
    fn in_table_names_a_table_or_cte_bare_quoted_or_before_punctuation() {
        for sql in [
            "SELECT 1 WHERE 1 IN t",
            "SELECT 1 WHERE (1 IN t)",
            "SELECT 1 WHERE 1 IN \"t\"",
            "SELECT 1 WHERE 1 NOT IN [t]",
            "SELECT 1 WHERE 1 IN t;",
        ] {
            let q = query(sql);
            let SetExpr::Select(sel) = &q.body else {
                panic!("{sql}")
            };
            let mut f = sel.filter.as_ref().unwrap();
            while let Expr::Unary(_, x) = f {
                f = x;
            }
            let Expr::InSubquery { query: sub, .. } = f else {
                panic!("{sql}: {f:?}")
            };
            let SetExpr::Select(inner) = &sub.body else {
                panic!("{sql}")
            };
            assert!(
                matches!(&inner.from, Some(FromItem::Table { name, .. }) if name == "t"),
                "{sql}"
            );
        }
    }

    #[test]
    fn with_before_a_data_change_and_in_trigger_bodies() {
        let p = parse("WITH x AS (SELECT 1) DELETE FROM t WHERE a IN x").unwrap();
        assert!(matches!(&p.statements[0], Statement::Delete(d) if d.with.is_some()));
        let p = parse("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x").unwrap();
        assert!(matches!(&p.statements[0], Statement::Insert(i) if i.with.is_some()));
        // SQLite's grammar: WITH may start a SELECT of a trigger body, or
        // the SELECT of its INSERT, not the INSERT, UPDATE or DELETE.
        assert!(parse(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN WITH q AS (SELECT 1) SELECT * FROM q; END"
        )
        .is_ok());
        assert!(parse("CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u WITH q AS (SELECT 1) SELECT * FROM q; END").is_ok());
        let e = parse(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN WITH q AS (SELECT 1) DELETE FROM u; END",
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("syntax error"), "{e}");
        // main.x never names a CTE.
        let q = query("WITH t AS (SELECT 1) SELECT * FROM main.t, t");
        let SetExpr::Select(sel) = &q.body else {
            panic!()
        };
        let Some(FromItem::Join { left, right, .. }) = &sel.from else {
            panic!()
        };
        assert!(matches!(
            &**left,
            FromItem::Table {
                qualified: true,
                ..
            }
        ));
        assert!(matches!(
            &**right,
            FromItem::Table {
                qualified: false,
                ..
            }
        ));
    }
}
