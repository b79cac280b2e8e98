//! `printf(FORMAT, ...)` and its alias `format`: SQLite's own printf
//! (`printf.c`, `sqlite3_str_vappendf` with SQL arguments), not C's.
//!
//! ```text
//!   %[flags][width][.precision]conversion
//!   flags       - + space 0 # ! ,      (! : width and precision count
//!                                     characters; more digits for reals)
//!   width, .precision  digits or *   (* takes the next argument)
//!   d i         signed integer          u  unsigned integer
//!   x X o       hex (lower, upper), octal of the 64-bit two's complement
//!   f e E g G   real                    c  first character of the text
//!   s z         text                    q Q w  text quoted for SQL
//!   j J         text as a JSON string   p  hex, r  ordinal (1st, 2nd)
//!   n           nothing                 %%  a percent sign
//! ```
//!
//! Arguments are read as SQLite reads them: an integer conversion takes
//! the argument's integer value, a real conversion its double, a text
//! conversion its text form; a missing argument is 0, 0.0 or NULL. An
//! unknown conversion ends the output there, as in SQLite.
//!
//! The digits of a real come from [`crate::types`]' port of SQLite 3.40's
//! `long double` printf (at most 16 significant digits, 26 with `!`);
//! SQLite 3.54 computes them differently and may differ in the last
//! digits of long expansions (docs/sql.md).
//!
//! Text is assembled as bytes, as SQLite does; a precision that cuts a
//! multi-byte character leaves U+FFFD in its place.

use crate::error::Result;
use crate::types::{sqlite_printf_float_flags, FloatStyle, Value};

use super::args::{check_length, MAX_LENGTH};

/// The arguments after the format, consumed left to right.
struct Args<'a> {
    values: &'a [Value],
    next: usize,
}

impl Args<'_> {
    fn take(&mut self) -> Option<&Value> {
        let v = self.values.get(self.next);
        if v.is_some() {
            self.next += 1;
        }
        v
    }

    fn int(&mut self) -> i64 {
        self.take().map_or(0, Value::to_i64)
    }

    fn double(&mut self) -> f64 {
        self.take().map_or(0.0, Value::to_f64)
    }

    fn text(&mut self) -> Option<Vec<u8>> {
        match self.take()? {
            Value::Null => None,
            Value::Blob(b) => Some(b.clone()),
            v => v.to_text().map(String::into_bytes),
        }
    }
}

/// The flags of one conversion.
#[derive(Default)]
struct Spec {
    left: bool,
    /// `+` or space.
    sign: Option<u8>,
    alternate: bool,
    alt2: bool,
    zero_pad: bool,
    thousands: bool,
    width: i64,
    /// -1: none given.
    precision: i64,
}

/// `printf(FORMAT, ...)`: NULL when FORMAT is NULL or missing.
pub(super) fn f_printf(args: &[Value]) -> Result<Value> {
    let Some(format) = args.first().and_then(Value::to_text) else {
        return Ok(Value::Null);
    };
    let mut rest = Args {
        values: args.get(1..).unwrap_or(&[]),
        next: 0,
    };
    let out = format_sql(format.as_bytes(), &mut rest)?;
    Ok(Value::Text(String::from_utf8_lossy(&out).into_owned()))
}

/// Fails when the output would pass SQLite's length limit.
fn guard(n: i64) -> Result<()> {
    if n > MAX_LENGTH {
        return Err(super::args::too_big());
    }
    Ok(())
}

