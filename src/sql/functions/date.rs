//! The date and time functions: `date`, `time`, `datetime`, `julianday`,
//! `unixepoch`, `strftime`, `timediff` and `current_date`,
//! `current_time`, `current_timestamp` (SQLite's `date.c`).
//!
//! Each takes a time value and modifiers (see [`super::date_parse`]) and
//! gives NULL when any of them is malformed or the result falls outside
//! 0000-01-01 .. 9999-12-31. `'now'` (also the missing time value of
//! `date()`, and `CURRENT_*`) is the statement's moment from the
//! [`SessionSnapshot`](super::SessionSnapshot), so it is the same for every
//! call in a statement.

use crate::error::Result;
use crate::types::Value;

use super::date_parse::{DateTime, MAX_JD};
use super::registry::{Call, UNIX_EPOCH_JD_MS};

/// The text of an argument up to its first NUL (SQLite reads C strings).
fn text_arg(v: &Value) -> Option<Vec<u8>> {
    let t = v.to_text()?;
    let b = t.into_bytes();
    Some(match b.iter().position(|&c| c == 0) {
        Some(p) => b[..p].to_vec(),
        None => b,
    })
}

/// Parses the time value and modifiers of `args` (SQLite's `isDate`):
/// `None` when any is malformed or the moment is out of range.
fn moment(args: &[Value], now_jd_ms: i64) -> Option<DateTime> {
    let mut p = DateTime::default();
    let Some(first) = args.first() else {
        p.set_now(now_jd_ms);
        return Some(p);
    };
    match first {
        Value::Integer(_) | Value::Real(_) => p.set_raw_number(first.to_f64()),
        v => {
            let z = text_arg(v)?;
            if !p.parse_time_value(&z, now_jd_ms) {
                return None;
            }
        }
    }
    for (i, m) in args.iter().enumerate().skip(1) {
        let z = text_arg(m)?;
        if !p.apply_modifier(&z, i) {
            return None;
        }
    }
    p.compute_jd();
    if p.is_error || !(0..=MAX_JD).contains(&p.jd) {
        return None;
    }
    if args.len() == 1 && p.valid_ymd && p.d > 28 {
        // Normalize YYYY-MM-DD: 2023-02-31 is 2023-03-03.
        p.valid_ymd = false;
    }
    Some(p)
}

fn ymd_text(p: &DateTime) -> String {
    let sign = if p.y < 0 { "-" } else { "" };
    format!(
        "{sign}{:04}-{:02}-{:02}",
        p.y.unsigned_abs() % 10000,
        p.mo % 100,
        p.d % 100
    )
}

fn hms_text(p: &DateTime) -> String {
    if p.use_subsec {
        let s = (1000.0 * p.s + 0.5) as i32;
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            p.h % 100,
            p.mi % 100,
            (s / 1000) % 100,
            s % 1000
        )
    } else {
        format!(
            "{:02}:{:02}:{:02}",
            p.h % 100,
            p.mi % 100,
            (p.s as i32) % 100
        )
    }
}

/// `date(T, M...)`: YYYY-MM-DD.
pub(super) fn f_date(call: &Call) -> Result<Value> {
    Ok(match moment(call.args, call.session.now_jd_ms()) {
        Some(mut p) => {
            p.compute_ymd();
            Value::Text(ymd_text(&p))
        }
        None => Value::Null,
    })
}

/// `time(T, M...)`: HH:MM:SS (HH:MM:SS.SSS with `subsec`).
pub(super) fn f_time(call: &Call) -> Result<Value> {
    Ok(match moment(call.args, call.session.now_jd_ms()) {
        Some(mut p) => {
            p.compute_hms();
            Value::Text(hms_text(&p))
        }
        None => Value::Null,
    })
}

/// `datetime(T, M...)`: YYYY-MM-DD HH:MM:SS.
pub(super) fn f_datetime(call: &Call) -> Result<Value> {
    Ok(match moment(call.args, call.session.now_jd_ms()) {
        Some(mut p) => {
            p.compute_ymd_hms();
            Value::Text(format!("{} {}", ymd_text(&p), hms_text(&p)))
        }
        None => Value::Null,
    })
}

/// `julianday(T, M...)`: the julian day number, a REAL.
pub(super) fn f_julianday(call: &Call) -> Result<Value> {
    Ok(match moment(call.args, call.session.now_jd_ms()) {
        Some(p) => Value::Real(p.jd as f64 / 86_400_000.0),
        None => Value::Null,
    })
}

