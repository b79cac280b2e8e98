//! The shell's history file: where it lives, who may read it, and which
//! statements never go into it.
//!
//! - **Where**: `$SEALDB_HISTORY` when set (set but empty turns history
//!   off), else `~/.sealdb_history`; with neither, there is no history.
//! - **Who may read it**: the owner only. The file is created with mode
//!   0600, and an existing one that group or others may read or write is
//!   narrowed to 0600 before it is read; if that fails the shell keeps no
//!   history rather than write into a file others can read. (rustyline
//!   also sets 0600 on each write.)
//! - **What stays out**: anything that might carry a password, token, key
//!   or other secret ([`might_hold_secret`]), and any entry typed with a
//!   leading space (bash's `ignorespace`, an escape hatch for what the
//!   rule misses). Such entries are not even kept in memory, so Up cannot
//!   bring them back either. Secret-looking entries already in the file
//!   (an older version, a hand edit) are removed when it is loaded.
//! - **When it is written**: after each entry (rustyline appends under a
//!   file lock), so a killed shell loses nothing and two shells interleave.
//!
//! A failure to read or write the file is reported once as a `warning:`
//! and the session goes on without a history file; it never stops the
//! shell, and a file that could not be read is never overwritten.

use std::path::{Path, PathBuf};

use rustyline::history::{FileHistory, History};
use rustyline::Editor;

/// The editor the shell uses: file-backed history, no completion helper.
/// Naming `FileHistory` (not `DefaultHistory`) keeps the build from
/// falling back to rustyline's memory-only history, whose `load` panics.
pub type LineEditor = Editor<(), FileHistory>;

/// Environment variable naming the history file (tests point it into a
/// temporary directory).
pub const HISTORY_ENV: &str = "SEALDB_HISTORY";

/// Words that mark a statement as possibly secret, matched anywhere in its
/// upper-cased text (so `login_token(...)` and `my_password_col` count
/// too: when in doubt, the statement is not recorded).
const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "PWD",
    "TOKEN",
    "SECRET",
    "IDENTIFIED",
    "CREDENTIAL",
    "PRIVATE",
    "APIKEY",
    "API_KEY",
    "REKEY",
    "HEXKEY",
    // Cluster settings hold host rules today and may hold credentials
    // (an identity provider's client secret) tomorrow.
    "CLUSTER SETTING",
];

/// Where the history file is, if anywhere.
pub fn history_path() -> Option<PathBuf> {
    match std::env::var_os(HISTORY_ENV) {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => std::env::home_dir()
            .filter(|h| !h.as_os_str().is_empty())
            .map(|h| h.join(".sealdb_history")),
    }
}

/// True when `entry` might contain a password, token, key or other
/// secret, and so must not be recorded. Conservative on purpose: it
/// matches [`SECRET_WORDS`] anywhere (case and spacing ignored), the word
/// `KEY` anywhere except in `PRIMARY KEY` / `FOREIGN KEY` (SQLCipher's
/// `PRAGMA key = '...'`, `ATTACH ... KEY '...'`), and URLs that may carry
/// a `user:password@`.
pub fn might_hold_secret(entry: &str) -> bool {
    let upper = entry
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    if SECRET_WORDS.iter().any(|w| upper.contains(w)) {
        return true;
    }
    if upper.contains("://") && upper.contains('@') {
        return true;
    }
    let words: Vec<&str> = upper
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        *w == "KEY"
            && !matches!(
                i.checked_sub(1).map(|p| words[p]),
                Some("PRIMARY" | "FOREIGN")
            )
    })
}

/// True when `entry` may go into the history.
pub fn may_record(entry: &str) -> bool {
    !entry.starts_with(char::is_whitespace) && !entry.trim().is_empty() && !might_hold_secret(entry)
}

/// Creates the file with mode 0600 if it is missing, and narrows an
/// existing one that group or others may use to 0600.
fn secure_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        let meta = file.metadata()?;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    options.open(path)?;
    Ok(())
}

