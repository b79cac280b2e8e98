//! Rowids across transactions, as an ordinary user (stop 41): a committed
//! transaction leaves the table's largest rowid to the next transaction
//! that reads at exactly its commit, and a long transaction's undo log
//! forgets finished statements. The attack: write between another user's
//! transactions (rows she cannot see) so that her next insert at a rowid
//! already taken would be trusted as new, overwriting the hidden row; or
//! fail a statement inside her own long transaction so that the forgotten
//! undo entries leave part of it behind. Each must fail: the insert is
//! refused as a duplicate, the hidden row is intact, a rowid-less insert
//! takes the true largest + 1, a failed statement leaves nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

use sealdb::ErrorCode;

#[test]
fn a_stale_largest_rowid_never_overwrites_a_hidden_row() {
    let mut n = Attacks::new("rowids across transactions");
    let db = open_db();
    let root = db.root_session();
    own_notes(&root, &["alice", "bob"]);
    let alice = login(&db, "alice");
    let bob = login(&db, "bob");
    let ins = "INSERT INTO notes (id, owner, body) VALUES (?, current_user, ?)";
    let mut expect_bob = Vec::new();
    for round in 0..20i64 {
        // Alice commits a few rows: her session now knows the largest.
        let base = round * 10;
        alice.execute("BEGIN", &[]).unwrap();
        for i in base + 1..=base + 3 {
            alice.execute(ins, &[&i, &"alice"]).unwrap();
        }
        alice.execute("COMMIT", &[]).unwrap();
        // Bob writes right above it, in a transaction or alone.
        let b = base + 4;
        if round % 2 == 0 {
            bob.execute(ins, &[&b, &"bob secret"]).unwrap();
        } else {
            bob.execute("BEGIN", &[]).unwrap();
            bob.execute(ins, &[&b, &"bob secret"]).unwrap();
            bob.execute("COMMIT", &[]).unwrap();
        }
        expect_bob.push(format!("{b}|bob|bob secret"));
        // Alice inserts at bob's rowid, in a transaction or alone: refused.
        n.tried();
        let explicit = round % 3 != 0;
        if explicit {
            alice.execute("BEGIN", &[]).unwrap();
        }
        let e = alice.execute(ins, &[&b, &"alice overwrite"]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::SqlConstraint, "round {round}: {e}");
        // A rowid-less insert takes the true largest + 1.
        alice
            .execute(
                "INSERT INTO notes (owner, body) VALUES (current_user, 'auto')",
                &[],
            )
            .unwrap();
        assert_eq!(alice.last_insert_rowid(), b + 1, "round {round}");
        if explicit {
            alice.execute("COMMIT", &[]).unwrap();
        }
    }
    n.tried();
    let bobs_rows = || {
        run(
            &root,
            "SELECT id, owner, body FROM notes WHERE owner = 'bob' ORDER BY id",
        )
        .unwrap()
    };
    assert_eq!(bobs_rows(), expect_bob.join(";"));
    assert_eq!(
        run(
            &root,
            "SELECT count(*) FROM notes WHERE body = 'alice overwrite'"
        )
        .unwrap(),
        "0"
    );

    // In one long transaction of hers (the undo log forgets each finished
    // statement), a multi-row statement failing at its last row leaves
    // none of its rows, and a rollback leaves nothing at all.
    n.tried();
    let before = run(&root, "SELECT count(*), max(id) FROM notes").unwrap();
    alice.execute("BEGIN", &[]).unwrap();
    for i in 1000..1100i64 {
        alice.execute(ins, &[&i, &"long"]).unwrap();
    }
    let e = alice
        .execute(
            "INSERT INTO notes (id, owner, body) VALUES
             (2000, current_user, 'x'), (2001, current_user, 'y'), (4, current_user, 'z')",
            &[],
        )
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::SqlConstraint, "{e}");
    assert_eq!(
        run(&alice, "SELECT count(*) FROM notes WHERE id >= 2000").unwrap(),
        "0"
    );
    alice.execute("ROLLBACK", &[]).unwrap();
    assert_eq!(
        run(&root, "SELECT count(*), max(id) FROM notes").unwrap(),
        before
    );
    assert_eq!(bobs_rows(), expect_bob.join(";"));
}
