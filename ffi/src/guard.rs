//! The panic boundary: every export runs its body through `call`.
//!
//! Unwinding across `extern "C"` aborts the process, and a panic is a bug
//! in sealdb, not in the caller, so the boundary turns it into
//! `SEALDB_ERR_PANIC` with the panic's message. The handle-level wrappers
//! (`with_conn`, `with_stmt`) also mark the handle they ran on as
//! unusable, since its state may be half-updated (fail-stop, like
//! rustls-ffi's `ffi_panic_boundary`).
//!
//! ```text
//!   C caller ─▶ extern "C" fn ─▶ call(|| body) ─▶ Ok(code)   ─▶ code
//!                                        │      └▶ Err(fail) ─▶ thread slot, fail.code
//!                                        └▶ panic ─▶ SEALDB_ERR_PANIC
//! ```

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{clear_thread_error, set_thread_error, Failure, FfiResult, SEALDB_ERR_PANIC};

/// The message of a caught panic.
pub(crate) fn panic_failure(payload: Box<dyn Any + Send>) -> Failure {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Failure::new(
        SEALDB_ERR_PANIC,
        format!("internal panic in sealdb (a bug; please report it): {what}"),
    )
}

/// Runs `f` behind the panic boundary; records a failure in the thread's
/// error slot and returns its code.
pub(crate) fn call(f: impl FnOnce() -> FfiResult) -> i32 {
    clear_thread_error();
    let result = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(panic_failure(payload)),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            set_thread_error(&failure);
            failure.code
        }
    }
}

/// The panic boundary for the exports that only read error state or
/// constants: leaves the thread's error slot alone, returns `fallback` on
/// a panic.
pub(crate) fn quiet<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}