fn format_sql(fmt: &[u8], args: &mut Args) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        if fmt[i] == 0 {
            break; // SQLite's format is a C string
        }
        if fmt[i] != b'%' {
            let end = fmt[i..]
                .iter()
                .position(|&c| c == b'%' || c == 0)
                .map_or(fmt.len(), |p| i + p);
            out.extend_from_slice(&fmt[i..end]);
            i = end;
            continue;
        }
        i += 1;
        let Some(&first) = fmt.get(i) else {
            out.push(b'%');
            break;
        };
        if first == 0 {
            out.push(b'%');
            break;
        }
        let mut spec = Spec {
            precision: -1,
            ..Spec::default()
        };
        // Flags, width, precision (SQLite's loop, which also accepts
        // them in odd orders such as "%.3-5d").
        let mut c = first;
        loop {
            match c {
                b'-' => spec.left = true,
                b'+' => spec.sign = Some(b'+'),
                b' ' => spec.sign = Some(b' '),
                b'#' => spec.alternate = true,
                b'!' => spec.alt2 = true,
                b'0' => spec.zero_pad = true,
                b',' => spec.thousands = true,
                b'l' => {
                    i += 1;
                    c = fmt.get(i).copied().unwrap_or(0);
                    if c == b'l' {
                        i += 1;
                        c = fmt.get(i).copied().unwrap_or(0);
                    }
                    break;
                }
                b'1'..=b'9' => {
                    let mut w: u64 = 0;
                    while let Some(&d) = fmt.get(i).filter(|d| d.is_ascii_digit()) {
                        w = (w.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))) & 0xffff_ffff;
                        i += 1;
                    }
                    spec.width = i64::try_from(w & 0x7fff_ffff).unwrap_or(0);
                    c = fmt.get(i).copied().unwrap_or(0);
                    if c != b'.' && c != b'l' {
                        break;
                    }
                    continue;
                }
                b'*' => {
                    let w = i64::from(args.int() as i32);
                    if w < 0 {
                        spec.left = true;
                        spec.width = if w >= -2_147_483_647 { -w } else { 0 };
                    } else {
                        spec.width = w;
                    }
                    let n = fmt.get(i + 1).copied().unwrap_or(0);
                    if n != b'.' && n != b'l' {
                        i += 1;
                        c = n;
                        break;
                    }
                }
                b'.' => {
                    i += 1;
                    c = fmt.get(i).copied().unwrap_or(0);
                    if c == b'*' {
                        let p = i64::from(args.int() as i32);
                        spec.precision = if p >= 0 {
                            p
                        } else if p >= -2_147_483_647 {
                            -p
                        } else {
                            -1
                        };
                        i += 1;
                        c = fmt.get(i).copied().unwrap_or(0);
                    } else {
                        let mut p: u64 = 0;
                        while c.is_ascii_digit() {
                            p = (p.wrapping_mul(10).wrapping_add(u64::from(c - b'0')))
                                & 0xffff_ffff;
                            i += 1;
                            c = fmt.get(i).copied().unwrap_or(0);
                        }
                        spec.precision = i64::try_from(p & 0x7fff_ffff).unwrap_or(0);
                    }
                    if c == b'l' {
                        continue;
                    }
                    break;
                }
                _ => break,
            }
            i += 1;
            c = fmt.get(i).copied().unwrap_or(0);
            if c == 0 {
                break;
            }
        }
        // `c` is the conversion character, at fmt[i].
        i += 1;
        guard(spec.width)?;
        guard(spec.precision)?;
        let (body, width_chars) = match c {
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'p' | b'r' => {
                (integer(c, &mut spec, args)?, false)
            }
            b'f' | b'e' | b'E' | b'g' | b'G' => {
                let v = args.double();
                out.extend_from_slice(&real(c, &spec, v));
                check_length(out.len())?;
                continue;
            }
            b'n' => continue,
            b'%' => (vec![b'%'], false),
            b'c' => {
                let text = args.text();
                let ch: Vec<u8> = match &text {
                    Some(t) => first_char(t).to_vec(),
                    None => vec![0],
                };
                let mut body = Vec::new();
                if spec.precision > 1 {
                    let n = usize::try_from(spec.precision).unwrap_or(0);
                    check_length(n.saturating_mul(ch.len()))?;
                    // SQLite pads the first copy on its own when right-aligned.
                    spec.width -= spec.precision - 1;
                    if spec.width > 1 && !spec.left {
                        out.extend(std::iter::repeat_n(
                            b' ',
                            usize::try_from(spec.width - 1).unwrap_or(0),
                        ));
                        spec.width = 0;
                    }
                    for _ in 0..n {
                        body.extend_from_slice(&ch);
                    }
                } else {
                    body = ch;
                }
                (body, true)
            }
            b's' | b'z' => {
                let text = args.text().unwrap_or_default();
                let text = until_nul(&text);
                let len = if spec.precision >= 0 {
                    let p = usize::try_from(spec.precision).unwrap_or(usize::MAX);
                    if spec.alt2 {
                        char_prefix_len(text, p)
                    } else {
                        p.min(text.len())
                    }
                } else {
                    text.len()
                };
                (text[..len].to_vec(), spec.alt2)
            }
            b'q' | b'Q' | b'w' => (quoted(c, &mut spec, args), spec.alt2),
            b'j' | b'J' => {
                let start = out.len();
                json_escaped(c, &spec, args, &mut out);
                if spec.width > 0 {
                    let n = out.len() - start;
                    let len = if spec.alt2 {
                        out[start..].iter().filter(|&&b| b & 0xc0 != 0x80).count()
                    } else {
                        n
                    };
                    let w = usize::try_from(spec.width).unwrap_or(0);
                    if w > len {
                        let pad = vec![b' '; w - len];
                        if spec.left || n == 0 {
                            out.extend_from_slice(&pad);
                        } else {
                            out.splice(start..start, pad);
                        }
                    }
                }
                check_length(out.len())?;
                continue;
            }
            // %S, %T (internal to SQLite) and unknown conversions end the
            // output.
            _ => break,
        };
        let mut width = spec.width;
        if width_chars && width > 0 {
            // Count characters: each UTF-8 continuation byte widens.
            width += i64::try_from(body.iter().filter(|&&b| b & 0xc0 == 0x80).count()).unwrap_or(0);
        }
        let pad = usize::try_from(width - i64::try_from(body.len()).unwrap_or(0)).unwrap_or(0);
        check_length(out.len().saturating_add(body.len()).saturating_add(pad))?;
        if pad > 0 && !spec.left {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
        out.extend_from_slice(&body);
        if pad > 0 && spec.left {
            out.extend(std::iter::repeat_n(b' ', pad));
        }
    }
    Ok(out)
}

