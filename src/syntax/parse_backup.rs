//! sealdb's backup statements, which sqlparser does not know:
//!
//! ```text
//!   BACKUP TO 'dir' [INCREMENTAL FROM 'parent'] [WITH option [, option]...]
//!       option: PASSPHRASE = 'text' | STORE_KEY = ON | OFF
//!             | KDF_MEMORY_KIB = n | KDF_ITERATIONS = n
//!             | THREADS = n        (files written at once; 0: one per CPU)
//!   RESTORE FROM 'dir' TO 'new dir' [WITH option [, option]...]
//!       option: PASSPHRASE = 'text'
//!             | THREADS = n        (tables restored at once; 0: one per CPU)
//!   SHOW BACKUP 'dir' [WITH PASSPHRASE = 'text']
//!   VERIFY BACKUP 'dir' [WITH PASSPHRASE = 'text']
//!   CHECKPOINT TO 'new dir'
//! ```
//!
//! Directories and the passphrase may be parameters (`?`, `?N`, `$N`,
//! `:name`, `@name`). A passphrase never appears in an error, in `Debug`
//! output or in the statement text kept for the audit log
//! ([`BackupStmt::audit_text`]). Each statement stands alone (not in a
//! script with others).

use zeroize::Zeroizing;

use crate::error::{Error, Result, SqlErrorKind};
use crate::syntax::parse::Parsed;

/// A directory: a string literal or a bound parameter (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathArg {
    /// `'text'`.
    Literal(String),
    /// A parameter.
    Param(usize),
}

/// A passphrase: a string literal or a bound parameter (1-based).
#[derive(Clone)]
pub enum PassArg {
    /// `'text'`.
    Literal(Zeroizing<String>),
    /// A parameter.
    Param(usize),
}

impl std::fmt::Debug for PassArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PassArg::Literal(_) => f.write_str("Literal(<redacted>)"),
            PassArg::Param(i) => write!(f, "Param({i})"),
        }
    }
}

/// A backup statement.
#[derive(Clone, Debug)]
pub enum BackupStmt {
    /// BACKUP TO.
    Backup {
        /// Where the backup goes.
        dir: PathArg,
        /// INCREMENTAL FROM: the parent backup.
        parent: Option<PathArg>,
        /// PASSPHRASE: add a passphrase wrap.
        passphrase: Option<PassArg>,
        /// STORE_KEY: wrap with the store key (default on).
        store_key: bool,
        /// KDF_MEMORY_KIB.
        kdf_memory_kib: Option<u32>,
        /// KDF_ITERATIONS.
        kdf_iterations: Option<u32>,
        /// THREADS: files written at once (`None` or 0: one per CPU).
        threads: Option<u32>,
    },
    /// RESTORE FROM ... TO.
    Restore {
        /// The backup.
        from: PathArg,
        /// The new store's directory.
        to: PathArg,
        /// PASSPHRASE for a passphrase wrap.
        passphrase: Option<PassArg>,
        /// THREADS: tables restored at once (`None` or 0: one per CPU).
        threads: Option<u32>,
    },
    /// SHOW BACKUP.
    Show {
        /// The backup.
        dir: PathArg,
        /// PASSPHRASE for a passphrase wrap.
        passphrase: Option<PassArg>,
    },
    /// VERIFY BACKUP: every file of the backup and its chain checked.
    Verify {
        /// The backup (the newest of a chain).
        dir: PathArg,
        /// PASSPHRASE for a passphrase wrap.
        passphrase: Option<PassArg>,
    },
    /// CHECKPOINT TO: a consistent copy of the store, under its own keys.
    Checkpoint {
        /// The new directory.
        dir: PathArg,
    },
}

