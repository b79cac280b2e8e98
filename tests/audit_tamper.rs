//! The audit log on a real directory, attacked on disk while the database
//! is closed: a byte edited, a record deleted, two records swapped, the
//! tail cut off, a whole segment deleted, and a key holder re-sealing a
//! forged segment (valid MACs, a record left out). After reopening,
//! `Db::audit_verify` must name the first bad record by its sequence
//! number. Also: the JSON-lines export with its hash chain.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use sealdb::vfs::{FileKind, HEADER_LEN};
use sealdb::{ClientInfo, Credentials, Db, FileKeyProvider, Options, PasswordCost};
use sha2::{Digest, Sha256};

/// Bytes a record of `n` payload bytes takes on disk (frame + MAC tag).
fn on_disk(n: usize) -> u64 {
    (sealdb::vfs::sealed::RECORD_OVERHEAD + n + 16) as u64
}

struct Store {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    key: PathBuf,
}

fn options() -> Options {
    Options {
        password_cost: PasswordCost::dangerous_minimal(),
        ..Options::default()
    }
}

impl Store {
    fn new() -> Store {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("store.key");
        sealdb::crypto::provider::generate_key_file(&key, 256).unwrap();
        let dir = tmp.path().join("db");
        Store {
            _tmp: tmp,
            dir,
            key,
        }
    }

    fn open(&self) -> Db {
        Db::open_with(
            &self.dir,
            FileKeyProvider::new(&self.key).unwrap(),
            options(),
        )
        .unwrap()
    }

    /// The audit segments, sorted.
    fn segments(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("AUDIT-") && n.ends_with(".log"))
            .collect();
        v.sort();
        v
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// One record as found on disk.
#[derive(Clone, Debug)]
struct Rec {
    file: String,
    /// File offset of the record's first byte.
    at: u64,
    /// Its length on disk.
    len: u64,
    seq: u64,
    payload: Vec<u8>,
}

/// Where every record is (read with the key, through the open store).
fn layout(store: &Store) -> Vec<Rec> {
    let db = store.open();
    let sealed = db.engine().sealed_dir();
    let mut out = Vec::new();
    for name in store.segments() {
        let r = sealed.open_file(&name, FileKind::AuditLog).unwrap();
        for item in r.records() {
            let (offset, payload) = item.unwrap();
            out.push(Rec {
                file: name.clone(),
                at: HEADER_LEN + offset,
                len: on_disk(payload.len()),
                seq: u64::from_le_bytes(payload[..8].try_into().unwrap()),
                payload,
            });
        }
    }
    out
}

/// A log of three segments (one per open) holding logins ok and failed,
/// security changes, audited reads and writes and denied statements.
fn build() -> (Store, Vec<Rec>) {
    let store = Store::new();
    {
        let db = store.open();
        let root = db.root_session();
        root.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)", &[])
            .unwrap();
        root.execute("CREATE USER alice WITH PASSWORD 'pw'", &[])
            .unwrap();
        root.execute("GRANT SELECT, INSERT ON t TO alice", &[])
            .unwrap();
        root.execute("ALTER TABLE t EXPERIMENTAL_AUDIT SET READ WRITE", &[])
            .unwrap();
        // Bound values are redacted by default; this log opts in to them.
        root.execute("SET CLUSTER SETTING sql.audit.redact_values = false", &[])
            .unwrap();
    }
    {
        let db = store.open();
        let _ = db.connect(
            Credentials::password("alice", "wrong"),
            ClientInfo::local("tamper"),
        );
        let alice = db
            .connect(
                Credentials::password("alice", "pw"),
                ClientInfo::new(Some("10.0.0.1".parse().unwrap()), "tamper"),
            )
            .unwrap();
        for i in 0..4 {
            alice
                .execute("INSERT INTO t VALUES ($1, 'x')", &[&i])
                .unwrap();
        }
        alice
            .query("SELECT * FROM t", &[])
            .unwrap()
            .collect_all()
            .unwrap();
        assert!(alice.execute("DELETE FROM t", &[]).is_err());
    }
    {
        let db = store.open();
        let root = db.root_session();
        root.execute("CREATE ROLE auditors", &[]).unwrap();
        root.execute("GRANT auditors TO alice", &[]).unwrap();
        let alice = db
            .connect(Credentials::password("alice", "pw"), ClientInfo::local("t"))
            .unwrap();
        assert!(alice.execute("DROP TABLE t", &[]).is_err());
        alice
            .execute("INSERT INTO t VALUES (10, 'y')", &[])
            .unwrap();
    }
    let recs = layout(&store);
    assert_eq!(store.segments().len(), 3, "one segment per open that wrote");
    let seqs: Vec<u64> = recs.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=recs.len() as u64).collect::<Vec<_>>());
    assert!(recs.len() >= 15, "{} records", recs.len());
    let db = store.open();
    let report = db.audit_verify().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.intact, recs.len() as u64);
    assert_eq!(report.head_seq, recs.len() as u64);
    (store, recs)
}

