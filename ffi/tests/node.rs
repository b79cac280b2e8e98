//! `sealdb_db_open_node` through the C ABI: three nodes of one process
//! opened from configuration files, talking QUIC with mutual TLS on
//! 127.0.0.1 (certificates made by `sealdb::repl::cert`); SQL on one node
//! is read on another; bad configurations and a certificate that is not
//! the node's are refused with their codes.

// Every unsafe block calls an export with pointers to live locals.
#![allow(clippy::undocumented_unsafe_blocks, clippy::unwrap_used)]

use std::ffi::{c_char, CStr, CString};
use std::path::Path;
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use sealdb::repl::cert::{self, CertsDir, NodeCertRequest, Validity};
use sealdb_ffi::conn::*;
use sealdb_ffi::db::*;
use sealdb_ffi::error::*;
use sealdb_ffi::stmt::*;

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(sealdb_errmsg()) }
        .to_string_lossy()
        .into_owned()
}

fn conn_error(conn: *mut sealdb_conn) -> String {
    let p = sealdb_conn_errmsg(conn);
    if p.is_null() {
        return String::new();
    }
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    unsafe { sealdb_string_free(p) };
    s
}

/// Every row of `sql`, each column as text (NULL as "NULL"), or the
/// failing code.
fn rows(conn: *mut sealdb_conn, sql: &str) -> Result<Vec<Vec<String>>, i32> {
    let sql = c(sql);
    let mut stmt = null_mut();
    let rc = unsafe { sealdb_prepare(conn, sql.as_ptr(), &mut stmt) };
    if rc != SEALDB_OK {
        return Err(rc);
    }
    let mut out = Vec::new();
    let rc = loop {
        match sealdb_step(stmt) {
            SEALDB_ROW => {
                let mut ncols = 0i32;
                assert_eq!(unsafe { sealdb_column_count(stmt, &mut ncols) }, SEALDB_OK);
                let mut row = Vec::new();
                for i in 0..ncols {
                    let mut p: *const c_char = null();
                    let mut n = 0usize;
                    assert_eq!(
                        unsafe { sealdb_column_text(stmt, i, &mut p, &mut n) },
                        SEALDB_OK
                    );
                    row.push(if p.is_null() {
                        "NULL".into()
                    } else {
                        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                    });
                }
                out.push(row);
            }
            SEALDB_DONE => break SEALDB_OK,
            rc => break rc,
        }
    };
    assert_eq!(sealdb_stmt_free(stmt), SEALDB_OK);
    if rc == SEALDB_OK {
        Ok(out)
    } else {
        Err(rc)
    }
}

fn exec(conn: *mut sealdb_conn, sql: &str) -> i32 {
    let sql = c(sql);
    unsafe { sealdb_exec(conn, sql.as_ptr()) }
}

fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

fn write_config(dir: &Path, id: u64, port: u16, members: &str, certs_dir: &str) -> CString {
    let path = dir.join(format!("node{id}.toml"));
    std::fs::write(
        &path,
        format!(
            "node_id = {id}\ndata_dir = \"node{id}\"\nkey_file = \"node{id}.key\"\n\
             listen = \"127.0.0.1:{port}\"\ncerts_dir = \"{certs_dir}\"\n\
             initial_members = [{members}]\nheartbeat_ms = 50\n\
             election_timeout_ms = [300, 600]\nsync = \"normal\"\n"
        ),
    )
    .unwrap();
    c(path.to_str().unwrap())
}

