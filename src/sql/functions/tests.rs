//! Unit tests of the scalar functions, by name through [`call_scalar`].

use super::*;
use crate::error::{Error, Result, SqlErrorKind};
use crate::types::Value;

fn i(v: i64) -> Value {
    Value::Integer(v)
}
fn r(v: f64) -> Value {
    Value::Real(v)
}
fn t(v: &str) -> Value {
    Value::Text(v.to_owned())
}
fn b(v: &[u8]) -> Value {
    Value::Blob(v.to_vec())
}
const N: Value = Value::Null;

/// Calls a function that must succeed.
fn call(name: &str, args: &[Value]) -> Value {
    call_scalar(name, args).unwrap_or_else(|e| panic!("{name}{args:?}: {e}"))
}

fn kind_of(res: Result<Value>) -> Option<SqlErrorKind> {
    match res {
        Err(Error::Sql { kind, .. }) => Some(kind),
        _ => None,
    }
}

/// SQLite itself (rusqlite's bundled build): `sql` on one value.
fn oracle(sql: &str, args: &[rusqlite::types::Value]) -> String {
    let db = rusqlite::Connection::open_in_memory().expect("sqlite");
    db.query_row(sql, rusqlite::params_from_iter(args.iter()), |row| {
        Ok(match row.get_ref(0)? {
            rusqlite::types::ValueRef::Real(x) => format!("real {:#x}", x.to_bits()),
            rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            other => format!("{other:?}"),
        })
    })
    .expect("oracle")
}

fn shown(v: &Value) -> String {
    match v {
        Value::Real(x) => format!("real {:#x}", x.to_bits()),
        Value::Text(t) => t.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn names_are_case_insensitive_and_checked() {
    assert_eq!(call("ABS", &[i(-1)]), i(1));
    assert_eq!(call("Abs", &[i(-1)]), i(1));
    assert_eq!(
        kind_of(call_scalar("nosuch", &[])),
        Some(SqlErrorKind::UnknownFunction)
    );
    let err = call_scalar("nosuch", &[]).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("no such function: nosuch"));
    assert_eq!(kind_of(call_scalar("abs", &[])), Some(SqlErrorKind::Misuse));
    let err = call_scalar("abs", &[i(1), i(2)])
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("wrong number of arguments to function abs()")
    );
    assert!(call_scalar("coalesce", &[N]).is_err());
    assert!(call_scalar("coalesce", &[]).is_err());
    assert!(
        call_scalar("min", &[i(1)]).is_err(),
        "one-argument min is the aggregate"
    );
    assert!(call_scalar("iif", &[i(1)]).is_err());
    assert!(check_scalar("substr", 2).is_ok());
    assert!(check_scalar("SUBSTRING", 3).is_ok());
    assert!(check_scalar("substr", 4).is_err());
    assert!(check_scalar("char", 0).is_ok());
    assert!(scalar_function_names().any(|n| n == "round"));
    assert!(call_scalar("random", &[i(1)]).is_err());
}

#[test]
fn abs() {
    assert_eq!(call("abs", &[i(-5)]), i(5));
    assert_eq!(call("abs", &[i(i64::MAX)]), i(i64::MAX));
    assert_eq!(call("abs", &[i(-i64::MAX)]), i(i64::MAX));
    assert_eq!(
        kind_of(call_scalar("abs", &[i(i64::MIN)])),
        Some(SqlErrorKind::Overflow)
    );
    assert_eq!(call("abs", &[r(-1.5)]), r(1.5));
    assert_eq!(call("abs", &[t("12")]), r(12.0));
    assert_eq!(call("abs", &[t(" -3 ")]), r(3.0));
    assert_eq!(call("abs", &[t("abc")]), r(0.0));
    assert_eq!(call("abs", &[b(b"-3")]), r(3.0));
    assert_eq!(call("abs", &[b(b"")]), r(0.0));
    assert_eq!(call("abs", &[N]), N);
    let neg_zero = call("abs", &[r(-0.0)]);
    assert!(matches!(neg_zero, Value::Real(z) if z == 0.0));
}

#[test]
fn length() {
    assert_eq!(call("length", &[t("héllo")]), i(5));
    assert_eq!(call("length", &[t("")]), i(0));
    assert_eq!(call("length", &[t("a\0b")]), i(1));
    assert_eq!(call("length", &[b(&[1, 2, 0])]), i(3));
    assert_eq!(call("length", &[i(-123)]), i(4));
    assert_eq!(call("length", &[r(12.5)]), i(4));
    assert_eq!(call("length", &[r(-0.0)]), i(3));
    assert_eq!(call("length", &[N]), N);
}