/// Reopens and returns the seq of the first bad record (None: intact).
fn first_bad(store: &Store) -> Option<sealdb::BadRecord> {
    let db = store.open();
    db.audit_verify().unwrap().first_bad
}

fn expect_bad(store: &Store, seq: u64, what: &str) {
    let bad = first_bad(store).unwrap_or_else(|| panic!("{what}: not detected"));
    assert_eq!(bad.seq, seq, "{what}: wrong record named: {bad}");
    // The report is for people: it names the record and the file.
    let text = bad.to_string();
    assert!(text.contains(&format!("record {seq}")), "{text}");
}

/// A record in the middle of segment `seg` (0-based) that is not its
/// first or last.
fn middle(recs: &[Rec], store: &Store, seg: usize) -> Rec {
    let name = &store.segments()[seg];
    let in_seg: Vec<&Rec> = recs.iter().filter(|r| &r.file == name).collect();
    assert!(in_seg.len() >= 3, "segment {name} too small");
    in_seg[in_seg.len() / 2].clone()
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn intact_log_verifies_and_exports_json_lines() {
    let (store, recs) = build();
    let db = store.open();
    let mut out = Vec::new();
    let report = db.audit_export(&mut out).unwrap();
    assert!(report.is_intact());
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), recs.len());
    let mut prev = "0".repeat(64);
    for (i, (line, rec)) in lines.iter().zip(&recs).enumerate() {
        assert!(line.starts_with(&format!("{{\"seq\":{},", i + 1)), "{line}");
        assert!(line.ends_with('}'), "{line}");
        // The chain: each line's prev_hash is the hash of the line before,
        // and hash is SHA-256 of the stored payload.
        let hash: String = Sha256::digest(&rec.payload)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(
            line.contains(&format!("\"prev_hash\":\"{prev}\",\"hash\":\"{hash}\"")),
            "line {}: {line}",
            i + 1
        );
        prev = hash;
    }
    assert_eq!(prev, report.head_hash, "the last hash is the head");
    // What was recorded.
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has("\"event\":\"login_failed\""));
    assert!(has("\"event\":\"login\""));
    assert!(has("\"event\":\"security\""));
    assert!(has("\"event\":\"denied\""));
    assert!(has(
        "\"statement\":\"INSERT INTO t VALUES ($1, 'x')\",\"values\":[\"3\"]"
    ));
    assert!(has("\"client_address\":\"10.0.0.1\""));
    assert!(!text.contains("'pw'"), "a password reached the log");
    // Verifying and exporting write nothing: a second export is the same.
    let mut again = Vec::new();
    db.audit_export(&mut again).unwrap();
    assert_eq!(again, text.as_bytes());
}

