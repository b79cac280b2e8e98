//! Attacks on GRANT/REVOKE, as an ordinary user (issue 13, item 11):
//! every grant records its grantor; REVOKE removes only what the revoker
//! (or a role it acts for) granted — admins and the object's owner may
//! revoke any grant on it; revoking a privilege or its grant option from
//! someone who passed it on is refused (RESTRICT, the default) or takes
//! the dependent grants too (CASCADE), as in PostgreSQL, cycles included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;
use attack_common::*;

const SETUP: &str = "
CREATE TABLE t (id INTEGER PRIMARY KEY, pub TEXT, secret TEXT);
INSERT INTO t VALUES (1, 'p1', 's1');
CREATE ROLE team;
";

fn lab() -> Lab {
    let mut lab = Lab::new(SETUP);
    lab.user("alice").user("bob").user("carol").user("dave");
    lab
}

fn can_read(lab: &mut Lab, who: &str) -> bool {
    lab.try_run(who, "SELECT id FROM t").is_ok()
}

#[test]
fn revoke_removes_only_what_the_revoker_granted() {
    let mut n = Attacks::new("grantors/revoke own grants only (item 11)");
    let setup = "GRANT SELECT ON t TO alice WITH GRANT OPTION;
                 GRANT SELECT ON t TO bob WITH GRANT OPTION";
    // bob holds the grant option, but did not grant these: nothing goes.
    for (attack, victim) in [
        ("REVOKE SELECT ON t FROM carol", "carol"),
        ("REVOKE SELECT ON t FROM carol CASCADE", "carol"),
        ("REVOKE SELECT ON t FROM alice", "alice"),
        ("REVOKE SELECT ON t FROM alice CASCADE", "alice"),
        ("REVOKE GRANT OPTION FOR SELECT ON t FROM alice", "alice"),
        ("REVOKE ALL ON t FROM alice, carol CASCADE", "carol"),
        ("REVOKE SELECT ON t FROM public", "carol"),
    ] {
        let mut lab = lab();
        lab.as_root(setup);
        lab.ok("alice", "GRANT SELECT ON t TO carol WITH GRANT OPTION");
        let before = dump(&lab.db);
        // Honoured as a no-op (as PostgreSQL does) or refused: either way
        // nothing of alice's grants goes.
        let _ = lab.try_run("bob", attack);
        assert_eq!(
            before,
            dump(&lab.db),
            "{attack} removed someone else's grant"
        );
        assert!(can_read(&mut lab, victim), "{attack}");
        n.tried();
    }
    // Without any grant option one may revoke nothing.
    for attack in [
        "REVOKE SELECT ON t FROM alice",
        "REVOKE SELECT ON t FROM carol CASCADE",
        "REVOKE GRANT OPTION FOR SELECT ON t FROM alice",
    ] {
        let mut lab = lab();
        lab.as_root(setup);
        lab.ok("alice", "GRANT SELECT ON t TO carol");
        lab.denied("carol", attack);
        n.tried();
    }
    // Through a role: grants made with team's option are team's; only
    // its members (and admins, the owner) may revoke them.
    let mut lab = lab();
    lab.as_root("GRANT SELECT ON t TO team WITH GRANT OPTION; GRANT team TO alice, bob");
    lab.ok("alice", "GRANT SELECT ON t TO dave");
    assert!(lab
        .root_rows("SHOW GRANTS ON t FOR dave")
        .ends_with("|team"));
    lab.denied("carol", "REVOKE SELECT ON t FROM dave");
    n.tried();
    lab.ok("bob", "REVOKE SELECT ON t FROM dave");
    assert!(!can_read(&mut lab, "dave"));
    // The owner may revoke any grant on its object.
    let mut lab = self::lab();
    lab.as_root("GRANT CREATE ON DATABASE main TO bob");
    lab.ok("bob", "CREATE TABLE b (x INTEGER)");
    lab.ok("bob", "GRANT SELECT ON b TO alice WITH GRANT OPTION");
    lab.ok("alice", "GRANT SELECT ON b TO carol");
    lab.ok("bob", "REVOKE SELECT ON b FROM carol");
    assert!(lab.try_run("carol", "SELECT * FROM b").is_err());
}