#[test]
fn lower_upper() {
    assert_eq!(call("upper", &[t("héllo")]), t("HéLLO"));
    assert_eq!(call("lower", &[t("HÉLLO")]), t("hÉllo"));
    assert_eq!(call("upper", &[r(12.5)]), t("12.5"));
    assert_eq!(call("upper", &[b(b"ab")]), t("AB"));
    assert_eq!(call("lower", &[N]), N);
}

#[test]
fn substr_corners() {
    let s = |args: &[Value]| call("substr", args);
    let abc = t("abcdef");
    assert_eq!(s(&[abc.clone(), i(2)]), t("bcdef"));
    assert_eq!(s(&[abc.clone(), i(2), i(3)]), t("bcd"));
    assert_eq!(s(&[abc.clone(), i(0), i(3)]), t("ab"));
    assert_eq!(s(&[abc.clone(), i(0)]), t("abcdef"));
    assert_eq!(s(&[abc.clone(), i(-2)]), t("ef"));
    assert_eq!(s(&[abc.clone(), i(-10), i(3)]), t(""));
    assert_eq!(s(&[abc.clone(), i(-10), i(6)]), t("ab"));
    assert_eq!(s(&[abc.clone(), i(3), i(-2)]), t("ab"));
    assert_eq!(s(&[abc.clone(), i(3), i(-5)]), t("ab"));
    assert_eq!(s(&[abc.clone(), i(10)]), t(""));
    assert_eq!(s(&[abc.clone(), i(2), i(0)]), t(""));
    assert_eq!(s(&[t("abc"), i(0), i(1)]), t(""));
    assert_eq!(s(&[t("abc"), i(0), i(-1)]), t(""));
    assert_eq!(s(&[t("abc"), i(-1), i(-5)]), t("ab"));
    // 64-bit arguments, as in SQLite 3.54.
    assert_eq!(s(&[abc.clone(), i(4_294_967_297), i(2)]), t(""));
    assert_eq!(s(&[abc.clone(), i(2), i(2_147_483_648)]), t("bcdef"));
    assert_eq!(s(&[abc.clone(), i(-2_147_483_648)]), t("abcdef"));
    assert_eq!(s(&[abc.clone(), i(2), i(-2_147_483_648)]), t("a"));
    for (y, z) in [
        (4_294_967_297, 2),
        (2, 2_147_483_648),
        (-2_147_483_648, i64::MAX),
        (2, -2_147_483_648),
        (i64::MIN, i64::MIN),
        (4_294_967_296, 1),
        (-3, i64::MIN),
    ] {
        let sqlite = oracle(
            "SELECT substr('abcdef', ?1, ?2)",
            &[
                rusqlite::types::Value::Integer(y),
                rusqlite::types::Value::Integer(z),
            ],
        );
        assert_eq!(
            shown(&s(&[abc.clone(), i(y), i(z)])),
            sqlite,
            "substr(abcdef, {y}, {z})"
        );
    }
    assert_eq!(s(&[abc.clone(), i(i64::MIN), i(i64::MIN)]), t(""));
    assert_eq!(s(&[abc.clone(), r(2.7)]), t("bcdef"));
    assert_eq!(s(&[abc.clone(), t("2")]), t("bcdef"));
    // Characters, not bytes.
    assert_eq!(s(&[t("héllo"), i(2), i(2)]), t("él"));
    assert_eq!(s(&[t("héllo"), i(-3), i(-2)]), t("hé"));
    // Blobs work in bytes and stay blobs.
    assert_eq!(s(&[b(b"abc"), i(2)]), b(b"bc"));
    assert_eq!(s(&[b(b"abc"), i(-1)]), b(b"c"));
    assert_eq!(s(&[b(b"abc"), i(0), i(2)]), b(b"a"));
    assert_eq!(s(&[b(b"abc"), i(10)]), b(b""));
    assert_eq!(s(&[b(b"abc"), i(10), i(-9)]), b(b"abc"));
    assert_eq!(s(&[b(b""), i(1)]), N, "SQLite: an empty blob gives NULL");
    // Numbers become text.
    assert_eq!(s(&[i(12345), i(2), i(2)]), t("23"));
    assert_eq!(s(&[N, i(1)]), N);
    assert_eq!(s(&[t("abc"), N]), N);
    assert_eq!(s(&[t("abc"), i(1), N]), N);
    assert_eq!(call("substring", &[t("abc"), i(2)]), t("bc"));
}

