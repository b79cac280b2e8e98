//! The time value behind the date and time functions, ported from
//! SQLite's `date.c`: parsing a time value, applying modifiers, and
//! converting between a julian day number and calendar fields.
//!
//! A [`DateTime`] holds a moment as a julian day number times 86,400,000
//! (`jd`, milliseconds since noon UTC on 4714-11-24 BC, proleptic
//! Gregorian calendar) and/or as calendar fields (year, month, day, hour,
//! minute, seconds); each form is computed from the other on demand, as in
//! SQLite. The valid range is 0000-01-01 00:00:00 to 9999-12-31
//! 23:59:59.999 (`0..=MAX_JD`); anything outside is an error, which the
//! functions report as NULL.
//!
//! ```text
//!   time value: YYYY-MM-DD [HH:MM[:SS[.FFF]]] [+HH:MM|Z], HH:MM[:SS[.FFF]],
//!               'now', a number (julian day, or unix time with 'unixepoch'
//!               or 'auto'), 'subsec'
//!   modifiers:  NNN days|hours|minutes|seconds|months|years, ±HH:MM[:SS],
//!               ±YYYY-MM-DD [HH:MM[:SS]], start of day|month|year,
//!               end of day|month|year, weekday N, unixepoch, julianday,
//!               auto, localtime, utc, subsec|subsecond, ceiling, floor
//! ```
//!
//! `localtime` and `utc` use the time zone of the process (the `TZ`
//! environment variable, else the system's), through `chrono` rather than
//! the C library; like SQLite, dates outside 1970..2037 are mapped to a
//! year with the same calendar inside that range to find the offset.

use chrono::{Local, Offset, TimeZone};

use crate::types::{parse_real_prefix, RealShape};

/// The julian day number, times 86,400,000, of 9999-12-31 23:59:59.999.
pub(super) const MAX_JD: i64 = 464_269_060_799_999;

/// One moment being computed (SQLite's `DateTime`).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DateTime {
    pub jd: i64,
    pub y: i32,
    pub mo: i32,
    pub d: i32,
    pub h: i32,
    pub mi: i32,
    /// Time zone offset in minutes.
    pub tz: i32,
    pub s: f64,
    pub valid_jd: bool,
    pub valid_ymd: bool,
    pub valid_hms: bool,
    /// Days of day-of-month overflow, for the `floor` modifier.
    pub n_floor: i32,
    /// `s` holds a raw number (julian day or unix time), not seconds.
    pub raw_s: bool,
    pub is_error: bool,
    pub use_subsec: bool,
    pub is_utc: bool,
    pub is_local: bool,
}

/// SQLite's `sqlite3Isspace`: space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn at(z: &[u8], i: usize) -> u8 {
    z.get(i).copied().unwrap_or(0)
}

/// SQLite's `getDigits` for one field: `n` digits in `min..=max`, followed
/// by `next` (0: anything).
fn digits(z: &[u8], n: usize, min: i32, max: i32) -> Option<i32> {
    let mut v = 0i32;
    for k in 0..n {
        let c = at(z, k);
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i32::from(c - b'0');
    }
    (min..=max).contains(&v).then_some(v)
}

/// Fields of `spec` = [(digits, min, max, separator)], as `getDigits`:
/// the count of fields converted before the first failure.
fn get_digits(z: &[u8], spec: &[(usize, i32, i32, u8)], out: &mut [i32]) -> usize {
    let mut pos = 0;
    for (k, &(n, min, max, sep)) in spec.iter().enumerate() {
        let Some(v) = digits(z.get(pos..).unwrap_or(&[]), n, min, max) else {
            return k;
        };
        pos += n;
        if sep != 0 && at(z, pos) != sep {
            return k;
        }
        if let Some(o) = out.get_mut(k) {
            *o = v;
        }
        pos += 1;
    }
    spec.len()
}

/// SQLite's `sqlite3AtoF` used as a test: the number `z` spells (all of it,
/// surrounding spaces allowed), if it does.
pub(super) fn whole_number(z: &[u8]) -> Option<f64> {
    let (r, shape) = parse_real_prefix(z);
    matches!(shape, RealShape::Integer | RealShape::Real).then_some(r)
}

fn days_of_month(y: i32, m: i32) -> i32 {
    if (1 << m) & 0x15aa != 0 {
        31
    } else if m != 2 {
        30
    } else if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) {
        29
    } else {
        28
    }
}

