//! Tests of the value semantics, checked against SQLite (the bundled build, through rusqlite, where noted; else expectations from sqlite3).

use std::cmp::Ordering;

use super::numeric_text::*;
use super::real_text::*;
use super::*;

/// 2^63 as a double (the nearest double to i64::MAX).
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

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

#[test]
fn constructors_and_type_names() {
    assert_eq!(Value::real(f64::NAN), N);
    assert_eq!(Value::from(f64::NAN), N);
    assert_eq!(Value::from(1.5), r(1.5));
    assert_eq!(Value::from(7i32), i(7));
    assert_eq!(Value::from(7i64), i(7));
    assert_eq!(Value::from("a"), t("a"));
    assert_eq!(Value::from(String::from("a")), t("a"));
    assert_eq!(Value::from(vec![1u8, 2]), b(&[1, 2]));
    assert_eq!(Value::from(&[1u8, 2][..]), b(&[1, 2]));
    assert_eq!(Value::from(true), i(1));
    assert_eq!(Value::from(false), i(0));
    assert_eq!(Value::from(None::<i64>), N);
    assert_eq!(Value::from(Some("x")), t("x"));
    let names: Vec<_> = [N, i(1), r(1.0), t(""), b(&[])]
        .iter()
        .map(Value::type_name)
        .collect();
    assert_eq!(names, ["null", "integer", "real", "text", "blob"]);
    assert_eq!(i(5).to_string(), "5");
    assert_eq!(N.to_string(), "NULL");
}

/// The SQLite these conversions follow (rusqlite's bundled build), as an
/// oracle: `sql` with `?1` bound to `arg`, its one value as text (reals by
/// their bits).
fn oracle(sql: &str, arg: rusqlite::types::Value) -> String {
    thread_local! {
        static DB: rusqlite::Connection =
            rusqlite::Connection::open_in_memory().expect("sqlite in memory");
    }
    DB.with(|db| {
        db.query_row(sql, [arg], |row| {
            Ok(match row.get_ref(0)? {
                rusqlite::types::ValueRef::Real(x) => format!("real {:#x}", x.to_bits()),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                other => format!("{other:?}"),
            })
        })
        .expect("oracle query")
    })
}

#[test]
fn real_text_form_matches_sqlite() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (0.1, "0.1"),
        (-0.0, "0.0"),
        (0.0, "0.0"),
        (100.0, "100.0"),
        (-2.5, "-2.5"),
        (1e20, "1.0e+20"),
        (1e15, "1000000000000000.0"),
        (1e17, "1.0e+17"),
        (0.0001, "0.0001"),
        (0.00001, "1.0e-05"),
        (49.47, "49.47"),
        (0.30000000000000004, "0.30000000000000004"),
        (1.0 / 3.0, "0.33333333333333332"),
        (228491094354567.5, "228491094354567.5"),
        (1.8446744073709552e19, "1.8446744073709552e+19"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "4.9406564584124654e-324"),
        (f64::INFINITY, "Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for &(x, want) in cases {
        let sqlite = oracle("SELECT CAST(?1 AS TEXT)", rusqlite::types::Value::Real(x));
        assert_eq!(format_real(x), sqlite, "{x:e} (SQLite)");
        if x.is_finite() {
            assert_eq!(r(x).to_text().as_deref(), Some(want), "{x:e}");
        }
    }
    assert_eq!(format_real_quoted(f64::INFINITY), "9.0e+999");
    assert_eq!(format_real_quoted(f64::NEG_INFINITY), "-9.0e+999");
}

#[test]
fn text_to_real_matches_sqlite() {
    let cases = [
        "1.2345678901234567890123",
        "123456789012345678901234567890",
        "0.000000000000000000000000000001234",
        "1e308",
        "1.7976931348623159e308",
        "2.4703282292062328e-324",
        "4.9e-324",
        "9007199254740993",
        "9007199254740993.0",
        "0.1e-310",
        "1e-320",
        "8.98846567431158e307",
        "3500000000000000.2500001",
        "-0",
        "-",
        " 12.5e2 ",
        "1e99999",
    ];
    for text in cases {
        let got = parse_real_prefix(text.as_bytes()).0;
        let sqlite = oracle(
            "SELECT CAST(?1 AS REAL)",
            rusqlite::types::Value::Text(text.to_string()),
        );
        assert_eq!(
            format!("real {:#x}", got.to_bits()),
            sqlite,
            "{text}: got {got:e}"
        );
    }
}

#[test]
fn text_forms_of_other_types() {
    assert_eq!(N.to_text(), None);
    assert_eq!(i(-42).to_text().as_deref(), Some("-42"));
    assert_eq!(
        i(i64::MIN).to_text().as_deref(),
        Some("-9223372036854775808")
    );
    assert_eq!(b(b"hi").to_text().as_deref(), Some("hi"));
    assert_eq!(b(&[0xff]).to_text().as_deref(), Some("\u{fffd}"));
}

