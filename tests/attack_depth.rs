//! Attacks on the stack (issue 13, class 6): statements nested so deeply
//! that parsing, binding, planning or evaluating them would overflow the
//! thread's stack and abort the embedding process.
//!
//! Every attack runs as an ordinary user on a thread with a 2 MiB stack
//! (debug builds have large frames, so this is the hard case). A statement
//! within the limits (`sealdb::depth`, anchored on SQLite's) must give the
//! right answer; one beyond them must be refused with
//! `SqlErrorKind::TooComplex` — and never take the process down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attack_common;

use sealdb::depth::{
    MAX_COMPOUND_SELECT, MAX_EXPR_DEPTH, MAX_JOIN_TABLES, MAX_TRIGGER_DEPTH, MAX_VIEW_DEPTH,
};
use sealdb::{ClientInfo, Credentials, Db, Error, ErrorCode, Session, SqlErrorKind, Value};

const SMALL_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with a 2 MiB stack.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .expect("the attack thread panicked")
}

/// A database with table t (x = 1, y = 'a') and an ordinary user mallory
/// who may read and write it and create tables and views.
fn db_with_mallory() -> Db {
    let db = attack_common::open_db();
    let root = db.root_session();
    for sql in [
        "CREATE TABLE t (x INTEGER, y TEXT)",
        "INSERT INTO t VALUES (1, 'a')",
        "CREATE USER mallory WITH PASSWORD 'm'",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON t TO mallory",
        "GRANT CREATE ON DATABASE main TO mallory",
    ] {
        root.execute(sql, &[]).unwrap();
    }
    db
}

fn mallory(db: &Db) -> Session {
    db.connect(
        Credentials::password("mallory", "m"),
        ClientInfo::local("attack"),
    )
    .unwrap()
}

fn query(s: &Session, sql: &str) -> Result<Vec<Vec<Value>>, Error> {
    Ok(s.query(sql, &[])?
        .collect_all()?
        .into_iter()
        .map(|r| r.into_values())
        .collect())
}

fn too_complex<T: std::fmt::Debug>(r: Result<T, Error>) {
    match r {
        Err(
            e @ Error::Sql {
                kind: SqlErrorKind::TooComplex,
                ..
            },
        ) => {
            assert_eq!(e.code(), ErrorCode::SqlTooComplex);
            assert_eq!(e.sqlstate(), "54001");
        }
        other => panic!("expected a TooComplex error, got {other:?}"),
    }
}

/// Runs `sql` as mallory on a small stack.
fn attack(sql: String) -> Result<Vec<Vec<Value>>, Error> {
    small_stack(move || {
        let db = db_with_mallory();
        let s = mallory(&db);
        query(&s, &sql)
    })
}

/// `first op term op term ...` with `n` operators: an expression `n + 1`
/// levels deep (a leaf is one level, as SQLite counts).
fn chain(first: &str, op: &str, term: &str, n: usize) -> String {
    let mut s = String::with_capacity(n * (op.len() + term.len()) + first.len());
    s.push_str(first);
    for _ in 0..n {
        s.push_str(op);
        s.push_str(term);
    }
    s
}

fn one(v: i64) -> Vec<Vec<Value>> {
    vec![vec![Value::Integer(v)]]
}

// ---- left-deep operator chains: SQLite's limit is the anchor ------------

#[test]
fn plus_chain_at_the_limit_runs() {
    let n = MAX_EXPR_DEPTH - 1;
    assert_eq!(
        attack(format!("SELECT {}", chain("1", "+", "1", n))).unwrap(),
        one(n as i64 + 1)
    );
}

#[test]
fn plus_chain_over_the_limit_is_refused() {
    for n in [MAX_EXPR_DEPTH, 2_000, 20_000, 200_000] {
        too_complex(attack(format!("SELECT {}", chain("1", "+", "1", n))));
    }
}

