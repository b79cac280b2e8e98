//! The text form of a REAL: SQLite's printf (`%!.15g`) and the x87 `long
//! double` it computes in, reproduced bit for bit.

use std::cmp::Ordering;

/// A non-negative x87 80-bit extended-precision number (`long double` on
/// x86-64, which SQLite 3.40 uses to read and print reals): `m × 2^e` with a
/// 64-bit significand whose top bit is set (or `m == 0` for zero), rounded
/// to nearest, ties to even, after every operation. The exponent is not
/// bounded, which is harmless for the magnitudes that reach it (at most
/// about 10^650). Reproducing this arithmetic bit for bit is what makes
/// `CAST(x AS TEXT)`, `quote()` and `round()` agree with SQLite in the last
/// digit, including where SQLite is not correctly rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Ext {
    pub(super) m: u64,
    pub(super) e: i64,
}

impl Ext {
    pub(super) const ZERO: Ext = Ext { m: 0, e: 0 };
    pub(super) const ONE: Ext = Ext { m: 1 << 63, e: -63 };
    pub(super) const TEN: Ext = Ext {
        m: 10 << 60,
        e: -60,
    };

    pub(super) fn is_zero(self) -> bool {
        self.m == 0
    }

    pub(super) fn from_u64(x: u64) -> Ext {
        if x == 0 {
            return Ext::ZERO;
        }
        let lz = x.leading_zeros();
        Ext {
            m: x << lz,
            e: -i64::from(lz),
        }
    }

    /// Exact conversion of a finite double (its sign is ignored).
    pub(super) fn from_f64(x: f64) -> Ext {
        let bits = x.to_bits();
        let biased = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
        let frac = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (frac, -1074)
        } else {
            (frac | (1 << 52), biased - 1075)
        };
        let r = Ext::from_u64(m);
        if r.is_zero() {
            r
        } else {
            Ext { m: r.m, e: r.e + e }
        }
    }

    /// Rounds `m × 2^e` (plus a positive amount below the last bit of `m`
    /// when `sticky`) to a 64-bit significand. A caller passing `sticky`
    /// must give `m` at least 66 significant bits.
    pub(super) fn round(m: u128, e: i64, sticky: bool) -> Ext {
        if m == 0 {
            return Ext::ZERO;
        }
        let bits = 128 - m.leading_zeros();
        if bits <= 64 {
            let shift = 64 - bits;
            return Ext {
                m: u64::try_from(m << shift).unwrap_or(u64::MAX),
                e: e - i64::from(shift),
            };
        }
        let shift = bits - 64;
        let kept = u64::try_from(m >> shift).unwrap_or(u64::MAX);
        let rest = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let e = e + i64::from(shift);
        let up = rest > half || (rest == half && (sticky || kept & 1 == 1));
        if !up {
            return Ext { m: kept, e };
        }
        match kept.checked_add(1) {
            Some(k) => Ext { m: k, e },
            None => Ext {
                m: 1 << 63,
                e: e + 1,
            },
        }
    }

    pub(super) fn mul(self, o: Ext) -> Ext {
        if self.is_zero() || o.is_zero() {
            return Ext::ZERO;
        }
        Ext::round(u128::from(self.m) * u128::from(o.m), self.e + o.e, false)
    }

    /// `self / o`; `o` must not be zero (a zero divisor gives zero).
    pub(super) fn div(self, o: Ext) -> Ext {
        if self.is_zero() || o.is_zero() {
            return Ext::ZERO;
        }
        let n = u128::from(self.m) << 64;
        let d = u128::from(o.m);
        let (q, r) = (n / d, n % d);
        // Two more quotient bits, so that the remainder is only sticky.
        let q2 = (q << 2) | ((r << 2) / d);
        let r2 = (r << 2) % d;
        Ext::round(q2, self.e - 64 - o.e - 2, r2 != 0)
    }

    /// `self` and the other operand aligned on a common scale, the smaller
    /// one shifted right with a sticky bit for what fell off.
    pub(super) fn align(self, o: Ext) -> (u128, u128, i64, bool) {
        let (hi, lo) = if self.e >= o.e { (self, o) } else { (o, self) };
        let hm = u128::from(hi.m) << 62;
        let lfull = u128::from(lo.m) << 62;
        let d = u32::try_from(hi.e - lo.e).unwrap_or(u32::MAX);
        let (lm, sticky) = if d >= 128 {
            (0, lfull != 0)
        } else {
            (lfull >> d, lfull & ((1u128 << d) - 1) != 0)
        };
        if self.e >= o.e {
            (hm, lm, hi.e - 62, sticky)
        } else {
            (lm, hm, hi.e - 62, sticky)
        }
    }

    pub(super) fn add(self, o: Ext) -> Ext {
        if self.is_zero() {
            return o;
        }
        if o.is_zero() {
            return self;
        }
        let (a, b, e, sticky) = self.align(o);
        Ext::round(a + b, e, sticky)
    }

    /// `self - o` for `self >= o`.
    pub(super) fn sub(self, o: Ext) -> Ext {
        if o.is_zero() {
            return self;
        }
        let (a, b, e, sticky) = self.align(o);
        let diff = if sticky {
            a.saturating_sub(b).saturating_sub(1)
        } else {
            a.saturating_sub(b)
        };
        Ext::round(diff, e, sticky)
    }

    pub(super) fn cmp(self, o: Ext) -> Ordering {
        match (self.is_zero(), o.is_zero()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => (self.e, self.m).cmp(&(o.e, o.m)),
        }
    }

    pub(super) fn ge(self, o: Ext) -> bool {
        self.cmp(o) != Ordering::Less
    }

    pub(super) fn lt(self, o: Ext) -> bool {
        self.cmp(o) == Ordering::Less
    }

    /// The integer part, for values below 2^63.
    pub(super) fn trunc(self) -> u64 {
        if self.is_zero() || self.e <= -64 {
            0
        } else if self.e < 0 {
            self.m >> (-self.e)
        } else {
            u64::MAX
        }
    }

    /// Rounds to the nearest double (ties to even), with subnormals and
    /// overflow to infinity, as storing a `long double` into a `double` does.
    pub(super) fn to_f64(self) -> f64 {
        if self.is_zero() {
            return 0.0;
        }
        let mut top = self.e + 63; // exponent of the leading bit
        if top > 1023 {
            return f64::INFINITY;
        }
        let lowest = if top >= -1022 { top - 52 } else { -1074 };
        let shift = lowest - self.e; // >= 11
        if shift >= 66 {
            return 0.0;
        }
        let shift = u32::try_from(shift).unwrap_or(0);
        let m = u128::from(self.m);
        let mut kept = m >> shift;
        let rest = m & ((1u128 << shift) - 1);
        let half = 1u128 << shift.saturating_sub(1);
        if rest > half || (rest == half && kept & 1 == 1) {
            kept += 1;
        }
        let kept = u64::try_from(kept).unwrap_or(0);
        if lowest == -1074 && top < -1022 {
            // Subnormal (or rounded up to the smallest normal: same bits).
            return f64::from_bits(kept);
        }
        let mut kept = kept;
        if kept == 1 << 53 {
            kept = 1 << 52;
            top += 1;
            if top > 1023 {
                return f64::INFINITY;
            }
        }
        let biased = u64::try_from(top + 1023).unwrap_or(0);
        f64::from_bits((biased << 52) | (kept & ((1 << 52) - 1)))
    }

    /// SQLite's `sqlite3Pow10`: 10^e by repeated squaring in long double.
    pub(super) fn pow10(mut e: i64) -> Ext {
        let mut x = Ext::TEN;
        let mut r = Ext::ONE;
        loop {
            if e & 1 == 1 {
                r = r.mul(x);
            }
            e >>= 1;
            if e == 0 {
                break;
            }
            x = x.mul(x);
        }
        r
    }
}