/// The shell's history file, bound to one editor's in-memory history.
pub struct HistoryFile {
    /// None: no file (none configured, or it failed and was given up).
    path: Option<PathBuf>,
}

impl HistoryFile {
    /// Finds, secures and loads the history file into `editor`, dropping
    /// secret-looking entries from it. Problems become one warning.
    pub fn open(editor: &mut LineEditor) -> Self {
        let Some(path) = history_path() else {
            return HistoryFile { path: None };
        };
        match load(editor, &path) {
            Ok(()) => HistoryFile { path: Some(path) },
            Err(e) => {
                warn(&path, &e);
                // Whatever was read stays usable in memory, but the file
                // is left alone.
                HistoryFile { path: None }
            }
        }
    }

    /// Adds `entry` (trimmed) to the history and the file, unless
    /// [`may_record`] says no.
    pub fn record(&mut self, editor: &mut LineEditor, entry: &str) {
        if !may_record(entry) {
            return;
        }
        match editor.add_history_entry(entry.trim()) {
            Ok(true) => {}
            // A repeat of the previous entry, or an in-memory failure
            // (which the file cannot fix).
            Ok(false) | Err(_) => return,
        }
        if let Some(path) = &self.path {
            if let Err(e) = editor.append_history(path) {
                warn(path, &e);
                self.path = None;
            }
        }
    }
}

fn warn(path: &Path, e: &dyn std::fmt::Display) {
    eprintln!(
        "warning: history file {}: {e}; this session keeps no history file",
        path.display()
    );
}

fn load(editor: &mut LineEditor, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    secure_file(path)?;
    editor.load_history(path)?;
    let entries: Vec<String> = editor.history().iter().cloned().collect();
    let kept: Vec<&String> = entries.iter().filter(|e| may_record(e)).collect();
    if kept.len() == entries.len() {
        return Ok(());
    }
    // Rewrite the file without them. rustyline writes only when it has
    // entries, so an all-secret file is emptied by hand.
    editor.clear_history()?;
    for e in kept {
        editor.add_history_entry(e.as_str())?;
    }
    if editor.history().is_empty() {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)?;
    } else {
        editor.save_history(path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{may_record, might_hold_secret};

    #[test]
    fn statements_with_secrets_are_recognised() {
        for s in [
            "CREATE USER alice WITH PASSWORD 'pw'",
            "create user alice password 'pw';",
            "ALTER ROLE bob WITH LOGIN ENCRYPTED PASSWORD 'x'",
            "ALTER USER bob\nPASSWORD\n'x';",
            "CREATE USER carol IDENTIFIED BY 'x';",
            "SELECT create_login_token('alice');",
            "SELECT * FROM tokens;",
            "SET CLUSTER SETTING server.host_based_authentication.configuration = 'host all all 0.0.0.0/0 password';",
            "set   cluster\tsetting server.oidc.client_secret = 'abc';",
            "PRAGMA key = 'correct horse';",
            "ATTACH 'other.db' AS o KEY 'x';",
            "PRAGMA rekey = 'x';",
            "INSERT INTO conf VALUES ('api_key', 'abc');",
            "SELECT 'postgres://u:p@host/db';",
            "INSERT INTO keys (private) VALUES ('-----BEGIN');",
        ] {
            assert!(might_hold_secret(s), "{s}");
            assert!(!may_record(s), "{s}");
        }
    }

    #[test]
    fn ordinary_statements_are_recorded() {
        for s in [
            "SELECT 1;",
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT);",
            "CREATE TABLE c (p INTEGER, FOREIGN KEY (p) REFERENCES t(id));",
            "CREATE USER alice;",
            "GRANT SELECT ON t TO alice;",
            "INSERT INTO notes VALUES (1, 'hello');",
            ".tables",
        ] {
            assert!(!might_hold_secret(s), "{s}");
            assert!(may_record(s), "{s}");
        }
        // A leading space keeps even an ordinary statement out; blanks
        // are never recorded.
        assert!(!may_record(" SELECT 1;"));
        assert!(!may_record("   "));
    }
}
