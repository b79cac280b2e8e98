//! Bad input gets a clear, typed error, never a panic and never wrong bytes
//! (issue 2, "Bad input must get a clear, typed error").
//!
//! Every error below is matched by variant, and every error also goes
//! through `assert_no_key_material` (see `common`): its `Display`, `Debug`
//! and sources never show a store key, raw or hex.
//!
//! Tests named `bug_*` document defects in `src/` found while writing these
//! tests; they fail until the defect is fixed (see their doc comments).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use sealdb::crypto::provider::generate_key_file;
use sealdb::vfs::{FileHeader, FileKind, MemVfs, SealedDir, Vfs};
use sealdb::{
    CallbackKeyProvider, Cipher, Error, ErrorCode, FileKeyProvider, KeyBytes, KeyId, KeyRequest,
    MemoryKeyProvider,
};

use common::*;

const P0: &[u8] = b"";
const P1: &[u8] = b"forty bytes of payload, more or less!!!!";

/// A store in `mode` with file "f" holding records P0 and P1 (synced).
/// Returns the file system, the store, and the records' body offsets.
fn store_with_file(mode: Mode) -> (MemVfs, SealedDir, [u64; 2]) {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mode.provider(), still_options()).expect("open store");
    let offs = write_file(&d, "f", FileKind::Sstable, &[P0, P1]);
    assert_eq!(offs, vec![0, mode.record_len(P0.len())]);
    (vfs, d, [offs[0], offs[1]])
}

fn read_rec(d: &SealedDir, name: &str, off: u64) -> sealdb::Result<Option<(Vec<u8>, u64)>> {
    d.open_file(name, FileKind::Sstable)?.read_record(off)
}

// ───────────────────────────── keys ─────────────────────────────

#[test]
fn wrong_store_key_is_key_unavailable_naming_the_registry_key() {
    let pairs: [(&[u8], &[u8]); 5] = [
        (KEY16, KEY16B),
        (KEY16, KEY32),
        (KEY32, KEY32B),
        (KEY32, KEY24),
        (KEY24, KEY16),
    ];
    for (right, wrong) in pairs {
        let vfs = MemVfs::new();
        let d = open_mem(&vfs, mem_provider(right), still_options()).expect("open");
        write_file(&d, "f", FileKind::Wal, &[P1]);
        drop(d);
        let registry_before = vfs.read_all(Path::new(REGISTRY)).expect("registry");
        let files_before = list(&vfs);

        let e = expect_err(
            open_mem(&vfs, mem_provider(wrong), still_options()),
            "open with a wrong key",
        );
        match &e {
            Error::KeyUnavailable { key_id } => assert_eq!(*key_id, id_of(right)),
            other => panic!("wrong key: expected KeyUnavailable, got {other:?}"),
        }
        assert_eq!(e.code(), ErrorCode::KeyUnavailable);
        assert!(!e.is_retryable() && !e.is_corruption());
        assert!(
            e.to_string().contains(&id_of(right).to_string()),
            "the message names the key id: {e}"
        );
        // Nothing was written: the registry and the file set are untouched.
        assert_eq!(
            vfs.read_all(Path::new(REGISTRY)).expect("registry"),
            registry_before
        );
        assert_eq!(list(&vfs), files_before);
        // The right key still works.
        let d = open_mem(&vfs, mem_provider(right), still_options()).expect("reopen");
        assert_eq!(read_all_records(&d, "f", FileKind::Wal), vec![P1.to_vec()]);
    }
}

#[test]
fn missing_key_is_key_unavailable() {
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, mem_provider(KEY32), still_options()).expect("open");
    write_file(&d, "f", FileKind::Wal, &[P1]);
    drop(d);

    // Switching to plaintext without offering the old key.
    let e = expect_err(
        open_mem(&vfs, plaintext_provider(), still_options()),
        "plaintext provider on an encrypted store",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32)),
        "{e:?}"
    );

    // A callback that has some other active key and nothing by id.
    let cb = CallbackKeyProvider::new(|req| match req {
        KeyRequest::Active => Ok(Some(KeyBytes::from_slice(KEY32B))),
        KeyRequest::ById(_) => Ok(None),
    });
    let e = expect_err(
        open_mem(&vfs, Arc::new(cb), still_options()),
        "callback without the key",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32)),
        "{e:?}"
    );

    // A callback that answers a lookup by id with the wrong key.
    let cb = CallbackKeyProvider::new(|_| Ok(Some(KeyBytes::from_slice(KEY16))));
    let e = expect_err(
        open_mem(&vfs, Arc::new(cb), still_options()),
        "callback with the wrong key",
    );
    assert!(
        matches!(e, Error::KeyUnavailable { key_id } if key_id == id_of(KEY32)),
        "{e:?}"
    );

    // A callback that fails, or returns a key of an impossible size.
    let cb = CallbackKeyProvider::new(|_| Err("vault is sealed".to_string()));
    let e = expect_err(
        open_mem(&vfs, Arc::new(cb), still_options()),
        "failing callback",
    );
    assert!(
        matches!(&e, Error::KeyProvider { message } if message == "vault is sealed"),
        "{e:?}"
    );
    let cb = CallbackKeyProvider::new(|_| Ok(Some(KeyBytes::from_slice(&KEY32[..20]))));
    let e = expect_err(open_mem(&vfs, Arc::new(cb), still_options()), "20-byte key");
    assert!(matches!(e, Error::InvalidKey { .. }), "{e:?}");
    assert_no_key_material_in(&e, &[&KEY32[..20]]);

    // Control: a callback that has the key opens the store and reads the file.
    let cb = CallbackKeyProvider::new(|req| match req {
        KeyRequest::Active => Ok(Some(KeyBytes::from_slice(KEY32))),
        KeyRequest::ById(id) if *id == KeyId::of_key(KEY32) => {
            Ok(Some(KeyBytes::from_slice(KEY32)))
        }
        KeyRequest::ById(_) => Ok(None),
    });
    let d = open_mem(&vfs, Arc::new(cb), still_options()).expect("callback with the key");
    assert_eq!(read_all_records(&d, "f", FileKind::Wal), vec![P1.to_vec()]);
}