#[test]
fn real_prefix_scanner() {
    use RealShape::*;
    let cases: &[(&str, f64, RealShape)] = &[
        ("", 0.0, NotANumber),
        ("   ", 0.0, NotANumber),
        ("12", 12.0, Integer),
        (" -12 ", -12.0, Integer),
        ("+7", 7.0, Integer),
        ("1.5", 1.5, Real),
        (".5", 0.5, Real),
        ("5.", 5.0, Real),
        ("1e3", 1000.0, Real),
        ("1.5E-2", 0.015, Real),
        ("12abc", 12.0, NotANumber),
        ("abc", 0.0, NotANumber),
        ("1.5abc", 1.5, RealPrefix),
        ("1e", 1.0, NotANumber),
        ("1e+", 1.0, NotANumber),
        ("1.5e", 1.5, RealPrefix),
        (".", 0.0, NotANumber),
        ("-", 0.0, NotANumber),
        ("0x10", 0.0, NotANumber),
        ("1e999", f64::INFINITY, Real),
        ("-1e999", f64::NEG_INFINITY, Real),
        ("1e-999", 0.0, Real),
        ("9223372036854775808", TWO_63, Integer),
    ];
    for &(s, v, shape) in cases {
        assert_eq!(parse_real_prefix(s.as_bytes()), (v, shape), "{s:?}");
    }
    assert!(parse_real_prefix(b"-0").0.is_sign_negative());
    // Huge exponents are capped, never overflow.
    assert_eq!(
        parse_real_prefix(b"1e99999999999999999999").0,
        f64::INFINITY
    );
    assert_eq!(parse_real_prefix(&[b'1'; 400]).0, f64::INFINITY);
}

#[test]
fn int_prefix_scanner() {
    use IntShape::*;
    let cases: &[(&str, i64, IntShape)] = &[
        ("12", 12, Exact),
        ("  -12  ", -12, Exact),
        ("12abc", 12, Prefix),
        ("12.9", 12, Prefix),
        ("1e3", 1, Prefix),
        ("abc", 0, NoDigits),
        ("", 0, NoDigits),
        ("-", 0, NoDigits),
        ("000", 0, Exact),
        ("9223372036854775807", i64::MAX, Exact),
        ("-9223372036854775808", i64::MIN, Exact),
        ("-9223372036854775808x", i64::MIN, Prefix),
        ("9223372036854775808", i64::MAX, TwoToThe63),
        ("9223372036854775809", i64::MAX, TooLarge),
        ("-9223372036854775809", i64::MIN, TooLarge),
        ("99999999999999999999", i64::MAX, TooLarge),
        ("00000000000000000000000012", 12, Exact),
    ];
    for &(s, v, shape) in cases {
        assert_eq!(parse_int_prefix(s.as_bytes()), (v, shape), "{s:?}");
    }
}

#[test]
fn sort_order_across_classes() {
    let ordered = [
        N,
        i(-5),
        r(-4.5),
        i(0),
        r(0.5),
        i(1),
        t(""),
        t("A"),
        t("a"),
        t("ab"),
        b(&[]),
        b(&[0]),
        b(&[0, 0]),
        b(&[1]),
    ];
    for (x, a) in ordered.iter().enumerate() {
        for (y, c) in ordered.iter().enumerate() {
            assert_eq!(compare(a, c), x.cmp(&y), "{a:?} vs {c:?}");
        }
    }
    assert_eq!(compare(&N, &N), Ordering::Equal);
}

#[test]
fn integer_real_comparison_is_exact() {
    let two63 = TWO_63;
    assert_eq!(compare(&i(i64::MAX), &r(two63)), Ordering::Less);
    assert_eq!(compare(&r(two63), &i(i64::MAX)), Ordering::Greater);
    assert_eq!(compare(&i(i64::MIN), &r(-two63)), Ordering::Equal);
    assert_eq!(compare(&i(i64::MIN), &r(-1e300)), Ordering::Greater);
    assert_eq!(compare(&i(i64::MAX), &r(f64::INFINITY)), Ordering::Less);
    assert_eq!(
        compare(&i(i64::MIN), &r(f64::NEG_INFINITY)),
        Ordering::Greater
    );
    // Around 2^53, where i64 -> f64 conversion would lose the last bit.
    assert_eq!(
        compare(&i(9007199254740993), &r(9007199254740992.0)),
        Ordering::Greater
    );
    assert_eq!(
        compare(&i(9007199254740992), &r(9007199254740992.0)),
        Ordering::Equal
    );
    assert_eq!(
        compare(&i(9007199254740991), &r(9007199254740992.0)),
        Ordering::Less
    );
    assert_eq!(compare(&i(2), &r(2.5)), Ordering::Less);
    assert_eq!(compare(&i(-2), &r(-2.5)), Ordering::Greater);
    assert_eq!(compare(&i(-3), &r(-2.5)), Ordering::Less);
    assert_eq!(compare(&i(0), &r(-0.0)), Ordering::Equal);
    assert_eq!(compare(&r(0.0), &r(-0.0)), Ordering::Equal);
    assert_eq!(compare(&i(1), &r(1.0)), Ordering::Equal);
}