impl DateTime {
    fn error() -> DateTime {
        DateTime {
            is_error: true,
            ..DateTime::default()
        }
    }

    /// `(+|-)HH:MM`, `Z` or nothing after a time (SQLite's `parseTimezone`):
    /// false on a syntax error.
    fn parse_timezone(&mut self, mut z: &[u8]) -> bool {
        while z.first().copied().is_some_and(is_space) {
            z = &z[1..];
        }
        self.tz = 0;
        let sgn = match at(z, 0) {
            b'-' => -1,
            b'+' => 1,
            b'Z' | b'z' => {
                self.is_local = false;
                self.is_utc = true;
                return z[1..].iter().all(|&c| is_space(c));
            }
            0 => return true,
            _ => return false,
        };
        let mut hm = [0i32; 2];
        if get_digits(&z[1..], &[(2, 0, 14, b':'), (2, 0, 59, 0)], &mut hm) != 2 {
            return false;
        }
        self.tz = sgn * (hm[1] + hm[0] * 60);
        if self.tz == 0 {
            self.is_local = false;
            self.is_utc = true;
        }
        z.get(6..).unwrap_or(&[]).iter().all(|&c| is_space(c))
    }

    /// `HH:MM[:SS[.FFF]]` with an optional time zone (`parseHhMmSs`).
    fn parse_hh_mm_ss(&mut self, z: &[u8]) -> bool {
        let mut hm = [0i32; 2];
        if get_digits(z, &[(2, 0, 24, b':'), (2, 0, 59, 0)], &mut hm) != 2 {
            return false;
        }
        let mut i = 5;
        let mut s = 0;
        let mut ms = 0.0;
        if at(z, i) == b':' {
            i += 1;
            let Some(sec) = digits(z.get(i..).unwrap_or(&[]), 2, 0, 59) else {
                return false;
            };
            s = sec;
            i += 2;
            if at(z, i) == b'.' && at(z, i + 1).is_ascii_digit() {
                let mut scale = 1.0;
                i += 1;
                while at(z, i).is_ascii_digit() {
                    ms = ms * 10.0 + f64::from(at(z, i) - b'0');
                    scale *= 10.0;
                    i += 1;
                }
                ms /= scale;
                if ms > 0.999 {
                    ms = 0.999;
                }
            }
        }
        if hm[0] == 24 && (hm[1] != 0 || s != 0 || ms != 0.0) {
            return false;
        }
        self.valid_jd = false;
        self.raw_s = false;
        self.valid_hms = true;
        self.h = hm[0];
        self.mi = hm[1];
        self.s = f64::from(s) + ms;
        self.parse_timezone(z.get(i..).unwrap_or(&[]))
    }

    /// `YYYY-MM-DD[ T]time` (`parseYyyyMmDd`).
    fn parse_yyyy_mm_dd(&mut self, mut z: &[u8]) -> bool {
        let neg = at(z, 0) == b'-';
        if neg {
            z = &z[1..];
        }
        let mut ymd = [0i32; 3];
        if get_digits(
            z,
            &[(4, 0, 14712, b'-'), (2, 1, 12, b'-'), (2, 1, 31, 0)],
            &mut ymd,
        ) != 3
        {
            return false;
        }
        let [mut y, mut m, mut d] = ymd;
        let mut i = 10;
        while is_space(at(z, i)) || at(z, i) == b'T' {
            i += 1;
        }
        let rest = z.get(i..).unwrap_or(&[]);
        if self.parse_hh_mm_ss(rest) {
            if self.h == 24 {
                let mx = days_of_month(y, m);
                self.h = 0;
                d += 1;
                if d > mx {
                    d -= mx;
                    m += 1;
                    if m > 12 {
                        m = 1;
                        y += 1;
                    }
                }
            }
        } else if rest.is_empty() {
            self.valid_hms = false;
        } else {
            return false;
        }
        self.valid_jd = false;
        self.valid_ymd = true;
        self.y = if neg { -y } else { y };
        self.mo = m;
        self.d = d;
        self.compute_floor();
        if self.tz != 0 {
            self.compute_jd();
        }
        true
    }