#[test]
fn memory_keys_of_the_wrong_length_are_invalid() {
    for len in [0usize, 1, 15, 17, 20, 23, 25, 31, 33, 64] {
        let bytes = vec![b'k'; len];
        let e = expect_err(MemoryKeyProvider::new(key(&bytes)), "bad key length");
        assert!(matches!(e, Error::InvalidKey { .. }), "{len}: {e:?}");
        assert_eq!(e.code(), ErrorCode::InvalidKey);
        let e = expect_err(
            MemoryKeyProvider::new(key(KEY16)).and_then(|p| p.with_old_key(key(&bytes))),
            "bad old key length",
        );
        assert!(matches!(e, Error::InvalidKey { .. }), "{len}: {e:?}");
    }
}

/// Key files: the bad ones give `InvalidKey` (content) or `Io` (the file
/// cannot be read), and the message never shows the file's content.
#[test]
fn bad_key_files_are_invalid_key_or_io() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let put = |name: &str, content: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, content).expect("write key file");
        p
    };
    let invalid: [(&str, &[u8]); 13] = [
        // Raw keys, printable (a passphrase in a key file) or not: never
        // taken as key bytes any more (issue 14, item 7).
        ("raw16.key", KEY16),
        ("raw24.key", KEY24),
        ("raw32.key", KEY32),
        ("binary32.key", &[0xa5; 32]),
        ("empty.key", b""),
        ("newline.key", b"\n"),
        ("blank.key", b"  \r\n"),
        ("raw20.key", b"secret-key-twenty-20"),
        ("raw33.key", b"thirty-three-byte-secret-key-#033"),
        ("hex20.key", b"00112233445566778899aabbccddeeff00112233\n"),
        ("hexodd.key", b"00112233445566778899aabbccddeef\n"),
        (
            "binary17.key",
            &[0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
        ),
        (
            "nothex.key",
            b"this is not a key, it is a sentence of text\n",
        ),
    ];
    for (name, content) in invalid {
        let p = put(name, content);
        let e = expect_err(FileKeyProvider::new(&p), name);
        assert!(matches!(e, Error::InvalidKey { .. }), "{name}: {e:?}");
        let shown = content.trim_ascii();
        assert_no_key_material_in(&e, &[shown]);
        // The same for an old key file.
        let good = put("good.key", hex_lower(KEY32).as_bytes());
        let e = expect_err(
            FileKeyProvider::new(&good).and_then(|fp| fp.with_old_key_file(&p)),
            name,
        );
        assert!(
            matches!(e, Error::InvalidKey { .. }),
            "{name} as old key: {e:?}"
        );
        assert_no_key_material_in(&e, &[shown]);
        std::fs::remove_file(good).expect("rm");
    }

    let missing = tmp.path().join("missing.key");
    let e = expect_err(FileKeyProvider::new(&missing), "missing key file");
    assert!(
        matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
        "{e:?}"
    );
    let e = expect_err(FileKeyProvider::new(tmp.path()), "a directory as key file");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = put("locked.key", hex_lower(KEY32).as_bytes());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        // Root can read a mode-000 file; only check where the OS refuses.
        if std::fs::read(&p).is_err() {
            let e = expect_err(FileKeyProvider::new(&p), "unreadable key file");
            assert!(
                matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
                "{e:?}"
            );
        }
    }
}

#[test]
fn good_key_files_in_every_form() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let forms: Vec<(Vec<u8>, &[u8])> = vec![
        (format!("{}\n", hex_lower(KEY16)).into_bytes(), KEY16),
        (
            format!("{}\r\n", hex_lower(KEY24).to_uppercase()).into_bytes(),
            KEY24,
        ),
        (hex_lower(KEY32).into_bytes(), KEY32),
    ];
    for (i, (content, k)) in forms.iter().enumerate() {
        let p = tmp.path().join(format!("{i}.key"));
        std::fs::write(&p, content).expect("write");
        let fp = FileKeyProvider::new(&p).expect("valid key file");
        assert_eq!(fp.key_id(), id_of(k), "form {i}");
    }
    for bits in [128u32, 192, 256] {
        let p = tmp.path().join(format!("gen{bits}.key"));
        let id = generate_key_file(&p, bits).expect("generate");
        let fp = FileKeyProvider::new(&p).expect("generated file reads back");
        assert_eq!(fp.key_id(), id);
        let text = std::fs::read_to_string(&p).expect("read");
        assert_eq!(text.trim_end().len(), bits as usize / 4, "hex digits");
        let e = expect_err(generate_key_file(&p, bits), "overwrite");
        assert!(
            matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::AlreadyExists),
            "{e:?}"
        );
    }
    let e = expect_err(generate_key_file(tmp.path().join("x.key"), 100), "100 bits");
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ───────────────────────── truncation ─────────────────────────