#[test]
fn and_chains_are_refused_not_fatal() {
    let n = MAX_EXPR_DEPTH - 1;
    assert_eq!(
        attack(format!(
            "SELECT x FROM t WHERE {}",
            chain("1", " AND ", "1", n)
        ))
        .unwrap(),
        one(1)
    );
    for n in [MAX_EXPR_DEPTH, 20_000] {
        too_complex(attack(format!(
            "SELECT x FROM t WHERE {}",
            chain("1", " AND ", "1", n)
        )));
    }
}

#[test]
fn or_of_comparisons_at_the_limit_runs() {
    // `x = 0 OR x = 0 OR ... OR x = 1`: 998 ORs over comparisons.
    let n = MAX_EXPR_DEPTH - 2;
    let sql = format!(
        "SELECT y FROM t WHERE {} OR x = 1",
        chain("x = 0", " OR ", "x = 0", n - 1)
    );
    assert_eq!(attack(sql).unwrap(), vec![vec![Value::Text("a".into())]]);
    too_complex(attack(format!(
        "SELECT y FROM t WHERE {}",
        chain("x = 0", " OR ", "x = 0", 50_000)
    )));
}

#[test]
fn concat_chains() {
    let n = MAX_EXPR_DEPTH - 1;
    let r = attack(format!("SELECT {}", chain("'a'", "||", "'a'", n))).unwrap();
    assert_eq!(r, vec![vec![Value::Text("a".repeat(n + 1))]]);
    for n in [6_000, 60_000] {
        too_complex(attack(format!("SELECT {}", chain("'a'", "||", "'a'", n))));
    }
}

#[test]
fn every_binary_operator_chain_is_bounded() {
    for op in [
        "-", "*", "/", "%", "=", "<>", "<", "<=", ">", ">=", "&", "|", " OR ", " LIKE ", " GLOB ",
    ] {
        too_complex(attack(format!("SELECT {}", chain("1", op, "1", 5_000))));
        // Just under the limit: runs (whatever the value; sealdb does
        // not support GLOB as an operator yet).
        let r = attack(format!(
            "SELECT {}",
            chain("1", op, "1", MAX_EXPR_DEPTH - 1)
        ));
        match r {
            Ok(_) => {}
            Err(Error::Sql {
                kind: SqlErrorKind::Unsupported,
                ..
            }) if op == " GLOB " => {}
            Err(e) => panic!("{op}: {e}"),
        }
    }
}

#[test]
fn postfix_chains_are_bounded() {
    for (first, piece) in [
        ("1", " IS NULL"),
        ("1", " IS NOT NULL"),
        ("1", " COLLATE NOCASE"),
        ("1", " BETWEEN 0 AND 2"),
        ("1", " IN (1, 2)"),
        ("'a'", " LIKE 'a'"),
    ] {
        too_complex(attack(format!(
            "SELECT {}",
            chain(first, "", piece, 20_000)
        )));
    }
}

#[test]
fn unary_chains_are_bounded() {
    for op in ["- ", "+ ", "~ ", "NOT "] {
        let r = attack(format!("SELECT {}1", op.repeat(20_000)));
        assert!(r.is_err(), "{op}: {r:?}");
        assert!(
            !matches!(
                r,
                Err(Error::Sql {
                    kind: SqlErrorKind::Unsupported,
                    ..
                })
            ),
            "{op}"
        );
    }
    // A modest unary chain still works.
    assert_eq!(
        attack(format!("SELECT {}1", "- ".repeat(40))).unwrap(),
        one(1)
    );
}

// ---- nesting through parentheses, calls, CASE and subqueries ----------

#[test]
fn nested_parentheses() {
    assert_eq!(
        attack(format!("SELECT {}1{}", "(".repeat(150), ")".repeat(150))).unwrap(),
        one(1)
    );
    for n in [250, 100_000] {
        too_complex(attack(format!(
            "SELECT {}1{}",
            "(".repeat(n),
            ")".repeat(n)
        )));
    }
}

#[test]
fn nested_function_calls() {
    assert_eq!(
        attack(format!("SELECT {}-1{}", "abs(".repeat(60), ")".repeat(60))).unwrap(),
        one(1)
    );
    for n in [300, 50_000] {
        too_complex(attack(format!(
            "SELECT {}1{}",
            "abs(".repeat(n),
            ")".repeat(n)
        )));
    }
}