#[test]
fn three_valued_comparisons_and_logic() {
    assert_eq!(sql_cmp(&N, &i(1)), None);
    assert_eq!(sql_cmp(&N, &N), None);
    assert_eq!(sql_cmp(&i(1), &t("a")), Some(Ordering::Less));
    assert_eq!(eq(&i(1), &r(1.0)), i(1));
    assert_eq!(eq(&t("a"), &t("A")), i(0));
    assert_eq!(eq(&N, &N), N);
    assert_eq!(ne(&i(1), &i(2)), i(1));
    assert_eq!(lt(&t("2"), &t("10")), i(0));
    assert_eq!(lt(&i(2), &i(10)), i(1));
    assert_eq!(le(&i(2), &i(2)), i(1));
    assert_eq!(gt(&b(&[0]), &t("z")), i(1));
    assert_eq!(ge(&N, &i(1)), N);
    assert_eq!(is(&N, &N), i(1));
    assert_eq!(is(&i(1), &N), i(0));
    assert_eq!(is(&i(1), &r(1.0)), i(1));
    assert_eq!(is_not(&N, &i(1)), i(1));
    assert_eq!(is_not(&N, &N), i(0));
    assert_eq!(not(&N), N);
    assert_eq!(not(&t("abc")), i(1));
    assert_eq!(not(&r(0.5)), i(0));
    assert_eq!(and(&N, &i(0)), i(0));
    assert_eq!(and(&N, &i(1)), N);
    assert_eq!(and(&i(2), &t("1")), i(1));
    assert_eq!(or(&N, &i(1)), i(1));
    assert_eq!(or(&N, &i(0)), N);
    assert_eq!(or(&i(0), &t("0.0")), i(0));
}

#[test]
fn ordered_value_dedups_by_compare() {
    let mut set = DistinctSet::new();
    assert!(set.insert(OrderedValue(i(1))));
    assert!(!set.insert(OrderedValue(r(1.0))));
    assert!(set.insert(OrderedValue(t("1"))));
    assert!(set.insert(OrderedValue(N)));
    assert!(!set.insert(OrderedValue(N)));
    assert_eq!(set.len(), 3);
}

#[test]
fn truthiness() {
    assert_eq!(N.truthy(), None);
    assert_eq!(i(0).truthy(), Some(false));
    assert_eq!(i(-1).truthy(), Some(true));
    assert_eq!(r(0.0).truthy(), Some(false));
    assert_eq!(r(-0.0).truthy(), Some(false));
    assert_eq!(r(0.001).truthy(), Some(true));
    assert_eq!(t("12abc").truthy(), Some(true));
    assert_eq!(t("abc").truthy(), Some(false));
    assert_eq!(t("0.5").truthy(), Some(true));
    assert_eq!(t("0.5abc").truthy(), Some(true));
    assert_eq!(t(" 0 ").truthy(), Some(false));
    assert_eq!(t("").truthy(), Some(false));
    assert_eq!(b(b"1").truthy(), Some(true));
    assert_eq!(b(&[]).truthy(), Some(false));
}

#[test]
fn arithmetic_on_numbers() {
    assert_eq!(add(&i(2), &i(3)).ok(), Some(i(5)));
    assert_eq!(add(&i(2), &r(0.5)).ok(), Some(r(2.5)));
    assert_eq!(sub(&r(1.0), &i(1)).ok(), Some(r(0.0)));
    assert_eq!(mul(&i(-4), &i(3)).ok(), Some(i(-12)));
    assert_eq!(div(&i(7), &i(2)).ok(), Some(i(3)));
    assert_eq!(div(&i(-7), &i(2)).ok(), Some(i(-3)));
    assert_eq!(div(&i(7), &r(2.0)).ok(), Some(r(3.5)));
    assert_eq!(div(&i(1), &i(0)).ok(), Some(N));
    assert_eq!(div(&r(1.0), &i(0)).ok(), Some(N));
    assert_eq!(div(&r(1.0), &r(-0.0)).ok(), Some(N));
    assert_eq!(rem(&i(-7), &i(3)).ok(), Some(i(-1)));
    assert_eq!(rem(&i(7), &i(-3)).ok(), Some(i(1)));
    assert_eq!(rem(&i(5), &i(0)).ok(), Some(N));
    assert_eq!(rem(&i(i64::MIN), &i(-1)).ok(), Some(i(0)));
    assert_eq!(rem(&r(5.5), &i(2)).ok(), Some(r(1.0)));
    assert_eq!(rem(&r(7.9), &r(2.9)).ok(), Some(r(1.0)));
    assert_eq!(rem(&i(5), &r(0.5)).ok(), Some(N));
    assert_eq!(rem(&r(-7.5), &i(2)).ok(), Some(r(-1.0)));
    assert_eq!(mul(&r(1e308), &i(10)).ok(), Some(r(f64::INFINITY)));
    let inf = r(f64::INFINITY);
    assert_eq!(sub(&inf, &inf).ok(), Some(N));
    assert_eq!(mul(&inf, &i(0)).ok(), Some(N));
}

