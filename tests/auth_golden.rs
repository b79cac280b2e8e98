//! Golden scripts of multi-user sessions (`tests/golden/auth/*.txt`): each
//! block is one command, `----`, and what it produced — result rows or the
//! error, then the audit records it wrote (event, user, roles, objects,
//! mode, rows, outcome; not times or durations).
//!
//! Commands:
//!
//! ```text
//! [user] SQL                      run SQL as user (root: the in-process
//!                                 root session; others log in on first
//!                                 use with password `pw`, locally)
//! login USER PASSWORD [ADDRESS]   log in (replacing USER's session)
//! token USER                      USER's session creates a login token
//! login-token USER [ADDRESS]      log in with USER's last token
//! verify                          check the audit chain
//! ```
//!
//! `SEALDB_BLESS=1 cargo test --test auth_golden` rewrites the expected
//! output (like toydb's goldenscript); review every change by hand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sealdb::{
    AuditRecord, ClientInfo, Credentials, Db, Error, Options, PasswordCost, Session, Value,
};

struct Runner {
    db: Db,
    seen: Arc<Mutex<Vec<AuditRecord>>>,
    sessions: HashMap<String, Session>,
    tokens: HashMap<String, String>,
}

fn render(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Text(s) => s.clone(),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    }
}

fn error_line(e: &Error) -> String {
    format!("error {}: {e}", e.code())
}

fn audit_line(r: &AuditRecord) -> String {
    let mut s = format!("audit {}: {} user={}", r.seq, r.event, r.user);
    if !r.roles.is_empty() {
        s.push_str(&format!(" roles=[{}]", r.roles.join(",")));
    }
    if let Some(a) = &r.client_address {
        s.push_str(&format!(" from={a}"));
    }
    if !r.objects.is_empty() {
        s.push_str(&format!(" objects=[{}]", r.objects.join(",")));
    }
    if !r.mode.is_empty() {
        s.push_str(&format!(" mode={}", r.mode.replace(' ', "+")));
    }
    if r.rows > 0 {
        s.push_str(&format!(" rows={}", r.rows));
    }
    match r.error_code {
        Some(c) => s.push_str(&format!(" outcome={} {c}", r.outcome)),
        None => s.push_str(&format!(" outcome={}", r.outcome)),
    }
    s.push_str(&format!("\n  stmt: {}", r.statement));
    if let Some(v) = &r.values {
        s.push_str(&format!(" values=[{}]", v.join(", ")));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!("\n  error: {e}"));
    }
    s
}

impl Runner {
    fn new() -> Runner {
        let seen: Arc<Mutex<Vec<AuditRecord>>> = Arc::default();
        let sink = seen.clone();
        let db = Db::open_with(
            "/db",
            sealdb::MemoryKeyProvider::new(sealdb::KeyBytes::from_slice(&[9u8; 32])).unwrap(),
            Options {
                vfs: Some(Arc::new(sealdb::vfs::MemVfs::new())),
                password_cost: PasswordCost::dangerous_minimal(),
                audit_sink: Some(Arc::new(move |r: &AuditRecord| {
                    sink.lock().unwrap().push(r.clone())
                })),
                ..Options::default()
            },
        )
        .unwrap();
        // Opening a new store writes its first record (encryption on).
        seen.lock().unwrap().clear();
        Runner {
            db,
            seen,
            sessions: HashMap::new(),
            tokens: HashMap::new(),
        }
    }

    fn login(&mut self, user: &str, creds: Credentials, addr: Option<&str>) -> String {
        let addr: Option<IpAddr> = addr.map(|a| a.parse().expect("address"));
        match self.db.connect(creds, ClientInfo::new(addr, "golden")) {
            Ok(s) => {
                self.sessions.insert(user.to_string(), s);
                "ok".into()
            }
            Err(e) => error_line(&e),
        }
    }

    fn session(&mut self, user: &str) -> Result<&Session, String> {
        if !self.sessions.contains_key(user) {
            if user == "root" {
                self.sessions.insert(user.into(), self.db.root_session());
            } else {
                let r = self.login(user, Credentials::password(user, "pw"), None);
                if r != "ok" {
                    return Err(format!("(login as {user} with password pw) {r}"));
                }
            }
        }
        Ok(&self.sessions[user])
    }

    fn sql(&mut self, user: &str, sql: &str) -> String {
        let s = match self.session(user) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let mut rows = match s.query(sql, &[]) {
            Ok(r) => r,
            Err(e) => return error_line(&e),
        };
        let columns = rows.columns().to_vec();
        let mut out = Vec::new();
        loop {
            match rows.next() {
                Ok(Some(r)) => {
                    out.push(r.values().iter().map(render).collect::<Vec<_>>().join("|"))
                }
                Ok(None) => break,
                Err(e) => {
                    out.push(error_line(&e));
                    break;
                }
            }
        }
        drop(rows);
        if columns.is_empty() {
            match s.changes() {
                0 => "ok".into(),
                n => format!("ok, {n} rows changed"),
            }
        } else {
            let mut text = columns.join("|");
            for r in out {
                text.push('\n');
                text.push_str(&r);
            }
            text
        }
    }