#[test]
fn round() {
    let rd = |x: Value, n: Option<i64>| match n {
        Some(n) => call("round", &[x, i(n)]),
        None => call("round", &[x]),
    };
    assert_eq!(rd(r(2.5), None), r(3.0));
    assert_eq!(rd(r(-2.5), None), r(-3.0));
    assert_eq!(rd(i(7), None), r(7.0));
    assert_eq!(rd(t("2.5"), None), r(3.0));
    // As SQLite (3.47+: correctly rounded digits, so 2.675 is 2.67).
    let cases: &[(f64, i64)] = &[
        (0.5, 0),
        (1.5, 0),
        (-1.5, 0),
        (0.49999999999999994, 0),
        (-0.4, 0),
        (2.675, 2),
        (-2.675, 2),
        (1.005, 2),
        (0.285, 2),
        (9.999999999999999, 2),
        (123_456_789.123_456_79, 5),
        (1.23456789, 40),
        (1e-20, 25),
        (0.1, 1),
        (1234.5678, -1),
        (1e300, 2),
        (1e16, 30),
        (255.0, 30),
        (255.0, 2),
        (1.0 / 3.0, 2),
        (2.0 / 3.0, 2),
        (1e-100, 30),
    ];
    for &(x, n) in cases {
        let sqlite = oracle(
            "SELECT round(?1, ?2)",
            &[
                rusqlite::types::Value::Real(x),
                rusqlite::types::Value::Integer(n),
            ],
        );
        assert_eq!(shown(&rd(r(x), Some(n))), sqlite, "round({x}, {n})");
    }
}

#[test]
fn typeof_coalesce_ifnull_nullif_iif() {
    assert_eq!(call("typeof", &[r(1.0)]), t("real"));
    assert_eq!(call("typeof", &[N]), t("null"));
    assert_eq!(call("coalesce", &[N, N]), N);
    assert_eq!(call("coalesce", &[N, i(2), i(3)]), i(2));
    assert_eq!(call("ifnull", &[N, i(3)]), i(3));
    assert_eq!(call("ifnull", &[i(1), i(3)]), i(1));
    assert_eq!(call("nullif", &[i(1), r(1.0)]), N);
    assert_eq!(call("nullif", &[N, i(1)]), N);
    assert_eq!(call("nullif", &[i(1), N]), i(1));
    assert_eq!(call("nullif", &[t("a"), t("b")]), t("a"));
    assert_eq!(call("iif", &[i(1), t("a"), t("b")]), t("a"));
    assert_eq!(call("iif", &[N, t("a"), t("b")]), t("b"));
    assert_eq!(call("iif", &[t("0.1"), t("a"), t("b")]), t("a"));
    assert_eq!(call("iif", &[t("abc"), t("a"), t("b")]), t("b"));
}

#[test]
fn hex_instr_replace() {
    assert_eq!(call("hex", &[N]), t(""));
    assert_eq!(call("hex", &[r(12.5)]), t("31322E35"));
    assert_eq!(call("hex", &[t("é")]), t("C3A9"));
    assert_eq!(call("hex", &[b(&[0, 0xff])]), t("00FF"));
    assert_eq!(call("instr", &[t("héllo"), t("l")]), i(3));
    assert_eq!(call("instr", &[b(&[1, 2]), b(&[2])]), i(2));
    assert_eq!(call("instr", &[b(&[1, 2]), b(&[])]), i(1));
    assert_eq!(call("instr", &[t("abc"), t("")]), i(1));
    assert_eq!(call("instr", &[t(""), t("")]), i(1));
    assert_eq!(call("instr", &[t("abc"), t("d")]), i(0));
    assert_eq!(call("instr", &[i(12345), i(34)]), i(3));
    assert_eq!(call("instr", &[t("abc"), N]), N);
    assert_eq!(call("instr", &[b("hél".as_bytes()), t("l")]), i(3));
    assert_eq!(call("replace", &[t("aaa"), t("a"), t("bb")]), t("bbbbbb"));
    assert_eq!(call("replace", &[i(12), t(""), t("x")]), t("12"));
    assert_eq!(call("replace", &[r(1.5), t(""), t("x")]), t("1.5"));
    assert_eq!(call("replace", &[b(b"abc"), t(""), t("x")]), t("abc"));
    assert_eq!(call("replace", &[t("abc"), t("b"), N]), N);
    assert_eq!(call("replace", &[b(b"\0"), b(b"\0"), i(7)]), t("\0"));
    assert_eq!(call("replace", &[t("a\0b"), t("\0b"), t("x")]), t("a\0b"));
    assert_eq!(call("replace", &[t("a\0b"), t("a\0"), t("x")]), t("xb"));
    assert_eq!(call("replace", &[N, t("b"), t("x")]), N);
    assert_eq!(call("replace", &[t("abc"), N, t("x")]), N);
    assert_eq!(call("replace", &[i(123), i(2), i(9)]), t("193"));
    assert_eq!(call("replace", &[t("aaaa"), t("aa"), t("a")]), t("aa"));
}