/// Cut a sealed file at every length: a cut inside the header or inside a
/// record is `Truncated`; a cut at a record boundary leaves a valid, shorter
/// file (this layer has no length commitment; the manifest keeps lengths).
/// The records before the cut always read back intact.
#[test]
fn truncated_files_are_truncated_errors() {
    for mode in Mode::ALL {
        let (vfs, d, offs) = store_with_file(mode);
        let f = path("f");
        let full = vfs.read_all(&f).expect("file");
        let boundaries = [
            HEADER,
            HEADER + offs[1],
            HEADER + offs[1] + mode.record_len(P1.len()),
        ];
        assert_eq!(boundaries[2], full.len() as u64);
        for cut in 0..full.len() as u64 {
            vfs.put_file(&f, &full);
            vfs.truncate(&f, cut).expect("truncate");
            let r = d.open_file("f", FileKind::Sstable);
            if cut < HEADER {
                let e = expect_err(r, "short header");
                assert!(
                    matches!(e, Error::Truncated { offset: 0, needed: 64, len, .. } if len == cut),
                    "{mode:?} cut {cut}: {e:?}"
                );
                let e = expect_err(d.file_header("f"), "short header");
                assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
                continue;
            }
            let r = r.expect("header intact");
            let got: Vec<sealdb::Result<(u64, Vec<u8>)>> = r.records().collect();
            let whole = boundaries.iter().filter(|b| **b <= cut).count() - 1;
            let want = [P0, P1];
            for (i, rec) in got.iter().enumerate().take(whole) {
                match rec {
                    Ok((o, p)) => assert!(*o == offs[i] && p == want[i], "{mode:?} cut {cut}"),
                    Err(e) => panic!("{mode:?} cut {cut}: record {i} lost: {e:?}"),
                }
            }
            if boundaries.contains(&cut) {
                assert_eq!(got.len(), whole, "{mode:?} cut {cut} at a boundary");
            } else {
                assert_eq!(got.len(), whole + 1, "{mode:?} cut {cut}");
                let e = got
                    .into_iter()
                    .last()
                    .expect("an item")
                    .expect_err("torn record");
                assert_no_key_material(&e);
                assert!(
                    matches!(e, Error::Truncated { offset, .. } if offset == boundaries[whole]),
                    "{mode:?} cut {cut}: {e:?}"
                );
                assert_eq!(e.code(), ErrorCode::Truncated);
            }
        }
    }
}

#[test]
fn zero_length_and_truncated_registry() {
    for mode in Mode::ALL {
        let (vfs, d, _) = store_with_file(mode);
        drop(d);
        let reg = Path::new(REGISTRY);
        let full = vfs.read_all(reg).expect("registry");
        for cut in 0..full.len() as u64 {
            vfs.put_file(reg, &full);
            vfs.truncate(reg, cut).expect("truncate");
            let e = expect_err(
                open_mem(&vfs, mode.provider(), still_options()),
                "truncated registry",
            );
            if cut == HEADER {
                // A header and no record at all.
                assert!(
                    matches!(e, Error::Corruption { .. }),
                    "{mode:?} cut {cut}: {e:?}"
                );
            } else {
                assert!(
                    matches!(e, Error::Truncated { .. }),
                    "{mode:?} cut {cut}: {e:?}"
                );
            }
            assert!(e.is_corruption());
        }
        vfs.put_file(reg, &full);
        open_mem(&vfs, mode.provider(), still_options()).expect("intact registry opens");
    }
}

// ─────────────────────────── bit flips ───────────────────────────

/// Every bit of the CRC-checked header bytes (magic, version, kind, cipher,
/// key id, IV, and the CRC itself: bytes 0..52) flipped alone gives
/// `Corruption`.
#[test]
fn header_bit_flips_are_corruption() {
    for mode in Mode::ALL {
        let (vfs, d, _) = store_with_file(mode);
        let f = path("f");
        for bit in 0..52 * 8 {
            flip_bit(&vfs, &f, bit);
            let e = expect_err(d.open_file("f", FileKind::Sstable), "header flip");
            assert!(
                matches!(e, Error::Corruption { offset: 0, .. }),
                "{mode:?} bit {bit}: {e:?}"
            );
            assert_eq!(e.code(), ErrorCode::Corruption);
            let e = expect_err(d.file_header("f"), "header flip");
            assert!(matches!(e, Error::Corruption { .. }), "{e:?}");
            flip_bit(&vfs, &f, bit);
        }
        assert_eq!(
            read_all_records(&d, "f", FileKind::Sstable),
            vec![P0.to_vec(), P1.to_vec()]
        );
    }
}

/// The reserved header bytes after the CRC (52..64) are covered by neither
/// the CRC nor the MAC; a flipped bit there must still be `Corruption`
/// (regression: they used to be ignored).
#[test]
fn header_reserved_byte_flips_are_corruption() {
    for mode in Mode::ALL {
        let (vfs, d, _) = store_with_file(mode);
        let f = path("f");
        for bit in 52 * 8..64 * 8 {
            flip_bit(&vfs, &f, bit);
            let e = expect_err(d.open_file("f", FileKind::Sstable), "reserved byte flip");
            assert!(
                matches!(e, Error::Corruption { offset: 0, .. }),
                "{mode:?} bit {bit}: {e:?}"
            );
            flip_bit(&vfs, &f, bit);
        }
    }
}

