//! The interactive shell: `sealdb sql` on a terminal without `-e`.
//!
//! ```text
//!   sealdb> CREATE TABLE t (a INTEGER,      <- a statement runs once a line
//!      ...> b TEXT);                           ends it with `;` (see
//!   sealdb> .tables                            statement_end), with a
//!   t                                          continuation prompt until then
//! ```
//!
//! - Dot commands (`.tables`, `.help`, `.quit`/`.exit`) are recognised
//!   only at the start of a statement, one a line.
//! - Ctrl-C drops the statement being typed (all its lines) and gives a
//!   fresh prompt; Ctrl-D on an empty line leaves with status 0, as do
//!   `.quit` and `.exit`. (Ctrl-C while a statement runs ends the process,
//!   the terminal's default: sealdb has no statement cancellation yet.)
//! - A failing statement prints `error: …` on stderr and the shell goes
//!   on; statements of the same input before it have taken effect.
//! - History lives in a file with the rules of [`crate::history`].

use rustyline::config::Config;
use rustyline::error::ReadlineError;
use sealdb::Session;

use crate::history::{HistoryFile, LineEditor};
use crate::output::run_sql;
use crate::statement_end::is_complete;
use crate::Fallible;

const PROMPT: &str = "sealdb> ";
const CONTINUATION_PROMPT: &str = "   ...> ";

const HELP: &str = "\
End each SQL statement with ';' (it may span several lines).
.tables        list the tables and views you can see
.help          show this text
.quit, .exit   leave the shell (so does Ctrl-D)
Ctrl-C drops the statement being typed. History: ~/.sealdb_history
(or $SEALDB_HISTORY); statements that may hold a password, token or key,
and lines typed with a leading space, are not recorded.";

/// What the loop does after a dot command.
enum Next {
    Continue,
    Quit,
}

/// Runs one dot command; errors are printed, never fatal.
fn dot_command(session: &Session, line: &str) -> Next {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let extra = words.next().is_some();
    match command {
        ".quit" | ".exit" | ".tables" | ".help" if extra => {
            eprintln!("error: {command} takes no arguments");
        }
        ".quit" | ".exit" => return Next::Quit,
        ".tables" => {
            let names = session.table_names();
            if !names.is_empty() {
                println!("{}", names.join("  "));
            }
        }
        ".help" => println!("{HELP}"),
        other => eprintln!("error: unknown command {other} (try .help)"),
    }
    Next::Continue
}

/// Reads, runs and prints until `.quit`, `.exit` or Ctrl-D.
pub fn run(session: &Session) -> Fallible<()> {
    let config = Config::builder()
        .max_history_size(1000)?
        .auto_add_history(false)
        .build();
    let mut editor = LineEditor::with_config(config)?;
    let mut history = HistoryFile::open(&mut editor);
    println!("sealdb shell: end statements with ';', .help for help, Ctrl-D to leave");
    let mut statement = String::new();
    loop {
        let prompt = if statement.is_empty() {
            PROMPT
        } else {
            CONTINUATION_PROMPT
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                statement.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        if statement.is_empty() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with('.') {
                history.record(&mut editor, &line);
                match dot_command(session, trimmed) {
                    Next::Continue => continue,
                    Next::Quit => break,
                }
            }
        }
        statement.push_str(&line);
        statement.push('\n');
        if !is_complete(&statement) {
            continue;
        }
        history.record(&mut editor, &statement);
        if let Err(e) = run_sql(session, &statement) {
            eprintln!("error: {e}");
        }
        statement.clear();
    }
    Ok(())
}
