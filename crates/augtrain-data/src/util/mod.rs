//! Small helpers shared by every stage: atomic file writes, counter-based randomness, time
//! stamps, panic containment for third-party decoders, file paths as text, escaping of
//! user-controlled text for the terminal and a minimal future executor.

pub mod escape;
pub mod fs;
pub mod nan;
pub mod panic;
pub mod path_text;
pub mod rng;
pub mod suggest;
pub mod time;

/// Drive a future to completion on the current thread.
///
/// wgpu's adapter enumeration returns futures that are ready immediately on native targets;
/// this avoids pulling in an async runtime for them.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}