#[test]
fn three_nodes_open_from_config_files_through_the_c_abi() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = CertsDir::new(tmp.path().join("certs"));
    let ca_key = tmp.path().join("ca.key");
    cert::create_ca(&certs, &ca_key, "ffi", Validity::days_from_now(2), false).unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let members: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| format!("\"{}@127.0.0.1:{p}\"", i + 1))
        .collect();
    let members = members.join(", ");
    let mut dbs = Vec::new();
    let mut conns = Vec::new();
    for id in 1..=3u64 {
        cert::create_node(
            &certs,
            &ca_key,
            &NodeCertRequest {
                node_id: id,
                hosts: vec!["127.0.0.1".into()],
                ocsp_url: None,
                validity: Validity::days_from_now(1),
            },
            false,
        )
        .unwrap();
        let key = c(tmp.path().join(format!("node{id}.key")).to_str().unwrap());
        assert_eq!(
            unsafe { sealdb_key_file_generate(key.as_ptr(), 256) },
            SEALDB_OK
        );
        let config = write_config(tmp.path(), id, ports[id as usize - 1], &members, "certs");
        let mut db = null_mut();
        let rc = unsafe { sealdb_db_open_node(config.as_ptr(), &mut db) };
        assert_eq!(rc, SEALDB_OK, "node {id}: {}", last_error());
        let mut conn = null_mut();
        assert_eq!(unsafe { sealdb_connect_root(db, &mut conn) }, SEALDB_OK);
        dbs.push(db);
        conns.push(conn);
    }
    // The leader, as SHOW CLUSTER tells it (columns: node_id, address,
    // kind, role, ...).
    let end = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        let found = rows(conns[0], "SHOW CLUSTER")
            .ok()
            .and_then(|rs| rs.into_iter().find(|r| r[3] == "leader"))
            .map(|r| r[0].parse::<usize>().unwrap());
        if let Some(l) = found {
            break l;
        }
        assert!(Instant::now() < end, "no leader");
        std::thread::sleep(Duration::from_millis(50));
    };
    let l = conns[leader - 1];
    assert_eq!(
        exec(l, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
        SEALDB_OK,
        "{}",
        conn_error(l)
    );
    assert_eq!(exec(l, "INSERT INTO t VALUES (1, 'over quic')"), SEALDB_OK);
    for (i, conn) in conns.iter().enumerate() {
        assert_eq!(
            exec(*conn, "SET read_consistency = 'linearizable'"),
            SEALDB_OK
        );
        assert_eq!(
            rows(*conn, "SELECT v FROM t"),
            Ok(vec![vec!["over quic".to_string()]]),
            "node {}",
            i + 1
        );
    }
    // Refusing writes on a follower is the configuration's choice; here
    // they are forwarded (the default): a follower's insert commits.
    let follower = conns[leader % 3];
    assert_eq!(
        exec(follower, "INSERT INTO t VALUES (2, 'forwarded')"),
        SEALDB_OK,
        "{}",
        conn_error(follower)
    );
    for conn in conns {
        sealdb_conn_free(conn);
    }
    for db in dbs {
        sealdb_db_free(db);
    }
}

#[test]
fn bad_node_configurations_are_refused_with_their_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = CertsDir::new(tmp.path().join("certs"));
    let ca_key = tmp.path().join("ca.key");
    cert::create_ca(&certs, &ca_key, "ffi", Validity::days_from_now(2), false).unwrap();
    cert::create_node(
        &certs,
        &ca_key,
        &NodeCertRequest {
            node_id: 7,
            hosts: vec![],
            ocsp_url: None,
            validity: Validity::days_from_now(1),
        },
        false,
    )
    .unwrap();
    let key = c(tmp.path().join("node1.key").to_str().unwrap());
    assert_eq!(
        unsafe { sealdb_key_file_generate(key.as_ptr(), 256) },
        SEALDB_OK
    );
    let open = |config: &CString| {
        let mut db = null_mut();
        let rc = unsafe { sealdb_db_open_node(config.as_ptr(), &mut db) };
        assert!(db.is_null());
        (rc, last_error())
    };
    // Node 1 with node 7's certificate (copied to where node 1's goes).
    std::fs::copy(certs.node_cert(7), certs.node_cert(1)).unwrap();
    std::fs::copy(certs.node_key(7), certs.node_key(1)).unwrap();
    let config = write_config(tmp.path(), 1, free_udp_port(), "", "certs");
    let (rc, msg) = open(&config);
    assert_eq!(rc, SEALDB_ERR_CERTIFICATE, "{msg}");
    assert!(msg.contains("node 7"), "{msg}");
    // No certificates at all.
    let config = write_config(tmp.path(), 1, free_udp_port(), "", "nowhere");
    let (rc, msg) = open(&config);
    assert_ne!(rc, SEALDB_OK, "{msg}");
    // A misspelt setting.
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "node_id = 1
node_idd = 2
",
    )
    .unwrap();
    let (rc, msg) = open(&c(bad.to_str().unwrap()));
    assert_eq!(rc, SEALDB_ERR_INVALID_ARGUMENT, "{msg}");
    // No file; a NULL path.
    let (rc, _) = open(&c("/nonexistent/node.toml"));
    assert_eq!(rc, SEALDB_ERR_IO);
    let mut db = null_mut();
    assert_eq!(
        unsafe { sealdb_db_open_node(null(), &mut db) },
        SEALDB_ERR_NULL_ARGUMENT
    );
}
