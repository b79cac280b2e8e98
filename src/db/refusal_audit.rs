//! Transport refusals in the audit log: while a replicated database is
//! open, every peer its transport refuses (or closes after a revocation)
//! becomes one `peer_refused` audit record.
//!
//! ```text
//!   network task ── RefusalSinks ──► QueueSink::refused ── try_send ──┐
//!                                      (full: counted as dropped)     │
//!   writer thread "sealdb-refusal-audit" ◄── bounded queue (1024) ────┘
//!       AuditLog::append (fsync by sync mode), then, when the queue ran
//!       dry or every 64 records, one record per cause of loss with its count
//! ```
//!
//! The network task never waits for the audit log (an append fsyncs): it
//! only queues. A refusal that finds the queue full, that did not fit in
//! the transport's backlog before the database opened, or whose append
//! failed, is counted, and the count is written as a record of its own:
//! refusals are delivered or counted, never lost silently.
//!
//! Ownership: the transport holds the sink (a queue sender), the writer
//! holds the audit log weakly, the database holds the registration and
//! the writer. Neither keeps the other alive; closing the database
//! detaches the sink, lets the writer drain the queue, and joins it.
//!
//! Records hold the reason, side, remote address and the peer's identity
//! (a certificate's URI): never key or certificate material.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::UNIX_EPOCH;

use parking_lot::Mutex;

use crate::audit::{AuditLog, AuditRecord};
use crate::error::{Error, ErrorCode, Result};
use crate::repl::refusal::{Refusal, RefusalSink, RefusalSinks, SinkRegistration};

/// The audit event of a transport refusal (and of a count of lost ones).
pub(crate) const EVENT: &str = "peer_refused";

/// Refusals queued for the writer.
const QUEUE: usize = 1024;

/// A count of lost refusals is written at the latest after this many
/// records (or as soon as the queue runs dry).
const NOTE_EVERY: u64 = 64;

enum Item {
    Refusal(Box<Refusal>),
    /// Something was counted: look at the counters.
    Wake,
}

/// The sink the transport calls: queues, never blocks.
struct QueueSink {
    tx: Mutex<Option<SyncSender<Item>>>,
    /// Refusals that found the queue full or the backlog full.
    dropped: AtomicU64,
}