/// The bytes up to the first NUL.
fn until_nul(b: &[u8]) -> &[u8] {
    b.split(|&c| c == 0).next().unwrap_or(b)
}

/// The first UTF-8 character of `t` (its lead byte and up to three
/// continuation bytes), or a NUL byte when `t` is empty.
fn first_char(t: &[u8]) -> &[u8] {
    let Some(&lead) = t.first() else {
        return &[0];
    };
    let mut n = 1;
    if lead & 0xc0 == 0xc0 {
        while n < 4 && t.get(n).is_some_and(|b| b & 0xc0 == 0x80) {
            n += 1;
        }
    }
    &t[..n]
}

/// Bytes taken by the first `chars` characters of `t`.
fn char_prefix_len(t: &[u8], chars: usize) -> usize {
    let mut i = 0;
    let mut n = 0;
    while n < chars && i < t.len() {
        i += 1;
        while i < t.len() && t[i] & 0xc0 == 0x80 {
            i += 1;
        }
        n += 1;
    }
    i
}

/// `%d %i %u %x %X %o %p %r`.
fn integer(conv: u8, spec: &mut Spec, args: &mut Args) -> Result<Vec<u8>> {
    let (base, upper, prefix_text): (u64, bool, &[u8]) = match conv {
        b'x' => (16, false, b"0x"),
        b'X' => (16, true, b"0X"),
        b'p' => (16, true, b"0x"),
        b'o' => (8, false, b"0"),
        _ => (10, false, b""),
    };
    let signed = matches!(conv, b'd' | b'i' | b'r');
    let mut thousands = spec.thousands;
    if matches!(conv, b'x' | b'X' | b'o' | b'p' | b'r') {
        thousands = false;
    }
    let (mut value, sign) = if signed {
        let v = args.int();
        if v < 0 {
            (v.unsigned_abs(), Some(b'-'))
        } else {
            (v.unsigned_abs(), spec.sign)
        }
    } else {
        (args.int() as u64, None)
    };
    let mut alternate = spec.alternate;
    if value == 0 {
        alternate = false;
    }
    let mut precision = spec.precision;
    let signed_width = spec.width - i64::from(sign.is_some());
    if spec.zero_pad && precision < signed_width {
        precision = signed_width;
    }
    guard(precision.saturating_add(10))?;
    // Digits, least significant first, then reversed.
    let mut digits: Vec<u8> = Vec::new();
    if conv == b'r' {
        let x = value % 10;
        let x = if x >= 4 || (value / 10) % 10 == 1 {
            0
        } else {
            x
        };
        let suffix: &[u8] = match x {
            1 => b"st",
            2 => b"nd",
            3 => b"rd",
            _ => b"th",
        };
        digits.push(suffix[1]);
        digits.push(suffix[0]);
    }
    let charset: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    loop {
        digits.push(charset[usize::try_from(value % base).unwrap_or(0)]);
        value /= base;
        if value == 0 {
            break;
        }
    }
    let len = i64::try_from(digits.len()).unwrap_or(0);
    if precision > len {
        let n = usize::try_from(precision - len).unwrap_or(0);
        digits.extend(std::iter::repeat_n(b'0', n));
    }
    digits.reverse();
    if thousands {
        let mut grouped = Vec::with_capacity(digits.len() * 4 / 3 + 1);
        let n = digits.len();
        for (k, d) in digits.iter().enumerate() {
            if k > 0 && (n - k).is_multiple_of(3) {
                grouped.push(b',');
            }
            grouped.push(*d);
        }
        digits = grouped;
    }
    let mut body = Vec::with_capacity(digits.len() + 3);
    if alternate {
        body.extend_from_slice(prefix_text);
    }
    if let Some(s) = sign {
        body.push(s);
    }
    body.extend_from_slice(&digits);
    Ok(body)
}

