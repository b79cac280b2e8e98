//! LIKE and GLOB pattern matching (ASCII case folding, stops at NUL, as
//! SQLite built without ICU).

/// One element of a compiled LIKE or GLOB pattern.
#[derive(Debug)]
enum PatternToken {
    /// `%` or `*`: any run of characters, possibly empty.
    Any,
    /// `_` or `?`: exactly one character.
    One,
    /// A character that must match (ASCII case-insensitively for LIKE).
    Literal(char),
    /// A GLOB `[...]` set: inclusive ranges (a single character is a range
    /// of one), possibly inverted with `^`.
    Set {
        ranges: Vec<(char, char)>,
        invert: bool,
    },
}

/// The text up to the first NUL, as SQLite's C-string pattern matcher sees it.
fn until_nul(s: &str) -> &str {
    s.split('\0').next().unwrap_or(s)
}

/// Compiles a LIKE pattern, following the order of tests in SQLite's
/// `patternCompare`: `%` first, then the escape character, then `_`. As in
/// SQLite's `likeFunc`, an escape character that is `%` or `_` stops being a
/// wildcard and is only the escape. `None` when the pattern can never match
/// (it ends in a lone escape).
fn compile_like(pattern: &str, escape: Option<char>) -> Option<Vec<PatternToken>> {
    let any = if escape == Some('%') { None } else { Some('%') };
    let one = if escape == Some('_') { None } else { Some('_') };
    let mut tokens = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        if Some(c) == any {
            tokens.push(PatternToken::Any);
            while let Some(&n) = chars.peek() {
                if Some(n) == any {
                    chars.next();
                } else if Some(n) == one {
                    chars.next();
                    tokens.push(PatternToken::One);
                } else {
                    break;
                }
            }
        } else if Some(c) == escape {
            tokens.push(PatternToken::Literal(chars.next()?));
        } else if Some(c) == one {
            tokens.push(PatternToken::One);
        } else {
            tokens.push(PatternToken::Literal(c));
        }
    }
    Some(tokens)
}

/// Compiles a GLOB pattern. `None` when the pattern can never match (an
/// unterminated `[` set).
fn compile_glob(pattern: &str) -> Option<Vec<PatternToken>> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        match c {
            '*' => tokens.push(PatternToken::Any),
            '?' => tokens.push(PatternToken::One),
            '[' => {
                // A port of the set loop in SQLite's patternCompare.
                let mut ranges = Vec::new();
                let mut invert = false;
                let next = |i: &mut usize| {
                    let c = chars.get(*i).copied();
                    *i += 1;
                    c
                };
                let mut c2 = next(&mut i);
                if c2 == Some('^') {
                    invert = true;
                    c2 = next(&mut i);
                }
                if c2 == Some(']') {
                    ranges.push((']', ']'));
                    c2 = next(&mut i);
                }
                let mut prior: Option<char> = None;
                loop {
                    match c2 {
                        None => return None,
                        Some(']') => break,
                        Some('-') => {
                            let peek = chars.get(i).copied();
                            if let (Some(lo), Some(hi)) = (prior, peek) {
                                if hi != ']' {
                                    i += 1;
                                    ranges.push((lo, hi));
                                    prior = None;
                                    c2 = next(&mut i);
                                    continue;
                                }
                            }
                            ranges.push(('-', '-'));
                            prior = Some('-');
                        }
                        Some(ch) => {
                            ranges.push((ch, ch));
                            prior = Some(ch);
                        }
                    }
                    c2 = next(&mut i);
                }
                tokens.push(PatternToken::Set { ranges, invert });
            }
            other => tokens.push(PatternToken::Literal(other)),
        }
    }
    Some(tokens)
}

/// Whether pattern token `t` matches character `c`.
fn one_matches(t: &PatternToken, c: char, no_case: bool) -> bool {
    match t {
        PatternToken::Any => false,
        PatternToken::One => true,
        PatternToken::Literal(p) => {
            *p == c || (no_case && p.is_ascii() && p.eq_ignore_ascii_case(&c))
        }
        PatternToken::Set { ranges, invert } => {
            ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *invert
        }
    }
}

/// The first byte position at or after `from` where token `t` may match
/// `text`: for an ASCII literal, its next occurrence (either case under
/// `no_case`), found by comparing bytes (an ASCII byte is never part of a
/// longer character, and only an ASCII character matches an ASCII
/// literal); for any other token `from` itself. `None`: nowhere.
fn next_candidate(
    t: Option<&PatternToken>,
    text: &str,
    from: usize,
    no_case: bool,
) -> Option<usize> {
    match t {
        Some(PatternToken::Literal(l)) if l.is_ascii() => {
            let b = *l as u8;
            let (lo, up) = if no_case {
                (b.to_ascii_lowercase(), b.to_ascii_uppercase())
            } else {
                (b, b)
            };
            let rest = text.as_bytes().get(from..)?;
            rest.iter()
                .position(|&x| x == lo || x == up)
                .map(|i| from + i)
        }
        _ => (from < text.len()).then_some(from),
    }
}