#[test]
fn arithmetic_with_nulls_text_and_blobs() {
    for f in [add, sub, mul, div, rem] {
        assert_eq!(f(&N, &i(1)).ok(), Some(N));
        assert_eq!(f(&i(1), &N).ok(), Some(N));
        assert_eq!(f(&N, &N).ok(), Some(N));
    }
    assert_eq!(add(&t("12abc"), &i(0)).ok(), Some(i(12)));
    assert_eq!(add(&t("abc"), &i(1)).ok(), Some(i(1)));
    assert_eq!(add(&t("1.0"), &i(0)).ok(), Some(r(1.0)));
    assert_eq!(add(&t("1e3"), &i(0)).ok(), Some(r(1000.0)));
    assert_eq!(add(&t("1e"), &i(0)).ok(), Some(i(1)));
    assert_eq!(add(&t("1.5e"), &i(0)).ok(), Some(r(1.5)));
    // An integer before a NUL is a number only as a C string: REAL.
    assert_eq!(add(&t("5\0"), &i(1)).ok(), Some(r(6.0)));
    assert_eq!(add(&b(b"5\0"), &i(1)).ok(), Some(r(6.0)));
    assert_eq!(add(&t("12.5abc"), &i(0)).ok(), Some(r(12.5)));
    assert_eq!(add(&t(" 12 "), &i(0)).ok(), Some(i(12)));
    assert_eq!(add(&t("  -7  "), &i(1)).ok(), Some(i(-6)));
    assert_eq!(add(&t("0x10"), &i(0)).ok(), Some(i(0)));
    assert_eq!(add(&t("."), &i(0)).ok(), Some(i(0)));
    assert_eq!(add(&t(""), &i(0)).ok(), Some(i(0)));
    assert_eq!(
        add(&t("9223372036854775807"), &i(0)).ok(),
        Some(i(i64::MAX))
    );
    assert_eq!(
        add(&t("-9223372036854775808"), &i(0)).ok(),
        Some(i(i64::MIN))
    );
    assert_eq!(add(&t("9223372036854775808"), &i(0)).ok(), Some(r(TWO_63)));
    assert_eq!(add(&b(b"12"), &i(0)).ok(), Some(i(12)));
    assert_eq!(div(&t("-5"), &i(2)).ok(), Some(i(-2)));
    assert_eq!(rem(&t("1e3"), &i(7)).ok(), Some(r(1.0)));
    assert_eq!(rem(&t("5.5"), &i(2)).ok(), Some(r(1.0)));
    assert_eq!(mul(&t("2"), &t("3")).ok(), Some(i(6)));
    // In REAL arithmetic text is re-read as a double: '-' is 0.0 there
    // (SQLite 3.47+; it was -0.0), '-0' is -0.0.
    let z = mul(&r(0.0), &t("-")).ok();
    assert!(matches!(z, Some(Value::Real(x)) if x == 0.0 && !x.is_sign_negative()));
    let z = cast(&t("-0"), CastType::Real);
    assert!(matches!(z, Value::Real(x) if x == 0.0 && x.is_sign_negative()));
    assert_eq!(add(&t("-"), &i(0)).ok(), Some(i(0)));
}

#[test]
fn integer_overflow_gives_a_real() {
    // As SQLite's fp_math path: the operation again in doubles.
    assert_eq!(add(&i(i64::MAX), &i(1)).ok(), Some(r(TWO_63)));
    assert_eq!(sub(&i(i64::MIN), &i(1)).ok(), Some(r(-TWO_63)));
    assert_eq!(mul(&i(i64::MAX), &i(2)).ok(), Some(r(2.0 * TWO_63)));
    assert_eq!(mul(&i(i64::MIN), &i(-1)).ok(), Some(r(TWO_63)));
    assert_eq!(div(&i(i64::MIN), &i(-1)).ok(), Some(r(TWO_63)));
    assert_eq!(rem(&i(i64::MIN), &i(-1)).ok(), Some(i(0)));
    assert_eq!(neg(&i(i64::MIN)).ok(), Some(r(TWO_63)));
    assert_eq!(add(&t("9223372036854775807"), &i(1)).ok(), Some(r(TWO_63)));
    assert_eq!(add(&r(9.2e18), &i(i64::MAX)).ok(), Some(r(9.2e18 + TWO_63)));
    assert_eq!(add(&i(i64::MAX), &i(i64::MIN)).ok(), Some(i(-1)));
}

#[test]
fn unary_operators_and_concat() {
    assert_eq!(neg(&i(5)).ok(), Some(i(-5)));
    assert_eq!(neg(&r(1.5)).ok(), Some(r(-1.5)));
    assert_eq!(neg(&N).ok(), Some(N));
    assert_eq!(neg(&t("abc")).ok(), Some(i(0)));
    assert_eq!(neg(&t("1.5")).ok(), Some(r(-1.5)));
    assert_eq!(neg(&b(b"1")).ok(), Some(i(-1)));
    assert_eq!(neg(&i(i64::MAX)).ok(), Some(i(-i64::MAX)));
    assert_eq!(pos(&t("abc")), t("abc"));
    assert_eq!(pos(&b(&[1])), b(&[1]));
    assert_eq!(pos(&N), N);
    assert_eq!(concat(&t("a"), &N), N);
    assert_eq!(concat(&N, &t("a")), N);
    assert_eq!(concat(&i(1), &i(2)), t("12"));
    assert_eq!(concat(&r(1.0), &t("x")), t("1.0x"));
    assert_eq!(concat(&b(b"A"), &t("b")), t("Ab"));
}