    /// A number as a time value: a julian day when in range, kept raw for
    /// `unixepoch` and `auto` (`setRawDateNumber`).
    pub(super) fn set_raw_number(&mut self, r: f64) {
        self.s = r;
        self.raw_s = true;
        if (0.0..5_373_484.5).contains(&r) {
            self.jd = (r * 86_400_000.0 + 0.5) as i64;
            self.valid_jd = true;
        }
    }

    /// The statement's moment (`setDateTimeToCurrent`).
    pub(super) fn set_now(&mut self, now_jd_ms: i64) {
        self.jd = now_jd_ms;
        self.valid_jd = true;
        self.is_utc = true;
        self.is_local = false;
        self.clear_ymd_hms_tz();
    }

    /// A text time value (`parseDateOrTime`): false when it is none.
    pub(super) fn parse_time_value(&mut self, z: &[u8], now_jd_ms: i64) -> bool {
        if self.parse_yyyy_mm_dd(z) || self.parse_hh_mm_ss(z) {
            return true;
        }
        if z.eq_ignore_ascii_case(b"now") {
            self.set_now(now_jd_ms);
            return true;
        }
        if let Some(r) = whole_number(z) {
            self.set_raw_number(r);
            return true;
        }
        if z.eq_ignore_ascii_case(b"subsec") || z.eq_ignore_ascii_case(b"subsecond") {
            self.use_subsec = true;
            self.set_now(now_jd_ms);
            return true;
        }
        false
    }

    pub(super) fn compute_jd(&mut self) {
        if self.valid_jd {
            return;
        }
        let (mut y, mut m, d);
        if self.valid_ymd {
            y = self.y;
            m = self.mo;
            d = self.d;
        } else {
            y = 2000;
            m = 1;
            let mut dd = 1;
            if self.valid_hms && self.h == 24 {
                self.h = 0;
                dd = 2;
            }
            d = dd;
        }
        if !(-4713..=9999).contains(&y) || self.raw_s {
            *self = DateTime::error();
            return;
        }
        if m <= 2 {
            y -= 1;
            m += 12;
        }
        let a = (y + 4800) / 100;
        let b = 38 - a + (a / 4);
        let x1 = 36525 * (y + 4716) / 100;
        let x2 = 306_001 * (m + 1) / 10000;
        self.jd = ((f64::from(x1 + x2 + d + b) - 1524.5) * 86_400_000.0) as i64;
        self.valid_jd = true;
        if self.valid_hms {
            self.jd += i64::from(self.h) * 3_600_000
                + i64::from(self.mi) * 60_000
                + (self.s * 1000.0 + 0.5) as i64;
            if self.tz != 0 {
                self.jd -= i64::from(self.tz) * 60_000;
                self.valid_ymd = false;
                self.valid_hms = false;
                self.tz = 0;
                self.is_utc = true;
                self.is_local = false;
            }
        }
    }

    fn compute_floor(&mut self) {
        let mx = days_of_month(self.y, self.mo);
        self.n_floor = if self.d > mx { self.d - mx } else { 0 };
    }

    pub(super) fn compute_ymd(&mut self) {
        if self.valid_ymd {
            return;
        }
        if !self.valid_jd {
            self.y = 2000;
            self.mo = 1;
            self.d = 1;
        } else if !(0..=MAX_JD).contains(&self.jd) {
            *self = DateTime::error();
            return;
        } else {
            let z = ((self.jd + 43_200_000) / 86_400_000) as i32;
            let alpha = ((f64::from(z) + 32044.75) / 36524.25) as i32 - 52;
            let a = z + 1 + alpha - ((alpha + 100) / 4) + 25;
            let b = a + 1524;
            let c = ((f64::from(b) - 122.1) / 365.25) as i32;
            let d = (36525 * (c & 32767)) / 100;
            let e = (f64::from(b - d) / 30.6001) as i32;
            let x1 = (30.6001 * f64::from(e)) as i32;
            self.d = b - d - x1;
            self.mo = if e < 14 { e - 1 } else { e - 13 };
            self.y = if self.mo > 2 { c - 4716 } else { c - 4715 };
        }
        self.valid_ymd = true;
    }

    pub(super) fn compute_hms(&mut self) {
        if self.valid_hms {
            return;
        }
        self.compute_jd();
        let day_ms = ((self.jd + 43_200_000) % 86_400_000) as i32;
        self.s = f64::from(day_ms % 60_000) / 1000.0;
        let day_min = day_ms / 60_000;
        self.mi = day_min % 60;
        self.h = day_min / 60;
        self.raw_s = false;
        self.valid_hms = true;
    }