/// Flips in an encrypted record's payload, payload CRC or tag are
/// `Authentication` (at the record's offset); in a plaintext record,
/// anywhere, `Corruption`. The other record stays readable.
#[test]
fn body_and_tag_bit_flips() {
    for mode in Mode::ALL {
        let (vfs, d, offs) = store_with_file(mode);
        let f = path("f");
        for (i, (off, payload)) in offs.iter().zip([P0, P1]).enumerate() {
            let rl = mode.record_len(payload.len());
            let first = if mode.encrypted() { 8 } else { 0 };
            for bit in first * 8..rl * 8 {
                let at = (HEADER + off) * 8 + bit;
                flip_bit(&vfs, &f, at);
                let e = expect_err(read_rec(&d, "f", *off), "body flip");
                if mode.encrypted() {
                    assert!(
                        matches!(e, Error::Authentication { offset, .. } if offset == HEADER + off),
                        "{mode:?} record {i} bit {bit}: {e:?}"
                    );
                    assert_eq!(e.code(), ErrorCode::Authentication);
                } else {
                    assert!(
                        matches!(e, Error::Corruption { offset, .. } if offset == HEADER + off),
                        "{mode:?} record {i} bit {bit}: {e:?}"
                    );
                }
                assert!(e.is_corruption() && !e.is_retryable());
                // The other record is untouched.
                let other = offs[1 - i];
                let (p, _) = read_rec(&d, "f", other)
                    .expect("other record")
                    .expect("some");
                assert_eq!(p, [P0, P1][1 - i]);
                flip_bit(&vfs, &f, at);
            }
        }
    }
}

/// Flips in the 8-byte length prefix (length and its CRC) of an encrypted
/// record are detected: an error of the corruption family, never a payload.
#[test]
fn length_prefix_flips_are_detected() {
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let (vfs, d, offs) = store_with_file(mode);
        let f = path("f");
        for off in offs {
            for bit in 0..64 {
                let at = (HEADER + off) * 8 + bit;
                flip_bit(&vfs, &f, at);
                let e = expect_err(read_rec(&d, "f", off), "length flip");
                assert!(
                    matches!(e, Error::Authentication { .. } | Error::Corruption { .. }),
                    "{mode:?} off {off} bit {bit}: {e:?}"
                );
                flip_bit(&vfs, &f, at);
            }
        }
    }
}

/// Regression (fixed; was a bug in src/vfs/sealed.rs, `SealedReader::read_record`, the "record length
/// is damaged" check): an encrypted record's length prefix is decrypted and
/// checked against its (encrypted) CRC *before* the tag is verified, and a
/// mismatch is reported as `Error::Corruption`. So tampering with an
/// encrypted record's first 8 bytes is reported as `Corruption`, not
/// `Authentication` as `Error::Authentication`'s contract ("the data was
/// altered, moved from another file or offset") and issue 2 require.
/// The fix: when the file is encrypted (`self.seal.is_some()`), report a bad
/// length CRC or an impossible length as `Error::Authentication { file,
/// offset: HEADER_LEN + offset }`.
#[test]
fn regression_flipped_length_prefix_of_encrypted_record_is_authentication() {
    let mut wrong_kind = Vec::new();
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let (vfs, d, offs) = store_with_file(mode);
        let f = path("f");
        for off in offs {
            for bit in 0..64 {
                let at = (HEADER + off) * 8 + bit;
                flip_bit(&vfs, &f, at);
                let e = expect_err(read_rec(&d, "f", off), "length flip");
                if !matches!(e, Error::Authentication { .. }) {
                    wrong_kind.push(e.code());
                }
                flip_bit(&vfs, &f, at);
            }
        }
    }
    assert!(
        wrong_kind.is_empty(),
        "BUG: {} of {} single-bit flips in encrypted length prefixes gave {:?}, not Authentication",
        wrong_kind.len(),
        3 * 2 * 64,
        wrong_kind.first()
    );
}

// ───────────────────── spliced and moved records ─────────────────────

/// Two files under the same data key with records of the same sizes.
fn two_files(mode: Mode) -> (MemVfs, SealedDir, [u64; 2]) {
    let (vfs, d, offs) = store_with_file(mode);
    let q1 = b"FORTY BYTES OF OTHER PAYLOAD, MORE OR LE";
    assert_eq!(q1.len(), P1.len());
    let o = write_file(&d, "g", FileKind::Sstable, &[P0, q1]);
    assert_eq!(o, offs.to_vec());
    assert_eq!(
        d.file_header("f").expect("f").key_id,
        d.file_header("g").expect("g").key_id
    );
    (vfs, d, offs)
}

/// The authenticated part of a record (everything after its 8-byte length
/// prefix: payload, CRC, tag) copied from another file at the same offset,
/// or the tag alone, is `Authentication`.
#[test]
fn record_body_or_tag_copied_from_another_file_fails_authentication() {
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let (vfs, d, offs) = two_files(mode);
        let (f, g) = (path("f"), path("g"));
        let good = vfs.read_all(&f).expect("f");
        for off in offs {
            let len = mode.record_len([P0, P1][(off != 0) as usize].len());
            for (skip, what) in [(8, "record body"), (len - TAG_LEN as u64, "tag")] {
                splice(
                    &vfs,
                    &g,
                    HEADER + off + skip,
                    &f,
                    HEADER + off + skip,
                    (len - skip) as usize,
                );
                let e = expect_err(read_rec(&d, "f", off), what);
                assert!(
                    matches!(e, Error::Authentication { offset, .. } if offset == HEADER + off),
                    "{mode:?} {what} at {off}: {e:?}"
                );
                vfs.put_file(&f, &good);
            }
        }
    }
}