#[test]
fn cast_to_integer() {
    let c = |v: Value| cast(&v, CastType::Integer);
    assert_eq!(c(t("1e3")), i(1));
    assert_eq!(c(t("12.9")), i(12));
    assert_eq!(c(t(" 12")), i(12));
    assert_eq!(c(t("0x1A")), i(0));
    assert_eq!(c(t("12.5abc")), i(12));
    assert_eq!(c(t("-")), i(0));
    assert_eq!(c(t("99999999999999999999")), i(i64::MAX));
    assert_eq!(c(t("-99999999999999999999")), i(i64::MIN));
    assert_eq!(c(r(1e30)), i(i64::MAX));
    assert_eq!(c(r(-1e30)), i(i64::MIN));
    assert_eq!(c(r(12.99)), i(12));
    assert_eq!(c(r(-12.99)), i(-12));
    assert_eq!(c(r(f64::INFINITY)), i(i64::MAX));
    assert_eq!(c(b(b"12")), i(12));
    assert_eq!(c(N), N);
}

#[test]
fn cast_to_real_text_blob() {
    assert_eq!(cast(&t("  -1.5e3abc"), CastType::Real), r(-1500.0));
    assert_eq!(cast(&t("abc"), CastType::Real), r(0.0));
    assert_eq!(cast(&i(12), CastType::Real), r(12.0));
    assert_eq!(cast(&i(i64::MAX), CastType::Real), r(TWO_63));
    assert_eq!(cast(&N, CastType::Real), N);
    assert_eq!(cast(&r(f64::INFINITY), CastType::Text), t("Inf"));
    assert_eq!(cast(&r(1.5), CastType::Text), t("1.5"));
    assert_eq!(cast(&b(b"A"), CastType::Text), t("A"));
    assert_eq!(cast(&i(12), CastType::Blob), b(b"12"));
    assert_eq!(cast(&r(1.5), CastType::Blob), b(b"1.5"));
    assert_eq!(cast(&t("hé"), CastType::Blob), b("hé".as_bytes()));
    assert_eq!(cast(&N, CastType::Text), N);
    assert_eq!(cast(&N, CastType::Blob), N);
}

#[test]
fn cast_to_numeric() {
    let c = |v: Value| cast(&v, CastType::Numeric);
    assert_eq!(c(t("1e3")), i(1000));
    assert_eq!(c(t("3.0")), i(3));
    assert_eq!(c(r(3.0)), r(3.0));
    assert_eq!(c(i(3)), i(3));
    assert_eq!(c(t("12abc")), i(12));
    assert_eq!(c(t("12.5abc")), r(12.5));
    assert_eq!(c(t("abc")), i(0));
    assert_eq!(c(t("")), i(0));
    assert_eq!(c(t("1e16")), r(1e16));
    assert_eq!(c(t("1e15")), i(1_000_000_000_000_000));
    assert_eq!(c(t("9223372036854775808")), r(TWO_63));
    assert_eq!(c(t("9223372036854775807")), i(i64::MAX));
    assert_eq!(c(t("  5  ")), i(5));
    assert_eq!(c(t("-0")), i(0));
    assert_eq!(c(t("-0.0")), i(0));
    assert_eq!(c(t("1.5e1")), i(15));
    assert_eq!(c(b(b"12")), i(12));
    assert_eq!(c(N), N);
    assert_eq!(
        CastType::from_affinity(affinity_of_type("VARCHAR(10)")),
        CastType::Text
    );
}

#[test]
fn affinity_of_declared_types() {
    use Affinity::*;
    let cases: &[(&str, Affinity)] = &[
        ("INTEGER", Integer),
        ("int", Integer),
        ("BIGINT", Integer),
        ("UNSIGNED BIG INT", Integer),
        ("FLOATING POINT", Integer),
        ("CHARINT", Integer),
        ("VARCHAR(255)", Text),
        ("NCHAR(55)", Text),
        ("CLOB", Text),
        ("text", Text),
        ("TEXTBLOB", Text),
        ("BLOB", Blob),
        ("", Blob),
        ("  ", Blob),
        ("REAL", Real),
        ("DOUBLE PRECISION", Real),
        ("FLOAT", Real),
        ("REALBLOB", Blob),
        ("NUMERIC", Numeric),
        ("DECIMAL(10,5)", Numeric),
        ("BOOLEAN", Numeric),
        ("DATETIME", Numeric),
        ("STRING", Numeric),
        ("é", Numeric),
    ];
    for &(decl, want) in cases {
        assert_eq!(affinity_of_type(decl), want, "{decl:?}");
    }
}