#[test]
fn edited_byte_names_that_record() {
    let (store, recs) = build();
    for seg in 0..3 {
        let r = middle(&recs, &store, seg);
        // Flip one byte of the payload, then put it back, then flip the tag.
        edit(&store.path(&r.file), |b| b[(r.at + 20) as usize] ^= 0x01);
        expect_bad(&store, r.seq, "payload byte edited");
        edit(&store.path(&r.file), |b| b[(r.at + 20) as usize] ^= 0x01);
        assert!(first_bad(&store).is_none(), "restored");
        edit(&store.path(&r.file), |b| {
            b[(r.at + r.len - 1) as usize] ^= 0x80
        });
        expect_bad(&store, r.seq, "tag byte edited");
        edit(&store.path(&r.file), |b| {
            b[(r.at + r.len - 1) as usize] ^= 0x80
        });
    }
    // The length field too.
    let r = middle(&recs, &store, 1);
    edit(&store.path(&r.file), |b| b[r.at as usize + 1] ^= 0x10);
    expect_bad(&store, r.seq, "length edited");
}

#[test]
fn edited_first_and_last_records() {
    let (store, recs) = build();
    let first = recs.first().unwrap().clone();
    edit(&store.path(&first.file), |b| {
        b[(first.at + 30) as usize] ^= 0xff
    });
    expect_bad(&store, 1, "first record edited");
    let (store, recs) = build();
    let last = recs.last().unwrap().clone();
    edit(&store.path(&last.file), |b| {
        b[(last.at + 30) as usize] ^= 0xff
    });
    expect_bad(&store, last.seq, "last record edited");
}

#[test]
fn edited_segment_header_names_its_first_record() {
    let (store, recs) = build();
    let name = store.segments()[1].clone();
    let first_in = recs.iter().find(|r| r.file == name).unwrap().seq;
    // Byte 40 is in the IV: every record's MAC and keystream change.
    edit(&store.path(&name), |b| b[40] ^= 0x01);
    expect_bad(&store, first_in, "segment header edited");
}

#[test]
fn deleted_record_is_named() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 1);
    edit(&store.path(&r.file), |b| {
        b.drain(r.at as usize..(r.at + r.len) as usize);
    });
    expect_bad(&store, r.seq, "record deleted");
}

#[test]
fn swapped_records_are_named() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 1);
    let next = recs.iter().find(|x| x.seq == r.seq + 1).unwrap().clone();
    assert_eq!(next.file, r.file);
    edit(&store.path(&r.file), |b| {
        let a = b[r.at as usize..(r.at + r.len) as usize].to_vec();
        let c = b[next.at as usize..(next.at + next.len) as usize].to_vec();
        let mut swapped = c;
        swapped.extend_from_slice(&a);
        b.splice(r.at as usize..(next.at + next.len) as usize, swapped);
    });
    expect_bad(&store, r.seq, "records swapped");
}

#[test]
fn swapped_segments_are_named() {
    let (store, recs) = build();
    let segs = store.segments();
    let first_of_second = recs.iter().find(|r| r.file == segs[1]).unwrap().seq;
    let tmp = store.path("swap.tmp");
    std::fs::rename(store.path(&segs[1]), &tmp).unwrap();
    std::fs::rename(store.path(&segs[2]), store.path(&segs[1])).unwrap();
    std::fs::rename(&tmp, store.path(&segs[2])).unwrap();
    // A segment is sealed with its own IV, and names are not in the MAC, so
    // the records read fine: the sequence numbers give it away.
    let bad = first_bad(&store).expect("segments swapped: not detected");
    assert_eq!(bad.seq, first_of_second, "{bad}");
    assert!(bad.problem.contains("removed or reordered"), "{bad}");
}

#[test]
fn truncated_tail_is_named() {
    // Whole records cut off the end.
    let (store, recs) = build();
    let last = recs.last().unwrap().clone();
    let before = recs[recs.len() - 2].clone();
    assert_eq!(before.file, last.file);
    edit(&store.path(&last.file), |b| b.truncate(before.at as usize));
    expect_bad(&store, before.seq, "two records cut off");
    let bad = first_bad(&store).unwrap();
    assert!(bad.problem.contains("truncated"), "{bad}");
    assert_eq!(bad.offset, None);

    // Cut in the middle of the last record but one: the rest is missing.
    let (store, recs) = build();
    let before = recs[recs.len() - 2].clone();
    edit(&store.path(&before.file), |b| {
        b.truncate((before.at + before.len / 2) as usize)
    });
    expect_bad(&store, before.seq, "last records cut in half");
}

