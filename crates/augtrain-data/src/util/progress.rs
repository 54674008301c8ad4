//! Progress of long passes inside the data layer (decoding image files), told to whoever
//! listens: the command line shows a bar on a terminal, a library user may show anything or
//! nothing. Nothing listens by default, and a pass costs one relaxed read per file then.

use std::sync::{Arc, RwLock};

/// Something that shows progress.
pub trait Listener: Send + Sync {
    /// A pass named `what` (e.g. "loading") over `total` items starts.
    fn start(&self, what: &str, total: usize);
    /// `n` more items are done (called from worker threads).
    fn advance(&self, n: usize);
    /// The pass is over.
    fn finish(&self);
}

static LISTENER: RwLock<Option<Arc<dyn Listener>>> = RwLock::new(None);

/// Send progress to `listener` from now on (`None`: to nobody).
pub fn listen(listener: Option<Arc<dyn Listener>>) {
    *LISTENER.write().unwrap_or_else(|e| e.into_inner()) = listener;
}

fn with(f: impl FnOnce(&dyn Listener)) {
    if let Some(l) = LISTENER
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_deref()
    {
        f(l);
    }
}

/// Tell the listener a pass starts.
pub fn start(what: &str, total: usize) {
    with(|l| l.start(what, total));
}

/// Tell the listener `n` more items are done.
pub fn advance(n: usize) {
    with(|l| l.advance(n));
}

/// Tell the listener the pass is over.
pub fn finish() {
    with(|l| l.finish());
}