impl BackupStmt {
    /// The statement for the audit log, directories as given (parameters
    /// shown with the values `path` resolves), the passphrase redacted.
    pub fn audit_text(&self, path: &dyn Fn(&PathArg) -> String) -> String {
        let q = |p: &PathArg| format!("'{}'", path(p).replace('\'', "''"));
        let pass = |p: &Option<PassArg>| {
            if p.is_some() {
                " WITH PASSPHRASE = <redacted>"
            } else {
                ""
            }
        };
        match self {
            BackupStmt::Backup {
                dir,
                parent,
                passphrase,
                store_key,
                ..
            } => format!(
                "BACKUP TO {}{}{}{}",
                q(dir),
                parent
                    .as_ref()
                    .map(|p| format!(" INCREMENTAL FROM {}", q(p)))
                    .unwrap_or_default(),
                pass(passphrase),
                if *store_key {
                    ""
                } else {
                    " (no store-key wrap)"
                }
            ),
            BackupStmt::Restore {
                from,
                to,
                passphrase,
                ..
            } => format!("RESTORE FROM {} TO {}{}", q(from), q(to), pass(passphrase)),
            BackupStmt::Show { dir, passphrase } => {
                format!("SHOW BACKUP {}{}", q(dir), pass(passphrase))
            }
            BackupStmt::Verify { dir, passphrase } => {
                format!("VERIFY BACKUP {}{}", q(dir), pass(passphrase))
            }
            BackupStmt::Checkpoint { dir } => format!("CHECKPOINT TO {}", q(dir)),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Param(String),
    Punct(char),
}

fn syntax(msg: impl Into<String>) -> Error {
    Error::sql(
        SqlErrorKind::Syntax,
        format!("syntax error: {}", msg.into()),
    )
}

fn tokenize(sql: &str) -> Result<Vec<Tok>> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'\'' {
            let mut s = Vec::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(syntax("unterminated string")),
                    Some(b'\'') if b.get(i + 1) == Some(&b'\'') => {
                        s.push(b'\'');
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(
                String::from_utf8(s).map_err(|_| syntax("invalid UTF-8"))?,
            ));
        } else if matches!(c, b'?' | b'$' | b':' | b'@') {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if c != b'?' && i == start + 1 {
                return Err(syntax(format!("unexpected `{}`", c as char)));
            }
            out.push(Tok::Param(sql[start..i].to_string()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Num(sql[start..i].to_string()));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Word(sql[start..i].to_ascii_uppercase()));
        } else if c == b';' && sql[i + 1..].trim().is_empty() {
            i = b.len();
        } else {
            let ch = sql[i..].chars().next().unwrap_or(' ');
            i += ch.len_utf8();
            out.push(Tok::Punct(ch));
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    i: usize,
    /// Names of parameters by index (None: positional).
    params: Vec<Option<String>>,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Word(w)) if w == kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }
    fn expect_punct(&mut self, c: char) -> Result<()> {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }
    fn unexpected(&self, want: &str) -> Error {
        match self.peek() {
            // Never echo a string: it may be a passphrase.
            Some(Tok::Str(_)) => syntax(format!("expected {want}, found a string")),
            Some(Tok::Word(w)) => syntax(format!("expected {want}, found `{w}`")),
            Some(Tok::Num(n)) => syntax(format!("expected {want}, found `{n}`")),
            Some(Tok::Param(p)) => syntax(format!("expected {want}, found `{p}`")),
            Some(Tok::Punct(c)) => syntax(format!("expected {want}, found `{c}`")),
            None => syntax(format!("expected {want} at the end of the statement")),
        }
    }
    fn param(&mut self, p: &str) -> Result<usize> {
        let index = if p == "?" {
            self.params.push(None);
            self.params.len()
        } else if let Some(n) = p
            .strip_prefix('?')
            .or_else(|| p.strip_prefix('$'))
            .filter(|d| d.bytes().all(|x| x.is_ascii_digit()))
        {
            let n: usize = n
                .parse()
                .ok()
                .filter(|n| (1..=32766).contains(n))
                .ok_or_else(|| syntax(format!("bad parameter number `{p}`")))?;
            if self.params.len() < n {
                self.params.resize(n, None);
            }
            n
        } else {
            let name = p.to_string();
            match self.params.iter().position(|x| x.as_deref() == Some(&name)) {
                Some(i) => i + 1,
                None => {
                    self.params.push(Some(name));
                    self.params.len()
                }
            }
        };
        Ok(index)
    }
    fn path(&mut self) -> Result<PathArg> {
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                if s.is_empty() {
                    return Err(syntax("the directory is empty"));
                }
                Ok(PathArg::Literal(s))
            }
            Some(Tok::Param(p)) => {
                self.i += 1;
                Ok(PathArg::Param(self.param(&p)?))
            }
            _ => Err(self.unexpected("a directory (a quoted string or a parameter)")),
        }
    }
    fn passphrase(&mut self) -> Result<PassArg> {
        self.expect_punct('=')?;
        match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.i += 1;
                Ok(PassArg::Literal(Zeroizing::new(s)))
            }
            Some(Tok::Param(p)) => {
                self.i += 1;
                Ok(PassArg::Param(self.param(&p)?))
            }
            _ => Err(self.unexpected("a passphrase (a quoted string or a parameter)")),
        }
    }
    fn number(&mut self) -> Result<u32> {
        self.expect_punct('=')?;
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.i += 1;
                n.parse()
                    .map_err(|_| syntax(format!("{n} is out of range")))
            }
            _ => Err(self.unexpected("a number")),
        }
    }
    fn switch(&mut self) -> Result<bool> {
        self.expect_punct('=')?;
        if self.eat_kw("ON") || self.eat_kw("TRUE") {
            Ok(true)
        } else if self.eat_kw("OFF") || self.eat_kw("FALSE") {
            Ok(false)
        } else {
            Err(self.unexpected("ON or OFF"))
        }
    }
    /// `WITH PASSPHRASE = …` for SHOW and VERIFY.
    fn only_passphrase(&mut self) -> Result<Option<PassArg>> {
        if !self.eat_kw("WITH") {
            return Ok(None);
        }
        self.expect_kw("PASSPHRASE")?;
        self.passphrase().map(Some)
    }
    fn done(&self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected("the end of the statement")),
        }
    }
}