#[test]
fn revoking_what_was_passed_on_is_restricted_or_cascades() {
    let mut n = Attacks::new("grantors/RESTRICT and CASCADE (item 11)");
    let chain = "GRANT SELECT ON t TO alice WITH GRANT OPTION";
    // RESTRICT (default or explicit): refused while dependents exist.
    for stmt in [
        "REVOKE SELECT ON t FROM alice",
        "REVOKE SELECT ON t FROM alice RESTRICT",
        "REVOKE GRANT OPTION FOR SELECT ON t FROM alice",
        "REVOKE ALL ON t FROM alice",
    ] {
        let mut lab = lab();
        lab.as_root(chain);
        lab.ok("alice", "GRANT SELECT ON t TO bob WITH GRANT OPTION");
        lab.ok("bob", "GRANT SELECT ON t TO carol");
        let e = lab.refused("root", stmt);
        assert!(e.to_string().contains("dependent privileges"), "{e}");
        n.tried();
    }
    // bob, in the middle, may not keep carol's grant alive by himself.
    let mut lab = lab();
    lab.as_root(chain);
    lab.ok("alice", "GRANT SELECT ON t TO bob WITH GRANT OPTION");
    lab.ok("bob", "GRANT SELECT ON t TO carol");
    lab.refused("alice", "REVOKE SELECT ON t FROM bob");
    lab.ok("alice", "REVOKE SELECT ON t FROM bob CASCADE");
    assert!(!can_read(&mut lab, "bob"));
    assert!(!can_read(&mut lab, "carol"));
    assert!(can_read(&mut lab, "alice"));
    n.tried();
    // CASCADE from the top takes the whole chain.
    let mut lab = self::lab();
    lab.as_root(chain);
    lab.ok("alice", "GRANT SELECT ON t TO bob WITH GRANT OPTION");
    lab.ok("bob", "GRANT SELECT ON t TO carol WITH GRANT OPTION");
    lab.ok("carol", "GRANT SELECT ON t TO dave");
    lab.as_root("REVOKE SELECT ON t FROM alice CASCADE");
    for who in ["alice", "bob", "carol", "dave"] {
        assert!(!can_read(&mut lab, who), "{who}");
    }
    n.tried();
    // Revoking only the grant option cascades to what was granted with it.
    let mut lab = self::lab();
    lab.as_root(chain);
    lab.ok("alice", "GRANT SELECT ON t TO bob");
    lab.as_root("REVOKE GRANT OPTION FOR SELECT ON t FROM alice CASCADE");
    assert!(can_read(&mut lab, "alice"));
    assert!(!can_read(&mut lab, "bob"));
    lab.denied("alice", "GRANT SELECT ON t TO carol");
    n.tried();
    // A cycle does not hold itself up.
    let mut lab = self::lab();
    lab.as_root(chain);
    lab.ok("alice", "GRANT SELECT ON t TO bob WITH GRANT OPTION");
    lab.ok("bob", "GRANT SELECT ON t TO alice WITH GRANT OPTION");
    lab.ok("bob", "GRANT SELECT ON t TO carol");
    lab.as_root("REVOKE SELECT ON t FROM alice CASCADE");
    for who in ["alice", "bob", "carol"] {
        assert!(!can_read(&mut lab, who), "{who}");
    }
    n.tried();
    // A second, independent grantor keeps a grant alive.
    let mut lab = self::lab();
    lab.as_root("GRANT SELECT ON t TO alice, bob WITH GRANT OPTION");
    lab.ok("alice", "GRANT SELECT ON t TO carol");
    lab.ok("bob", "GRANT SELECT ON t TO carol");
    lab.as_root("REVOKE SELECT ON t FROM alice CASCADE");
    assert!(can_read(&mut lab, "carol"));
    lab.ok("bob", "REVOKE SELECT ON t FROM carol");
    assert!(!can_read(&mut lab, "carol"));
    n.tried();
    // Dropping a grantor takes what it granted.
    let mut lab = self::lab();
    lab.as_root(chain);
    lab.ok("alice", "GRANT SELECT ON t TO carol");
    lab.as_root("DROP USER alice");
    assert!(!can_read(&mut lab, "carol"));
    n.tried();
}

#[test]
fn column_and_database_grant_options_are_tracked() {
    let mut n = Attacks::new("grantors/columns and database (item 11)");
    let mut lab = lab();
    lab.as_root("GRANT SELECT (id, pub) ON t TO alice WITH GRANT OPTION");
    lab.denied("alice", "GRANT SELECT (secret) ON t TO bob");
    lab.denied("alice", "GRANT SELECT ON t TO bob");
    lab.denied("alice", "GRANT UPDATE (pub) ON t TO bob");
    for _ in 0..3 {
        n.tried();
    }
    lab.ok("alice", "GRANT SELECT (pub) ON t TO bob");
    assert_eq!(lab.ok("bob", "SELECT pub FROM t"), "p1");
    lab.refused("root", "REVOKE SELECT (pub) ON t FROM alice");
    lab.refused("root", "REVOKE GRANT OPTION FOR SELECT ON t FROM alice");
    n.tried();
    n.tried();
    lab.as_root("REVOKE SELECT (pub) ON t FROM alice CASCADE");
    assert!(lab.try_run("bob", "SELECT pub FROM t").is_err());
    // A database-wide grant option: grants made with it go with it.
    let mut lab = self::lab();
    lab.as_root("GRANT SELECT ON DATABASE main TO alice WITH GRANT OPTION");
    lab.ok("alice", "GRANT SELECT ON t TO bob");
    assert!(lab
        .root_rows("SHOW GRANTS ON t FOR bob")
        .ends_with("|alice"));
    lab.refused("root", "REVOKE SELECT ON DATABASE main FROM alice");
    lab.as_root("REVOKE SELECT ON DATABASE main FROM alice CASCADE");
    assert!(!can_read(&mut lab, "bob"));
    n.tried();
    n.tried();
    // A new owner takes over the grants the old one made.
    let mut lab = self::lab();
    lab.as_root("GRANT CREATE ON DATABASE main TO bob");
    lab.ok("bob", "CREATE TABLE b (x INTEGER)");
    lab.ok("bob", "GRANT SELECT ON b TO carol");
    lab.as_root("ALTER TABLE b OWNER TO alice");
    assert!(lab.try_run("carol", "SELECT * FROM b").is_ok());
    assert!(lab
        .root_rows("SHOW GRANTS ON b FOR carol")
        .ends_with("|alice"));
    lab.denied("bob", "REVOKE SELECT ON b FROM carol");
    n.tried();
}
