//! A panic is a bug in perftest, never the user's fault: it must not hang the run, lose the
//! rows, or print a page of backtrace. The hook writes one line (or, inside [`Caught`], keeps
//! the message for whoever catches it); a Lua task that panics ends with an error, the others
//! go on.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The exit code when a panic reached the top (70, sysexits' EX_SOFTWARE).
pub const EXIT_INTERNAL: i32 = 70;

thread_local! {
    /// Polls of a [`Caught`] future in progress on this thread.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    /// The last panic's message, for the catcher.
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the hook: one line on stderr (dropped if stderr is gone), with a backtrace only
/// when RUST_BACKTRACE asks for one.
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        let message = payload_text(info.payload());
        // std's own files read core/src/time.rs, without the toolchain's build path.
        let at = info
            .location()
            .map(|l| {
                let file = l.file();
                let file = file.find("/library/").map_or(file, |i| &file[i + 9..]);
                format!(" ({file}:{})", l.line())
            })
            .unwrap_or_default();
        let text = format!("{message}{at}");
        if CATCHING.with(Cell::get) > 0 {
            LAST.with(|l| *l.borrow_mut() = Some(text));
            return;
        }
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("a thread");
        errln!("perftest: internal error in {name}: {text} (please report it)");
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
            errln!("{}", std::backtrace::Backtrace::force_capture());
        }
    }));
}

/// The text of a panic's payload.
pub fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

input_error!(
    /// A panic caught under a Lua call: its message, for the one-line report.
    Panic
);

/// Runs `f`, turning a panic into its message.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let out = std::panic::catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    out.map_err(|p| {
        LAST.with(|l| l.borrow_mut().take())
            .unwrap_or_else(|| payload_text(p.as_ref()))
            .into()
    })
}

/// A future whose panics become `Err(message)`; it is not polled again after one.
pub struct Caught<F> {
    inner: Option<Pin<Box<F>>>,
}

/// Wraps `fut` so that a panic while polling it ends it with the panic's message.
pub fn caught<F: Future>(fut: F) -> Caught<F> {
    Caught {
        inner: Some(Box::pin(fut)),
    }
}

impl<F: Future> Future for Caught<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Pending;
        };
        match catch(|| inner.as_mut().poll(cx)) {
            Ok(Poll::Ready(v)) => {
                self.inner = None;
                Poll::Ready(Ok(v))
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(message) => Poll::Ready(Err(message)),
        }
    }
}
