//! Round trips through sealed files, checked against a model of the bytes.
//!
//! For every cipher (AES-128/192/256, selected by the store key's size) and
//! for plaintext, proptest appends random records of random sizes (0 to
//! 20 KiB, with random flushes in between) through `SealedDir::create_file`,
//! then reads them back through `open_file` and `open_immutable`, before and
//! after reopening the store:
//!
//! - `records()` and `read_record` return every payload at its offset;
//! - `read_raw` at random offsets and sizes returns the plaintext body bytes
//!   (the model is the concatenation of record frames; the tag bytes of
//!   encrypted files, which `read_raw` does not interpret, are masked out);
//! - on disk, encrypted payloads are not stored in the clear and plaintext
//!   ones are.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use sealdb::vfs::{FileKind, MemVfs, OsVfs, SealedDir, SealedReader, Vfs};
use sealdb::Error;

use common::*;

#[derive(Clone, Debug)]
struct Rec {
    len: usize,
    seed: u64,
    flush_after: bool,
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        prop_oneof![4 => 0usize..64, 1 => 0usize..20 * 1024],
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(|(len, seed, flush_after)| Rec {
            len,
            seed,
            flush_after,
        })
}

/// (offset seed, length) pairs; offsets are reduced modulo the body length.
fn reads() -> impl Strategy<Value = Vec<(u64, usize)>> {
    vec((any::<u64>(), 0usize..6000), 0..12)
}

/// The expected plaintext body: `Some(byte)` for frame bytes, `None` for
/// tag bytes (which `read_raw` returns keystream-XORed, meaningless).
struct Model {
    body: Vec<Option<u8>>,
    records: Vec<(u64, Vec<u8>)>,
}

fn write(d: &SealedDir, mode: Mode, name: &str, recs: &[Rec]) -> Result<Model, TestCaseError> {
    let mut w = d.create_file(name, FileKind::Wal)?;
    prop_assert_eq!(w.header().cipher, mode.cipher());
    prop_assert_eq!(w.header().key_id, d.active_data_key());
    prop_assert_eq!(w.header().kind, FileKind::Wal);
    prop_assert_eq!(w.header().key_id.is_plaintext(), !mode.encrypted());
    let mut model = Model {
        body: Vec::new(),
        records: Vec::new(),
    };
    for r in recs {
        let payload = bytes_from_seed(r.seed, r.len);
        let expect_off = model.body.len() as u64;
        prop_assert_eq!(w.position(), expect_off);
        prop_assert_eq!(w.record_len(r.len), mode.record_len(r.len));
        let off = w.append_record(&payload)?;
        prop_assert_eq!(off, expect_off);
        let f = frame(&payload);
        if mode.encrypted() {
            // length | crc32(length) | head tag | payload | crc32 | tag
            model.body.extend(f[..8].iter().copied().map(Some));
            model.body.extend(std::iter::repeat_n(None, TAG_LEN));
            model.body.extend(f[8..].iter().copied().map(Some));
            model.body.extend(std::iter::repeat_n(None, TAG_LEN));
        } else {
            model.body.extend(f.into_iter().map(Some));
        }
        prop_assert_eq!(w.position(), model.body.len() as u64);
        model.records.push((off, payload));
        if r.flush_after {
            w.flush()?;
        }
    }
    w.sync()?;
    drop(w);
    d.vfs().sync_dir(d.dir())?;
    Ok(model)
}