#[test]
fn nested_scalar_subqueries() {
    assert_eq!(
        attack(format!(
            "SELECT {}x FROM t{}",
            "(SELECT ".repeat(40),
            ")".repeat(40)
        ))
        .unwrap(),
        one(1)
    );
    for n in [300, 50_000] {
        too_complex(attack(format!(
            "SELECT {}1{}",
            "(SELECT ".repeat(n),
            ")".repeat(n)
        )));
    }
}

#[test]
fn nested_exists_and_in_subqueries() {
    let sql = format!(
        "SELECT x FROM t WHERE {}1{}",
        "EXISTS (SELECT 1 WHERE ".repeat(40),
        ")".repeat(40)
    );
    assert_eq!(attack(sql).unwrap(), one(1));
    too_complex(attack(format!(
        "SELECT 1 WHERE {}1{}",
        "1 IN (SELECT ".repeat(20_000),
        ")".repeat(20_000)
    )));
}

#[test]
fn nested_derived_tables() {
    let sql = format!(
        "SELECT x FROM {}t{}",
        "(SELECT x FROM ".repeat(40),
        ")".repeat(40)
    );
    assert_eq!(attack(sql).unwrap(), one(1));
    too_complex(attack(format!(
        "SELECT x FROM {}t{}",
        "(SELECT x FROM ".repeat(5_000),
        ")".repeat(5_000)
    )));
}

#[test]
fn nested_case() {
    let n = 60;
    let sql = format!(
        "SELECT {}1{}",
        "CASE WHEN 1 THEN ".repeat(n),
        " END".repeat(n)
    );
    assert_eq!(attack(sql).unwrap(), one(1));
    too_complex(attack(format!(
        "SELECT {}1{}",
        "CASE WHEN 1 THEN ".repeat(20_000),
        " END".repeat(20_000)
    )));
}

#[test]
fn wide_but_shallow_statements_still_run() {
    // Many terms side by side are not deep: a CASE with 5,000 WHENs, an
    // IN list of 20,000, a select list of 2,000 sums, a 5,000-row VALUES.
    let whens: String = (0..5_000)
        .map(|i| format!(" WHEN x = {i} THEN {i}"))
        .collect();
    assert_eq!(
        attack(format!("SELECT CASE{whens} END FROM t")).unwrap(),
        one(1)
    );
    let list: Vec<String> = (0..20_000).map(|i| i.to_string()).collect();
    assert_eq!(
        attack(format!("SELECT x FROM t WHERE x IN ({})", list.join(","))).unwrap(),
        one(1)
    );
    let items: Vec<String> = (0..2_000).map(|_| "1+1".to_string()).collect();
    let r = attack(format!("SELECT {}", items.join(", "))).unwrap();
    assert_eq!(r[0].len(), 2_000);
    let rows: Vec<String> = (0..5_000).map(|i| format!("({i}, 'v')")).collect();
    small_stack(move || {
        let db = db_with_mallory();
        let s = mallory(&db);
        s.execute(&format!("INSERT INTO t VALUES {}", rows.join(",")), &[])
            .unwrap();
        assert_eq!(query(&s, "SELECT count(*) FROM t").unwrap(), one(5_001));
    });
}

// ---- compound SELECTs, joins ------------------------------------------

#[test]
fn compound_selects() {
    let n = MAX_COMPOUND_SELECT - 1;
    let sql = chain("SELECT 1", " UNION ALL ", "SELECT 1", n);
    let r = attack(format!("SELECT count(*) FROM ({sql})")).unwrap();
    assert_eq!(r, one(MAX_COMPOUND_SELECT as i64));
    for n in [MAX_COMPOUND_SELECT, 20_000] {
        too_complex(attack(chain("SELECT 1", " UNION ", "SELECT 1", n)));
    }
    // Commas do not hide the chain.
    too_complex(attack(chain(
        "SELECT 1, 2",
        " UNION ",
        "SELECT 1, 2",
        20_000,
    )));
}