    pub(super) fn compute_ymd_hms(&mut self) {
        self.compute_ymd();
        self.compute_hms();
    }

    fn clear_ymd_hms_tz(&mut self) {
        self.valid_ymd = false;
        self.valid_hms = false;
        self.tz = 0;
    }

    /// Moves a UTC moment to local time (`toLocaltime`).
    fn shift_to_localtime(&mut self) -> bool {
        self.compute_jd();
        let (t, year_diff) =
            if self.jd < 2_108_667_600 * 100_000 || self.jd > 2_130_141_456 * 100_000 {
                let mut x = *self;
                x.compute_ymd_hms();
                let diff = (2000 + x.y % 4) - x.y;
                x.y += diff;
                x.valid_jd = false;
                x.compute_jd();
                (x.jd / 1000 - 21_086_676 * 10_000, diff)
            } else {
                (self.jd / 1000 - 21_086_676 * 10_000, 0)
            };
        let Some(utc) = chrono::DateTime::from_timestamp(t, 0) else {
            return false;
        };
        let offset = Local
            .offset_from_utc_datetime(&utc.naive_utc())
            .fix()
            .local_minus_utc();
        let local_secs = t + i64::from(offset);
        let mut x = DateTime {
            jd: (local_secs + 21_086_676 * 10_000) * 1000,
            valid_jd: true,
            ..DateTime::default()
        };
        x.compute_ymd_hms();
        self.y = x.y - year_diff;
        self.mo = x.mo;
        self.d = x.d;
        self.h = x.h;
        self.mi = x.mi;
        self.s = x.s.trunc() + (self.jd % 1000) as f64 * 0.001;
        self.valid_ymd = true;
        self.valid_hms = true;
        self.valid_jd = false;
        self.raw_s = false;
        self.tz = 0;
        self.is_error = false;
        true
    }

    /// `auto`: a raw number as a julian day or a unix time by magnitude.
    fn auto_adjust(&mut self) {
        if !self.raw_s || self.valid_jd {
            self.raw_s = false;
        } else if self.s >= -21_086_676.0 * 10_000.0 && self.s <= 25_340_230.0 * 10_000.0 + 799.0 {
            let r = self.s * 1000.0 + 210_866_760_000_000.0;
            self.clear_ymd_hms_tz();
            self.jd = (r + 0.5) as i64;
            self.valid_jd = true;
            self.raw_s = false;
        }
    }

