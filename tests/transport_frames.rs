//! Fuzzing the frame decoder, and bad frames over real QUIC.
//!
//! The decoder is the same async code the endpoint runs on QUIC streams,
//! fed here from memory in arbitrary read sizes. Properties: never a panic,
//! never a frame over its limit, the outcome independent of how the bytes
//! are split, and valid encodings round-trip. The case count is 256 by
//! default; set SEALDB_FUZZ_CASES for a long campaign.

mod transport_common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use sealdb::repl::transport::frame::{
    decode_response, frame_prefix, read_frame, read_single_frame, read_stream_header,
    stream_header, BulkHeader, Hello, StreamKind, HELLO_LIMIT,
};
use sealdb::repl::transport::{FrameError, FrameLimits, WireError, ALPN};
use sealdb::repl::RefusalReason;
use tokio::io::{AsyncRead, ReadBuf};
use transport_common::{bind, raw, Recorder, TestCa};

fn cases() -> u32 {
    std::env::var("SEALDB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Small limits, so random inputs reach the limit checks.
fn limits() -> FrameLimits {
    FrameLimits {
        urgent: 64,
        append: 300,
        bulk_header: 128,
        bulk_chunk: 100,
        bulk_response: 64,
    }
}

/// Hands out `data` in reads of the given sizes (cycled).
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    i: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let size = self.sizes[self.i % self.sizes.len()].max(1);
        self.i += 1;
        let n = size.min(buf.remaining()).min(self.data.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    Hello(Hello),
    Request(StreamKind, Vec<u8>),
    Bulk(BulkHeader, Vec<Vec<u8>>),
}

/// Decodes one request stream as the endpoint does.
async fn decode_stream(r: &mut Chunked, l: FrameLimits) -> Result<Decoded, FrameError> {
    let v = |e: WireError| match e {
        WireError::Violation(v) => v,
        WireError::Link(e) => panic!("memory reader failed: {e}"),
    };
    let kind = read_stream_header(r).await.map_err(v)?;
    match kind {
        StreamKind::Hello => {
            let f = read_single_frame(r, HELLO_LIMIT, "hello")
                .await
                .map_err(v)?;
            assert!(f.len() <= HELLO_LIMIT as usize);
            Ok(Decoded::Hello(Hello::decode(&f)?))
        }
        StreamKind::Urgent | StreamKind::Append => {
            let limit = if kind == StreamKind::Urgent {
                l.urgent
            } else {
                l.append
            };
            let f = read_single_frame(r, limit, "request").await.map_err(v)?;
            assert!(f.len() <= limit as usize);
            Ok(Decoded::Request(kind, f))
        }
        StreamKind::Bulk => {
            let h = read_frame(r, l.bulk_header, "bulk header")
                .await
                .map_err(v)?
                .ok_or(FrameError::MissingFrame("bulk header"))?;
            let header = BulkHeader::decode(&h)?;
            let mut chunks = Vec::new();
            while let Some(c) = read_frame(r, l.bulk_chunk, "bulk chunk").await.map_err(v)? {
                assert!(c.len() <= l.bulk_chunk as usize);
                chunks.push(c);
            }
            Ok(Decoded::Bulk(header, chunks))
        }
    }
}

fn run(data: &[u8], sizes: &[usize]) -> Result<Decoded, FrameError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut r = Chunked {
        data: data.to_vec(),
        pos: 0,
        sizes: sizes.to_vec(),
        i: 0,
    };
    rt.block_on(decode_stream(&mut r, limits()))
}

fn encode_frames(kind: StreamKind, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = stream_header(kind).to_vec();
    for f in frames {
        out.extend_from_slice(&frame_prefix(f.len()));
        out.extend_from_slice(f);
    }
    out
}

/// Byte strings that are often close to valid streams.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..400),
        (
            0u8..4,
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..4)
        )
            .prop_map(|(k, frames)| {
                let kind = [
                    StreamKind::Hello,
                    StreamKind::Urgent,
                    StreamKind::Append,
                    StreamKind::Bulk,
                ][k as usize];
                encode_frames(kind, &frames)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic_and_split_points_do_not_matter(
        data in stream_bytes(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in any::<prop::sample::Index>(),
        sizes in proptest::collection::vec(1usize..50, 1..6),
    ) {
        let mut data = data;
        for (i, b) in flips {
            if !data.is_empty() {
                let at = i.index(data.len());
                data[at] ^= b;
            }
        }
        if !data.is_empty() && cut.index(4) == 0 {
            data.truncate(cut.index(data.len()));
        }
        let whole = run(&data, &[usize::MAX]);
        let split = run(&data, &sizes);
        prop_assert_eq!(whole, split);
    }

    #[test]
    fn valid_streams_round_trip(
        kind in 1u8..4,
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        name in "[a-z/._0-9]{0,40}",
        offset in any::<u32>(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..5),
        sizes in proptest::collection::vec(1usize..50, 1..6),
    ) {
        match kind {
            1 | 2 => {
                let k = if kind == 1 { StreamKind::Urgent } else { StreamKind::Append };
                let data = encode_frames(k, std::slice::from_ref(&payload));
                prop_assert_eq!(run(&data, &sizes), Ok(Decoded::Request(k, payload)));
            }
            _ => {
                let header = BulkHeader { name, offset: offset.into(), total_len: None, meta: payload.clone() };
                let mut frames = vec![header.encode()];
                frames.extend(chunks.iter().cloned());
                let data = encode_frames(StreamKind::Bulk, &frames);
                prop_assert_eq!(run(&data, &sizes), Ok(Decoded::Bulk(header, chunks)));
            }
        }
    }

    #[test]
    fn response_and_header_decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_response(&data);
        let _ = BulkHeader::decode(&data);
        let _ = Hello::decode(&data);
    }
}

#[test]
fn oversized_frames_are_refused_before_allocation() {
    // A length of 4 GiB - 1 in an urgent request: refused by its header.
    let mut data = stream_header(StreamKind::Urgent).to_vec();
    data.extend_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        run(&data, &[usize::MAX]),
        Err(FrameError::Oversized {
            what: "request",
            len: u32::MAX,
            limit: 64
        })
    );
    // A second frame where one is allowed.
    let data = encode_frames(StreamKind::Urgent, &[vec![1], vec![2]]);
    assert_eq!(run(&data, &[3]), Err(FrameError::TrailingData));
}