    fn command(&mut self, line: &str) -> String {
        // Passwords in the command must never reach the audit log.
        let mut secrets: Vec<String> = Vec::new();
        let mut rest = line;
        while let Some(i) = rest.find("PASSWORD '") {
            rest = &rest[i + 10..];
            if let Some(end) = rest.find('\'') {
                secrets.push(rest[..end].to_string());
            }
        }
        if let ["login", _, pw, ..] = line.split_whitespace().collect::<Vec<_>>().as_slice() {
            secrets.push(pw.to_string());
        }
        let out = if let Some(rest) = line.strip_prefix('[') {
            let (user, sql) = rest.split_once("] ").expect("[user] SQL");
            self.sql(user, sql)
        } else {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["login", user, pw, addr @ ..] => {
                    self.login(user, Credentials::password(user, pw), addr.first().copied())
                }
                ["token", user] => {
                    let made = self.session(user).map_err(|e| e.to_string()).and_then(|s| {
                        s.create_login_token(Duration::from_secs(3600))
                            .map_err(|e| error_line(&e))
                    });
                    match made {
                        Ok(t) => {
                            self.tokens.insert(user.to_string(), t.token().to_string());
                            "ok".into()
                        }
                        Err(e) => e,
                    }
                }
                ["login-token", user, addr @ ..] => {
                    let tok = self.tokens.get(*user).cloned().unwrap_or_default();
                    self.login(user, Credentials::token(user, &tok), addr.first().copied())
                }
                ["verify"] => {
                    let r = self.db.audit_verify().unwrap();
                    match r.first_bad {
                        None => format!("intact: {} records", r.intact),
                        Some(b) => format!("bad: {b}"),
                    }
                }
                _ => panic!("unknown command: {line}"),
            }
        };
        let mut out = out;
        for r in self.seen.lock().unwrap().drain(..) {
            for secret in &secrets {
                assert!(
                    !r.to_json().contains(secret.as_str()),
                    "a password reached the audit log: {}",
                    r.to_json()
                );
            }
            out.push('\n');
            out.push_str(&audit_line(&r));
        }
        out
    }
}

/// Runs one script; returns the text it should contain.
fn run_script(text: &str) -> String {
    let mut runner = Runner::new();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // A command; skip its old output (`----` up to a blank line).
        if lines.peek() == Some(&"----") {
            for l in lines.by_ref() {
                if l.trim().is_empty() {
                    break;
                }
            }
        }
        out.push_str(line);
        out.push_str("\n----\n");
        out.push_str(&runner.command(line));
        out.push_str("\n\n");
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/auth")
}

#[test]
fn golden_scripts() {
    let bless = std::env::var("SEALDB_BLESS").is_ok_and(|v| v == "1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden scripts");
    let mut failed = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let got = run_script(&text);
        if got != text {
            if bless {
                std::fs::write(f, &got).unwrap();
                println!("blessed {}", f.display());
            } else {
                let (e, g): (Vec<&str>, Vec<&str>) =
                    (text.lines().collect(), got.lines().collect());
                let at = e
                    .iter()
                    .zip(&g)
                    .position(|(a, b)| a != b)
                    .unwrap_or(e.len().min(g.len()));
                failed.push(format!(
                    "{}: differs from line {}:\n--- expected\n{}\n--- got\n{}",
                    f.display(),
                    at + 1,
                    e[at.saturating_sub(3)..(at + 12).min(e.len())].join("\n"),
                    g[at.saturating_sub(3)..(at + 12).min(g.len())].join("\n"),
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{}\n(re-run with SEALDB_BLESS=1 to accept, then review the diff)",
        failed.join("\n\n")
    );
    println!("{} golden scripts", files.len());
}

#[test]
fn script_statements_are_audited_one_by_one() {
    let runner = Runner::new();
    let root = runner.db.root_session();
    root.run_script(
        "CREATE TABLE a (x INTEGER);
         ALTER TABLE a EXPERIMENTAL_AUDIT SET READ WRITE;
         INSERT INTO a VALUES (1);
         SELECT x FROM a;
         CREATE USER u WITH PASSWORD 'secret-pw';",
        |_, _| {},
    )
    .unwrap();
    let texts: Vec<String> = runner
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{} [{}]", r.statement, r.outcome))
        .collect();
    // The audited read is logged when it starts and again when it ends.
    assert_eq!(
        texts,
        [
            "ALTER TABLE a EXPERIMENTAL_AUDIT SET READ WRITE [ok]",
            "INSERT INTO a VALUES (1) [ok]",
            "SELECT x FROM a [started]",
            "SELECT x FROM a [ok]",
            "CREATE USER u PASSWORD <redacted> [ok]",
        ]
    );
}