#[test]
fn joins() {
    let n = MAX_JOIN_TABLES;
    let from: Vec<String> = (0..n).map(|i| format!("t AS a{i}")).collect();
    let r = attack(format!("SELECT count(*) FROM {}", from.join(" JOIN "))).unwrap();
    assert_eq!(r, one(1));
    let from: Vec<String> = (0..n + 1).map(|i| format!("t AS a{i}")).collect();
    too_complex(attack(format!("SELECT count(*) FROM {}", from.join(", "))));
    let from: Vec<String> = (0..5_000).map(|i| format!("t AS a{i}")).collect();
    too_complex(attack(format!("SELECT 1 FROM {}", from.join(" JOIN "))));
}

// ---- views --------------------------------------------------------------

#[test]
fn view_chains_are_bounded() {
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        s.execute("CREATE VIEW v0 AS SELECT x FROM t", &[]).unwrap();
        for i in 1..MAX_VIEW_DEPTH {
            s.execute(
                &format!("CREATE VIEW v{i} AS SELECT x + 1 AS x FROM v{}", i - 1),
                &[],
            )
            .unwrap();
        }
        let top = MAX_VIEW_DEPTH - 1;
        assert_eq!(
            query(&s, &format!("SELECT x FROM v{top}")).unwrap(),
            one(MAX_VIEW_DEPTH as i64)
        );
        // One more level is refused when it is used...
        s.execute(
            &format!("CREATE VIEW too_deep AS SELECT x FROM v{top}"),
            &[],
        )
        .unwrap();
        too_complex(query(&s, "SELECT x FROM too_deep"));
        too_complex(query(
            &s,
            "SELECT count(*) FROM t WHERE x IN (SELECT x FROM too_deep)",
        ));
        // ... and a chain built in two halves (the lower half redefined
        // under the upper one afterwards) never runs either: views are
        // bound to the objects they named when created, so the upper half
        // refuses to expand onto the replacement.
        s.execute("CREATE VIEW w0 AS SELECT x FROM t", &[]).unwrap();
        for i in 1..MAX_VIEW_DEPTH {
            s.execute(
                &format!("CREATE VIEW w{i} AS SELECT x FROM w{}", i - 1),
                &[],
            )
            .unwrap();
        }
        s.execute("DROP VIEW w0", &[]).unwrap();
        s.execute(&format!("CREATE VIEW w0 AS SELECT x FROM v{top}"), &[])
            .unwrap();
        for sql in [
            format!("SELECT x FROM w{top}"),
            format!("EXPLAIN SELECT x FROM w{top}"),
        ] {
            match query(&s, &sql) {
                Err(
                    e @ Error::Sql {
                        kind: SqlErrorKind::Misuse | SqlErrorKind::TooComplex,
                        ..
                    },
                ) => {
                    // The error does not name the views inside the chain.
                    assert!(!e.to_string().contains("v0"), "{e}");
                }
                other => panic!("{sql}: expected a refusal, got {other:?}"),
            }
        }
    });
}

#[test]
fn deep_view_definitions_survive_a_small_stack() {
    // A view whose expression is just under the limit, read through a
    // second view, by another user with SELECT on the view only.
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        let e = chain("x", "+", "1", MAX_EXPR_DEPTH - 1);
        s.execute(&format!("CREATE VIEW deep AS SELECT {e} AS v FROM t"), &[])
            .unwrap();
        s.execute("CREATE VIEW deeper AS SELECT v FROM deep", &[])
            .unwrap();
        let root = db.root_session();
        root.execute("CREATE USER eve WITH PASSWORD 'e'", &[])
            .unwrap();
        s.execute("GRANT SELECT ON deeper TO eve", &[]).unwrap();
        let eve = db
            .connect(Credentials::password("eve", "e"), ClientInfo::local("a"))
            .unwrap();
        assert_eq!(
            query(&eve, "SELECT v FROM deeper").unwrap(),
            one(MAX_EXPR_DEPTH as i64)
        );
    });
}

// ---- every place an expression can go -----------------------------------