    /// Applies one modifier (`parseModifier`); `idx` is its argument
    /// position (1 = right after the time value). False when it is not a
    /// modifier or cannot apply.
    pub(super) fn apply_modifier(&mut self, z: &[u8], idx: usize) -> bool {
        let lower = z.to_ascii_lowercase();
        let l = lower.as_slice();
        match l.first().copied().unwrap_or(0) {
            b'a' if l == b"auto" => {
                if idx > 1 {
                    return false;
                }
                self.auto_adjust();
                true
            }
            b'c' if l == b"ceiling" => {
                self.compute_jd();
                self.clear_ymd_hms_tz();
                self.n_floor = 0;
                true
            }
            b'e' if l.starts_with(b"end of ") => {
                if !self.valid_jd && !self.valid_ymd && !self.valid_hms {
                    return false;
                }
                let what = &l[7..];
                self.compute_ymd();
                self.valid_hms = true;
                self.h = 23;
                self.mi = 59;
                self.s = 59.999;
                self.raw_s = false;
                self.tz = 0;
                self.valid_jd = false;
                match what {
                    b"month" => {
                        self.d = 1;
                        self.mo += 1;
                        if self.mo > 12 {
                            self.y += 1;
                            self.mo = 1;
                        }
                        self.compute_floor();
                        self.compute_jd();
                        self.jd -= i64::from(self.n_floor + 1) * 86_400_000;
                        self.clear_ymd_hms_tz();
                        true
                    }
                    b"year" => {
                        self.mo = 12;
                        self.d = 31;
                        true
                    }
                    b"day" => true,
                    _ => false,
                }
            }
            b'f' if l == b"floor" => {
                self.compute_jd();
                self.jd -= i64::from(self.n_floor) * 86_400_000;
                self.clear_ymd_hms_tz();
                true
            }
            b'j' if l == b"julianday" => {
                if idx > 1 {
                    return false;
                }
                if self.valid_jd && self.raw_s {
                    self.raw_s = false;
                    return true;
                }
                false
            }
            b'l' if l == b"localtime" => {
                let ok = self.is_local || self.shift_to_localtime();
                self.is_utc = false;
                self.is_local = true;
                ok
            }
            b'u' if l == b"unixepoch" && self.raw_s => {
                if idx > 1 {
                    return false;
                }
                let r = self.s * 1000.0 + 210_866_760_000_000.0;
                if (0.0..464_269_060_800_000.0).contains(&r) {
                    self.clear_ymd_hms_tz();
                    self.jd = (r + 0.5) as i64;
                    self.valid_jd = true;
                    self.raw_s = false;
                    return true;
                }
                false
            }
            b'u' if l == b"utc" => {
                if !self.is_utc {
                    self.compute_jd();
                    let orig = self.jd;
                    let mut guess = orig;
                    let mut err = 0;
                    let mut cnt = 0;
                    loop {
                        guess -= err;
                        let mut new = DateTime {
                            jd: guess,
                            valid_jd: true,
                            ..DateTime::default()
                        };
                        if !new.shift_to_localtime() {
                            return false;
                        }
                        new.compute_jd();
                        err = new.jd - orig;
                        let again = err != 0 && cnt < 3;
                        cnt += 1;
                        if !again {
                            break;
                        }
                    }
                    *self = DateTime {
                        jd: guess,
                        valid_jd: true,
                        is_utc: true,
                        ..DateTime::default()
                    };
                }
                true
            }
            b'w' if l.starts_with(b"weekday ") => {
                let arg = &z[8..];
                let Some(r) = whole_number(arg) else {
                    return false;
                };
                if !(-6.0..=6.0).contains(&r) || r != r.trunc() {
                    return false;
                }
                let mut n = r as i64;
                self.compute_ymd_hms();
                self.tz = 0;
                self.valid_jd = false;
                self.compute_jd();
                let mut zday = ((self.jd + 129_600_000) / 86_400_000) % 7;
                n = n.abs();
                if zday != n {
                    if zday > n {
                        zday -= 7;
                    }
                    self.jd += (n - zday) * 86_400_000;
                    if arg.contains(&b'-') {
                        self.jd -= 7 * 86_400_000;
                    }
                }
                self.clear_ymd_hms_tz();
                true
            }
            b's' => {
                if !l.starts_with(b"start of ") {
                    if l == b"subsec" || l == b"subsecond" {
                        self.use_subsec = true;
                        return true;
                    }
                    return false;
                }
                if !self.valid_jd && !self.valid_ymd && !self.valid_hms {
                    return false;
                }
                self.compute_ymd();
                self.valid_hms = true;
                self.h = 0;
                self.mi = 0;
                self.s = 0.0;
                self.raw_s = false;
                self.tz = 0;
                self.valid_jd = false;
                match &l[9..] {
                    b"month" => {
                        self.d = 1;
                        true
                    }
                    b"year" => {
                        self.mo = 1;
                        self.d = 1;
                        true
                    }
                    b"day" => true,
                    _ => false,
                }
            }
            b'+' | b'-' | b'0'..=b'9' => self.apply_offset(z),
            _ => false,
        }
    }