/// The last record alone cut off, whole or in half, is what a crash while
/// writing it leaves: the store's head holds that record (storing the head
/// commits it), so opening writes it back and nothing is lost.
#[test]
fn last_record_cut_off_is_restored_from_the_head() {
    for half in [false, true] {
        let (store, recs) = build();
        let last = recs.last().unwrap().clone();
        let cut = if half {
            last.at + last.len / 2
        } else {
            last.at
        };
        edit(&store.path(&last.file), |b| b.truncate(cut as usize));
        let segments_before = store.segments().len();
        let db = store.open();
        let mut out = Vec::new();
        let report = db.audit_export(&mut out).unwrap();
        assert!(report.is_intact(), "half={half}: {report:?}");
        assert_eq!(report.intact, last.seq);
        let hash: String = Sha256::digest(&last.payload)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.lines().last().unwrap().contains(&hash),
            "the restored record is the original"
        );
        drop(db);
        assert_eq!(
            store.segments().len(),
            segments_before + 1,
            "written to a new segment"
        );
        let recs_now = layout(&store);
        assert_eq!(recs_now.last().unwrap().payload, last.payload);
    }
}

#[test]
fn deleted_segment_is_named() {
    for which in 0..3 {
        let (store, recs) = build();
        let name = store.segments()[which].clone();
        let first_in = recs.iter().find(|r| r.file == name).unwrap().seq;
        std::fs::remove_file(store.path(&name)).unwrap();
        expect_bad(&store, first_in, &format!("segment {name} deleted"));
    }
}

#[test]
fn all_segments_deleted_is_detected() {
    let (store, _) = build();
    for name in store.segments() {
        std::fs::remove_file(store.path(&name)).unwrap();
    }
    expect_bad(&store, 1, "every segment deleted");
}

#[test]
fn appends_after_a_detected_problem_do_not_hide_it() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 0);
    edit(&store.path(&r.file), |b| b[(r.at + 20) as usize] ^= 0x01);
    {
        let db = store.open();
        db.root_session()
            .execute("CREATE USER later WITH PASSWORD 'x'", &[])
            .unwrap();
    }
    expect_bad(&store, r.seq, "edit followed by new records");
}

/// Re-seals segment `name` with the store's keys, holding `payloads`:
/// what an attacker holding the key can do. Written through the open
/// store's `SealedDir` under another name, moved in place once closed.
fn reseal(store: &Store, name: &str, payloads: &[Vec<u8>]) {
    let forged = format!("{name}.forged");
    {
        let db = store.open();
        let mut w = db
            .engine()
            .sealed_dir()
            .create_file(&forged, FileKind::AuditLog)
            .unwrap();
        for p in payloads {
            w.append_record(p).unwrap();
        }
        w.sync().unwrap();
    }
    std::fs::rename(store.path(&forged), store.path(name)).unwrap();
}

fn payload(seq: u64, prev: &[u8; 32], json: &[u8]) -> Vec<u8> {
    let mut p = seq.to_le_bytes().to_vec();
    p.extend_from_slice(prev);
    p.extend_from_slice(json);
    p
}

#[test]
fn key_holder_removing_a_record_is_caught_by_the_chain() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 1);
    let kept: Vec<Vec<u8>> = recs
        .iter()
        .filter(|x| x.file == r.file && x.seq != r.seq)
        .map(|x| x.payload.clone())
        .collect();
    reseal(&store, &r.file, &kept);
    // Every MAC is valid now; the sequence numbers are not.
    let bad = first_bad(&store).expect("forged segment: not detected");
    assert_eq!(bad.seq, r.seq, "{bad}");
    assert!(bad.problem.contains("removed or reordered"), "{bad}");
}