fn check_reader(
    r: &SealedReader,
    mode: Mode,
    model: &Model,
    reads: &[(u64, usize)],
) -> Result<(), TestCaseError> {
    let body_len = model.body.len() as u64;
    prop_assert_eq!(r.body_len(), body_len);
    prop_assert_eq!(r.header().cipher, mode.cipher());

    // Iteration returns every record, in order, at its offset.
    let got = r.records().collect::<sealdb::Result<Vec<_>>>()?;
    prop_assert_eq!(got.len(), model.records.len());
    for ((go, gp), (mo, mp)) in got.iter().zip(&model.records) {
        prop_assert_eq!(go, mo);
        prop_assert!(gp == mp, "payload at offset {} differs", mo);
    }

    // read_record by offset, with the right next offset.
    for (i, (off, payload)) in model.records.iter().enumerate() {
        let (p, next) = r.read_record(*off)?.expect("a record");
        prop_assert!(&p == payload);
        let want_next = model.records.get(i + 1).map_or(body_len, |(o, _)| *o);
        prop_assert_eq!(next, want_next);
        prop_assert_eq!(next - off, mode.record_len(payload.len()));
    }
    prop_assert!(r.read_record(body_len)?.is_none());

    // read_raw at random offsets and sizes.
    for &(seed, n) in reads {
        let off = seed % (body_len + 1);
        let n = n.min((body_len - off) as usize);
        let mut buf = vec![0u8; n];
        r.read_raw(off, &mut buf)?;
        for (i, b) in buf.iter().enumerate() {
            if let Some(want) = model.body[off as usize + i] {
                prop_assert_eq!(*b, want, "read_raw({}, {}) byte {}", off, n, i);
            }
        }
        // Exactly inside one payload: every byte is checked.
        if !model.records.is_empty() {
            let (roff, payload) = &model.records[(seed as usize / 7) % model.records.len()];
            if !payload.is_empty() {
                let start = (seed as usize / 13) % payload.len();
                let end = start + (n % (payload.len() - start + 1));
                let mut part = vec![0u8; end - start];
                let head = if mode.encrypted() { 8 + TAG_LEN } else { 8 };
                r.read_raw(roff + head as u64 + start as u64, &mut part)?;
                prop_assert!(part == payload[start..end], "payload sub-range");
            }
        }
    }

    // Reading past the body is a clear error, not zeros.
    let mut one = [0u8; 1];
    match r.read_raw(body_len, &mut one) {
        Err(Error::Truncated { .. }) => {}
        other => prop_assert!(false, "read_raw past the end: {:?}", other.err()),
    }
    let mut nothing = [0u8; 0];
    r.read_raw(body_len, &mut nothing)?;
    Ok(())
}

/// The bytes on disk: encrypted payloads never appear in the clear,
/// plaintext bodies are exactly the frames.
/// A cheaper check for the second and third reader of the same file: every
/// record by iteration, and the payload sub-range reads.
fn check_reader_light(r: &SealedReader, model: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(r.body_len(), model.body.len() as u64);
    let got = r.records().collect::<sealdb::Result<Vec<_>>>()?;
    prop_assert!(got == model.records, "records differ");
    Ok(())
}

fn check_disk(vfs: &dyn Vfs, file: &Path, mode: Mode, model: &Model) -> Result<(), TestCaseError> {
    let f = vfs.open(file)?;
    prop_assert_eq!(f.len(), HEADER + model.body.len() as u64);
    let mut raw = vec![0u8; f.len() as usize];
    f.read_exact_at(0, &mut raw)?;
    for (off, payload) in &model.records {
        let at = (HEADER + off + 8) as usize;
        let stored = &raw[at..at + payload.len()];
        if !mode.encrypted() {
            prop_assert!(stored == &payload[..]);
        } else if payload.len() >= 16 {
            prop_assert!(stored[..16] != payload[..16], "payload stored in the clear");
        }
    }
    Ok(())
}

fn round_trip(
    vfs: Arc<dyn Vfs>,
    dir: &Path,
    mode: Mode,
    recs: &[Rec],
    reads: &[(u64, usize)],
) -> Result<(), TestCaseError> {
    let d = SealedDir::open(vfs.clone(), dir, mode.provider(), still_options())?;
    let model = write(&d, mode, "0001.wal", recs)?;
    check_disk(&*vfs, &dir.join("0001.wal"), mode, &model)?;
    check_reader(
        &d.open_file("0001.wal", FileKind::Wal)?,
        mode,
        &model,
        reads,
    )?;
    check_reader_light(&d.open_immutable("0001.wal", FileKind::Wal)?, &model)?;
    let active = d.active_data_key();
    drop(d);

    // A fresh SealedDir (new registry read, same keys) reads the same bytes.
    let d = SealedDir::open(vfs, dir, mode.provider(), still_options())?;
    prop_assert_eq!(d.active_data_key(), active);
    check_reader_light(&d.open_file("0001.wal", FileKind::Wal)?, &model)?;
    let status = d.encryption_status(|_| true)?;
    prop_assert_eq!(status.files.len(), 1);
    prop_assert_eq!(status.files[0].cipher, mode.cipher());
    prop_assert_eq!(status.files[0].size, HEADER + model.body.len() as u64);
    Ok(())
}

