//! Records too large to build whole (a bulk load's or an index build's
//! commit, tens of megabytes in the log): the payload is written through a
//! [`RecordSink`] into the writer's buffer, which is sealed (encrypted and
//! absorbed into the record's MAC) and written out each time it fills. No
//! buffer of the record's size is zeroed and faulted in page by page, and
//! the bytes reach the file while they are still in the CPU cache.
//!
//! Invariants: the bytes on disk are exactly those
//! [`SealedWriter::append_record`] writes for the same payload (the format
//! does not change, readers cannot tell); plaintext never reaches the file
//! (a chunk is sealed before it is written). Unlike a record built whole,
//! parts of this one reach the file before all of it is made, so any
//! failure (a write, or a payload of another length than announced)
//! leaves a torn record and poisons the writer, as a failed write always
//! does.

use crate::crypto::mac::MacStream;

use super::*;

/// Record bytes sealed and written at a time.
const CHUNK: usize = FLUSH_AT;

/// Where a streamed record's payload goes (see the module doc).
pub(crate) struct RecordSink<'a> {
    w: &'a mut SealedWriter,
    /// Body offset of the record.
    offset: u64,
    /// Record bytes already written to the file.
    written: u64,
    /// Record bytes waiting in `w.buf[..filled]`, the first `sealed` of
    /// them already encrypted and absorbed into the MAC.
    filled: usize,
    sealed: usize,
    /// Payload bytes are added to the CRC a chunk at a time, when sealed
    /// (one call per operation of an index build was a tenth of its
    /// commit); `crc_done` once the payload has all been.
    crc_done: bool,
    /// Payload bytes announced and received so far.
    payload_len: usize,
    received: usize,
    crc: crc32fast::Hasher,
    mac: Option<MacStream>,
    /// The first failure: later bytes are dropped, `finish` reports it.
    error: Option<Error>,
}

impl SealedWriter {
    /// Appends one record of `payload_len` bytes that `fill` writes
    /// through a [`RecordSink`], in pieces (see the module doc); returns
    /// its body offset. Buffered records are written first. Any failure
    /// poisons the writer.
    pub(crate) fn append_record_streamed(
        &mut self,
        payload_len: usize,
        fill: impl FnOnce(&mut RecordSink<'_>),
    ) -> Result<u64> {
        self.check()?;
        if payload_len > MAX_RECORD {
            return Err(Error::InvalidArgument {
                what: format!("record of {payload_len} bytes exceeds the 1 GiB limit"),
            });
        }
        self.flush()?;
        let offset = self.pos;
        let size = record_size(self.seal.is_some(), payload_len);
        if self.buf.len() < CHUNK + TAG_LEN {
            self.buf.resize(CHUNK + TAG_LEN, 0);
        }
        let len = (payload_len as u32).to_le_bytes();
        self.buf[..4].copy_from_slice(&len);
        self.buf[4..8].copy_from_slice(&crc32fast::hash(&len).to_le_bytes());
        let mut head = 8;
        let mut mac = None;
        if let Some(seal) = &self.seal {
            // As `append_record_in_place` seals it: the head, its own tag,
            // then the MAC of the whole record (all but the final tag).
            let iv = self.header.iv;
            seal.keys.apply_keystream(iv, offset, &mut self.buf[..8])?;
            let head_tag = seal.keys.tag(&seal.mac, iv, offset + 8, &self.buf[..8]);
            self.buf[8..ENCRYPTED_HEAD].copy_from_slice(&head_tag);
            head = ENCRYPTED_HEAD;
            let mut m = seal
                .keys
                .mac_stream(&seal.mac, offset, size - TAG_LEN as u64);
            m.update(&self.buf[..head]);
            mac = Some(m);
        }
        let mut sink = RecordSink {
            w: self,
            offset,
            written: 0,
            filled: head,
            sealed: head,
            crc_done: false,
            payload_len,
            received: 0,
            crc: crc32fast::Hasher::new(),
            mac,
            error: None,
        };
        fill(&mut sink);
        match sink.finish() {
            Ok(()) => {
                self.pos += size;
                Ok(offset)
            }
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }
}

impl RecordSink<'_> {
    /// Room left in the current chunk, for payload bytes written in place
    /// (never empty); [`Self::advance`] then says how many were.
    pub(crate) fn room(&mut self) -> &mut [u8] {
        &mut self.w.buf[self.filled..CHUNK]
    }

    /// Takes the first `n` bytes of [`Self::room`] as payload.
    pub(crate) fn advance(&mut self, n: usize) {
        self.received += n;
        self.filled += n;
        if self.filled == CHUNK {
            self.emit();
        }
    }

    /// Appends payload bytes.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.received += bytes.len();
        self.push(bytes);
    }