/// The authenticated part of a record moved to another offset of the same
/// file (over a record of the same size), or a tag moved, is
/// `Authentication`.
#[test]
fn record_body_or_tag_moved_within_a_file_fails_authentication() {
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let vfs = MemVfs::new();
        let d = open_mem(&vfs, mode.provider(), still_options()).expect("open");
        let a = b"record number one, sixteen+".as_slice();
        let b = b"record number two, sixteen+".as_slice();
        let offs = write_file(&d, "f", FileKind::Wal, &[a, b]);
        let f = path("f");
        let good = vfs.read_all(&f).expect("f");
        let len = mode.record_len(a.len());
        for (skip, what) in [(8, "record body"), (len - TAG_LEN as u64, "tag")] {
            splice(
                &vfs,
                &f,
                HEADER + offs[0] + skip,
                &f,
                HEADER + offs[1] + skip,
                (len - skip) as usize,
            );
            let r = d.open_file("f", FileKind::Wal).expect("open");
            assert_eq!(
                r.read_record(offs[0])
                    .expect("first intact")
                    .expect("some")
                    .0,
                a
            );
            let e = expect_err(r.read_record(offs[1]), what);
            assert!(
                matches!(e, Error::Authentication { offset, .. } if offset == HEADER + offs[1]),
                "{mode:?} {what}: {e:?}"
            );
            vfs.put_file(&f, &good);
        }
    }
}

/// Whole records (length prefix included) copied from another file or
/// moved within a file are detected: a corruption-family error, never the
/// copied payload.
#[test]
fn whole_records_copied_or_moved_are_detected() {
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let (vfs, d, offs) = two_files(mode);
        let (f, g) = (path("f"), path("g"));
        let good = vfs.read_all(&f).expect("f");
        let len = mode.record_len(P1.len()) as usize;
        // From g to f, same offset.
        splice(&vfs, &g, HEADER + offs[1], &f, HEADER + offs[1], len);
        let e = expect_err(read_rec(&d, "f", offs[1]), "record from g");
        assert!(e.is_corruption(), "{mode:?}: {e:?}");
        vfs.put_file(&f, &good);
        // Within f: the empty record 0 copied over the start of record 1.
        let len0 = mode.record_len(0) as usize;
        splice(&vfs, &f, HEADER + offs[0], &f, HEADER + offs[1], len0);
        let e = expect_err(read_rec(&d, "f", offs[1]), "record moved");
        assert!(e.is_corruption(), "{mode:?}: {e:?}");
        vfs.put_file(&f, &good);
    }
}

/// Regression (fixed; was a bug in same root cause as
/// `bug_flipped_length_prefix_of_encrypted_record_is_not_authentication`):
/// a whole encrypted record copied from another file, or moved to another
/// offset of the same file, decrypts to a garbage length under the wrong
/// keystream and is reported as `Corruption` ("record length is damaged")
/// instead of `Authentication`, the kind `Error::Authentication` documents
/// for data "moved from another file or offset" and issue 2 requires.
#[test]
fn regression_whole_record_copied_or_moved_is_authentication() {
    let mut wrong = Vec::new();
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let (vfs, d, offs) = two_files(mode);
        let (f, g) = (path("f"), path("g"));
        let good = vfs.read_all(&f).expect("f");
        let len = mode.record_len(P1.len()) as usize;
        splice(&vfs, &g, HEADER + offs[1], &f, HEADER + offs[1], len);
        let e = expect_err(read_rec(&d, "f", offs[1]), "record from g");
        if !matches!(e, Error::Authentication { .. }) {
            wrong.push((mode, "copied from another file", e.code()));
        }
        vfs.put_file(&f, &good);

        let vfs2 = MemVfs::new();
        let d2 = open_mem(&vfs2, mode.provider(), still_options()).expect("open");
        let a = b"record number one, sixteen+".as_slice();
        let b = b"record number two, sixteen+".as_slice();
        let o = write_file(&d2, "h", FileKind::Wal, &[a, b]);
        let h = path("h");
        splice(
            &vfs2,
            &h,
            HEADER + o[0],
            &h,
            HEADER + o[1],
            mode.record_len(a.len()) as usize,
        );
        let e = expect_err(
            d2.open_file("h", FileKind::Wal)
                .and_then(|r| r.read_record(o[1])),
            "record moved",
        );
        if !matches!(e, Error::Authentication { .. }) {
            wrong.push((mode, "moved within the file", e.code()));
        }
    }
    assert!(
        wrong.is_empty(),
        "BUG: whole records copied/moved are reported as {wrong:?}, not Authentication"
    );
}