/// Matches compiled tokens against text: the classic iterative wildcard
/// algorithm that backtracks only to the most recent `%`, which gives the
/// same answers as SQLite's recursive matcher in O(pattern × text) time and
/// constant stack, whatever the input. Positions are byte offsets of
/// characters in `text`; after a `%`, the text is skipped to where the
/// next token can match (SQLite does the same for a literal after `%`).
fn match_tokens(tokens: &[PatternToken], text: &str, no_case: bool) -> bool {
    let char_at = |s: usize| text.get(s..).and_then(|t| t.chars().next());
    let (mut p, mut s) = (0usize, 0usize);
    // (token after '%', text position it was tried at)
    let mut backtrack: Option<(usize, usize)> = None;
    while let Some(c) = char_at(s) {
        match tokens.get(p) {
            Some(PatternToken::Any) => {
                p += 1;
                if p == tokens.len() {
                    // A trailing `%` matches the rest.
                    return true;
                }
                // A match must place the token after the `%` somewhere
                // from here on; the latest `%` absorbs anything, so none
                // found here means no match at all.
                match next_candidate(tokens.get(p), text, s, no_case) {
                    Some(at) => s = at,
                    None => return false,
                }
                backtrack = Some((p, s));
                continue;
            }
            Some(t) if one_matches(t, c, no_case) => {
                p += 1;
                s += c.len_utf8();
                continue;
            }
            _ => {}
        }
        match backtrack {
            Some((bp, bs)) => {
                let after = bs + char_at(bs).map_or(1, char::len_utf8);
                match next_candidate(tokens.get(bp), text, after, no_case) {
                    Some(at) => {
                        p = bp;
                        s = at;
                        backtrack = Some((bp, at));
                    }
                    None => return false,
                }
            }
            None => return false,
        }
    }
    only_any_from(tokens, p)
}

/// Whether the tokens from `p` on are all `%` (they match an empty rest).
fn only_any_from(tokens: &[PatternToken], p: usize) -> bool {
    tokens
        .get(p..)
        .unwrap_or(&[])
        .iter()
        .all(|t| matches!(t, PatternToken::Any))
}

/// `text LIKE pattern [ESCAPE escape]`: `%` matches any run of characters,
/// `_` exactly one character, the escape character makes the next pattern
/// character literal (an escape of `%` or `_` is then no longer a wildcard); ASCII letters match case-insensitively, other
/// characters exactly. A pattern ending in a lone escape character matches
/// nothing. Pattern and text end at their first NUL, as in SQLite.
pub fn like(pattern: &str, text: &str, escape: Option<char>) -> bool {
    let Some(tokens) = compile_like(until_nul(pattern), escape) else {
        return false;
    };
    match_tokens(&tokens, until_nul(text), true)
}

/// `text GLOB pattern`: `*` matches any run, `?` one character, `[...]` one
/// character from a set (`[a-z]`, `[^0-9]`, `[]x]`); case-sensitive. An
/// unterminated set matches nothing. Pattern and text end at their first
/// NUL, as in SQLite.
pub fn glob(pattern: &str, text: &str) -> bool {
    let Some(tokens) = compile_glob(until_nul(pattern)) else {
        return false;
    };
    match_tokens(&tokens, until_nul(text), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher as it was before positions became byte offsets and
    /// `%` learnt to skip: characters one by one, backtracking a character
    /// at a time.
    fn reference(tokens: &[PatternToken], text: &str, no_case: bool) -> bool {
        let text: Vec<char> = text.chars().collect();
        let (mut p, mut s) = (0usize, 0usize);
        let mut backtrack: Option<(usize, usize)> = None;
        while let Some(&c) = text.get(s) {
            match tokens.get(p) {
                Some(PatternToken::Any) => {
                    p += 1;
                    backtrack = Some((p, s));
                    continue;
                }
                Some(t) if one_matches(t, c, no_case) => {
                    p += 1;
                    s += 1;
                    continue;
                }
                _ => {}
            }
            match backtrack {
                Some((bp, bs)) => {
                    p = bp;
                    s = bs + 1;
                    backtrack = Some((bp, bs + 1));
                }
                None => return false,
            }
        }
        only_any_from(tokens, p)
    }

    /// Every string of up to `n` pieces of `alphabet`.
    fn strings(alphabet: &[&str], n: usize) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..n {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}")))
                .collect();
            out.extend(last.iter().cloned());
        }
        out
    }

    #[test]
    fn skipping_matcher_agrees_with_the_reference() {
        // Every pattern and text of up to four pieces: both cases, a
        // multibyte letter, the wildcards, an escape.
        let texts = strings(&["a", "A", "b", "é"], 4);
        for escape in [None, Some('\\'), Some('%')] {
            for pattern in strings(&["a", "A", "é", "%", "_", "\\"], 4) {
                let Some(tokens) = compile_like(&pattern, escape) else {
                    continue;
                };
                for text in &texts {
                    assert_eq!(
                        match_tokens(&tokens, text, true),
                        reference(&tokens, text, true),
                        "{text:?} LIKE {pattern:?} ESCAPE {escape:?}"
                    );
                }
            }
        }
        for pattern in strings(&["a", "A", "*", "?", "[a-b]", "[^a]"], 4) {
            let Some(tokens) = compile_glob(&pattern) else {
                continue;
            };
            for text in &texts {
                assert_eq!(
                    match_tokens(&tokens, text, false),
                    reference(&tokens, text, false),
                    "{text:?} GLOB {pattern:?}"
                );
            }
        }
    }

    #[test]
    fn literal_after_percent_is_found_anywhere() {
        assert!(like("%a%", "xxxxA", None));
        assert!(like("%ab", "aab", None));
        assert!(like("%ab", "abab", None));
        assert!(!like("%ab", "aba", None));
        assert!(like("a%", "abc", None));
        assert!(like("%é%", "xxé", None));
        assert!(!like("%é%", "xxÉ", None));
        assert!(glob("*b*", "aab"));
        assert!(!glob("*B*", "aab"));
        assert!(like("%a_c%", "xxabxxazc", None));
    }
}