    /// Appends record bytes (payload or the payload's CRC).
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let k = (CHUNK - self.filled).min(bytes.len());
            self.w.buf[self.filled..self.filled + k].copy_from_slice(&bytes[..k]);
            self.filled += k;
            bytes = &bytes[k..];
            if self.filled == CHUNK {
                self.emit();
            }
        }
    }

    /// Seals and writes the waiting bytes; a failure is kept for `finish`.
    fn emit(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.seal_rest().and_then(|_| self.write(self.filled)) {
                self.error = Some(e);
            }
        }
        self.filled = 0;
        self.sealed = 0;
    }

    /// Adds the waiting payload bytes to the CRC, encrypts the waiting
    /// bytes not yet sealed and absorbs them into the MAC (nothing to do
    /// for a plaintext file).
    fn seal_rest(&mut self) -> Result<()> {
        let (from, to) = (self.sealed, self.filled);
        if !self.crc_done {
            self.crc.update(&self.w.buf[from..to]);
        }
        if let (Some(seal), Some(mac)) = (&self.w.seal, &mut self.mac) {
            let at = self.offset + self.written + from as u64;
            seal.keys
                .apply_keystream(self.w.header.iv, at, &mut self.w.buf[from..to])?;
            mac.update(&self.w.buf[from..to]);
        }
        self.sealed = to;
        Ok(())
    }

    /// Writes `w.buf[..n]` to the file.
    fn write(&mut self, n: usize) -> Result<()> {
        self.w.file.append(&self.w.buf[..n])?;
        roll_last_tag(&mut self.w.last_tag, &self.w.buf[..n]);
        self.written += n as u64;
        Ok(())
    }

    /// Ends the record: the payload's CRC, the last chunk, the tag.
    fn finish(mut self) -> Result<()> {
        let (from, to) = (self.sealed, self.filled);
        self.crc.update(&self.w.buf[from..to]);
        self.crc_done = true;
        let crc = self.crc.clone().finalize();
        self.push(&crc.to_le_bytes());
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.received != self.payload_len {
            return Err(Error::InvalidArgument {
                what: format!(
                    "a streamed record of {} payload bytes was given {}",
                    self.payload_len, self.received
                ),
            });
        }
        self.seal_rest()?;
        let mut end = self.filled;
        if let (Some(seal), Some(mac)) = (&self.w.seal, self.mac.take()) {
            let tag = seal
                .keys
                .mac_finish(mac, self.w.header.iv, self.offset)
                .ok_or_else(|| Error::InvalidArgument {
                    what: "a streamed record's length and contents disagree".into(),
                })?;
            self.w.buf[end..end + TAG_LEN].copy_from_slice(&tag);
            end += TAG_LEN;
        }
        self.write(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{KeyBytes, KeyProvider, MemoryKeyProvider, UnencryptedKeyProvider};
    use crate::vfs::{FaultPlan, FaultVfs, KeyOptions, MemVfs, SealedDir, Vfs};

    fn dir(vfs: Arc<dyn Vfs>, key: Option<u8>) -> Result<SealedDir> {
        let provider: Arc<dyn KeyProvider> = match key {
            Some(b) => Arc::new(MemoryKeyProvider::new(KeyBytes::from_slice(&[b; 32]))?),
            None => Arc::new(UnencryptedKeyProvider::dangerous_new()),
        };
        SealedDir::open(vfs, "/d", provider, KeyOptions::default())
    }

    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// Hands `p` to the sink in pieces of random sizes, by both ways in.
    fn feed(sink: &mut RecordSink<'_>, p: &[u8], rng: &mut Rng) {
        let mut at = 0;
        while at < p.len() {
            let k = (1 + rng.below(3 * CHUNK / 2)).min(p.len() - at);
            if rng.below(2) == 0 {
                sink.put(&p[at..at + k]);
                at += k;
            } else {
                let room = sink.room();
                let k = k.min(room.len());
                room[..k].copy_from_slice(&p[at..at + k]);
                sink.advance(k);
                at += k;
            }
        }
    }

    /// Records streamed in pieces of any size (across chunk ends, around
    /// the head, empty) are the very bytes of records built whole under
    /// the same key and IV, in encrypted and plaintext files, between
    /// records built whole; the file's last tag follows; they read back.
    #[test]
    fn a_streamed_record_is_byte_for_byte_a_record_built_whole() -> Result<()> {
        let mut rng = Rng(0x5eed_57e4);
        for key in [Some(3), None] {
            let vfs = Arc::new(MemVfs::new());
            let d = dir(vfs.clone(), key)?;
            let mut whole = d.create_file("whole", FileKind::Wal)?;
            let mut streamed = d.create_file("streamed", FileKind::Wal)?;
            // The same IV (and so the same keystream and MAC) for both.
            streamed.header.iv = whole.header.iv;
            streamed.seal = whole
                .seal
                .as_ref()
                .map(|s| Seal::new(&streamed.header, s.keys.clone()));
            let sizes = [
                0,
                1,
                100,
                CHUNK - ENCRYPTED_HEAD - 5,
                CHUNK - ENCRYPTED_HEAD - 4,
                CHUNK - ENCRYPTED_HEAD,
                CHUNK - 12,
                CHUNK - 8,
                CHUNK,
                CHUNK + 1,
                3 * CHUNK + 17,
            ];
            let mut payloads = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                let p: Vec<u8> = (0..n).map(|j| (j * 7 + i * 13) as u8).collect();
                let small = vec![i as u8; i * 3];
                for w in [&mut whole, &mut streamed] {
                    w.append_record(&small)?;
                }
                let at = whole.append_record(&p)?;
                let got = streamed.append_record_streamed(p.len(), |s| feed(s, &p, &mut rng))?;
                assert_eq!(got, at);
                assert_eq!(streamed.position(), whole.position());
                // A streamed record is written out at once; the one built
                // whole may wait in the buffer.
                whole.flush()?;
                assert_eq!(streamed.last_tag(), whole.last_tag(), "{n}");
                payloads.push(small);
                payloads.push(p);
            }
            whole.sync()?;
            streamed.sync()?;
            let a = vfs.read_all(Path::new("/d/whole"))?;
            let b = vfs.read_all(Path::new("/d/streamed"))?;
            assert_eq!(a.len(), b.len());
            assert!(
                a[HEADER_LEN as usize..] == b[HEADER_LEN as usize..],
                "bodies differ"
            );
            let whole_back: Vec<Vec<u8>> = d
                .open_file("whole", FileKind::Wal)?
                .records()
                .map(|r| r.map(|(_, p)| p))
                .collect::<Result<_>>()?;
            assert_eq!(whole_back, payloads);
        }
        Ok(())
    }

    /// A payload of another length than announced, or a write that fails
    /// halfway, is an error that poisons the writer; no plaintext reaches
    /// the file of an encrypted store.
    #[test]
    fn a_failed_or_wrong_length_stream_poisons_the_writer() -> Result<()> {
        let secret = b"PLAINTEXT-THAT-MUST-NOT-BE-WRITTEN";
        let payload: Vec<u8> = secret.iter().copied().cycle().take(3 * CHUNK).collect();
        let mut rng = Rng(0x0bad_57e4);
        for (given, key) in [(100, Some(4)), (3 * CHUNK + 1, Some(4)), (5, None)] {
            let d = dir(Arc::new(MemVfs::new()), key)?;
            let mut w = d.create_file("f", FileKind::Wal)?;
            let e = w.append_record_streamed(given, |s| feed(s, &payload, &mut rng));
            assert!(matches!(e, Err(Error::InvalidArgument { .. })), "{e:?}");
            assert!(matches!(w.append_record(b"x"), Err(Error::Poisoned { .. })));
        }
        for nth in [1, 2, 3, 4] {
            let mem = Arc::new(MemVfs::new());
            let plan = FaultPlan::new();
            let vfs: Arc<dyn Vfs> = Arc::new(FaultVfs::new(mem.clone(), plan.clone()));
            let d = dir(vfs, Some(5))?;
            let mut w = d.create_file("f", FileKind::Wal)?;
            plan.fail_nth_write(nth);
            let e = w.append_record_streamed(payload.len(), |s| feed(s, &payload, &mut rng));
            assert!(e.is_err(), "write {nth}");
            assert!(matches!(w.append_record(b"x"), Err(Error::Poisoned { .. })));
            let raw = mem.read_all(Path::new("/d/f"))?;
            assert!(!raw.windows(8).any(|x| x == &secret[..8]));
        }
        Ok(())
    }
}
