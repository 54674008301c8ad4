//! The test binary's global allocator: the system allocator plus per-thread accounting, so the
//! fuzzer can measure how much memory one input made a parser allocate, and catch a single
//! oversized request (a header claiming 10^12 images) before it reaches the system.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// A single request above this many bytes on a fuzzing thread is a finding.
pub const HARD_LIMIT: usize = 1 << 30;

/// Number of fuzzing slots (threads fuzzing at once, over the binary's lifetime).
pub const SLOTS: usize = 256;

/// Per slot: the size of an oversized request made by that slot's fuzzing thread (0 = none).
pub static OVERSIZE: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static SLOT: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator with per-thread live and peak byte counts.
pub struct Tracking;

fn note(delta: i64) {
    let _ = LIVE.try_with(|live| {
        let v = live.get() + delta;
        live.set(v);
        let _ = PEAK.try_with(|peak| {
            if v > peak.get() {
                peak.set(v);
            }
        });
    });
}

/// An oversized request on a fuzzing thread: flag it and park the thread; the watchdog saves
/// the input and ends the process (an allocator must not unwind, and returning null aborts
/// without saying which input did it).
fn check(size: usize) {
    if size <= HARD_LIMIT {
        return;
    }
    let slot = SLOT.try_with(|s| s.get()).unwrap_or(0);
    if slot != 0 {
        OVERSIZE[slot].store(size as u64, Ordering::SeqCst);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// bookkeeping touches only const-initialized thread-locals, which never allocate.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as i64));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        p
    }
}

/// Start measuring this thread's peak: returns the bytes live now.
pub fn reset_peak() -> i64 {
    let live = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(live));
    live
}

/// The most bytes live on this thread since [`reset_peak`].
pub fn peak() -> i64 {
    PEAK.with(Cell::get)
}

/// Mark this thread as fuzzing in `slot` (1..SLOTS), or not fuzzing (0).
pub fn set_slot(slot: usize) {
    SLOT.with(|s| s.set(slot));
}