/// Over QUIC: an admitted peer that sends an oversized or malformed frame
/// loses its connection (code 2), and the refusal hook hears why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_from_an_admitted_peer_end_its_connection() {
    let ca = TestCa::new("alpha");
    let rec = Recorder::default();
    let server = bind(ca.node(1), &rec).await;
    let addr = server.local_addr().expect("addr");
    let client = ca.node(2);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversized urgent frame", {
            let mut d = stream_header(StreamKind::Urgent).to_vec();
            d.extend_from_slice(&(64 * 1024 + 1u32).to_be_bytes());
            d
        }),
        ("unknown stream kind", vec![1, 9, 0, 0]),
        ("truncated frame", {
            let mut d = stream_header(StreamKind::Append).to_vec();
            d.extend_from_slice(&100u32.to_be_bytes());
            d.extend_from_slice(&[0; 10]);
            d
        }),
        (
            "second hello",
            encode_frames(StreamKind::Hello, &[vec![0; 4]]),
        ),
    ];
    for (name, bytes) in cases {
        let before = rec.all().len();
        let (_ep, conn) = raw::connect(addr, Some(&client), ALPN)
            .await
            .expect("connect");
        let ack = raw::hello(&conn, 2, "alpha").await.expect("admitted");
        assert!(!ack.is_empty());
        let (mut send, _recv) = conn.open_bi().await.expect("stream");
        send.write_all(&bytes).await.expect("write");
        send.finish().expect("finish");
        let (code, reason) = raw::closed(&conn).await;
        assert_eq!(code, 2, "{name}: {reason}");
        let r = rec
            .wait_for_after(before, |r| {
                r.closed_existing && matches!(r.reason, RefusalReason::Protocol { .. })
            })
            .await;
        eprintln!(
            "bad frame | {name:<24} | closed with code 2: {reason} | hook: {}",
            r.reason
        );
    }
    // The server is fine.
    let n2 = bind(ca.node(3), &Recorder::default()).await;
    n2.connect(addr, 1).await.expect("still serving");
}