/// `%f %e %E %g %G`, width and padding included.
fn real(conv: u8, spec: &Spec, v: f64) -> Vec<u8> {
    let style = match conv {
        b'f' => FloatStyle::Fixed,
        b'e' | b'E' => FloatStyle::Exp,
        _ => FloatStyle::Generic,
    };
    let mut precision = if spec.precision < 0 {
        6
    } else {
        spec.precision.min(100_000_000)
    };
    if style == FloatStyle::Generic && precision == 0 {
        precision = 1;
    }
    let negative = v < 0.0;
    let sign = if negative { Some(b'-') } else { spec.sign };
    let mut body: Vec<u8> = if v.is_infinite() {
        if spec.zero_pad {
            // SQLite prints an infinity as 9.0e+999 under the 0 flag.
            let p = usize::try_from(precision).unwrap_or(0);
            match style {
                FloatStyle::Exp => {
                    let mut s = String::from("9");
                    if p > 0 || spec.alternate || spec.alt2 {
                        s.push('.');
                        s.push_str(&"0".repeat(p));
                    }
                    s.push_str("e+999");
                    s.into_bytes()
                }
                FloatStyle::Generic => b"9e+999".to_vec(),
                FloatStyle::Fixed => {
                    let mut s = String::from("9");
                    s.push_str(&"0".repeat(999));
                    if p > 0 || spec.alternate || spec.alt2 {
                        s.push('.');
                        s.push_str(&"0".repeat(p));
                    }
                    s.into_bytes()
                }
            }
        } else {
            let mut s = Vec::new();
            if let Some(sg) = sign {
                s.push(sg);
            }
            s.extend_from_slice(b"Inf");
            return pad_plain(s, spec);
        }
    } else {
        let text = sqlite_printf_float_flags(
            v.abs(),
            style,
            usize::try_from(precision).unwrap_or(0),
            spec.alt2,
            false,
            spec.alternate,
        );
        text.into_bytes()
    };
    if conv == b'E' || conv == b'G' {
        for b in body.iter_mut() {
            if *b == b'e' {
                *b = b'E';
            }
        }
    }
    if spec.thousands && !body.iter().any(|&b| b == b'e' || b == b'E') {
        let int_len = body.iter().take_while(|b| b.is_ascii_digit()).count();
        if int_len > 3 {
            let mut grouped = Vec::with_capacity(body.len() + int_len / 3);
            for (k, d) in body.iter().enumerate() {
                if k > 0 && k < int_len && (int_len - k) % 3 == 0 {
                    grouped.push(b',');
                }
                grouped.push(*d);
            }
            body = grouped;
        }
    }
    // SQLite 3.54 drops the minus of a value shown as zero under `#%f`.
    let sign = if negative
        && spec.alternate
        && spec.sign.is_none()
        && style == FloatStyle::Fixed
        && body.iter().all(|&b| b == b'0' || b == b'.')
    {
        None
    } else {
        sign
    };
    let mut text = Vec::with_capacity(body.len() + 1);
    if let Some(sg) = sign {
        text.push(sg);
    }
    let sign_len = text.len();
    text.extend_from_slice(&body);
    let width = usize::try_from(spec.width).unwrap_or(0);
    if text.len() < width {
        let n = width - text.len();
        if spec.left {
            text.extend(std::iter::repeat_n(b' ', n));
        } else if !spec.zero_pad {
            text.splice(0..0, std::iter::repeat_n(b' ', n));
        } else {
            text.splice(sign_len..sign_len, std::iter::repeat_n(b'0', n));
        }
    }
    text
}