#[test]
fn storage_affinity() {
    use Affinity::*;
    assert_eq!(apply_affinity(t("12"), Integer), i(12));
    assert_eq!(apply_affinity(t(" 12 "), Integer), i(12));
    assert_eq!(apply_affinity(t("12.0"), Integer), i(12));
    assert_eq!(apply_affinity(t("1e3"), Integer), i(1000));
    assert_eq!(apply_affinity(t("1.5"), Integer), r(1.5));
    assert_eq!(apply_affinity(t("12abc"), Integer), t("12abc"));
    assert_eq!(apply_affinity(t("0x10"), Integer), t("0x10"));
    assert_eq!(apply_affinity(t(""), Integer), t(""));
    assert_eq!(
        apply_affinity(t("9223372036854775807"), Integer),
        i(i64::MAX)
    );
    assert_eq!(apply_affinity(t("9223372036854775808"), Integer), r(TWO_63));
    assert_eq!(apply_affinity(r(3.0), Integer), i(3));
    assert_eq!(apply_affinity(r(3.5), Integer), r(3.5));
    assert_eq!(apply_affinity(r(TWO_63), Integer), r(TWO_63));
    assert_eq!(apply_affinity(r(f64::INFINITY), Numeric), r(f64::INFINITY));
    assert_eq!(apply_affinity(r(-0.0), Numeric), i(0));
    assert_eq!(apply_affinity(b(b"12"), Integer), b(b"12"));
    assert_eq!(apply_affinity(N, Integer), N);
    assert_eq!(apply_affinity(t("12"), Numeric), i(12));
    assert_eq!(apply_affinity(r(3.0), Numeric), i(3));
    assert_eq!(apply_affinity(i(3), Real), r(3.0));
    assert_eq!(apply_affinity(t("3"), Real), r(3.0));
    assert_eq!(apply_affinity(t("3.25"), Real), r(3.25));
    assert_eq!(apply_affinity(t("x"), Real), t("x"));
    assert_eq!(apply_affinity(i(12), Text), t("12"));
    assert_eq!(apply_affinity(r(1.5), Text), t("1.5"));
    assert_eq!(apply_affinity(b(b"1"), Text), b(b"1"));
    assert_eq!(apply_affinity(i(12), Blob), i(12));
    assert_eq!(apply_affinity(t("12"), Blob), t("12"));
    // A NUL ends the text where SQLite 3.54 asks whether it is a number;
    // the integer check still reads every byte.
    assert_eq!(apply_affinity(t("12\0"), Integer), i(12));
    assert_eq!(apply_affinity(t("-1.5\0z"), Integer), r(-1.5));
    assert_eq!(apply_affinity(t("\0"), Numeric), t("\0"));
    assert_eq!(
        apply_affinity(t("9007199254740993\0"), Numeric),
        i(9007199254740992)
    );
}

#[test]
fn comparison_affinity_rules() {
    use Affinity::*;
    assert_eq!(comparison_affinity(Some(Integer), None), Some(Integer));
    assert_eq!(comparison_affinity(None, Some(Text)), Some(Text));
    assert_eq!(comparison_affinity(Some(Text), Some(Real)), Some(Numeric));
    assert_eq!(comparison_affinity(Some(Text), Some(Blob)), None);
    assert_eq!(comparison_affinity(None, None), None);
    assert_eq!(apply_comparison_affinity(t("5"), Integer), i(5));
    assert_eq!(apply_comparison_affinity(t("5.0"), Integer), r(5.0));
    assert_eq!(apply_comparison_affinity(t("5x"), Integer), t("5x"));
    assert_eq!(apply_comparison_affinity(i(5), Text), t("5"));
    assert_eq!(apply_comparison_affinity(i(5), Blob), i(5));
    // int_column = '5' finds 5 once the literal takes the column's affinity.
    let lit = apply_comparison_affinity(t("5"), Integer);
    assert_eq!(eq(&i(5), &lit), i(1));
}

#[test]
fn comparison_affinity_matches_sqlite_columns() {
    // CREATE TABLE t(a INTEGER, b TEXT, c BLOB, d); INSERT INTO t
    // VALUES (5,'5','5','5'); sqlite3 3.40.1 answers
    // a=b, b=5, c=5, d=5, a='5', c=b, a=c, b=5.0, a='5.0' with
    // 1, 1, 0, 0, 1, 1, 1, 0, 1.
    use Affinity::*;
    let col = |aff: Affinity, v: Value| (Some(aff), v);
    let lit = |v: Value| (None, v);
    let (a, b, c, d) = (
        col(Integer, i(5)),
        col(Text, t("5")),
        col(Blob, t("5")),
        col(Blob, t("5")),
    );
    let cases = [
        (a.clone(), b.clone(), 1),
        (b.clone(), lit(i(5)), 1),
        (c.clone(), lit(i(5)), 0),
        (d, lit(i(5)), 0),
        (a.clone(), lit(t("5")), 1),
        (c.clone(), b.clone(), 1),
        (a.clone(), c, 1),
        (b, lit(r(5.0)), 0),
        (a, lit(t("5.0")), 1),
    ];
    for ((la, lv), (ra, rv), want) in cases {
        let (lv, rv) = match comparison_affinity(la, ra) {
            Some(aff) => (
                apply_comparison_affinity(lv, aff),
                apply_comparison_affinity(rv, aff),
            ),
            None => (lv, rv),
        };
        assert_eq!(eq(&lv, &rv), i(want), "{la:?} {lv:?} = {ra:?} {rv:?}");
    }
}

#[test]
fn like_basics() {
    assert!(like("a", "A", None));
    assert!(like("ABC", "abc", None));
    assert!(!like("É", "é", None));
    assert!(like("é", "é", None));
    assert!(like("a_c", "abc", None));
    assert!(like("a_c", "aéc", None));
    assert!(!like("a_c", "ac", None));
    assert!(like("%", "", None));
    assert!(like("%", "anything", None));
    assert!(!like("_", "", None));
    assert!(like("%%_b", "ab", None));
    assert!(!like("%%_b", "b", None));
    assert!(like("a%", "abc", None));
    assert!(like("%c", "abc", None));
    assert!(like("%b%", "abc", None));
    assert!(!like("%d%", "abc", None));
    assert!(like("a%b%c", "aXbYc", None));
    assert!(like("a%b%c", "abbbc", None));
    assert!(!like("a%b%c", "acb", None));
    assert!(like("%a%a%a%a%a%b", "aaaaaaaaaaaab", None));
    assert!(!like("%a%a%a%a%a%b", "aaaaaaaaaaaaa", None));
    assert!(!like("abc", "abcd", None));
    assert!(!like("", "a", None));
    assert!(like("", "", None));
}

