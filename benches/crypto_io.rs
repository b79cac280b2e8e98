//! Throughput of sealed (encrypted + authenticated) files against the raw
//! primitives, in one run: raw AES-CTR (the `ctr` crate, the ceiling for
//! encrypted I/O) and memcpy (the ceiling for plaintext I/O).
//!
//! Workloads, 4 KiB records, in memory (MemVfs) so the disk does not hide
//! the crypto cost: sequential write of 16 MiB, sequential read of it, and
//! random 4 KiB record reads. Run: `cargo bench --bench crypto_io`.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use aes::cipher::{
    generic_array::GenericArray as Array, KeyIvInit, StreamCipher, StreamCipherSeek,
};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sealdb::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider, UnencryptedKeyProvider};
use sealdb::vfs::{FileKind, KeyOptions, MemVfs, SealedDir, Vfs};

const RECORD: usize = 4096;
const FILE_BYTES: usize = 16 << 20;
const RECORDS: usize = FILE_BYTES / RECORD;

fn engines() -> Vec<(&'static str, Arc<dyn KeyProvider>)> {
    let key = |n: usize| -> Arc<dyn KeyProvider> {
        Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&vec![0x42; n])).expect("key"))
    };
    vec![
        ("aes128", key(16)),
        ("aes256", key(32)),
        (
            "plaintext",
            Arc::new(UnencryptedKeyProvider::dangerous_new()),
        ),
    ]
}

fn open(provider: Arc<dyn KeyProvider>) -> SealedDir {
    let vfs: Arc<dyn Vfs> = Arc::new(MemVfs::new());
    SealedDir::open(vfs, Path::new("/bench"), provider, KeyOptions::default()).expect("open")
}

fn raw_primitives(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw");
    g.throughput(Throughput::Bytes(FILE_BYTES as u64));
    let mut buf = vec![7u8; FILE_BYTES];
    g.bench_function("aes128-ctr", |b| {
        let mut s =
            ctr::Ctr128BE::<aes::Aes128>::new(&Array::from([1u8; 16]), &Array::from([0u8; 16]));
        b.iter(|| {
            for (i, chunk) in buf.chunks_mut(RECORD).enumerate() {
                s.seek((i * RECORD) as u64);
                s.apply_keystream(chunk);
            }
        })
    });
    g.bench_function("aes256-ctr", |b| {
        let mut s =
            ctr::Ctr128BE::<aes::Aes256>::new(&Array::from([1u8; 32]), &Array::from([0u8; 16]));
        b.iter(|| {
            for (i, chunk) in buf.chunks_mut(RECORD).enumerate() {
                s.seek((i * RECORD) as u64);
                s.apply_keystream(chunk);
            }
        })
    });
    let src = vec![9u8; FILE_BYTES];
    g.bench_function("memcpy", |b| {
        b.iter(|| {
            for (d, s) in buf.chunks_mut(RECORD).zip(src.chunks(RECORD)) {
                d.copy_from_slice(black_box(s));
            }
            black_box(&mut buf);
        })
    });
    g.finish();
}

fn sealed_io(c: &mut Criterion) {
    let payload = vec![0x5au8; RECORD];
    let mut g = c.benchmark_group("sealed");
    g.throughput(Throughput::Bytes(FILE_BYTES as u64));
    for (name, provider) in engines() {
        let dir = open(provider);
        let mut n = 0u64;
        g.bench_function(format!("{name}/seq-write"), |b| {
            b.iter(|| {
                n += 1;
                let fname = format!("w{n}");
                let mut w = dir.create_file(&fname, FileKind::Temp).expect("create");
                for _ in 0..RECORDS {
                    w.append_record(&payload).expect("append");
                }
                w.flush().expect("flush");
                drop(w);
                dir.vfs().remove(&dir.dir().join(&fname)).expect("remove");
            })
        });
        let mut w = dir.create_file("data", FileKind::Temp).expect("create");
        let offsets: Vec<u64> = (0..RECORDS)
            .map(|_| w.append_record(&payload).expect("append"))
            .collect();
        w.sync().expect("sync");
        drop(w);
        let r = dir.open_immutable("data", FileKind::Temp).expect("open");
        g.bench_function(format!("{name}/seq-read"), |b| {
            b.iter(|| {
                let mut total = 0;
                for rec in r.records() {
                    total += rec.expect("record").1.len();
                }
                assert_eq!(total, FILE_BYTES);
            })
        });
        // Random record reads: a fixed pseudo-random permutation of offsets.
        let mut order = offsets.clone();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        g.bench_function(format!("{name}/random-4k-read"), |b| {
            b.iter(|| {
                for &o in &order {
                    black_box(r.read_record(o).expect("read"));
                }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(3));
    targets = raw_primitives, sealed_io
}
criterion_main!(benches);
