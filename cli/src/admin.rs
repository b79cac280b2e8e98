//! The admin protocol between `sealdb node` and `sealdb cluster ...`:
//! one request per connection on a Unix socket that
//! only the node's owner can open (mode 0600 in the data directory, so
//! whoever may connect could read the key file anyway).
//!
//! ```text
//!   request   a command line, then its body:
//!               status
//!               add-voter ID ADDRESS | add-learner ID ADDRESS
//!               remove ID | transfer ID
//!               sql N      then N statements, each "<byte length>\n<bytes>"
//!             then the client shuts its writing half
//!   answer    "ok\n" and the output, or "error: <message>\n"; then EOF
//! ```
//!
//! Limits: a request is at most 16 MiB; every read and write has a
//! timeout, so a stuck client cannot hold a node's admin thread forever.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Largest request accepted.
pub const REQUEST_LIMIT: u64 = 16 << 20;

/// A parsed admin request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// The node's view of the cluster.
    Status,
    /// Add a voter (as a learner first, then promoted).
    AddVoter(u64, String),
    /// Add a learner (a non-voting replica).
    AddLearner(u64, String),
    /// Remove a voter or learner.
    Remove(u64),
    /// Hand leadership to a voter.
    Transfer(u64),
    /// Run statements in one root session.
    Sql(Vec<String>),
}

/// Encodes a request.
pub fn encode(r: &Request) -> Vec<u8> {
    match r {
        Request::Status => b"status\n".to_vec(),
        Request::AddVoter(id, a) => format!("add-voter {id} {a}\n").into_bytes(),
        Request::AddLearner(id, a) => format!("add-learner {id} {a}\n").into_bytes(),
        Request::Remove(id) => format!("remove {id}\n").into_bytes(),
        Request::Transfer(id) => format!("transfer {id}\n").into_bytes(),
        Request::Sql(stmts) => {
            let mut out = format!("sql {}\n", stmts.len()).into_bytes();
            for s in stmts {
                out.extend_from_slice(format!("{}\n", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            out
        }
    }
}

fn id(word: Option<&str>) -> Result<u64, String> {
    word.and_then(|w| w.parse().ok())
        .filter(|i| *i > 0)
        .ok_or_else(|| "a node id (a positive integer) is required".to_string())
}

/// Decodes a request; a message saying what is wrong otherwise.
pub fn decode(bytes: &[u8]) -> Result<Request, String> {
    let mut r = BufReader::new(bytes);
    let mut line = String::new();
    r.read_line(&mut line)
        .map_err(|_| "the command line is not UTF-8".to_string())?;
    let mut words = line.split_whitespace();
    let req = match words.next() {
        Some("status") => Request::Status,
        Some(cmd @ ("add-voter" | "add-learner")) => {
            let node = id(words.next())?;
            let address = words
                .next()
                .ok_or_else(|| "an address is required".to_string())?
                .to_string();
            if cmd == "add-voter" {
                Request::AddVoter(node, address)
            } else {
                Request::AddLearner(node, address)
            }
        }
        Some("remove") => Request::Remove(id(words.next())?),
        Some("transfer") => Request::Transfer(id(words.next())?),
        Some("sql") => {
            let n: usize = words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| "sql needs a statement count".to_string())?;
            let mut stmts = Vec::new();
            for _ in 0..n {
                let mut len = String::new();
                r.read_line(&mut len)
                    .map_err(|_| "a bad statement length".to_string())?;
                let len: usize = len
                    .trim()
                    .parse()
                    .map_err(|_| "a bad statement length".to_string())?;
                if len as u64 > REQUEST_LIMIT {
                    return Err("a statement exceeds the request limit".into());
                }
                let mut buf = vec![0; len];
                r.read_exact(&mut buf)
                    .map_err(|_| "the request ended inside a statement".to_string())?;
                stmts.push(String::from_utf8(buf).map_err(|_| "a statement is not UTF-8")?);
            }
            Request::Sql(stmts)
        }
        Some(other) => return Err(format!("unknown command {other:?}")),
        None => return Err("an empty request".into()),
    };
    if words.next().is_some() {
        return Err("too many arguments".into());
    }
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    if !rest.is_empty() {
        return Err("bytes after the request".into());
    }
    Ok(req)
}

/// Sends `request` to the node listening at `socket` and returns its
/// output, or its error message.
pub fn call(socket: &Path, request: &Request, timeout: Duration) -> Result<String, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot reach the node at {} (is `sealdb node` running?): {e}",
            socket.display()
        )
    })?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    s.write_all(&encode(request))
        .and_then(|_| s.shutdown(std::net::Shutdown::Write))
        .map_err(|e| format!("sending to the node: {e}"))?;
    let mut answer = String::new();
    s.take(REQUEST_LIMIT)
        .read_to_string(&mut answer)
        .map_err(|e| format!("reading the node's answer: {e}"))?;
    if let Some(out) = answer.strip_prefix("ok\n") {
        Ok(out.to_string())
    } else if let Some(e) = answer.strip_prefix("error: ") {
        Err(e.trim_end().to_string())
    } else {
        Err("the node sent no answer (did it stop?)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_bad_ones_are_named() {
        let reqs = [
            Request::Status,
            Request::AddVoter(4, "127.0.0.1:7004".into()),
            Request::AddLearner(5, "edge:7005".into()),
            Request::Remove(4),
            Request::Transfer(2),
            Request::Sql(vec![
                "SELECT 1".into(),
                "INSERT INTO t VALUES ('a\nb')".into(),
            ]),
        ];
        for r in reqs {
            assert_eq!(decode(&encode(&r)).expect("decodes"), r);
        }
        for bad in [
            &b""[..],
            b"nope\n",
            b"remove\n",
            b"remove 0\n",
            b"remove 1 2\n",
            b"add-voter 3\n",
            b"sql 1\n5\nabc",
            b"sql 1\nx\n",
            b"status\nextra",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