#[test]
fn trims() {
    assert_eq!(call("trim", &[t("  ab  ")]), t("ab"));
    assert_eq!(call("trim", &[t("\tab ")]), t("\tab"));
    assert_eq!(call("trim", &[t("xxabxx"), t("x")]), t("ab"));
    assert_eq!(call("ltrim", &[t("xyab"), t("yx")]), t("ab"));
    assert_eq!(call("rtrim", &[t("abxy"), t("xy")]), t("ab"));
    assert_eq!(call("ltrim", &[t("  ab  ")]), t("ab  "));
    assert_eq!(call("rtrim", &[t("  ab  ")]), t("  ab"));
    assert_eq!(call("trim", &[t("éaé"), t("é")]), t("a"));
    assert_eq!(call("trim", &[t("abc"), t("")]), t("abc"));
    assert_eq!(call("trim", &[i(12), i(1)]), t("2"));
    assert_eq!(call("trim", &[N]), N);
    assert_eq!(call("trim", &[t("ab"), N]), N);
}

#[test]
fn char_unicode_quote() {
    assert_eq!(call("char", &[i(72), i(105)]), t("Hi"));
    assert_eq!(call("char", &[]), t(""));
    assert_eq!(call("char", &[i(-1)]), t("\u{fffd}"));
    assert_eq!(call("char", &[i(0x110000)]), t("\u{fffd}"));
    assert_eq!(call("char", &[i(0xD800)]), t("\u{fffd}"));
    assert_eq!(call("char", &[N]), t("\0"));
    assert_eq!(call("char", &[t("65"), r(66.9)]), t("AB"));
    assert_eq!(call("unicode", &[t("é")]), i(233));
    assert_eq!(call("unicode", &[t("")]), N);
    assert_eq!(call("unicode", &[b(&[0, 1])]), N);
    assert_eq!(call("unicode", &[N]), N);
    assert_eq!(call("unicode", &[i(12)]), i(49));
    assert_eq!(call("quote", &[t("it's")]), t("'it''s'"));
    assert_eq!(call("quote", &[b(&[0, 0xff])]), t("X'00FF'"));
    assert_eq!(call("quote", &[b(&[])]), t("X''"));
    assert_eq!(call("quote", &[N]), t("NULL"));
    assert_eq!(call("quote", &[i(-12)]), t("-12"));
    assert_eq!(call("quote", &[r(1.5)]), t("1.5"));
    assert_eq!(call("quote", &[r(1.0)]), t("1.0"));
    assert_eq!(call("quote", &[r(-0.0)]), t("0.0"));
    assert_eq!(call("quote", &[r(0.1)]), t("0.1"));
    for x in [
        0.30000000000000004,
        1e15 + 0.25,
        1.0 / 3.0,
        -1.23456789012346e300,
    ] {
        let sqlite = oracle("SELECT quote(?1)", &[rusqlite::types::Value::Real(x)]);
        assert_eq!(shown(&call("quote", &[r(x)])), sqlite, "quote({x})");
    }
    assert_eq!(call("quote", &[r(f64::INFINITY)]), t("9.0e+999"));
    assert_eq!(call("quote", &[r(f64::NEG_INFINITY)]), t("-9.0e+999"));
}