/// A whole file copied in from another store (another registry, same
/// store key) names a data key this registry does not hold.
#[test]
fn file_from_another_store_is_data_key_unknown() {
    let (vfs_a, _da, _) = store_with_file(Mode::Aes256);
    let (vfs_b, db, _) = store_with_file(Mode::Aes256);
    let foreign = vfs_a.read_all(&path("f")).expect("f");
    vfs_b.put_file(&path("foreign"), &foreign);
    let e = expect_err(db.open_file("foreign", FileKind::Sstable), "foreign file");
    let foreign_key = FileHeader::decode(&foreign, Path::new("x"))
        .expect("header")
        .key_id;
    assert_ne!(foreign_key, db.active_data_key());
    assert!(
        matches!(&e, Error::DataKeyUnknown { key_id, file } if *key_id == foreign_key && file == &path("foreign")),
        "{e:?}"
    );
    assert_eq!(e.code(), ErrorCode::DataKeyUnknown);

    // The other store's whole registry, under the same store key, opens,
    // but then this store's own files are the foreign ones.
    vfs_b.put_file(
        Path::new(REGISTRY),
        &vfs_a.read_all(Path::new(REGISTRY)).expect("registry"),
    );
    let db = open_mem(&vfs_b, Mode::Aes256.provider(), still_options()).expect("open");
    let e = expect_err(
        db.open_file("f", FileKind::Sstable),
        "own file, foreign registry",
    );
    assert!(matches!(e, Error::DataKeyUnknown { .. }), "{e:?}");
    assert_eq!(read_all_records(&db, "foreign", FileKind::Sstable).len(), 2);
}

#[test]
fn wrong_kind_and_foreign_bytes_are_corruption() {
    let (vfs, d, _) = store_with_file(Mode::Aes128);
    let e = expect_err(d.open_file("f", FileKind::Wal), "wrong kind");
    assert!(matches!(e, Error::Corruption { offset: 10, .. }), "{e:?}");
    vfs.put_file(&path("junk"), &bytes_from_seed(9, 500));
    let e = expect_err(d.open_file("junk", FileKind::Wal), "junk");
    assert!(matches!(e, Error::Corruption { offset: 0, .. }), "{e:?}");
    let e = expect_err(d.open_file("absent", FileKind::Wal), "absent");
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
}

// ───────────────────────── the key registry ─────────────────────────

#[test]
fn deleted_registry_with_sealed_files_is_corruption() {
    for mode in Mode::ALL {
        let (vfs, d, _) = store_with_file(mode);
        drop(d);
        let reg = Path::new(REGISTRY);
        vfs.remove(reg).expect("rm registry");
        vfs.sync_dir(dir()).expect("the removal is durable");
        let e = expect_err(
            open_mem(&vfs, mode.provider(), still_options()),
            "no registry",
        );
        assert!(
            matches!(&e, Error::Corruption { file, .. } if file == reg),
            "{mode:?}: {e:?}"
        );
        assert!(e.to_string().contains("f"), "{e}");
        // Refusing did not start a new, empty registry.
        assert!(!vfs.exists(reg).expect("exists"));
        // Also after a crash, and whatever provider is offered.
        vfs.crash();
        for other in Mode::ALL {
            let e = expect_err(
                open_mem(&vfs, other.provider(), still_options()),
                "no registry",
            );
            assert!(matches!(e, Error::Corruption { .. }), "{e:?}");
        }
    }
    // Control: files that are not sealed do not block a fresh store.
    let vfs = MemVfs::new();
    vfs.create_dir_all(dir()).expect("mkdir");
    vfs.put_file(
        &path("notes.txt"),
        b"just some text, not a sealed file at all",
    );
    vfs.put_file(&path("empty"), b"");
    let d = open_mem(&vfs, mem_provider(KEY16), still_options()).expect("fresh store");
    assert!(!d.active_data_key().is_plaintext());
}

/// Every single-bit flip in the key registry makes opening fail: `Corruption` in the header and in a plaintext
/// registry, `Authentication` in an encrypted registry's payload and tag.
/// The registry is never silently replaced.
#[test]
fn registry_bit_flips_fail_the_open() {
    for mode in [Mode::Plaintext, Mode::Aes128, Mode::Aes256] {
        let (vfs, d, _) = store_with_file(mode);
        drop(d);
        let reg = Path::new(REGISTRY);
        let good = vfs.read_all(reg).expect("registry");
        let bits = good.len() as u64 * 8;
        for bit in 0..bits {
            flip_bit(&vfs, reg, bit);
            let e = expect_err(
                open_mem(&vfs, mode.provider(), still_options()),
                "flipped registry",
            );
            let in_header = bit < HEADER * 8;
            let in_len = (HEADER * 8..(HEADER + 8) * 8).contains(&bit);
            let ok = match &e {
                Error::Corruption { .. } => in_header || in_len || !mode.encrypted(),
                Error::Authentication { .. } => !in_header && mode.encrypted(),
                _ => false,
            };
            assert!(ok, "{mode:?} bit {bit}: {e:?}");
            assert!(e.is_corruption());
            let mut flipped = good.clone();
            flipped[(bit / 8) as usize] ^= 1 << (bit % 8);
            assert_eq!(
                vfs.read_all(reg).expect("registry"),
                flipped,
                "left as found"
            );
            flip_bit(&vfs, reg, bit);
        }
        let d = open_mem(&vfs, mode.provider(), still_options()).expect("restored");
        assert_eq!(read_all_records(&d, "f", FileKind::Sstable).len(), 2);
    }
}