#[test]
fn deep_expressions_in_every_clause() {
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        // Each template adds at most 3 levels around the chain.
        let ok = chain("0", "+", "0", MAX_EXPR_DEPTH - 4);
        let bad = chain("0", "+", "0", 30_000);
        let templates = [
            "SELECT x + {} FROM t",
            "SELECT x FROM t WHERE x = 1 + {}",
            "SELECT x FROM t ORDER BY {}",
            "SELECT x FROM t GROUP BY x HAVING count(*) = 1 + {}",
            "SELECT sum(1 + {}) FROM t",
            "SELECT x + {}, count(*) FROM t GROUP BY x + {}",
            "SELECT DISTINCT x + {} FROM t ORDER BY x + {}",
            "SELECT sum(x + {}), sum(x + {}) FROM t",
            "SELECT x FROM t LIMIT 1 + {}",
            "SELECT a.x FROM t a JOIN t b ON a.x = 1 + {}",
            "EXPLAIN SELECT x + {} FROM t",
            "INSERT INTO t VALUES (2 + {}, 'b')",
            "INSERT INTO t SELECT 3 + {}, 'c'",
            "UPDATE t SET x = x + {} WHERE x = 1",
            "DELETE FROM t WHERE x = 99 + {}",
            "UPDATE t SET x = x WHERE x = 1 RETURNING x + {}",
        ];
        for tpl in templates {
            let good = tpl.replace("{}", &ok);
            let r = s.query(&good, &[]).and_then(|r| r.collect_all());
            assert!(r.is_ok(), "{tpl}: {:?}", r.err());
            too_complex(s.query(&tpl.replace("{}", &bad), &[]).map(|_| ()));
            too_complex(s.execute(&tpl.replace("{}", &bad), &[]));
        }
        // Prepared, with parameters.
        let st = s
            .prepare(&format!("SELECT {}", chain("?", "+", "?", 500)))
            .unwrap();
        let params: Vec<i64> = vec![1; 501];
        let refs: Vec<&dyn sealdb::ToValue> =
            params.iter().map(|v| v as &dyn sealdb::ToValue).collect();
        let r = st.query(&refs).unwrap().collect_all().unwrap();
        assert_eq!(r[0].values(), &[Value::Integer(501)]);
        too_complex(s.prepare(&format!("SELECT {bad}")).map(|_| ()));
    });
}

#[test]
fn deep_definitions_in_ddl() {
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        let ok = chain("0", "+", "0", MAX_EXPR_DEPTH - 2);
        let bad = chain("0", "+", "0", 30_000);
        s.execute(
            &format!("CREATE TABLE d (a INTEGER DEFAULT (1 + {ok}), b)"),
            &[],
        )
        .unwrap();
        s.execute("INSERT INTO d (b) VALUES (1)", &[]).unwrap();
        assert_eq!(query(&s, "SELECT a FROM d").unwrap(), one(1));
        too_complex(s.execute(
            &format!("CREATE TABLE d2 (a INTEGER DEFAULT (1 + {bad}))"),
            &[],
        ));
        too_complex(s.execute(&format!("CREATE VIEW dv AS SELECT {bad}"), &[]));
        s.execute(
            &format!(
                "CREATE TRIGGER tr AFTER INSERT ON d WHEN 1 + {ok} BEGIN UPDATE d SET b = 1 + {ok}; END"
            ),
            &[],
        )
        .unwrap();
        s.execute("INSERT INTO d (b) VALUES (5)", &[]).unwrap();
        assert_eq!(
            query(&s, "SELECT count(*) FROM d WHERE b = 1").unwrap(),
            one(2)
        );
        too_complex(s.execute(
            &format!("CREATE TRIGGER tr2 AFTER INSERT ON d BEGIN UPDATE d SET b = {bad}; END"),
            &[],
        ));
    });
}

