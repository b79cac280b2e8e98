//! AES in counter mode, addressable at any byte offset.
//!
//! The keystream of a file body is
//!
//! ```text
//!   block i  =  AES_K( IV + i )        i = byte_offset / 16
//! ```
//!
//! where `IV + i` is one 128-bit big-endian integer with carry (NIST SP
//! 800-38A's "standard incrementing function" over the whole block, not a
//! split nonce/counter). Encrypting `n` bytes at byte offset `o` XORs them
//! with keystream bytes `o .. o+n`, so any range can be encrypted or
//! decrypted without touching the rest: readers can seek or mmap.
//!
//! Invariant the callers keep: a given (key, IV, offset) is used to encrypt
//! at most one plaintext. Files are append-only or written once, and every
//! new file gets a fresh random IV (see `vfs::sealed`).

// aes 0.8 rather than 0.9: on a Xeon with VAES the 0.9 line's AVX-512
// back end set up its round keys on every call and took 4-7x as long for
// the short calls a record makes (8-byte heads, one-block MAC masks) and
// 1.5x as long for 4 KiB blocks (measured side by side, BENCHMARKS.md).
use aes::{Aes128Enc, Aes192Enc, Aes256Enc};
use cipher::{
    generic_array::GenericArray as Array, BlockCipher, BlockEncrypt, InnerIvInit, KeyInit,
    StreamCipher, StreamCipherCoreWrapper, StreamCipherSeek,
};
use ctr::{flavors::Ctr128BE, CtrCore};

use super::keys::Cipher;
use crate::error::{Error, Result};

/// An expanded AES key of one of the three sizes (encryption round keys
/// only: counter mode and the MAC mask never decrypt).
#[derive(Clone)]
pub(crate) enum AesKey {
    Aes128(Box<Aes128Enc>),
    Aes192(Box<Aes192Enc>),
    Aes256(Box<Aes256Enc>),
}

impl AesKey {
    /// Expands `key` for `cipher`. `key.len()` must equal `cipher.key_len()`;
    /// callers derive keys of exactly that length.
    pub(crate) fn new(cipher: Cipher, key: &[u8]) -> Option<AesKey> {
        match cipher {
            Cipher::Aes128Ctr => Some(AesKey::Aes128(Box::new(
                Aes128Enc::new_from_slice(key).ok()?,
            ))),
            Cipher::Aes192Ctr => Some(AesKey::Aes192(Box::new(
                Aes192Enc::new_from_slice(key).ok()?,
            ))),
            Cipher::Aes256Ctr => Some(AesKey::Aes256(Box::new(
                Aes256Enc::new_from_slice(key).ok()?,
            ))),
            Cipher::Plaintext => None,
        }
    }

    /// Encrypts one block in place (the raw block cipher).
    pub(crate) fn encrypt_block(&self, block: &mut [u8; 16]) {
        let mut b = Array::from(*block);
        match self {
            AesKey::Aes128(c) => c.encrypt_block(&mut b),
            AesKey::Aes192(c) => c.encrypt_block(&mut b),
            AesKey::Aes256(c) => c.encrypt_block(&mut b),
        }
        *block = b.into();
    }

    /// XORs `buf` with the keystream for (`iv`, byte `offset`). Applying it
    /// twice restores the input. Fails (leaving `buf` as it was) only if the
    /// cipher cannot position its keystream there: never for offsets a file
    /// can have, but a refusal is reported, never ignored, because an
    /// unencrypted buffer must not be mistaken for an encrypted one.
    pub(crate) fn apply_keystream(&self, iv: u128, offset: u64, buf: &mut [u8]) -> Result<()> {
        match self {
            AesKey::Aes128(c) => ctr_apply(&**c, iv, offset, buf),
            AesKey::Aes192(c) => ctr_apply(&**c, iv, offset, buf),
            AesKey::Aes256(c) => ctr_apply(&**c, iv, offset, buf),
        }
    }
}