/// Pads `s` to the width with spaces.
fn pad_plain(mut s: Vec<u8>, spec: &Spec) -> Vec<u8> {
    let width = usize::try_from(spec.width).unwrap_or(0);
    if s.len() < width {
        let n = width - s.len();
        if spec.left {
            s.extend(std::iter::repeat_n(b' ', n));
        } else {
            s.splice(0..0, std::iter::repeat_n(b' ', n));
        }
    }
    s
}

/// `%q` (quotes doubled), `%Q` (also enclosed in quotes; NULL as NULL),
/// `%w` (double quotes doubled); with `#`, control characters and
/// backslashes are written as `unistr()` escapes.
fn quoted(conv: u8, spec: &mut Spec, args: &mut Args) -> Vec<u8> {
    let text = args.text();
    let mut need_quote = 0;
    let arg: Vec<u8> = match text {
        None => {
            if conv == b'Q' {
                b"NULL".to_vec()
            } else {
                b"(NULL)".to_vec()
            }
        }
        Some(t) => {
            if conv == b'Q' {
                need_quote = 1;
            }
            until_nul(&t).to_vec()
        }
    };
    let q = if conv == b'w' { b'"' } else { b'\'' };
    let mut alternate = spec.alternate && conv != b'w';
    // The precision counts input bytes (characters with `!`).
    let mut end = 0;
    let mut k = spec.precision;
    while k != 0 && end < arg.len() {
        if spec.alt2 && arg[end] & 0xc0 == 0xc0 {
            while arg.get(end + 1).is_some_and(|b| b & 0xc0 == 0x80) {
                end += 1;
            }
        }
        end += 1;
        k -= 1;
    }
    let arg = &arg[..end.min(arg.len())];
    if alternate {
        let controls = arg.iter().filter(|&&b| b <= 0x1f).count();
        if controls > 0 || conv == b'q' {
            if conv == b'Q' {
                need_quote = 2;
            }
        } else {
            alternate = false;
        }
    }
    let mut out = Vec::with_capacity(arg.len() + 12);
    match need_quote {
        2 => out.extend_from_slice(b"unistr('"),
        1 => out.push(b'\''),
        _ => {}
    }
    for &ch in arg {
        if alternate && ch == b'\\' {
            out.extend_from_slice(b"\\\\");
        } else if alternate && ch <= 0x1f {
            out.extend_from_slice(format!("\\u00{ch:02x}").as_bytes());
        } else {
            out.push(ch);
            if ch == q {
                out.push(ch);
            }
        }
    }
    if need_quote > 0 {
        out.push(b'\'');
        if need_quote == 2 {
            out.push(b')');
        }
    }
    out
}

/// `%j` (JSON string escapes) and `%J` (also enclosed in double quotes;
/// NULL as null), appended to `out`.
fn json_escaped(conv: u8, spec: &Spec, args: &mut Args, out: &mut Vec<u8>) {
    let Some(text) = args.text() else {
        if conv == b'J' {
            out.extend_from_slice(b"null");
        }
        return;
    };
    let mut limit = if spec.precision < 0 {
        usize::MAX
    } else {
        usize::try_from(spec.precision).unwrap_or(usize::MAX)
    };
    if spec.precision >= 0 && spec.alt2 {
        limit = char_prefix_len(&text, limit);
    }
    if conv == b'J' {
        out.push(b'"');
    }
    for &ch in text.iter().take(limit) {
        match ch {
            0 => break,
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(ch);
            }
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            c if c <= 0x1f => out.extend_from_slice(format!("\\u00{c:02x}").as_bytes()),
            c => out.push(c),
        }
    }
    if conv == b'J' {
        out.push(b'"');
    }
}
