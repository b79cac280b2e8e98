//! SQL values and everything the engine does with one or two of them:
//! compare, sort, compute, cast, convert to text, store under a column's
//! affinity, and match against LIKE and GLOB patterns.
//!
//! The semantics are SQLite's (3.47 and later), ported from its source (`vdbe.c`,
//! `vdbemem.c`, `util.c`, `printf.c`, `func.c`) rather than re-derived, so
//! that queries give the answers SQLite users expect. That includes integer
//! overflow in `+`, `-`, `*`, unary minus and `/`, which gives a REAL, as
//! in SQLite (only the `sum` aggregate and `abs` raise "integer overflow").
//!
//! # Invariants
//!
//! * A [`Value::Real`] is never NaN. Every operation that can produce a NaN
//!   (`inf - inf`, `0 * inf`) goes through [`Value::real`], which turns it
//!   into [`Value::Null`], as SQLite does.
//! * Nothing here panics, whatever the input: no unchecked slicing, no
//!   unchecked integer arithmetic, no `unwrap`.
//! * Text is compared bytewise (SQLite's BINARY collation) unless a
//!   [`Collation`] says otherwise; case-folding is ASCII-only everywhere
//!   (NOCASE, LIKE, `upper`, `lower`), as in SQLite built without ICU.
//!
//! # Sort order and comparison
//!
//! ```text
//!   NULL  <  INTEGER and REAL (numerically, exactly)  <  TEXT (bytes)  <  BLOB (memcmp)
//! ```
//!
//! [`compare`] is that total order; it is what ORDER BY, GROUP BY, DISTINCT,
//! `min`/`max` and index keys use. Integers and reals are compared exactly,
//! never by converting the integer to a double: `9007199254740993 >
//! 9007199254740992.0` and `i64::MAX < 9223372036854775808.0`. The SQL
//! operators (`=`, `<`, ...) are three-valued: [`sql_cmp`] is `None` when
//! either side is NULL. Before comparing, the binder may apply *comparison
//! affinity* ([`comparison_affinity`], [`apply_comparison_affinity`]), which
//! is how `int_column = '5'` finds the row holding 5.
//!
//! # Numbers hidden in text
//!
//! Text (and blob bytes) turn into numbers in several places, with subtly
//! different rules, each copied from SQLite:
//!
//! ```text
//!   arithmetic, truthiness   the numeric prefix: '12abc' -> 12, 'abc' -> 0,
//!                            '1.5e3x' -> 1500.0 ('1.0' stays REAL 1.0)
//!   CAST AS INTEGER          the integer prefix only: '12.9' -> 12, '1e3' -> 1
//!   CAST AS REAL             the real prefix: '1e3x' -> 1000.0
//!   CAST AS NUMERIC          the prefix, as INTEGER when exact: '3.0' -> 3
//!   affinity (storage)       only a well-formed number converts: '12' -> 12,
//!                            ' 1e3 ' -> 1000, '12abc' stays text
//! ```
//!
//! The scanners [`parse_real_prefix`] and [`parse_int_prefix`] mirror
//! SQLite's `sqlite3AtoF` and `sqlite3Atoi64`, including what they report
//! about the shape of the text.
//!
//! # Text form of a REAL
//!
//! Reals print as SQLite's `%!.17g` (SQLite 3.47 and later): at most
//! seventeen significant digits, fewer when fewer read back as the same
//! double, trailing zeros dropped but at least one digit after the point,
//! and exponent form when the exponent is below -4 or above 16: `1.0`,
//! `0.1`, `0.30000000000000004`, `1000000000000000.0`, `1.0e+20`, `Inf`.
//! Negative zero prints as `0.0`. Text is read back by SQLite's
//! `sqlite3AtoF`: the first 19 significant digits, scaled by a table of
//! powers of ten to the nearest double. Both are ports (real_text.rs) of
//! SQLite's integer-only algorithms, checked against the bundled SQLite by
//! property tests.
//!
//! # Embedded NUL characters
//!
//! SQLite's C functions stop at the first NUL character in some places and
//! not in others. This module follows it where that is documented or cheap
//! (LIKE and GLOB stop at a NUL); elsewhere text is its full length.

mod affinity;
mod arith;
mod cast;
mod collation;
mod compare;
mod numeric_text;
mod pattern;
mod real_text;
#[cfg(test)]
mod tests;
mod value;

pub use affinity::*;
pub use arith::*;
pub use cast::*;
pub use collation::*;
pub use compare::*;
pub use numeric_text::*;
pub use pattern::*;
pub(crate) use real_text::*;
pub use value::*;