#[test]
fn registry_replaced_by_junk_is_an_error() {
    let (vfs, d, _) = store_with_file(Mode::Aes192);
    drop(d);
    let reg = Path::new(REGISTRY);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("zero length", Vec::new()),
        ("random bytes", bytes_from_seed(3, 300)),
        ("a data file", vfs.read_all(&path("f")).expect("f")),
    ];
    for (what, bytes) in cases {
        vfs.put_file(reg, &bytes);
        let e = expect_err(
            open_mem(&vfs, Mode::Aes192.provider(), still_options()),
            what,
        );
        match what {
            "zero length" => assert!(matches!(e, Error::Truncated { len: 0, .. }), "{e:?}"),
            _ => assert!(matches!(e, Error::Corruption { .. }), "{what}: {e:?}"),
        }
    }
}

/// Regression (fixed; was a bug in src/vfs/sealed_dir.rs, `SealedDir::keys_for`, and the registry's
/// `plaintext_files_allowed()`, which nothing calls): in a store that has
/// never been plaintext, a file whose header says "plaintext" is accepted
/// and its (unauthenticated) records are returned. An attacker with write
/// access replaces an encrypted file by a plaintext one of their making and
/// the store reads the forged rows as its own. docs/crypto-threat-model.md
/// ("Known gaps" 1, marked closed) says that while the registry says no
/// plaintext files may exist, "a plaintext header gives `Authentication`";
/// the code does not do that.
/// The fix: in `keys_for` (used by `open_file` and `open_immutable`), when
/// `!h.cipher.is_encrypted()` and `!registry.plaintext_files_allowed()`,
/// return `Error::Authentication { file, offset: 0 }`. (Plaintext files from
/// before a migration stay readable: `plaintext_to_encrypted` in
/// key_rotation.rs checks that.)
#[test]
fn regression_forged_plaintext_file_is_rejected_in_an_encrypted_store() {
    let (vfs, d, _) = store_with_file(Mode::Aes256);
    let header = FileHeader {
        kind: FileKind::Sstable,
        cipher: Cipher::Plaintext,
        key_id: KeyId::PLAINTEXT,
        iv: 99,
    };
    let mut forged = header.encode().to_vec();
    forged.extend_from_slice(&frame(b"a row the attacker wrote"));
    vfs.put_file(&path("f"), &forged);
    match d
        .open_file("f", FileKind::Sstable)
        .and_then(|r| r.read_record(0))
    {
        Err(e) => {
            assert_no_key_material(&e);
            assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
        }
        Ok(got) => panic!(
            "BUG: a forged plaintext file in a store that was never plaintext was read as {:?}",
            got.map(|(p, _)| String::from_utf8_lossy(&p).into_owned())
        ),
    }
}

/// One data key for a forged registry: (key bytes, creating store key id, exposed).
type ForgedEntry<'a> = (&'a [u8], KeyId, bool);

/// A key registry in the documented encoding (`crypto::registry`: version,
/// flags, store key id, active id, entries), sealed as a *plaintext*
/// KEYREGISTRY file: what anyone with write access to the disk can make.
fn forged_plaintext_registry(
    flags: u32,
    store_key_id: KeyId,
    active: KeyId,
    entries: &[ForgedEntry<'_>],
) -> Vec<u8> {
    let mut reg = Vec::new();
    reg.extend_from_slice(&1u32.to_le_bytes());
    reg.extend_from_slice(&flags.to_le_bytes());
    reg.extend_from_slice(store_key_id.as_bytes());
    reg.extend_from_slice(active.as_bytes());
    reg.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for (data_key, creator, exposed) in entries {
        let cipher = Cipher::for_key_len(data_key.len()).expect("AES key size");
        reg.extend_from_slice(KeyId::of_key(data_key).as_bytes());
        reg.push(cipher as u8);
        // "Created now" by `still_options`' clock: no rotation is due.
        reg.extend_from_slice(&1_000_000u64.to_le_bytes());
        reg.extend_from_slice(creator.as_bytes());
        reg.push(u8::from(*exposed));
        reg.push(data_key.len() as u8);
        reg.extend_from_slice(data_key);
    }
    let header = FileHeader {
        kind: FileKind::KeyRegistry,
        cipher: Cipher::Plaintext,
        key_id: KeyId::PLAINTEXT,
        iv: 0x1234_5678,
    };
    let mut file = header.encode().to_vec();
    file.extend_from_slice(&frame(&reg));
    file
}

const ATTACKER_KEY: &[u8; 32] = b"attacker-chosen-data-key-32bytes";

/// The attacker's lab: a store whose (forged, plaintext) registry holds
/// `ATTACKER_KEY` as an exposed old key, as a genuine store that was
/// switched to plaintext would; opened with the plaintext provider it reads
/// any file encrypted under that key. Also the control that the forged
/// encoding is well-formed, so the attack tests below cannot pass merely
/// because the forgery is malformed.
fn attacker_lab(stolen: &[u8]) -> Vec<Vec<u8>> {
    let lab = MemVfs::new();
    lab.create_dir_all(dir()).expect("mkdir");
    lab.put_file(
        Path::new(REGISTRY),
        &forged_plaintext_registry(
            1,
            KeyId::PLAINTEXT,
            KeyId::PLAINTEXT,
            &[(ATTACKER_KEY, id_of(KEY32), true)],
        ),
    );
    lab.put_file(&path("stolen"), stolen);
    let a = open_mem(&lab, plaintext_provider(), still_options())
        .expect("a well-formed plaintext registry opens");
    let keys = a.encryption_status(|_| true).expect("status").data_keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].id, KeyId::of_key(ATTACKER_KEY));
    assert!(keys[0].exposed);
    read_all_records(&a, "stolen", FileKind::Sstable)
}

