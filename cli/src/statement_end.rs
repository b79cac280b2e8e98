//! Whether the text typed so far ends a statement, so the shell knows
//! when to run it and when to ask for another line.
//!
//! A statement ends at a `;` that is outside string literals, quoted
//! identifiers and comments. `CREATE [TEMP] TRIGGER` is the exception:
//! its body holds statements with their own `;`, so it ends only at
//! `; END ;` (the rule of SQLite's `sqlite3_complete`, reimplemented
//! here over the same few token kinds).
//!
//! Unterminated quotes or block comments mean "not yet complete": the
//! user is still typing, and running half a literal would only give a
//! confusing error.

/// What the scanner sees; everything not named is `Other`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Semicolon,
    /// Whitespace and comments.
    Blank,
    Explain,
    Create,
    Temp,
    Trigger,
    End,
    Other,
}

/// Where the scanner is in the current statement.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but blanks seen yet.
    Empty,
    /// Just after a statement-ending `;`.
    Ended,
    /// Inside an ordinary statement.
    Statement,
    /// After `EXPLAIN` at the start.
    Explain,
    /// After `CREATE` (or `EXPLAIN CREATE`), perhaps `TEMP`.
    Create,
    /// Inside a trigger: a `;` alone does not end it.
    Trigger,
    /// Inside a trigger, just after a `;`.
    TriggerSemicolon,
    /// Inside a trigger, after `; END`.
    TriggerEnd,
}

fn step(state: State, token: Token) -> State {
    use State as S;
    use Token as T;
    match (state, token) {
        (s, T::Blank) => s,
        (S::Trigger | S::TriggerSemicolon, T::Semicolon) => S::TriggerSemicolon,
        (S::TriggerSemicolon, T::End) => S::TriggerEnd,
        (S::Trigger | S::TriggerSemicolon | S::TriggerEnd, _) if token != T::Semicolon => {
            S::Trigger
        }
        (_, T::Semicolon) => S::Ended,
        (S::Empty | S::Ended, T::Explain) => S::Explain,
        // EXPLAIN QUERY PLAN CREATE TRIGGER ...
        (S::Explain, T::Other) => S::Explain,
        (S::Empty | S::Ended | S::Explain, T::Create) => S::Create,
        (S::Create, T::Temp) => S::Create,
        (S::Create, T::Trigger) => S::Trigger,
        _ => S::Statement,
    }
}

fn keyword(word: &str) -> Token {
    match word.to_ascii_uppercase().as_str() {
        "EXPLAIN" => Token::Explain,
        "CREATE" => Token::Create,
        "TEMP" | "TEMPORARY" => Token::Temp,
        "TRIGGER" => Token::Trigger,
        "END" => Token::End,
        _ => Token::Other,
    }
}

/// True when `sql` holds one or more statements and the last one is
/// finished; false while a statement, literal or comment is still open.
pub fn is_complete(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    let mut state = State::Empty;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let token = match c {
            b';' => {
                i += 1;
                Token::Semicolon
            }
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => {
                i += 1;
                Token::Blank
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                // A line comment runs to the end of the line (or text).
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
                Token::Blank
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                match find(bytes, i + 2, b"*/") {
                    Some(end) => i = end + 2,
                    None => return false,
                }
                Token::Blank
            }
            b'\'' | b'"' | b'`' | b'[' => {
                let close = if c == b'[' { b']' } else { c };
                // A doubled quote inside a literal closes and reopens it,
                // which this scan handles as two literals in a row.
                match bytes[i + 1..].iter().position(|&b| b == close) {
                    Some(p) => i += p + 2,
                    None => return false,
                }
                Token::Other
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'_'
                        || bytes[i] == b'$'
                        || bytes[i] >= 0x80)
                {
                    i += 1;
                }
                keyword(&sql[start..i])
            }
            _ => {
                i += 1;
                Token::Other
            }
        };
        state = step(state, token);
    }
    state == State::Ended
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::is_complete;

    #[test]
    fn a_statement_ends_at_a_semicolon_outside_literals_and_comments() {
        assert!(is_complete("SELECT 1;"));
        assert!(is_complete("SELECT 1;\n"));
        assert!(is_complete("SELECT 1; -- done\n"));
        assert!(is_complete("SELECT 1; /* done */"));
        assert!(is_complete("SELECT\n1\n;\n"));
        assert!(is_complete("SELECT 1; SELECT 2;"));
        assert!(is_complete("SELECT 'it''s;';"));
        assert!(is_complete("SELECT \"a;b\" FROM [c;d];"));

        assert!(!is_complete(""));
        assert!(!is_complete("   \n"));
        assert!(!is_complete("SELECT 1"));
        assert!(!is_complete("SELECT 1; SELECT 2"));
        assert!(!is_complete("SELECT 'a;\n"));
        assert!(!is_complete("SELECT 'it''s;\n"));
        assert!(!is_complete("SELECT \"a;\n"));
        assert!(!is_complete("SELECT 1 -- not yet;\n"));
        assert!(!is_complete("SELECT 1 /* not yet;\n"));
        assert!(!is_complete("SELECT 1; /* open"));
    }

    #[test]
    fn a_trigger_ends_at_semicolon_end_semicolon() {
        let head = "CREATE TRIGGER tr AFTER INSERT ON t BEGIN\n";
        assert!(!is_complete(head));
        assert!(!is_complete(&format!(
            "{head}INSERT INTO log VALUES (1);\n"
        )));
        assert!(!is_complete(&format!(
            "{head}INSERT INTO log VALUES (1);\nEND\n"
        )));
        assert!(is_complete(&format!(
            "{head}INSERT INTO log VALUES (1);\nDELETE FROM x;\nEND;\n"
        )));
        assert!(is_complete(
            "create temp trigger tr after insert on t begin select 1; end;"
        ));
        assert!(is_complete(
            "EXPLAIN CREATE TEMPORARY TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;"
        ));
        // END that is not right after a `;` does not close the body.
        assert!(!is_complete(
            "CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END;"
        ));
        // Only CREATE [TEMP] TRIGGER at the start of a statement counts.
        assert!(is_complete("CREATE TABLE trigger (a);"));
        assert!(is_complete("SELECT 1; CREATE TABLE t (a);"));
        assert!(!is_complete(
            "SELECT 1; CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1;"
        ));
    }
}