#[test]
fn key_holder_renumbering_without_rechaining_is_caught() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 1);
    // Drop record r and renumber the rest of the segment, keeping each
    // record's stored prev-hash: the chain breaks right after the gap.
    let kept: Vec<Vec<u8>> = recs
        .iter()
        .filter(|x| x.file == r.file && x.seq != r.seq)
        .map(|x| {
            let mut p = x.payload.clone();
            if x.seq > r.seq {
                p[..8].copy_from_slice(&(x.seq - 1).to_le_bytes());
            }
            p
        })
        .collect();
    reseal(&store, &r.file, &kept);
    let bad = first_bad(&store).expect("renumbered: not detected");
    assert_eq!(bad.seq, r.seq, "{bad}");
    assert!(bad.problem.contains("chain"), "{bad}");
}

#[test]
fn key_holder_editing_a_record_and_its_mac_is_caught_by_the_chain() {
    let (store, recs) = build();
    let r = middle(&recs, &store, 1);
    let payloads: Vec<Vec<u8>> = recs
        .iter()
        .filter(|x| x.file == r.file)
        .map(|x| {
            if x.seq == r.seq {
                let text = String::from_utf8_lossy(&x.payload[40..]).replace("alice", "bobby");
                payload(x.seq, x.payload[8..40].try_into().unwrap(), text.as_bytes())
            } else {
                x.payload.clone()
            }
        })
        .collect();
    assert_ne!(
        payloads,
        recs.iter()
            .filter(|x| x.file == r.file)
            .map(|x| x.payload.clone())
            .collect::<Vec<_>>()
    );
    reseal(&store, &r.file, &payloads);
    // The edited record reads fine and its own prev-hash is right; the
    // next record's prev-hash no longer matches it.
    let bad = first_bad(&store).expect("edited and re-sealed: not detected");
    assert_eq!(bad.seq, r.seq + 1, "{bad}");
    assert!(bad.problem.contains("chain"), "{bad}");
}

#[test]
fn key_holder_rewriting_the_whole_tail_is_caught_by_the_head() {
    let (store, recs) = build();
    let last_seg = store.segments()[2].clone();
    let r = middle(&recs, &store, 2);
    // A careful forger: drop record r, renumber and re-chain everything
    // after it. Only the head kept in the store (or an anchor outside the
    // database) can tell.
    let mut prev: [u8; 32] = recs
        .iter()
        .find(|x| x.seq == r.seq - 1)
        .map(|x| Sha256::digest(&x.payload).into())
        .unwrap();
    let mut forged = Vec::new();
    for x in recs.iter().filter(|x| x.file == last_seg) {
        if x.seq < r.seq {
            forged.push(x.payload.clone());
        } else if x.seq > r.seq {
            let p = payload(x.seq - 1, &prev, &x.payload[40..]);
            prev = Sha256::digest(&p).into();
            forged.push(p);
        }
    }
    reseal(&store, &last_seg, &forged);
    let last = recs.last().unwrap().seq;
    let bad = first_bad(&store).expect("re-chained tail: not detected");
    assert_eq!(bad.seq, last, "{bad}");
    assert!(bad.problem.contains("truncated"), "{bad}");
}

#[test]
fn truncated_tail_stays_detected_after_new_records() {
    let (store, recs) = build();
    // Two records: the head restores only the last one.
    let last = recs[recs.len() - 2].clone();
    edit(&store.path(&last.file), |b| b.truncate(last.at as usize));
    {
        let db = store.open();
        db.root_session()
            .execute("CREATE USER later WITH PASSWORD 'x'", &[])
            .unwrap();
    }
    // The new records continue from the stored head, so the gap shows.
    let bad = first_bad(&store).expect("cut tail then appended: not detected");
    assert_eq!(bad.seq, last.seq, "{bad}");
}