#[test]
fn forged_registry_encoding_is_well_formed() {
    // A file sealed under ATTACKER_KEY by a store whose own registry held it.
    let vfs = MemVfs::new();
    let d = open_mem(&vfs, plaintext_provider(), still_options()).expect("plaintext store");
    write_file(&d, "p", FileKind::Sstable, &[b"plain"]);
    drop(d);
    assert_eq!(
        attacker_lab(&vfs.read_all(&path("p")).expect("p")),
        vec![b"plain".to_vec()]
    );
}

/// A plaintext registry that names the real store key id and an attacker's
/// data key as active is refused (its recorded store key does not match the
/// header, which says "no key").
#[test]
fn forged_plaintext_registry_naming_the_store_key_is_refused() {
    let vfs = MemVfs::new();
    drop(open_mem(&vfs, mem_provider(KEY32), still_options()).expect("victim store"));
    let forged = forged_plaintext_registry(
        0,
        id_of(KEY32),
        KeyId::of_key(ATTACKER_KEY),
        &[(ATTACKER_KEY, id_of(KEY32), false)],
    );
    vfs.put_file(Path::new(REGISTRY), &forged);
    let e = expect_err(
        open_mem(&vfs, mem_provider(KEY32), still_options()),
        "forged registry",
    );
    assert_no_key_material_in(&e, &[ATTACKER_KEY]);
    assert!(
        matches!(e, Error::Corruption { .. } | Error::Authentication { .. }),
        "{e:?}"
    );
}

/// A plaintext registry (store key "none") whose active data key is the
/// attacker's is refused when an encryption key is supplied and migration
/// from plaintext was not asked for.
#[test]
fn forged_plaintext_registry_is_refused_without_migration() {
    let vfs = MemVfs::new();
    drop(open_mem(&vfs, mem_provider(KEY32), still_options()).expect("victim store"));
    let forged = forged_plaintext_registry(
        0,
        KeyId::PLAINTEXT,
        KeyId::of_key(ATTACKER_KEY),
        &[(ATTACKER_KEY, id_of(KEY32), false)],
    );
    vfs.put_file(Path::new(REGISTRY), &forged);
    let e = expect_err(
        open_mem(&vfs, mem_provider(KEY32), still_options()),
        "forged registry",
    );
    assert!(
        matches!(
            e,
            Error::PlaintextStore { .. } | Error::Corruption { .. } | Error::Authentication { .. }
        ),
        "{e:?}"
    );
}

/// Regression (fixed; was a bug in src/crypto/registry.rs, `DataKeyRegistry::reconcile`, and
/// src/vfs/sealed_dir.rs, `read_registry`): when a plaintext registry is
/// opened with a store key and `KeyOptions::migrate_from_plaintext` set,
/// `reconcile` decides whether to rotate from the *active entry's own*
/// fields (its creating store key id, cipher, age), all of which the
/// unauthenticated plaintext registry lets an attacker choose. A forged
/// plaintext registry (store key "none", as `read_registry` now requires)
/// whose active entry is an attacker's data key "created now by" the real
/// store key is not rotated: the migration re-encrypts the registry under
/// the real store key *with the attacker's key still active*, and every
/// file written afterwards is readable by the attacker (decrypted below
/// through sealdb's own API). A genuine plaintext registry always has
/// `active = plaintext` and every key exposed.
/// The fix: in `reconcile`, also rotate when `self.store_key_id != sk.id()`
/// (the registry itself was under another key or none); and/or make
/// `read_registry` reject a plaintext registry whose active id is not
/// plaintext or that holds an unexposed key (`Error::Corruption`).
#[test]
fn regression_forged_plaintext_registry_cannot_choose_the_data_key() {
    let vfs = MemVfs::new();
    drop(open_mem(&vfs, mem_provider(KEY32), still_options()).expect("victim store"));
    let forged = forged_plaintext_registry(
        0,
        KeyId::PLAINTEXT,
        KeyId::of_key(ATTACKER_KEY),
        &[(ATTACKER_KEY, id_of(KEY32), false)],
    );
    vfs.put_file(Path::new(REGISTRY), &forged);
    let migrate = sealdb::vfs::KeyOptions {
        migrate_from_plaintext: true,
        ..still_options()
    };
    let d = match open_mem(&vfs, mem_provider(KEY32), migrate) {
        Err(e) => {
            assert_no_key_material_in(&e, &[ATTACKER_KEY]);
            assert!(e.is_corruption(), "{e:?}");
            return;
        }
        Ok(d) => d,
    };
    write_file(
        &d,
        "secret.sst",
        FileKind::Sstable,
        &[b"the victim's secret row"],
    );
    let used = d.file_header("secret.sst").expect("header").key_id;
    if used != KeyId::of_key(ATTACKER_KEY) {
        return; // rotated away from the forged key: not exploitable
    }
    let recovered = attacker_lab(&vfs.read_all(&path("secret.sst")).expect("file"));
    panic!(
        "BUG: after migrating a forged plaintext KEYREGISTRY to store key {}, new files are \
         encrypted under the attacker's data key {used}, and the attacker decrypted: {:?}",
        id_of(KEY32),
        String::from_utf8_lossy(&recovered[0])
    );
}
