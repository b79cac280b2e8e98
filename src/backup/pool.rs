//! A few worker threads for the files of a backup or a restore.
//!
//! Files are independent and mostly CPU work (decrypt, verify, encrypt,
//! hash), so a handful of threads take them from a shared list, largest
//! first, while the calling thread only reports progress. The first
//! failure stops the others from starting new files.
//!
//! The workers are ordinary spawned threads over shared (`Arc`) state and
//! the caller waits on a `parking_lot` condition variable: nothing here
//! makes the calling thread register itself with `std` (as
//! `std::thread::scope` or a blocking `mpsc` receive would), so a C
//! program that backs up from its main thread does not end with a
//! thread handle that is never freed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

struct Shared<J, R> {
    jobs: Vec<J>,
    next: AtomicUsize,
    failed: AtomicBool,
    results: Mutex<Vec<(usize, R)>>,
    error: Mutex<Option<Error>>,
    /// (bytes done, a file finished), for the caller to report.
    events: Mutex<(VecDeque<(u64, bool)>, usize)>,
    cv: Condvar,
}

/// Runs `work` on every job with up to `threads` threads; `work` reports
/// bytes done through its second argument. `progress` sees (bytes, file
/// finished) on the calling thread. Results come back in job order.
pub(crate) fn run<J, R>(
    threads: usize,
    jobs: Vec<J>,
    work: impl Fn(&J, &dyn Fn(u64)) -> Result<R> + Send + Sync + 'static,
    mut progress: impl FnMut(u64, bool),
) -> Result<Vec<R>>
where
    J: Send + Sync + 'static,
    R: Send + 'static,
{
    let threads = threads.clamp(1, jobs.len().max(1));
    let shared = Arc::new(Shared {
        jobs,
        next: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        results: Mutex::new(Vec::new()),
        error: Mutex::new(None),
        events: Mutex::new((VecDeque::new(), threads)),
        cv: Condvar::new(),
    });
    let work = Arc::new(work);
    let mut handles = Vec::with_capacity(threads);
    for _ in 0..threads {
        let (mine, work) = (shared.clone(), work.clone());
        let spawned = std::thread::Builder::new()
            .name("sealdb-backup".into())
            .spawn(move || {
                let shared = mine;
                let report = |bytes: u64| {
                    shared.events.lock().0.push_back((bytes, false));
                    shared.cv.notify_all();
                };
                while !shared.failed.load(Ordering::SeqCst) {
                    let i = shared.next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = shared.jobs.get(i) else { break };
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        work(job, &report)
                    }))
                    .unwrap_or_else(|_| {
                        Err(Error::Poisoned {
                            reason: "a backup worker thread panicked".into(),
                        })
                    });
                    match outcome {
                        Ok(r) => {
                            shared.results.lock().push((i, r));
                            shared.events.lock().0.push_back((0, true));
                        }
                        Err(e) => {
                            shared.failed.store(true, Ordering::SeqCst);
                            shared.error.lock().get_or_insert(e);
                        }
                    }
                    shared.cv.notify_all();
                }
                shared.events.lock().1 -= 1;
                shared.cv.notify_all();
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                shared.failed.store(true, Ordering::SeqCst);
                shared.error.lock().get_or_insert(Error::io(
                    "start a backup thread for",
                    "backup",
                    e,
                ));
                shared.events.lock().1 -= 1;
            }
        }
    }
    loop {
        let mut ev = shared.events.lock();
        while ev.0.is_empty() && ev.1 > 0 {
            shared.cv.wait(&mut ev);
        }
        let drained: Vec<(u64, bool)> = ev.0.drain(..).collect();
        let running = ev.1;
        drop(ev);
        for (bytes, done) in drained {
            progress(bytes, done);
        }
        if running == 0 {
            break;
        }
    }
    for h in handles {
        let _ = h.join();
    }
    if let Some(e) = shared.error.lock().take() {
        return Err(e);
    }
    let mut results = std::mem::take(&mut *shared.results.lock());
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_once_in_order_and_the_first_error_wins() -> Result<()> {
        let mut seen = 0;
        let out = run(
            3,
            (0..50u64).collect(),
            |j, report| {
                report(*j);
                Ok(j * 2)
            },
            |bytes, done| seen += bytes + u64::from(done),
        )?;
        assert_eq!(out, (0..50).map(|j| j * 2).collect::<Vec<_>>());
        assert_eq!(seen, (0..50).sum::<u64>() + 50);
        let r = run(
            2,
            (0..20u64).collect(),
            |j, _| {
                if *j == 7 {
                    Err(Error::InvalidArgument { what: "7".into() })
                } else {
                    Ok(())
                }
            },
            |_, _| {},
        );
        assert!(matches!(r, Err(Error::InvalidArgument { .. })));
        assert!(run(2, Vec::<u64>::new(), |_, _| Ok(()), |_, _| {})?.is_empty());
        Ok(())
    }
}