    /// The numeric modifiers: `NNN unit`, `±HH:MM[:SS.FFF]` and
    /// `±YYYY-MM-DD[ HH:MM[:SS]]`.
    fn apply_offset(&mut self, z: &[u8]) -> bool {
        let z0 = at(z, 0);
        let mut n = 1;
        while n < z.len() {
            let c = z[n];
            if c == b':' || is_space(c) || c == 0 {
                break;
            }
            if c == b'-' {
                if n == 5 && digits(&z[1..], 4, 0, 14712).is_some() {
                    break;
                }
                if n == 6 && digits(&z[1..], 5, 0, 14712).is_some() {
                    break;
                }
            }
            n += 1;
        }
        let Some(mut r) = whole_number(&z[..n]) else {
            return false;
        };
        let mut z2: &[u8] = z;
        let mut zz = z;
        if at(z, n) == b'-' {
            // ±YYYY-MM-DD adds or subtracts years, months (0-11) and days
            // (0-30).
            if z0 != b'+' && z0 != b'-' {
                return false;
            }
            let mut ymd = [0i32; 3];
            if n == 5 {
                if get_digits(
                    &z[1..],
                    &[(4, 0, 14712, b'-'), (2, 0, 12, b'-'), (2, 0, 31, 0)],
                    &mut ymd,
                ) != 3
                {
                    return false;
                }
            } else {
                if get_digits(
                    &z[1..],
                    &[(5, 0, 14712, b'-'), (2, 0, 12, b'-'), (2, 0, 31, 0)],
                    &mut ymd,
                ) != 3
                {
                    return false;
                }
                zz = &z[1..];
            }
            let [y, m, mut d] = ymd;
            if m >= 12 || d >= 31 {
                return false;
            }
            self.compute_ymd_hms();
            self.valid_jd = false;
            if z0 == b'-' {
                self.y -= y;
                self.mo -= m;
                d = -d;
            } else {
                self.y += y;
                self.mo += m;
            }
            let x = if self.mo > 0 {
                (self.mo - 1) / 12
            } else {
                (self.mo - 12) / 12
            };
            self.y += x;
            self.mo -= x * 12;
            self.compute_floor();
            self.compute_jd();
            self.valid_hms = false;
            self.valid_ymd = false;
            self.jd += i64::from(d) * 86_400_000;
            if at(zz, 11) == 0 {
                return true;
            }
            let mut hm = [0i32; 2];
            if is_space(at(zz, 11))
                && get_digits(
                    zz.get(12..).unwrap_or(&[]),
                    &[(2, 0, 24, b':'), (2, 0, 59, 0)],
                    &mut hm,
                ) == 2
            {
                z2 = zz.get(12..).unwrap_or(&[]);
                n = 2;
            } else {
                return false;
            }
        }
        if at(z2, n) == b':' {
            // ±HH:MM[:SS.FFF] adds or subtracts a time of day.
            let mut t = z2;
            if !at(t, 0).is_ascii_digit() {
                t = &t[1..];
            }
            let mut tx = DateTime::default();
            if !tx.parse_hh_mm_ss(t) {
                return false;
            }
            tx.compute_jd();
            tx.jd -= 43_200_000;
            let day = tx.jd / 86_400_000;
            tx.jd -= day * 86_400_000;
            if z0 == b'-' {
                tx.jd = -tx.jd;
            }
            self.compute_jd();
            self.clear_ymd_hms_tz();
            self.jd += tx.jd;
            return true;
        }
        // NNN unit.
        let mut unit = z.get(n..).unwrap_or(&[]);
        while unit.first().copied().is_some_and(is_space) {
            unit = &unit[1..];
        }
        let mut len = unit.len();
        if !(3..=10).contains(&len) {
            return false;
        }
        if unit[len - 1].eq_ignore_ascii_case(&b's') {
            len -= 1;
        }
        let unit = unit[..len].to_ascii_lowercase();
        self.compute_jd();
        let rounder = if r < 0.0 { -0.5 } else { 0.5 };
        self.n_floor = 0;
        const UNITS: [(&[u8], f32, f32); 6] = [
            (b"second", 4.6427e14, 1.0),
            (b"minute", 7.7379e12, 60.0),
            (b"hour", 1.2897e11, 3600.0),
            (b"day", 5_373_485.0, 86400.0),
            (b"month", 176_546.0, 2_592_000.0),
            (b"year", 14713.0, 31_536_000.0),
        ];
        let mut ok = false;
        for (i, &(name, limit, xform)) in UNITS.iter().enumerate() {
            let limit = f64::from(limit);
            if unit == name && r > -limit && r < limit {
                match i {
                    4 => {
                        self.compute_ymd_hms();
                        self.mo += r as i32;
                        let x = if self.mo > 0 {
                            (self.mo - 1) / 12
                        } else {
                            (self.mo - 12) / 12
                        };
                        self.y += x;
                        self.mo -= x * 12;
                        self.compute_floor();
                        self.valid_jd = false;
                        r -= f64::from(r as i32);
                    }
                    5 => {
                        let y = r as i32;
                        self.compute_ymd_hms();
                        self.y += y;
                        self.compute_floor();
                        self.valid_jd = false;
                        r -= f64::from(r as i32);
                    }
                    _ => {}
                }
                self.compute_jd();
                self.jd += (r * 1000.0 * f64::from(xform) + rounder) as i64;
                ok = true;
                break;
            }
        }
        self.clear_ymd_hms_tz();
        ok
    }
}