impl RefusalSink for QueueSink {
    fn refused(&self, refusal: &Refusal) {
        let sent = match self.tx.lock().as_ref() {
            Some(tx) => tx
                .try_send(Item::Refusal(Box::new(refusal.clone())))
                .is_ok(),
            None => false,
        };
        if !sent {
            // A full queue means the writer is busy and will look at the
            // count once it has drained it.
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn missed(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
        if let Some(tx) = self.tx.lock().as_ref() {
            let _ = tx.try_send(Item::Wake);
        }
    }
}

/// A replicated database's refusal recorder (see the module docs).
pub(super) struct RefusalAudit {
    registration: Option<SinkRegistration>,
    sink: Arc<QueueSink>,
    writer: Option<JoinHandle<()>>,
}

impl RefusalAudit {
    /// Starts the writer and attaches its sink to `sinks` (which first
    /// delivers the refusals that waited for a database).
    pub(super) fn start(sinks: &Arc<RefusalSinks>, log: Weak<AuditLog>) -> Result<RefusalAudit> {
        let (tx, rx) = sync_channel(QUEUE);
        let sink = Arc::new(QueueSink {
            tx: Mutex::new(Some(tx)),
            dropped: AtomicU64::new(0),
        });
        let for_writer = sink.clone();
        let writer = std::thread::Builder::new()
            .name("sealdb-refusal-audit".into())
            .spawn(move || write_all(&rx, &for_writer, &log))
            .map_err(|e| Error::io("start the refusal audit writer for", "", e))?;
        let registration = sinks.attach(sink.clone());
        Ok(RefusalAudit {
            registration: Some(registration),
            sink,
            writer: Some(writer),
        })
    }
}

impl Drop for RefusalAudit {
    fn drop(&mut self) {
        // No new refusals, then no sender: the writer drains what is
        // queued, writes the counts, and ends.
        drop(self.registration.take());
        drop(self.sink.tx.lock().take());
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// The writer: appends every queued refusal, and the counts of lost ones,
/// until the queue is closed or the database is gone.
fn write_all(rx: &Receiver<Item>, sink: &QueueSink, log: &Weak<AuditLog>) {
    let mut failed = 0u64;
    let mut since_note = 0u64;
    loop {
        let item = match rx.try_recv() {
            Ok(item) => item,
            Err(TryRecvError::Empty) => {
                let Some(l) = log.upgrade() else { return };
                note_losses(sink, &mut failed, &l);
                drop(l);
                since_note = 0;
                match rx.recv() {
                    Ok(item) => item,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        if let Item::Refusal(r) = item {
            let Some(l) = log.upgrade() else { return };
            if l.append(record(&r)).is_err() {
                failed += 1;
            }
            since_note += 1;
            if since_note >= NOTE_EVERY {
                note_losses(sink, &mut failed, &l);
                since_note = 0;
            }
        }
    }
    if let Some(l) = log.upgrade() {
        note_losses(sink, &mut failed, &l);
    }
}

/// Writes one record per cause of loss counted since the last note (a
/// note that cannot be written is counted again, for the next one).
fn note_losses(sink: &QueueSink, failed: &mut u64, log: &AuditLog) {
    let dropped = sink.dropped.swap(0, Ordering::Relaxed);
    let lost_writes = std::mem::take(failed);
    if dropped > 0 {
        let rec = loss_record(
            dropped,
            "queue_full",
            "the refusal queue, or the transport's backlog before the database opened, was full",
        );
        if log.append(rec).is_err() {
            sink.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
    }
    if lost_writes > 0 {
        let rec = loss_record(
            lost_writes,
            "write_failed",
            "appending them to the audit log failed",
        );
        if log.append(rec).is_err() {
            *failed += lost_writes;
        }
    }
}

fn unix_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The audit record of one refusal.
pub(crate) fn record(r: &Refusal) -> AuditRecord {
    AuditRecord {
        time_ms: unix_ms(r.time),
        event: EVENT.into(),
        user: r.peer.as_ref().map(|p| p.to_string()).unwrap_or_default(),
        client_address: Some(r.remote.to_string()),
        statement: format!(
            "peer refused: side={} reason={} closed_existing={}",
            r.side,
            r.reason_name(),
            r.closed_existing
        ),
        outcome: "error".into(),
        error_code: Some(ErrorCode::PeerRefused as u32),
        error: Some(r.reason.to_string()),
        ..AuditRecord::default()
    }
}

/// The record of `count` refusals that could not be recorded.
fn loss_record(count: u64, cause: &str, why: &str) -> AuditRecord {
    AuditRecord {
        time_ms: unix_ms(std::time::SystemTime::now()),
        event: EVENT.into(),
        statement: format!("peer refusals not recorded: count={count} cause={cause}"),
        rows: count,
        outcome: "error".into(),
        error_code: Some(ErrorCode::PeerRefused as u32),
        error: Some(format!("{count} refused peer(s) not recorded: {why}")),
        ..AuditRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::repl::identity::Identity;
    use crate::repl::refusal::{RefusalReason, RevocationSource, Side};
    use crate::Db;

    fn refusal(port: u16) -> Refusal {
        Refusal {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_000 + port as u64),
            side: Side::Inbound,
            remote: SocketAddr::from(([127, 0, 0, 1], port)),
            peer: Some(Identity::Node {
                cluster: "demo".into(),
                node_id: 7,
            }),
            reason: RefusalReason::Revoked {
                source: RevocationSource::Crl,
            },
            closed_existing: port.is_multiple_of(2),
        }
    }

    fn export(db: &Db) -> Vec<String> {
        let mut out = Vec::new();
        let report = db.audit_export(&mut out).expect("export");
        assert!(report.is_intact(), "{report:?}");
        String::from_utf8(out)
            .expect("utf8")
            .lines()
            .filter(|l| l.contains("\"event\":\"peer_refused\""))
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_refusal_becomes_a_record_with_its_reason_side_address_and_peer() {
        let rec = record(&refusal(4000));
        assert_eq!(rec.event, "peer_refused");
        assert_eq!(rec.user, "sealdb://demo/node/7");
        assert_eq!(rec.client_address.as_deref(), Some("127.0.0.1:4000"));
        assert_eq!(
            rec.statement,
            "peer refused: side=inbound reason=revoked_crl closed_existing=true"
        );
        assert_eq!(rec.time_ms, 1_700_000_004_000);
        assert_eq!(rec.error.as_deref(), Some("certificate revoked (CRL)"));
        assert_eq!(rec.error_code, Some(ErrorCode::PeerRefused as u32));
        assert_eq!(rec.outcome, "error");
    }

    #[test]
    fn refusals_that_find_the_queue_full_are_counted_in_a_record_of_their_own() {
        let db = Db::open_in_memory().expect("db");
        // A queue of two and no writer yet: three of five do not fit.
        let (tx, rx) = sync_channel(2);
        let sink = QueueSink {
            tx: Mutex::new(Some(tx)),
            dropped: AtomicU64::new(0),
        };
        for p in 1..=5 {
            sink.refused(&refusal(p));
        }
        // And seven that did not fit in the transport's backlog.
        sink.missed(7);
        drop(sink.tx.lock().take());
        write_all(&rx, &sink, &Arc::downgrade(&db.inner.audit));
        let lines = export(&db);
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].contains("127.0.0.1:1"), "{}", lines[0]);
        assert!(lines[1].contains("127.0.0.1:2"), "{}", lines[1]);
        assert!(
            lines[2].contains("peer refusals not recorded: count=10 cause=queue_full")
                && lines[2].contains("\"rows\":10"),
            "{}",
            lines[2]
        );
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn the_recorder_drains_its_queue_when_the_database_closes() {
        let db = Db::open_in_memory().expect("db");
        let sinks = Arc::new(RefusalSinks::new(None));
        // Before the recorder: kept in the transport's backlog.
        sinks.report(refusal(10));
        let recorder = RefusalAudit::start(&sinks, Arc::downgrade(&db.inner.audit)).expect("start");
        assert_eq!(sinks.attached(), 1);
        for p in 11..=40 {
            sinks.report(refusal(p));
        }
        drop(recorder);
        assert_eq!(sinks.attached(), 0);
        let lines = export(&db);
        assert_eq!(lines.len(), 31, "{lines:#?}");
        assert!(lines[0].contains("127.0.0.1:10"));
        assert!(lines[30].contains("127.0.0.1:40"));
        // Detached: the next refusal waits in the backlog, not in this log.
        sinks.report(refusal(41));
        assert_eq!(export(&db).len(), 31);
    }
}