/// `unixepoch(T, M...)`: seconds since 1970-01-01 00:00:00 UTC, an INTEGER
/// (a REAL with milliseconds under `subsec`).
pub(super) fn f_unixepoch(call: &Call) -> Result<Value> {
    Ok(match moment(call.args, call.session.now_jd_ms()) {
        Some(p) if p.use_subsec => Value::Real((p.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0),
        Some(p) => Value::Integer(p.jd / 1000 - UNIX_EPOCH_JD_MS / 1000),
        None => Value::Null,
    })
}

/// `current_date`: `date('now')`.
pub(super) fn f_current_date(call: &Call) -> Result<Value> {
    f_date(&Call { args: &[], ..*call })
}

/// `current_time`: `time('now')`.
pub(super) fn f_current_time(call: &Call) -> Result<Value> {
    f_time(&Call { args: &[], ..*call })
}

/// `current_timestamp`: `datetime('now')`.
pub(super) fn f_current_timestamp(call: &Call) -> Result<Value> {
    f_datetime(&Call { args: &[], ..*call })
}

/// Days since the last January 1st (0-based).
fn days_after_jan01(p: &DateTime) -> i64 {
    let mut jan01 = *p;
    jan01.valid_jd = false;
    jan01.mo = 1;
    jan01.d = 1;
    jan01.compute_jd();
    (p.jd - jan01.jd + 43_200_000) / 86_400_000
}

/// 0 = Monday .. 6 = Sunday.
fn days_after_monday(p: &DateTime) -> i64 {
    ((p.jd + 43_200_000) / 86_400_000) % 7
}

/// 0 = Sunday .. 6 = Saturday.
fn days_after_sunday(p: &DateTime) -> i64 {
    ((p.jd + 129_600_000) / 86_400_000) % 7
}

/// The Thursday of `p`'s ISO week, with its calendar fields.
fn iso_thursday(p: &DateTime) -> DateTime {
    let mut y = *p;
    y.jd += (3 - days_after_monday(p)) * 86_400_000;
    y.valid_ymd = false;
    y.compute_ymd();
    y
}

/// `strftime(FORMAT, T, M...)`: the moment formatted by FORMAT's
/// %-conversions (`%d %e %f %F %G %g %H %I %j %J %k %l %m %M %p %P %R %s
/// %S %T %u %U %V %w %W %Y %%`); NULL for an unknown conversion.
pub(super) fn f_strftime(call: &Call) -> Result<Value> {
    let Some(fmt) = call.args.first().and_then(text_arg) else {
        return Ok(Value::Null);
    };
    let Some(mut x) = moment(call.args.get(1..).unwrap_or(&[]), call.session.now_jd_ms()) else {
        return Ok(Value::Null);
    };
    x.compute_jd();
    x.compute_ymd_hms();
    let mut out: Vec<u8> = Vec::with_capacity(fmt.len() + 16);
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] != b'%' {
            out.push(fmt[i]);
            i += 1;
            continue;
        }
        let cf = fmt.get(i + 1).copied().unwrap_or(0);
        i += 2;
        let piece = match cf {
            b'd' => format!("{:02}", x.d),
            b'e' => format!("{:2}", x.d),
            b'f' => {
                let s = x.s.min(59.999);
                format!("{:06.3}", s)
            }
            b'F' => format!("{:04}-{:02}-{:02}", x.y, x.mo, x.d),
            b'G' => format!("{:04}", iso_thursday(&x).y),
            b'g' => format!("{:02}", iso_thursday(&x).y % 100),
            b'H' => format!("{:02}", x.h),
            b'k' => format!("{:2}", x.h),
            b'I' | b'l' => {
                let mut h = x.h;
                if h > 12 {
                    h -= 12;
                }
                if h == 0 {
                    h = 12;
                }
                if cf == b'I' {
                    format!("{h:02}")
                } else {
                    format!("{h:2}")
                }
            }
            b'j' => format!("{:03}", days_after_jan01(&x) + 1),
            b'J' => {
                let jd = x.jd as f64 / 86_400_000.0;
                crate::types::sqlite_printf_float(
                    jd,
                    crate::types::FloatStyle::Generic,
                    16,
                    false,
                    false,
                )
            }
            b'm' => format!("{:02}", x.mo),
            b'M' => format!("{:02}", x.mi),
            b'p' => (if x.h >= 12 { "PM" } else { "AM" }).to_string(),
            b'P' => (if x.h >= 12 { "pm" } else { "am" }).to_string(),
            b'R' => format!("{:02}:{:02}", x.h, x.mi),
            b's' => {
                if x.use_subsec {
                    let secs = (x.jd - UNIX_EPOCH_JD_MS) as f64 / 1000.0;
                    crate::types::sqlite_printf_float(
                        secs,
                        crate::types::FloatStyle::Fixed,
                        3,
                        false,
                        false,
                    )
                } else {
                    (x.jd / 1000 - UNIX_EPOCH_JD_MS / 1000).to_string()
                }
            }
            b'S' => format!("{:02}", x.s as i32),
            b'T' => format!("{:02}:{:02}:{:02}", x.h, x.mi, x.s as i32),
            b'u' | b'w' => {
                let mut c = days_after_sunday(&x);
                if c == 0 && cf == b'u' {
                    c = 7;
                }
                c.to_string()
            }
            b'U' => format!(
                "{:02}",
                (days_after_jan01(&x) - days_after_sunday(&x) + 7) / 7
            ),
            b'V' => format!("{:02}", days_after_jan01(&iso_thursday(&x)) / 7 + 1),
            b'W' => format!(
                "{:02}",
                (days_after_jan01(&x) - days_after_monday(&x) + 7) / 7
            ),
            b'Y' => format!("{:04}", x.y),
            b'%' => "%".to_string(),
            _ => return Ok(Value::Null),
        };
        out.extend_from_slice(piece.as_bytes());
    }
    Ok(Value::Text(String::from_utf8_lossy(&out).into_owned()))
}