/// Whether `sql` starts like a backup statement.
fn is_backup_statement(sql: &str) -> bool {
    let mut words = sql
        .split(|c: char| c.is_whitespace() || c == '\'' || c == ';')
        .filter(|w| !w.is_empty());
    let first = words.next().map(str::to_ascii_uppercase);
    match first.as_deref() {
        Some("BACKUP") | Some("RESTORE") | Some("CHECKPOINT") => true,
        Some("SHOW") | Some("VERIFY") => words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("BACKUP")),
        _ => false,
    }
}

/// Parses `sql` if it is a backup statement (`Ok(None)` otherwise).
pub fn parse_backup(sql: &str) -> Result<Option<Parsed>> {
    if !is_backup_statement(sql) {
        return Ok(None);
    }
    let mut p = P {
        toks: tokenize(sql)?,
        i: 0,
        params: Vec::new(),
    };
    let stmt = if p.eat_kw("BACKUP") {
        p.expect_kw("TO")?;
        let dir = p.path()?;
        let parent = if p.eat_kw("INCREMENTAL") {
            p.expect_kw("FROM")?;
            Some(p.path()?)
        } else {
            None
        };
        let (mut passphrase, mut store_key, mut mem, mut iter, mut threads) =
            (None, true, None, None, None);
        if p.eat_kw("WITH") {
            loop {
                if p.eat_kw("PASSPHRASE") {
                    passphrase = Some(p.passphrase()?);
                } else if p.eat_kw("STORE_KEY") {
                    store_key = p.switch()?;
                } else if p.eat_kw("KDF_MEMORY_KIB") {
                    mem = Some(p.number()?);
                } else if p.eat_kw("KDF_ITERATIONS") {
                    iter = Some(p.number()?);
                } else if p.eat_kw("THREADS") {
                    threads = Some(p.number()?);
                } else {
                    return Err(p.unexpected(
                        "PASSPHRASE, STORE_KEY, KDF_MEMORY_KIB, KDF_ITERATIONS or THREADS",
                    ));
                }
                if p.peek() != Some(&Tok::Punct(',')) {
                    break;
                }
                p.i += 1;
            }
        }
        BackupStmt::Backup {
            dir,
            parent,
            passphrase,
            store_key,
            kdf_memory_kib: mem,
            kdf_iterations: iter,
            threads,
        }
    } else if p.eat_kw("RESTORE") {
        p.expect_kw("FROM")?;
        let from = p.path()?;
        p.expect_kw("TO")?;
        let to = p.path()?;
        let (mut passphrase, mut threads) = (None, None);
        if p.eat_kw("WITH") {
            loop {
                if p.eat_kw("PASSPHRASE") {
                    passphrase = Some(p.passphrase()?);
                } else if p.eat_kw("THREADS") {
                    threads = Some(p.number()?);
                } else {
                    return Err(p.unexpected("PASSPHRASE or THREADS"));
                }
                if p.peek() != Some(&Tok::Punct(',')) {
                    break;
                }
                p.i += 1;
            }
        }
        BackupStmt::Restore {
            from,
            to,
            passphrase,
            threads,
        }
    } else if p.eat_kw("VERIFY") {
        p.expect_kw("BACKUP")?;
        let dir = p.path()?;
        BackupStmt::Verify {
            dir,
            passphrase: p.only_passphrase()?,
        }
    } else if p.eat_kw("CHECKPOINT") {
        p.expect_kw("TO")?;
        BackupStmt::Checkpoint { dir: p.path()? }
    } else {
        p.expect_kw("SHOW")?;
        p.expect_kw("BACKUP")?;
        let dir = p.path()?;
        BackupStmt::Show {
            dir,
            passphrase: p.only_passphrase()?,
        }
    };
    p.done()?;
    Ok(Some(Parsed {
        statements: vec![crate::syntax::ast::Statement::Backup(Box::new(stmt))],
        param_count: p.params.len(),
        param_names: p.params,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> (BackupStmt, usize) {
        let p = parse_backup(sql)
            .expect("parses")
            .expect("a backup statement");
        let count = p.param_count;
        match p.statements.into_iter().next() {
            Some(crate::syntax::ast::Statement::Backup(b)) => (*b, count),
            other => panic!("not a backup statement: {other:?}"),
        }
    }

    #[test]
    fn statements_parse() {
        let (b, n) = one("backup to '/b/x' incremental from $2 with passphrase = $1, store_key = off, kdf_memory_kib = 8, threads = 1;");
        assert_eq!(n, 2);
        match b {
            BackupStmt::Backup {
                dir,
                parent,
                passphrase,
                store_key,
                kdf_memory_kib,
                kdf_iterations,
                threads,
            } => {
                assert_eq!(dir, PathArg::Literal("/b/x".into()));
                assert_eq!(threads, Some(1));
                assert_eq!(parent, Some(PathArg::Param(2)));
                assert!(matches!(passphrase, Some(PassArg::Param(1))));
                assert!(!store_key);
                assert_eq!((kdf_memory_kib, kdf_iterations), (Some(8), None));
            }
            other => panic!("{other:?}"),
        }
        let (r, n) = one("RESTORE FROM ? TO ? WITH PASSPHRASE = 'it''s'");
        assert_eq!(n, 2);
        assert!(matches!(
            r,
            BackupStmt::Restore { from: PathArg::Param(1), to: PathArg::Param(2), passphrase: Some(PassArg::Literal(ref s)), threads: None } if s.as_str() == "it's"
        ));
        let (r, n) = one("restore from $1 to 'x' with threads = 3, passphrase = $2");
        assert_eq!(n, 2);
        assert!(matches!(
            r,
            BackupStmt::Restore {
                passphrase: Some(PassArg::Param(2)),
                threads: Some(3),
                ..
            }
        ));
        let (r, _) = one("RESTORE FROM 'b' TO 'x' WITH THREADS = 0");
        assert!(matches!(
            r,
            BackupStmt::Restore {
                passphrase: None,
                threads: Some(0),
                ..
            }
        ));
        for bad in [
            "RESTORE FROM 'b' TO 'x' WITH THREADS = 'two'",
            "RESTORE FROM 'b' TO 'x' WITH THREADS = -1",
            "RESTORE FROM 'b' TO 'x' WITH THREADS = 4294967296",
            "RESTORE FROM 'b' TO 'x' WITH THREADS",
            "RESTORE FROM 'b' TO 'x' WITH THREADS = 2,",
            "RESTORE FROM 'b' TO 'x' WITH STORE_KEY = OFF",
            "RESTORE FROM 'b' TO 'x' THREADS = 2",
        ] {
            assert!(parse_backup(bad).is_err(), "{bad}");
        }
        let (s, _) = one("SHOW BACKUP 'b'");
        assert!(matches!(
            s,
            BackupStmt::Show {
                passphrase: None,
                ..
            }
        ));
        let (v, n) = one("verify backup $1 with passphrase = $2");
        assert_eq!(n, 2);
        assert!(matches!(
            v,
            BackupStmt::Verify {
                dir: PathArg::Param(1),
                passphrase: Some(PassArg::Param(2))
            }
        ));
        let (c, _) = one("CHECKPOINT TO '/c/x'");
        assert!(
            matches!(c, BackupStmt::Checkpoint { dir: PathArg::Literal(ref d) } if d == "/c/x")
        );
        assert!(parse_backup("CHECKPOINT TO 'x' WITH PASSPHRASE = 'p'").is_err());
        assert!(parse_backup("VERIFY BACKUP").is_err());
        assert!(parse_backup("BACKUP TO 'x' WITH THREADS = 'two'").is_err());
        assert!(parse_backup("BACKUP TO 'x' WITH THREADS = -1").is_err());
        assert!(parse_backup("BACKUP TO 'x' WITH THREADS").is_err());
        assert!(parse_backup("CHECKPOINT").is_err());
        assert!(parse_backup("SHOW USERS").expect("ok").is_none());
        assert!(parse_backup("SELECT 1").expect("ok").is_none());
    }

    #[test]
    fn errors_never_echo_a_passphrase() {
        for sql in [
            "BACKUP TO 'x' WITH PASSPHRASE = 'hunter2' 'hunter2'",
            "RESTORE FROM 'x' 'hunter2'",
            "RESTORE FROM 'x' TO 'y' WITH THREADS = 1, PASSPHRASE = 'hunter2' 'hunter2'",
            "BACKUP TO 'x' WITH PASSPHRASE 'hunter2'",
            "BACKUP TO 'x' WITH OOPS = 'hunter2'",
            "VERIFY BACKUP 'x' WITH PASSPHRASE = 'hunter2' 'hunter2'",
        ] {
            let e = parse_backup(sql).err().expect("a syntax error");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        let (b, _) = one("BACKUP TO 'x' WITH PASSPHRASE = 'hunter2'");
        assert!(!format!("{b:?}").contains("hunter2"));
        let text = b.audit_text(&|p| match p {
            PathArg::Literal(s) => s.clone(),
            PathArg::Param(i) => format!("${i}"),
        });
        assert_eq!(text, "BACKUP TO 'x' WITH PASSPHRASE = <redacted>");
    }
}
