//! `sealdb node --config FILE`: runs one standalone node of a cluster
//! until SIGTERM or SIGINT, reloading its certificates on SIGHUP, and
//! answers `sealdb cluster ...` on its admin socket.
//!
//! ```text
//!   start     read the configuration, open the database and the QUIC
//!             endpoint (the certificate must be this node's), bind the
//!             admin socket (0600), print "node <id> serving on <addr>"
//!   serve     each admin connection on a thread of its own (the database
//!             calls block; they never run on the network runtime)
//!   SIGHUP    reload certificate, key, CA bundle and CRLs; live peers that
//!             no longer pass are closed
//!   SIGTERM   close: a leader hands leadership to its most up-to-date
//!             voter first; the socket file is removed
//! ```
//!
//! Refused peers are logged to stderr, one line each.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use sealdb::repl::Refusal;
use sealdb::{ClusterStatus, Db, NodeConfig, Session};

use crate::admin::{self, Request, REQUEST_LIMIT};
use crate::Fallible;

/// How long an admin client may take to send its request.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the node of the configuration file `config` until a signal ends it.
pub fn run(config: &Path) -> Fallible<()> {
    let config = NodeConfig::load(config)?;
    std::fs::create_dir_all(&config.data_dir)?;
    let hook: sealdb::repl::RefusalHook = Arc::new(|r: &Refusal| {
        eprintln!(
            "refused {:?} {} ({}): {}{}",
            r.side,
            r.remote,
            r.peer
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into()),
            r.reason,
            if r.closed_existing {
                "; live connection closed"
            } else {
                ""
            }
        )
    });
    let (db, transport) = Db::open_node_config(&config, Some(hook))?;
    let listener = bind_admin(&config.admin_socket)?;
    println!(
        "node {} serving on {} (admin socket {})",
        config.node_id,
        transport.local_addr()?,
        config.admin_socket.display()
    );
    let _ = std::io::stdout().flush();

    // The admin threads borrow the database from this slot, so that the
    // close below (which hands leadership over) is the last reference.
    let slot: Arc<RwLock<Option<Db>>> = Arc::new(RwLock::new(Some(db)));
    let serving = slot.clone();
    std::thread::Builder::new()
        .name("sealdb-admin".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let slot = serving.clone();
                let _ = std::thread::Builder::new()
                    .name("sealdb-admin-conn".into())
                    .spawn(move || serve(&slot, conn));
            }
        })?;

    let endpoint = transport.endpoint().clone();
    let node_id = config.node_id;
    transport.runtime().block_on(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (mut term, mut int, mut hup) = (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        );
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => match endpoint.reload().await {
                    Ok(r) => eprintln!("node {node_id}: certificates reloaded; {} peer(s) closed", r.closed),
                    Err(e) => eprintln!("node {node_id}: reload failed, the old certificates stay: {e}"),
                },
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    eprintln!("node {node_id}: stopping");
    let _ = std::fs::remove_file(&config.admin_socket);
    // Waits for admin requests in flight, then closes.
    let db = slot.write().take();
    drop(db);
    drop(transport);
    Ok(())
}

/// Binds the admin socket, replacing a stale one left by a killed node
/// (but never another kind of file).
fn bind_admin(path: &PathBuf) -> Fallible<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "{} is in use: is this node already running?",
                    path.display()
                )
                .into());
            }
            std::fs::remove_file(path)?;
        }
        Ok(_) => {
            return Err(format!("{} exists and is not a socket", path.display()).into());
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn serve(slot: &RwLock<Option<Db>>, mut conn: UnixStream) {
    let _ = conn.set_read_timeout(Some(CLIENT_TIMEOUT));
    let mut bytes = Vec::new();
    let answer = match (&mut conn).take(REQUEST_LIMIT + 1).read_to_end(&mut bytes) {
        Err(e) => Err(format!("reading the request: {e}")),
        Ok(_) if bytes.len() as u64 > REQUEST_LIMIT => Err("the request is too large".into()),
        Ok(_) => admin::decode(&bytes).and_then(|r| match slot.read().as_ref() {
            Some(db) => answer(db, r),
            None => Err("the node is stopping".into()),
        }),
    };
    let text = match answer {
        Ok(out) => format!("ok\n{out}"),
        Err(e) => format!("error: {}\n", e.replace('\n', " ")),
    };
    let _ = conn.write_all(text.as_bytes());
}

fn answer(db: &Db, request: Request) -> Result<String, String> {
    let cluster = db.cluster().map_err(|e| e.to_string())?;
    let done = |r: sealdb::Result<()>| r.map(|()| String::new()).map_err(|e| e.to_string());
    match request {
        Request::Status => Ok(format_status(&cluster.status())),
        Request::AddVoter(id, address) => done(cluster.add_voter(id, &address)),
        Request::AddLearner(id, address) => done(cluster.add_learner(id, &address)),
        Request::Remove(id) => done(cluster.remove(id)),
        Request::Transfer(id) => done(cluster.transfer_leadership(id)),
        Request::Sql(statements) => run_statements(&db.root_session(), &statements),
    }
}

fn run_statements(session: &Session, statements: &[String]) -> Result<String, String> {
    let mut out = Vec::new();
    for sql in statements {
        session
            .run_script(sql, |_, row| crate::output::print_row(&mut out, row))
            .map_err(|e| e.to_string())?;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// `key: value` lines, then one line per member.
pub fn format_status(st: &ClusterStatus) -> String {
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let mut out = format!(
        "node: {}\nrole: {}\nterm: {}\nleader: {}\nlast log: {}\napplied: {}\nsnapshot: {}\npurged: {}\n",
        st.node_id,
        st.role,
        st.term,
        opt(st.leader),
        opt(st.last_log_index),
        opt(st.applied_index),
        opt(st.snapshot_index),
        opt(st.purged_index),
    );
    for m in &st.members {
        out.push_str(&format!(
            "member: {} {} {} matched {}\n",
            m.node_id,
            m.address,
            if m.voter { "voter" } else { "learner" },
            opt(m.matched_index)
        ));
    }
    out
}