/// `timediff(A, B)`: the time to add to B to reach A, as
/// `(+|-)YYYY-MM-DD HH:MM:SS.SSS`.
pub(super) fn f_timediff(call: &Call) -> Result<Value> {
    let now = call.session.now_jd_ms();
    let (Some(mut d1), Some(mut d2)) = (
        moment(call.args.get(..1).unwrap_or(&[]), now),
        moment(call.args.get(1..2).unwrap_or(&[]), now),
    ) else {
        return Ok(Value::Null);
    };
    d1.compute_ymd_hms();
    d2.compute_ymd_hms();
    let sign;
    let (mut y, mut m);
    if d1.jd >= d2.jd {
        sign = '+';
        y = d1.y - d2.y;
        if y != 0 {
            d2.y = d1.y;
            d2.valid_jd = false;
            d2.compute_jd();
        }
        m = d1.mo - d2.mo;
        if m < 0 {
            y -= 1;
            m += 12;
        }
        if m != 0 {
            d2.mo = d1.mo;
            d2.valid_jd = false;
            d2.compute_jd();
        }
        while d1.jd < d2.jd {
            m -= 1;
            if m < 0 {
                m = 11;
                y -= 1;
            }
            d2.mo -= 1;
            if d2.mo < 1 {
                d2.mo = 12;
                d2.y -= 1;
            }
            d2.valid_jd = false;
            d2.compute_jd();
        }
        d1.jd -= d2.jd;
    } else {
        sign = '-';
        y = d2.y - d1.y;
        if y != 0 {
            d2.y = d1.y;
            d2.valid_jd = false;
            d2.compute_jd();
        }
        m = d2.mo - d1.mo;
        if m < 0 {
            y -= 1;
            m += 12;
        }
        if m != 0 {
            d2.mo = d1.mo;
            d2.valid_jd = false;
            d2.compute_jd();
        }
        while d1.jd > d2.jd {
            m -= 1;
            if m < 0 {
                m = 11;
                y -= 1;
            }
            d2.mo += 1;
            if d2.mo > 12 {
                d2.mo = 1;
                d2.y += 1;
            }
            d2.valid_jd = false;
            d2.compute_jd();
        }
        d1.jd = d2.jd - d1.jd;
    }
    d1.jd += 148_699_540_800_000;
    d1.valid_ymd = false;
    d1.valid_hms = false;
    d1.tz = 0;
    d1.compute_ymd_hms();
    let secs =
        crate::types::sqlite_printf_float(d1.s, crate::types::FloatStyle::Fixed, 3, false, false);
    Ok(Value::Text(format!(
        "{sign}{:04}-{:02}-{:02} {:02}:{:02}:{:0>6}",
        y,
        m,
        d1.d - 1,
        d1.h,
        d1.mi,
        secs
    )))
}