#[test]
fn deep_row_policies() {
    // The owner writes a policy just under the limit, and several of them
    // (OR-ed together, deeper than any one); another user's query through
    // RLS evaluates them all on a small stack.
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        s.execute("CREATE TABLE p (owner TEXT, v INTEGER)", &[])
            .unwrap();
        s.execute(
            "INSERT INTO p VALUES ('eve', 1), ('bob', 2), ('eve', 3)",
            &[],
        )
        .unwrap();
        s.execute("ALTER TABLE p ENABLE ROW LEVEL SECURITY", &[])
            .unwrap();
        let deep = chain("owner = current_user", " AND ", "1", MAX_EXPR_DEPTH - 3);
        for i in 0..3 {
            s.execute(
                &format!("CREATE POLICY p{i} ON p FOR SELECT USING ({deep})"),
                &[],
            )
            .unwrap();
        }
        let bad = chain("1", " AND ", "1", 30_000);
        too_complex(s.execute(
            &format!("CREATE POLICY bad ON p FOR SELECT USING ({bad})"),
            &[],
        ));
        db.root_session()
            .execute("CREATE USER eve WITH PASSWORD 'e'", &[])
            .unwrap();
        s.execute("GRANT SELECT ON p TO eve", &[]).unwrap();
        let eve = db
            .connect(Credentials::password("eve", "e"), ClientInfo::local("a"))
            .unwrap();
        assert_eq!(
            query(&eve, "SELECT v FROM p ORDER BY v").unwrap(),
            vec![vec![Value::Integer(1)], vec![Value::Integer(3)]]
        );
    });
}

#[test]
fn scripts_of_deep_statements() {
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        let ok = chain("0", "+", "0", MAX_EXPR_DEPTH - 2);
        let script: String = (0..20)
            .map(|i| format!("INSERT INTO t VALUES ({i} + {ok}, 's');"))
            .collect();
        s.execute(&script, &[]).unwrap();
        assert_eq!(
            query(&s, "SELECT count(*) FROM t WHERE y = 's'").unwrap(),
            one(20)
        );
        let bad = chain("0", "+", "0", 30_000);
        too_complex(s.execute(&format!("SELECT 1; SELECT {bad}; SELECT 2"), &[]));
    });
}

#[test]
fn the_limits_match_sqlite() {
    assert_eq!(MAX_EXPR_DEPTH, 1000);
    assert_eq!(MAX_COMPOUND_SELECT, 500);
    assert_eq!(MAX_JOIN_TABLES, 64);
}

#[test]
fn trigger_chains_on_a_small_stack() {
    // A chain of triggers (each inserting into the next table), planted
    // by an ordinary user and fired on a small stack: a chain of exactly
    // MAX_TRIGGER_DEPTH triggers runs to its end, one trigger more is
    // refused before anything runs (analysis and execution use the same
    // number), and neither overflows the stack.
    small_stack(|| {
        let db = db_with_mallory();
        let s = mallory(&db);
        let n = MAX_TRIGGER_DEPTH + 8;
        for i in 0..=n {
            s.execute(&format!("CREATE TABLE c{i} (v INTEGER)"), &[])
                .unwrap();
        }
        for i in 0..n {
            s.execute(
                &format!(
                    "CREATE TRIGGER c{i}_next AFTER INSERT ON c{i} BEGIN INSERT INTO c{} VALUES (NEW.v + 1); END",
                    i + 1
                ),
                &[],
            )
            .unwrap();
        }
        let count = |t: &str| query(&s, &format!("SELECT count(*) FROM {t}")).unwrap();
        // From c0 the chain is n triggers long; from c{n - 32 - 1}, one
        // more than allowed.
        for start in [0, n - MAX_TRIGGER_DEPTH - 1] {
            too_complex(s.execute(&format!("INSERT INTO c{start} VALUES (0)"), &[]));
            assert_eq!(count(&format!("c{start}")), one(0), "nothing kept");
        }
        let start = n - MAX_TRIGGER_DEPTH;
        assert_eq!(
            s.execute(&format!("INSERT INTO c{start} VALUES (0)"), &[])
                .unwrap(),
            1
        );
        assert_eq!(
            query(&s, &format!("SELECT v FROM c{n}")).unwrap(),
            one(MAX_TRIGGER_DEPTH as i64)
        );
    });
}