#[test]
fn like_with_escapes() {
    assert!(like("a\\%c", "a%c", Some('\\')));
    assert!(!like("a\\%c", "abc", Some('\\')));
    assert!(like("a\\_c", "a_c", Some('\\')));
    assert!(!like("a\\_c", "abc", Some('\\')));
    assert!(like("a\\\\c", "a\\c", Some('\\')));
    // A trailing lone escape never matches, even the text it spells.
    assert!(!like("abc\\", "abc", Some('\\')));
    assert!(!like("abc\\", "abc\\", Some('\\')));
    assert!(!like("%\\", "x", Some('\\')));
    assert!(like("a!%", "a%", Some('!')));
    assert!(like("100!%%", "100% sure", Some('!')));
    assert!(!like("100!%%", "1000 sure", Some('!')));
    // The escape makes a letter literal, still case-insensitive.
    assert!(like("!A", "a", Some('!')));
    // '%' or '_' as the escape character is no longer a wildcard.
    assert!(!like("a%", "abc", Some('%')));
    assert!(!like("%", "", Some('%')));
    assert!(like("a%%", "a%", Some('%')));
    assert!(like("a__", "a_", Some('_')));
    assert!(!like("a__", "ab", Some('_')));
    assert!(like("%_x", "ax", Some('_')));
    assert!(!like("%_x", "a", Some('_')));
    assert!(!like("_%", "x", Some('%')), "a trailing lone escape");
    assert!(like("_%%", "x%", Some('%')));
    // Without ESCAPE, backslash is an ordinary character.
    assert!(like("a\\%", "a\\bc", None));
}

#[test]
fn like_stops_at_nul() {
    assert!(like("a", "a\0b", None));
    assert!(like("a\0zzz", "a", None));
}

#[test]
fn glob_patterns() {
    assert!(glob("a*", "abc"));
    assert!(!glob("A*", "abc"));
    assert!(glob("a?c", "abc"));
    assert!(glob("[a-c]", "b"));
    assert!(!glob("[a-c]", "d"));
    assert!(glob("[]]", "]"));
    assert!(glob("[^a-c]", "d"));
    assert!(!glob("[^a-c]", "a"));
    assert!(glob("[^]]", "a"));
    assert!(!glob("[^]]", "]"));
    assert!(!glob("[a", "a"));
    assert!(!glob("*[a", "ba"));
    assert!(glob("[a-]", "-"));
    assert!(glob("[-a]", "-"));
    assert!(!glob("[z-a]", "b"));
    assert!(glob("[z-a]", "z"));
    assert!(glob("[]-a]", "-"));
    assert!(glob("*[0-9]", "abc7"));
    assert!(!glob("*[0-9]", "abc"));
    assert!(glob("[*]", "*"));
    assert!(!glob("[*]", "a"));
    assert!(glob("*.txt", "notes.txt"));
    assert!(glob("%", "%"));
    assert!(!glob("_", "a"));
    assert!(glob("[é]", "é"));
}

#[test]
fn pattern_matching_is_not_exponential() {
    let text = "a".repeat(5000);
    let pattern = "%a".repeat(1000) + "b";
    assert!(!like(&pattern, &text, None));
    let pattern = "%".repeat(60_000);
    assert!(like(&pattern, &text, None));
    assert!(glob(&"*?".repeat(100), &text));
}

#[test]
fn numeric_conversions_never_panic_on_odd_bytes() {
    let nines = b"9".repeat(500);
    let odd: &[&[u8]] = &[
        b"",
        b"-",
        b"+",
        b".",
        b"e",
        b"-.e-",
        b"1e-",
        b"\xff\xfe",
        b"  \t\n",
        b"--1",
        b"1..2",
        b"1ee2",
        b"\x00",
        &nines,
    ];
    for z in odd {
        let _ = parse_real_prefix(z);
        let _ = parse_int_prefix(z);
        let v = Value::Blob(z.to_vec());
        for to in [
            CastType::Integer,
            CastType::Real,
            CastType::Numeric,
            CastType::Text,
            CastType::Blob,
        ] {
            let _ = cast(&v, to);
        }
        let _ = add(&v, &v);
        let _ = rem(&v, &v);
        let _ = v.truthy();
    }
}