fn ctr_apply<C>(c: &C, iv: u128, offset: u64, buf: &mut [u8]) -> Result<()>
where
    C: BlockEncrypt + BlockCipher<BlockSize = cipher::consts::U16>,
{
    // The core borrows the expanded key: a clone per call (hundreds of
    // bytes) was a measurable share of sealing short records.
    let core = CtrCore::<&C, Ctr128BE>::inner_iv_init(c, &Array::from(iv.to_be_bytes()));
    let mut stream = StreamCipherCoreWrapper::from_core(core);
    // The 128-bit position counter starts at offset/16 < 2^60, so neither
    // call can fail today (the counter itself wraps mod 2^128); should a
    // future cipher crate disagree, the caller gets an error instead of a
    // buffer left in plaintext.
    let len = buf.len();
    let out_of_range = || Error::InvalidArgument {
        what: format!("the AES-CTR keystream cannot cover {len} bytes at offset {offset}"),
    };
    stream.try_seek(offset).map_err(|_| out_of_range())?;
    stream.try_apply_keystream(buf).map_err(|_| out_of_range())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        crate::crypto::keys::decode_hex(s)
            .map(|v| v.to_vec())
            .unwrap_or_default()
    }

    // NIST SP 800-38A, F.5.1 / F.5.3 / F.5.5 (CTR-AESxxx.Encrypt).
    const NIST_IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
    const NIST_PT: &str = "6bc1bee22e409f96e93d7e117393172a\
                           ae2d8a571e03ac9c9eb76fac45af8e51\
                           30c81c46a35ce411e5fbc1191a0a52ef\
                           f69f2445df4f9b17ad2b417be66c3710";
    const NIST: [(Cipher, &str, &str); 3] = [
        (
            Cipher::Aes128Ctr,
            "2b7e151628aed2a6abf7158809cf4f3c",
            "874d6191b620e3261bef6864990db6ce\
             9806f66b7970fdff8617187bb9fffdff\
             5ae4df3edbd5d35e5b4f09020db03eab\
             1e031dda2fbe03d1792170a0f3009cee",
        ),
        (
            Cipher::Aes192Ctr,
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            "1abc932417521ca24f2b0459fe7e6e0b\
             090339ec0aa6faefd5ccc2c6f4ce8e94\
             1e36b26bd1ebc670d1bd1d665620abf7\
             4f78a7f6d29809585a97daec58c6b050",
        ),
        (
            Cipher::Aes256Ctr,
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            "601ec313775789a5b7a7f504bbf3d228\
             f443e3ca4d62b59aca84e990cacaf5c5\
             2b0930daa23de94ce87017ba2d84988d\
             dfc9c58db67aada613c2dd08457941a6",
        ),
    ];

    #[test]
    fn nist_sp800_38a_ctr_vectors_at_every_offset() {
        let iv = u128::from_be_bytes(unhex(NIST_IV).try_into().unwrap_or([0; 16]));
        let pt = unhex(NIST_PT);
        for (cipher, key, ct) in NIST {
            let k = AesKey::new(cipher, &unhex(key)).expect("key");
            let ct = unhex(ct);
            let mut buf = pt.clone();
            k.apply_keystream(iv, 0, &mut buf).expect("keystream");
            assert_eq!(buf, ct, "{cipher} whole");
            // Any sub-range at any (unaligned) offset encrypts the same.
            for start in 0..pt.len() {
                for end in start..=pt.len() {
                    let mut part = pt[start..end].to_vec();
                    k.apply_keystream(iv, start as u64, &mut part)
                        .expect("keystream");
                    assert_eq!(part, ct[start..end], "{cipher} {start}..{end}");
                }
            }
        }
    }

    #[test]
    fn counter_carries_across_64_bit_boundary_and_wraps() {
        let k = AesKey::new(Cipher::Aes128Ctr, &[7u8; 16]).expect("key");
        for iv in [u64::MAX as u128 - 1, u128::MAX - 1] {
            let mut got = [0u8; 64];
            k.apply_keystream(iv, 0, &mut got).expect("keystream");
            for i in 0..4u128 {
                let mut block = iv.wrapping_add(i).to_be_bytes();
                k.encrypt_block(&mut block);
                assert_eq!(&got[i as usize * 16..][..16], &block, "iv {iv:x} block {i}");
            }
        }
    }
}
