//! Handles: what the opaque `sealdb_db *`, `sealdb_conn *` and
//! `sealdb_stmt *` pointers really are.
//!
//! A handle is never a pointer to memory. It is a number, unique for the
//! life of the process (a 64-bit counter, never reused), dressed as a
//! pointer, and looked up in a registry of live objects of its kind:
//!
//! ```text
//!   C: sealdb_stmt *s = 0x1a8 ──▶ STMTS { 0x1a8 → Arc<StmtInner>, ... }
//!   sealdb_stmt_free(s)       ──▶ removes 0x1a8; the object is dropped when
//!                                 the last in-flight call on it returns
//!   sealdb_step(s) afterwards ──▶ not found ─▶ SEALDB_ERR_MISUSE
//! ```
//!
//! So a freed handle, a handle of the wrong kind, or a made-up pointer is
//! detected and reported as `SEALDB_ERR_MISUSE` instead of being
//! undefined behaviour, and freeing a handle while another thread is inside
//! a call on it is safe (the call keeps the object alive until it returns).
//! The cost is one read-locked hash lookup and an `Arc` clone per call.
//! The table hashes with one multiplication ([`HandleHasher`]) rather than
//! SipHash: its keys are our own counter values, never chosen by a caller
//! (a caller can only look up), so there is no flooding to defend against,
//! and the lookup is on every call, several per row read through the C API.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::error::{Failure, FfiResult};

/// The next handle number (shifted so handles look like aligned pointers).
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Hashes a handle number by Fibonacci hashing (a multiplication by 2^64
/// over the golden ratio), which spreads consecutive numbers over all bits,
/// the high ones included (the table's probe uses those).
#[derive(Default)]
pub(crate) struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_usize` is used (keys are usize); kept correct anyway.
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type HandleMap<T> = HashMap<usize, Arc<T>, BuildHasherDefault<HandleHasher>>;

/// The live objects of one handle kind `H` (the opaque C type), each an
/// `Arc<T>`.
pub(crate) struct Registry<H, T> {
    what: &'static str,
    live: LazyLock<RwLock<HandleMap<T>>>,
    _kind: PhantomData<fn() -> H>,
}

impl<H, T> Registry<H, T> {
    pub(crate) const fn new(what: &'static str) -> Self {
        Registry {
            what,
            live: LazyLock::new(|| RwLock::new(HandleMap::default())),
            _kind: PhantomData,
        }
    }

    /// Registers `value` and returns its new handle.
    pub(crate) fn insert(&self, value: Arc<T>) -> *mut H {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed) << 4;
        self.live.write().insert(id, value);
        std::ptr::without_provenance_mut(id)
    }

    /// The live object behind `handle`.
    pub(crate) fn get(&self, handle: *const H) -> FfiResult<Arc<T>> {
        if handle.is_null() {
            return Err(Failure::null(&format!("the {} handle", self.what)));
        }
        self.live
            .read()
            .get(&handle.addr())
            .cloned()
            .ok_or_else(|| {
                Failure::misuse(format!(
                    "{handle:p} is not a live {} handle (already freed, or not made by sealdb)",
                    self.what
                ))
            })
    }

    /// Unregisters `handle`; `None` when it was not live.
    pub(crate) fn remove(&self, handle: *const H) -> Option<Arc<T>> {
        if handle.is_null() {
            return None;
        }
        let mut live = self.live.write();
        let removed = live.remove(&handle.addr());
        if live.is_empty() {
            // Give the table back: a program that frees every handle leaves
            // nothing allocated (leak checkers see a clean exit).
            live.shrink_to_fit();
        }
        removed
    }
}
