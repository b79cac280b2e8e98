//! The interactive shell, driven through a real pseudo-terminal as a user
//! would: prompts, dot commands, multi-line statements, Ctrl-C, Ctrl-D,
//! errors, and the history file (what it holds, and its mode).
//!
//! Every test points `SEALDB_HISTORY` (and `HOME`, as a second guard) into
//! its own temporary directory, so the real `~/.sealdb_history` is never
//! touched.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use rexpect::process::WaitStatus;
use rexpect::session::PtySession;

/// Generous: a debug build under a loaded CI machine.
const TIMEOUT_MS: u64 = 60_000;

struct Fixture {
    dir: tempfile::TempDir,
    db: PathBuf,
    key: PathBuf,
    history: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k.key");
        let db = dir.path().join("db");
        let history = dir.path().join("history");
        let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
            .args(["keygen", "--out"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(out.status.success());
        Fixture {
            dir,
            db,
            key,
            history,
        }
    }

    /// Starts `sealdb sql` on a pty and waits for its first prompt.
    fn shell(&self) -> PtySession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealdb"));
        cmd.arg("sql")
            .arg("--db")
            .arg(&self.db)
            .arg("--key-file")
            .arg(&self.key)
            .env("SEALDB_HISTORY", &self.history)
            .env("HOME", self.dir.path())
            .env("TERM", "xterm");
        let mut p = rexpect::session::spawn_command(cmd, Some(TIMEOUT_MS)).unwrap();
        p.exp_string("sealdb> ").unwrap();
        p
    }

    fn history_text(&self) -> String {
        std::fs::read_to_string(&self.history).unwrap()
    }
}

/// Waits for the end of output and checks the shell exited with status 0.
fn exits_cleanly(mut p: PtySession) {
    p.exp_eof().unwrap();
    match p.process().wait().unwrap() {
        WaitStatus::Exited(_, 0) => {}
        other => panic!("shell ended with {other:?}"),
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_session_at_the_terminal() {
    let f = Fixture::new();
    let mut p = f.shell();

    // A statement over several lines: the continuation prompt until the
    // `;`, and a `;` inside a literal does not end it.
    p.send_line("CREATE TABLE notes (id INTEGER PRIMARY KEY,")
        .unwrap();
    p.exp_string("   ...> ").unwrap();
    p.send_line("body TEXT);").unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line("INSERT INTO notes VALUES (1, 'semi;").unwrap();
    p.exp_string("   ...> ").unwrap();
    p.send_line("colon');").unwrap();
    p.exp_string("sealdb> ").unwrap();

    p.send_line(".tables").unwrap();
    p.exp_regex(r"\nnotes\r?\n").unwrap();
    p.exp_string("sealdb> ").unwrap();

    p.send_line("SELECT 6 * 7, length(body) FROM notes;")
        .unwrap();
    p.exp_regex(r"\n42\|11\r?\n").unwrap();
    p.exp_string("sealdb> ").unwrap();

    // An error is reported and the shell goes on.
    p.send_line("SELECT nope FROM notes;").unwrap();
    p.exp_string("error: ").unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line(".frobnicate").unwrap();
    p.exp_string("error: unknown command .frobnicate").unwrap();
    p.exp_string("sealdb> ").unwrap();

    // Ctrl-C drops the whole statement being typed, not the shell.
    p.send_line("INSERT INTO notes VALUES (2,").unwrap();
    p.exp_string("   ...> ").unwrap();
    p.send("'dropped'").unwrap();
    p.flush().unwrap();
    p.send_control('c').unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line("SELECT count(*) + 100 FROM notes;").unwrap();
    p.exp_regex(r"\n101\r?\n").unwrap();
    p.exp_string("sealdb> ").unwrap();

    // A statement with a password runs but is not recorded.
    p.send_line("CREATE USER bob WITH PASSWORD 'hunter2';")
        .unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line("SELECT count(*) + 200 FROM notes;").unwrap();
    p.exp_regex(r"\n201\r?\n").unwrap();
    p.exp_string("sealdb> ").unwrap();

    p.send_line(".help").unwrap();
    p.exp_string(".quit, .exit").unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line(".quit").unwrap();
    exits_cleanly(p);

    let history = f.history_text();
    assert!(
        history.contains("CREATE TABLE notes (id INTEGER PRIMARY KEY,\\nbody TEXT);"),
        "{history}"
    );
    assert!(
        history.contains("SELECT 6 * 7, length(body) FROM notes;"),
        "{history}"
    );
    assert!(history.contains(".tables"), "{history}");
    assert!(!history.contains("hunter2"), "{history}");
    assert!(
        !history.to_ascii_uppercase().contains("PASSWORD"),
        "{history}"
    );
    assert!(!history.contains("dropped"), "{history}");
    assert_eq!(mode(&f.history), 0o600);

    // The user exists: the statement did run.
    let out = Command::new(env!("CARGO_BIN_EXE_sealdb"))
        .arg("sql")
        .arg("--db")
        .arg(&f.db)
        .arg("--key-file")
        .arg(&f.key)
        .args(["--user", "bob", "-e", "SELECT current_user"])
        .env("SEALDB_PASSWORD", "hunter2")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "bob\n");
}

#[test]
fn ctrl_d_and_exit_leave_with_status_zero() {
    let f = Fixture::new();
    let p = f.shell();
    let mut p = p;
    p.send_control('d').unwrap();
    exits_cleanly(p);

    let mut p = f.shell();
    p.send_line(".exit").unwrap();
    exits_cleanly(p);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn history_is_loaded_and_secured() {
    let f = Fixture::new();
    // A file others may read.
    std::fs::write(&f.history, "#V2\nSELECT 40 + 2;\n").unwrap();
    set_mode(&f.history, 0o644);

    let mut p = f.shell();
    assert_eq!(mode(&f.history), 0o600, "narrowed before use");
    // Up recalls the loaded entry (the load that used to panic).
    p.send("\x1b[A").unwrap();
    p.flush().unwrap();
    p.exp_string("SELECT 40 + 2;").unwrap();
    p.send_line("").unwrap();
    p.exp_regex(r"\n42\r?\n").unwrap();
    p.exp_string("sealdb> ").unwrap();
    // A leading space keeps a statement out of the history.
    p.send_line(" SELECT 'unrecorded';").unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_control('d').unwrap();
    exits_cleanly(p);
    assert!(!f.history_text().contains("unrecorded"));

    // A history file that is created new is 0600 from the start.
    std::fs::remove_file(&f.history).unwrap();
    let mut p = f.shell();
    assert_eq!(mode(&f.history), 0o600);
    p.send_line("SELECT 1;").unwrap();
    p.exp_string("sealdb> ").unwrap();
    p.send_line(".quit").unwrap();
    exits_cleanly(p);
    assert_eq!(mode(&f.history), 0o600);
    assert!(f.history_text().contains("SELECT 1;"));
}

#[test]
fn secrets_already_in_the_history_file_are_removed() {
    let f = Fixture::new();
    std::fs::write(
        &f.history,
        "#V2\nALTER USER bob PASSWORD 'old-secret';\nSELECT 40 + 2;\n",
    )
    .unwrap();
    let p = f.shell();
    let text = f.history_text();
    assert!(!text.contains("old-secret"), "{text}");
    assert!(text.contains("SELECT 40 + 2;"), "{text}");
    drop(p);

    // Nothing but secrets: the file is emptied.
    std::fs::write(&f.history, "#V2\nSELECT login_token('x');\n").unwrap();
    let mut p = f.shell();
    assert!(!f.history_text().contains("login_token"));
    p.send_line(".quit").unwrap();
    exits_cleanly(p);
}
