//! Internal keys: a user key plus the sequence number and kind of the write.
//!
//! ```text
//!   internal key = user key bytes ‖ trailer u64 (big-endian)
//!   trailer      = seq << 8 | kind          kind: 0 = delete, 1 = put
//! ```
//!
//! Order: user key ascending, then trailer *descending*, so the newest
//! version of a key comes first and a reader at snapshot `s` takes the first
//! entry with `seq <= s`. The trailer is fixed-size at the end, so any
//! internal key splits unambiguously.

use std::cmp::Ordering;

/// Largest sequence number (56 bits).
pub const MAX_SEQ: u64 = (1 << 56) - 1;

/// What a write did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// The key was deleted (a tombstone).
    Delete = 0,
    /// The key was set.
    Put = 1,
}

impl Kind {
    pub(crate) fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// Packs a sequence number and kind.
pub(crate) fn trailer(seq: u64, kind: Kind) -> u64 {
    (seq << 8) | kind as u64
}

/// Builds an internal key.
pub(crate) fn make_ikey(user: &[u8], seq: u64, kind: Kind) -> Vec<u8> {
    let mut k = Vec::with_capacity(user.len() + 8);
    k.extend_from_slice(user);
    k.extend_from_slice(&trailer(seq, kind).to_be_bytes());
    k
}

/// The internal key that sorts first among all versions of `user` visible
/// at `seq` (used to seek).
pub(crate) fn seek_key(user: &[u8], seq: u64) -> Vec<u8> {
    make_ikey(user, seq, Kind::Put)
}

/// Splits an internal key into (user key, seq, kind). `None` if malformed.
pub(crate) fn split(ikey: &[u8]) -> Option<(&[u8], u64, Kind)> {
    if ikey.len() < 8 {
        return None;
    }
    let (user, t) = ikey.split_at(ikey.len() - 8);
    let mut b = [0u8; 8];
    b.copy_from_slice(t);
    let t = u64::from_be_bytes(b);
    Some((user, t >> 8, Kind::from_u8((t & 0xff) as u8)?))
}

/// The user-key part of an internal key (all of it if malformed).
pub(crate) fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(8)]
}

/// Compares two internal keys: user key ascending, trailer descending.
pub(crate) fn cmp_ikey(a: &[u8], b: &[u8]) -> Ordering {
    let (ua, ta) = a.split_at(a.len().saturating_sub(8));
    let (ub, tb) = b.split_at(b.len().saturating_sub(8));
    ua.cmp(ub).then_with(|| tb.cmp(ta))
}

/// An owned internal key ordered as [`cmp_ikey`] (for ordered containers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IKey(pub Vec<u8>);

impl Ord for IKey {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_ikey(&self.0, &other.0)
    }
}

impl PartialOrd for IKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Appends `v` as a LEB128 varint. Byte by byte: the lengths and counts
/// a row or a record holds take one or two bytes, and copying them from a
/// scratch buffer called `memcpy` for each (a row's encoding and its log
/// record write seven of them).
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes `v` as a LEB128 varint into `out` at `*pos`, moving `*pos` past
/// it (`out` must have room: [`varint_len`] bytes).
pub(crate) fn write_varint(out: &mut [u8], pos: &mut usize, mut v: u64) {
    while v >= 0x80 {
        out[*pos] = (v as u8) | 0x80;
        v >>= 7;
        *pos += 1;
    }
    out[*pos] = v as u8;
    *pos += 1;
}

/// Bytes of `v` as a LEB128 varint.
pub(crate) fn varint_len(v: u64) -> usize {
    (u64::BITS - (v | 1).leading_zeros()).div_ceil(7) as usize
}

/// Reads a LEB128 varint at `*pos`, advancing it. `None` if malformed.
pub(crate) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Reads `n` bytes at `*pos`, advancing it.
pub(crate) fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Option<&'a [u8]> {
    let end = pos.checked_add(n)?;
    let s = buf.get(*pos..end)?;
    *pos = end;
    Some(s)
}

/// Reads a little-endian u64 at `*pos`, advancing it.
pub(crate) fn get_u64(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let b = get_bytes(buf, pos, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_as_the_decoder_reads_them() {
        let mut buf = [0u8; 10];
        for n in [
            0,
            1,
            127,
            128,
            300,
            16_383,
            16_384,
            1 << 21,
            1 << 28,
            usize::MAX,
        ] {
            let mut got = vec![7u8];
            put_varint(&mut got, n as u64);
            let got = got.split_off(1);
            assert_eq!(got.len(), varint_len(n as u64), "{n}");
            // The two writers agree.
            let mut w = 0;
            write_varint(&mut buf, &mut w, n as u64);
            assert_eq!(&buf[..w], &got[..], "{n}");
            let mut pos = 0;
            assert_eq!(get_varint(&got, &mut pos), Some(n as u64));
            assert_eq!(pos, got.len());
        }
    }

    #[test]
    fn order_is_user_asc_then_newest_first() {
        let a1 = make_ikey(b"a", 1, Kind::Put);
        let a2 = make_ikey(b"a", 2, Kind::Delete);
        let ab = make_ikey(b"ab", 0, Kind::Put);
        let b = make_ikey(b"b", 9, Kind::Put);
        assert_eq!(cmp_ikey(&a2, &a1), Ordering::Less);
        assert_eq!(cmp_ikey(&a1, &ab), Ordering::Less);
        assert_eq!(cmp_ikey(&ab, &b), Ordering::Less);
        assert_eq!(split(&a2), Some((&b"a"[..], 2, Kind::Delete)));
        // A seek key sorts before every version it can see.
        assert_eq!(cmp_ikey(&seek_key(b"a", 2), &a2), Ordering::Less);
        assert_eq!(cmp_ikey(&seek_key(b"a", 1), &a2), Ordering::Greater);
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            assert_eq!(get_varint(&b, &mut p), Some(v));
            assert_eq!(p, b.len());
        }
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }
}
