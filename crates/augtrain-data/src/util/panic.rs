//! Containing panics from third-party decoders (image codecs, burn's record readers) so that a
//! crafted or damaged file becomes an error about that file instead of a crash.
//!
//! [`contain`] runs a closure under `catch_unwind` and, while it runs on the current thread,
//! keeps the default panic hook from printing its message: the caller reports the failure as
//! one clear line. Panics outside [`contain`] still print as usual.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// How many [`contain`] calls are active on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether the current thread is inside [`contain`] (its panics are reported by the caller).
pub fn contained() -> bool {
    DEPTH.with(|d| d.get() > 0)
}

/// Install (once) the panic hook that stays silent for contained panics and defers to the
/// previous hook otherwise. [`contain`] calls it; a hook installed later should call it first
/// and defer to it while [`contained`] is true.
pub fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !contained() {
                previous(info);
            }
        }));
    });
}

/// Run `f`; a panic inside it comes back as `Err` with the panic's first line.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_hook();
    struct Depth;
    impl Drop for Depth {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get() - 1));
        }
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    let guard = Depth;
    let result = catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    result.map_err(|payload| {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("==="))
            .unwrap_or("a panic without a message")
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_the_depth_unwinds() {
        assert_eq!(contain(|| 7), Ok(7));
        let err = contain(|| -> u8 { panic!("decoder fell over: {}", 3) }).unwrap_err();
        assert_eq!(err, "decoder fell over: 3");
        assert!(!contained());
        let nested = contain(|| contain(|| -> u8 { panic!("inner") }).unwrap_err());
        assert_eq!(nested.as_deref(), Ok("inner"));
        assert!(!contained());
    }
}