#[test]
fn scalar_min_max() {
    assert_eq!(call("min", &[i(3), i(1), i(2)]), i(1));
    assert_eq!(call("max", &[i(3), i(1), i(2)]), i(3));
    assert_eq!(call("min", &[i(2), N, i(1)]), N);
    assert_eq!(call("max", &[t("a"), i(1), b(&[0])]), b(&[0]));
    assert_eq!(call("min", &[t("a"), i(1), b(&[0])]), i(1));
    // Ties: min keeps the last, max the first, as in SQLite.
    assert_eq!(call("min", &[i(1), r(1.0)]), r(1.0));
    assert_eq!(call("max", &[i(1), r(1.0)]), i(1));
}

#[test]
fn like_glob_zeroblob_functions() {
    assert_eq!(call("like", &[t("a_"), t("AB")]), i(1));
    assert_eq!(call("like", &[t("a!%"), t("a%"), t("!")]), i(1));
    assert_eq!(call("like", &[t("a"), t("a"), N]), N);
    assert_eq!(call("like", &[N, t("a")]), N);
    assert_eq!(call("like", &[i(1), i(1)]), i(1));
    assert_eq!(call("like", &[t("1_"), i(12)]), i(1));
    assert_eq!(
        kind_of(call_scalar("like", &[t("a"), t("a"), t("xy")])),
        Some(SqlErrorKind::Misuse)
    );
    assert!(call_scalar("like", &[N, t("a"), t("")]).is_err());
    assert_eq!(call("glob", &[t("a*"), t("abc")]), i(1));
    assert_eq!(call("glob", &[t("A*"), t("abc")]), i(0));
    assert_eq!(call("glob", &[t("a*"), N]), N);
    assert_eq!(call("zeroblob", &[i(3)]), b(&[0, 0, 0]));
    assert_eq!(call("zeroblob", &[i(-1)]), b(&[]));
    assert_eq!(
        kind_of(call_scalar("zeroblob", &[i(1_000_000_001)])),
        Some(SqlErrorKind::Overflow)
    );
}

#[test]
fn no_function_panics_on_odd_arguments() {
    let odd = [
        N,
        i(0),
        i(-1),
        i(i64::MIN),
        i(i64::MAX),
        r(-0.0),
        r(f64::INFINITY),
        r(f64::NEG_INFINITY),
        r(5e-324),
        r(1.7976931348623157e308),
        t(""),
        t("\0"),
        t("é\0x"),
        t("%_[^]-"),
        b(&[]),
        b(&[0xff, 0xfe]),
    ];
    for name in scalar_function_names() {
        if name == "zeroblob" {
            continue; // would allocate i64::MAX bytes: refused, tested above
        }
        for x in &odd {
            for y in &odd {
                for n in 0..=3 {
                    let args: Vec<Value> = [x, y, x].iter().take(n).map(|v| (*v).clone()).collect();
                    let _ = call_scalar(name, &args);
                }
            }
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            (-40i64..40).prop_map(Value::Integer),
            any::<f64>().prop_map(Value::real),
            (-1e6f64..1e6).prop_map(Value::real),
            ".{0,8}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::Blob),
        ]
    }

    proptest! {
        #[test]
        fn no_function_panics(args in proptest::collection::vec(any_value(), 0..4)) {
            for name in scalar_function_names() {
                if name == "zeroblob" {
                    continue;
                }
                if let Ok(Value::Real(x)) = call_scalar(name, &args) {
                    prop_assert!(!x.is_nan(), "{}", name);
                }
            }
        }

        #[test]
        fn substr_concatenation_rebuilds_the_text(text in "[a-zé]{0,10}", k in 0i64..12) {
            // substr(X, 1, k) || substr(X, k + 1) == X
            let x = Value::Text(text.clone());
            let head = call("substr", &[x.clone(), Value::Integer(1), Value::Integer(k)]);
            let tail = call("substr", &[x, Value::Integer(k + 1)]);
            prop_assert_eq!(crate::types::concat(&head, &tail), Value::Text(text));
        }

        #[test]
        fn round_is_within_half_a_unit(x in -1e9f64..1e9, n in 0i64..6) {
            let got = call("round", &[Value::Real(x), Value::Integer(n)]);
            let Value::Real(y) = got else { return Err(TestCaseError::fail("not a real")) };
            let unit = 10f64.powi(i32::try_from(-n).unwrap_or(0));
            prop_assert!((y - x).abs() <= unit * 0.5 + x.abs() * 1e-15, "{} {} {}", x, n, y);
        }
    }
}