/// Property tests: invariants that must hold for any input.
mod properties {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn any_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Integer),
            prop_oneof![-3i64..3, Just(i64::MAX), Just(i64::MIN)].prop_map(Value::Integer),
            any::<f64>().prop_map(Value::real),
            (-1e6f64..1e6).prop_map(Value::real),
            ".{0,10}".prop_map(Value::Text),
            "[ +\\-0-9.eE]{0,12}".prop_map(Value::Text),
            proptest::collection::vec(any::<u8>(), 0..10).prop_map(Value::Blob),
        ]
    }

    /// A direct recursive wildcard matcher, as an oracle: `any` and `one`
    /// are the wildcards (`%` and `_`, or `*` and `?`).
    fn naive(p: &[char], t: &[char], any: char, one: char, no_case: bool) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some((&c, rest)) if c == any => {
                (0..=t.len()).any(|k| naive(rest, &t[k..], any, one, no_case))
            }
            Some((&c, rest)) if c == one => {
                !t.is_empty() && naive(rest, &t[1..], any, one, no_case)
            }
            Some((c, rest)) => {
                t.first()
                    .is_some_and(|d| d == c || (no_case && d.eq_ignore_ascii_case(c)))
                    && naive(rest, &t[1..], any, one, no_case)
            }
        }
    }

    proptest! {
        #[test]
        fn compare_is_a_total_order(a in any_value(), b in any_value(), c in any_value()) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
            if compare(&a, &b).is_le() && compare(&b, &c).is_le() {
                prop_assert!(compare(&a, &c).is_le());
            }
        }

        #[test]
        fn operations_never_panic_and_never_make_nan(a in any_value(), b in any_value()) {
            for res in [add(&a, &b), sub(&a, &b), mul(&a, &b), div(&a, &b), rem(&a, &b), neg(&a)] {
                if let Ok(Value::Real(x)) = res {
                    prop_assert!(!x.is_nan());
                }
            }
            for to in [CastType::Integer, CastType::Real, CastType::Text, CastType::Blob, CastType::Numeric] {
                let v = cast(&a, to);
                prop_assert!(!matches!(v, Value::Real(x) if x.is_nan()));
                prop_assert_eq!(v.is_null(), a.is_null());
            }
            for aff in [Affinity::Integer, Affinity::Real, Affinity::Numeric, Affinity::Text, Affinity::Blob] {
                let _ = apply_affinity(a.clone(), aff);
                let _ = apply_comparison_affinity(a.clone(), aff);
            }
            let _ = (concat(&a, &b), a.truthy(), a.to_text(), is(&a, &b), and(&a, &b), or(&a, &b));
        }

        #[test]
        fn real_text_round_trips_as_sqlite(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            let text = format_real(x);
            let back = parse_real_prefix(text.as_bytes()).0;
            prop_assert_eq!(back.to_bits(), x.to_bits(), "{} -> {} -> {}", x, text, back);
            prop_assert!(text.contains('.'));
            let sqlite = oracle("SELECT CAST(?1 AS TEXT)", rusqlite::types::Value::Real(x));
            prop_assert_eq!(&text, &sqlite);
            let quoted = oracle("SELECT quote(?1)", rusqlite::types::Value::Real(x));
            prop_assert_eq!(format_real_quoted(x), quoted);
        }

        #[test]
        fn text_to_real_as_sqlite(m in any::<u64>(), e in -400i32..400, frac in 0usize..25) {
            let digits = m.to_string();
            let text = if frac < digits.len() {
                format!("{}.{}e{e}", &digits[..digits.len() - frac], &digits[digits.len() - frac..])
            } else {
                format!("{digits}e{e}")
            };
            let got = parse_real_prefix(text.as_bytes()).0;
            let sqlite = oracle("SELECT CAST(?1 AS REAL)", rusqlite::types::Value::Text(text.clone()));
            prop_assert_eq!(format!("real {:#x}", got.to_bits()), sqlite, "{}", text);
        }

        #[test]
        fn integer_text_round_trips(i in any::<i64>()) {
            let text = i.to_string();
            prop_assert_eq!(parse_int_prefix(text.as_bytes()), (i, IntShape::Exact));
            prop_assert_eq!(cast(&Value::Text(text.clone()), CastType::Integer), Value::Integer(i));
            prop_assert_eq!(cast(&Value::Text(text.clone()), CastType::Numeric), Value::Integer(i));
            prop_assert_eq!(apply_affinity(Value::Text(text), Affinity::Integer), Value::Integer(i));
            prop_assert_eq!(apply_affinity(Value::Integer(i), Affinity::Text).to_text(), Some(i.to_string()));
        }

        #[test]
        fn exact_integer_arithmetic_or_real(x in any::<i64>(), y in any::<i64>()) {
            let (a, b) = (Value::Integer(x), Value::Integer(y));
            let wide = [i128::from(x) + i128::from(y), i128::from(x) - i128::from(y), i128::from(x) * i128::from(y)];
            let real = [x as f64 + y as f64, x as f64 - y as f64, x as f64 * y as f64];
            for ((res, want), fp) in [add(&a, &b), sub(&a, &b), mul(&a, &b)].into_iter().zip(wide).zip(real) {
                match i64::try_from(want) {
                    Ok(w) => prop_assert_eq!(res.ok(), Some(Value::Integer(w))),
                    Err(_) => prop_assert_eq!(res.ok(), Some(Value::Real(fp))),
                }
            }
        }

        #[test]
        fn like_agrees_with_a_naive_matcher(pattern in "[abAB%_]{0,8}", text in "[abAB]{0,8}") {
            let p: Vec<char> = pattern.chars().collect();
            let t: Vec<char> = text.chars().collect();
            prop_assert_eq!(like(&pattern, &text, None), naive(&p, &t, '%', '_', true));
            // The same pattern in GLOB's wildcards matches case-sensitively.
            let g: String = pattern
                .chars()
                .map(|c| match c {
                    '%' => '*',
                    '_' => '?',
                    c => c,
                })
                .collect();
            let gp: Vec<char> = g.chars().collect();
            prop_assert_eq!(glob(&g, &text), naive(&gp, &t, '*', '?', false));
        }
    }
}