/// The printf conversions SQLite uses for reals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatStyle {
    /// `%f`: fixed point with `precision` decimals.
    Fixed,
    /// `%e`: one digit, `precision` decimals, an exponent.
    Exp,
    /// `%g`: `precision` significant digits, fixed or exponent form.
    Generic,
}

/// A port of the floating-point branch of SQLite 3.40's
/// `sqlite3_str_vappendf` (`printf.c`), `long double` arithmetic included.
/// `alt_form2` is SQLite's `!` flag: up to 26 significant digits instead of
/// 16, and trailing zeros dropped but at least one digit kept after the
/// point.
pub(crate) fn sqlite_printf_float(
    value: f64,
    style: FloatStyle,
    precision: usize,
    alt_form2: bool,
) -> String {
    sqlite_printf_float_flags(value, style, precision, alt_form2, false)
}

/// [`sqlite_printf_float`] with printf's `#` flag too (`alt_form`): the
/// decimal point is always shown, and `%g` keeps its trailing zeros.
pub(crate) fn sqlite_printf_float_flags(
    value: f64,
    style: FloatStyle,
    precision: usize,
    alt_form2: bool,
    alt_form: bool,
) -> String {
    const AR_ROUND: [f64; 10] = [
        5.0e-01, 5.0e-02, 5.0e-03, 5.0e-04, 5.0e-05, 5.0e-06, 5.0e-07, 5.0e-08, 5.0e-09, 5.0e-10,
    ];
    let mut out = String::new();
    if value.is_nan() {
        out.push_str("NaN");
        return out;
    }
    let magnitude = value.abs();
    if value < 0.0 {
        out.push('-');
    }
    if magnitude.is_infinite() {
        out.push_str("Inf");
        return out;
    }
    let mut precision = i64::try_from(precision.min(1000)).unwrap_or(1000);
    if style == FloatStyle::Generic && precision > 0 {
        precision -= 1;
    }
    let mut idx = precision & 0xfff;
    let mut rounder = AR_ROUND
        .get(usize::try_from(idx % 10).unwrap_or(0))
        .copied()
        .unwrap_or(0.5);
    while idx >= 10 {
        rounder *= 1.0e-10;
        idx -= 10;
    }
    let mut real = Ext::from_f64(magnitude);
    if style == FloatStyle::Fixed {
        let ex = i64::try_from((magnitude.to_bits() >> 52) & 0x7ff).unwrap_or(0) - 1023;
        if precision + ex / 3 < 15 {
            rounder = Ext::from_f64(rounder)
                .add(real.mul(Ext::from_f64(3e-16)))
                .to_f64();
        }
        real = real.add(Ext::from_f64(rounder));
    }
    // Normalize to 1.0 <= real < 10.0.
    let mut exp: i64 = 0;
    if !real.is_zero() {
        let (e100, e10) = (Ext::from_f64(1e100), Ext::from_f64(1e10));
        let mut scale = Ext::ONE;
        while real.ge(e100.mul(scale)) && exp <= 350 {
            scale = scale.mul(e100);
            exp += 100;
        }
        while real.ge(e10.mul(scale)) && exp <= 350 {
            scale = scale.mul(e10);
            exp += 10;
        }
        while real.ge(Ext::TEN.mul(scale)) && exp <= 350 {
            scale = scale.mul(Ext::TEN);
            exp += 1;
        }
        real = real.div(scale);
        let (e_8, e8) = (Ext::from_f64(1e-8), Ext::from_f64(1e8));
        while real.lt(e_8) {
            real = real.mul(e8);
            exp -= 8;
        }
        while real.lt(Ext::ONE) {
            real = real.mul(Ext::TEN);
            exp -= 1;
        }
        if exp > 350 {
            out.push_str("Inf");
            return out;
        }
    }
    let mut style = style;
    if style != FloatStyle::Fixed {
        real = real.add(Ext::from_f64(rounder));
        if real.ge(Ext::TEN) {
            real = real.mul(Ext::from_f64(0.1));
            exp += 1;
        }
    }
    let remove_trailing_zeros = if style == FloatStyle::Generic {
        if exp < -4 || exp > precision {
            style = FloatStyle::Exp;
        } else {
            precision -= exp;
            style = FloatStyle::Fixed;
        }
        !alt_form
    } else {
        alt_form2
    };
    let mut e2 = if style == FloatStyle::Exp { 0 } else { exp };
    let mut significant: i32 = if alt_form2 { 26 } else { 16 };
    let mut next_digit = |real: &mut Ext| -> char {
        if significant <= 0 {
            return '0';
        }
        significant -= 1;
        let digit = real.trunc().min(9);
        *real = real.sub(Ext::from_u64(digit)).mul(Ext::TEN);
        char::from(b'0' + u8::try_from(digit).unwrap_or(9))
    };
    let start = out.len();
    if e2 < 0 {
        out.push('0');
    } else {
        while e2 >= 0 {
            out.push(next_digit(&mut real));
            e2 -= 1;
        }
    }
    let decimal_point = precision > 0 || alt_form2 || alt_form;
    if decimal_point {
        out.push('.');
    }
    e2 += 1;
    while e2 < 0 {
        out.push('0');
        precision -= 1;
        e2 += 1;
    }
    while precision > 0 {
        out.push(next_digit(&mut real));
        precision -= 1;
    }
    if remove_trailing_zeros && decimal_point {
        while out.len() > start + 1 && out.ends_with('0') {
            out.pop();
        }
        if out.ends_with('.') {
            if alt_form2 {
                out.push('0');
            } else {
                out.pop();
            }
        }
    }
    if style == FloatStyle::Exp {
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.unsigned_abs()));
    }
    out
}

/// Renders a double the way SQLite's `%!.15g` does: the text form of a REAL
/// (see the module documentation).
pub(crate) fn format_real(x: f64) -> String {
    sqlite_printf_float(x, FloatStyle::Generic, 15, true)
}

/// Renders a double the way SQLite's `%!.20e` does (used by `quote()` when
/// the 15-digit form would not read back as the same double).
pub(crate) fn format_real_exp20(x: f64) -> String {
    sqlite_printf_float(x, FloatStyle::Exp, 20, true)
}