fn mem_round_trip(mode: Mode, recs: &[Rec], reads: &[(u64, usize)]) -> Result<(), TestCaseError> {
    round_trip(Arc::new(MemVfs::new()), dir(), mode, recs, reads)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn records_round_trip_plaintext(recs in vec(rec(), 0..16), reads in reads()) {
        mem_round_trip(Mode::Plaintext, &recs, &reads)?;
    }

    #[test]
    fn records_round_trip_aes128(recs in vec(rec(), 0..16), reads in reads()) {
        mem_round_trip(Mode::Aes128, &recs, &reads)?;
    }

    #[test]
    fn records_round_trip_aes192(recs in vec(rec(), 0..16), reads in reads()) {
        mem_round_trip(Mode::Aes192, &recs, &reads)?;
    }

    #[test]
    fn records_round_trip_aes256(recs in vec(rec(), 0..16), reads in reads()) {
        mem_round_trip(Mode::Aes256, &recs, &reads)?;
    }
}

proptest! {
    // The real file system: fewer cases, every cipher.
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn records_round_trip_on_os_vfs(
        mode in prop::sample::select(Mode::ALL.to_vec()),
        recs in vec(rec(), 0..16),
        reads in reads(),
    ) {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("store");
        round_trip(Arc::new(OsVfs::new()), &dir, mode, &recs, &reads)?;
    }
}

/// Records large enough to cross the writer's internal 256 KiB flush
/// threshold several times, in every mode, read back intact.
#[test]
fn large_records_cross_the_flush_threshold() -> Result<(), TestCaseError> {
    // 4 x 70 KB buffered without a flush: past 256 KiB.
    let recs: Vec<Rec> = (0..12)
        .map(|i| Rec {
            len: [0, 17, 70_000][i % 3],
            seed: i as u64 + 1,
            flush_after: false,
        })
        .collect();
    let reads: Vec<(u64, usize)> = (0..8).map(|i| (i * 104_729, 5000)).collect();
    for mode in Mode::ALL {
        mem_round_trip(mode, &recs, &reads)?;
    }
    Ok(())
}

/// Two files written under the same data key get different IVs, so equal
/// plaintexts give different ciphertexts (a (key, IV, offset) is never
/// reused across files).
#[test]
fn equal_plaintexts_in_two_files_encrypt_differently() -> Result<(), TestCaseError> {
    for mode in [Mode::Aes128, Mode::Aes192, Mode::Aes256] {
        let vfs = MemVfs::new();
        let d = open_mem(&vfs, mode.provider(), still_options())?;
        let payload = bytes_from_seed(42, 4096);
        write_file(&d, "a", FileKind::Sstable, &[&payload]);
        write_file(&d, "b", FileKind::Sstable, &[&payload]);
        let a = vfs.read_all(&path("a"))?;
        let b = vfs.read_all(&path("b"))?;
        prop_assert_eq!(a.len(), b.len());
        let ha = d.file_header("a")?;
        let hb = d.file_header("b")?;
        prop_assert_eq!(ha.key_id, hb.key_id);
        prop_assert_ne!(ha.iv, hb.iv);
        prop_assert!(a[HEADER as usize..] != b[HEADER as usize..]);
        prop_assert_eq!(
            read_all_records(&d, "a", FileKind::Sstable),
            vec![payload.clone()]
        );
        prop_assert_eq!(read_all_records(&d, "b", FileKind::Sstable), vec![payload]);
    }
    Ok(())
}

/// `write_atomic` / `read_single` round trip in every mode, replacing the
/// file durably.
#[test]
fn write_atomic_replaces_durably() -> Result<(), TestCaseError> {
    for mode in Mode::ALL {
        let vfs = MemVfs::new();
        let d = open_mem(&vfs, mode.provider(), still_options())?;
        d.write_atomic("MANIFEST", FileKind::Manifest, b"version one")?;
        d.write_atomic("MANIFEST", FileKind::Manifest, b"version two")?;
        prop_assert_eq!(
            d.read_single("MANIFEST", FileKind::Manifest)?,
            b"version two".to_vec()
        );
        vfs.crash();
        let d = open_mem(&vfs, mode.provider(), still_options())?;
        prop_assert_eq!(
            d.read_single("MANIFEST", FileKind::Manifest)?,
            b"version two".to_vec()
        );
        prop_assert!(!list(&vfs).iter().any(|n| n.ends_with(".tmp")));
    }
    Ok(())
}
