//! Standard output and standard error, written so that neither can panic or hang the run.
//!
//! stdout: a closed pipe (`perftest ... | head`) is a clean end: output stops, the run is asked
//! to end (publishers still flush) and the exit code is unchanged. Any other failure (a full
//! disk, `/dev/full`, a closed descriptor) ends the run the same way, with one line on stderr
//! and exit code [`EXIT_STDOUT`]: rows that could not be written must not look like success.
//!
//! stderr: a message that cannot be written (a closed pipe, a full disk) is dropped; the
//! probing and the rows go on. Everything in the crate writes to stderr through [`errln!`] or
//! [`Stderr`]; `std`'s `eprintln!` panics on a write error, so clippy forbids it here.

/// `eprintln!` that never panics: the line is dropped when stderr cannot take it.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::eprint_line(format_args!($($arg)*))
    };
}

use std::cell::{Cell, RefCell};
use std::io::{self, Write};

use crate::shutdown::Shutdown;

/// The exit code when stdout could not be written (74, sysexits' EX_IOERR).
pub const EXIT_STDOUT: i32 = 74;

/// Writes whole lines to stdout and notices when they can no longer be written.
pub struct Output {
    closed: Cell<bool>,
    failure: RefCell<Option<String>>,
    shutdown: Shutdown,
}

impl Output {
    pub fn new(shutdown: Shutdown) -> Output {
        Output {
            closed: Cell::new(false),
            failure: RefCell::new(None),
            shutdown,
        }
    }

    /// Writes `text` as is; once stdout fails, drops it and the run is stopping.
    pub fn write(&self, text: &[u8]) {
        if self.closed.get() {
            return;
        }
        if let Err(e) = write_stdout(text) {
            self.closed.set(true);
            if e.kind() != io::ErrorKind::BrokenPipe {
                errln!("perftest: cannot write to stdout: {e}; stopping");
                *self.failure.borrow_mut() = Some(e.to_string());
            }
            self.shutdown.trigger();
        }
    }

    /// [`EXIT_STDOUT`] if stdout failed other than by a closed pipe.
    pub fn exit_code(&self) -> Option<i32> {
        self.failure.borrow().as_ref().map(|_| EXIT_STDOUT)
    }
}

fn write_stdout(text: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text).and_then(|_| out.flush())
}

/// Prints `text` to stdout for a command that is only output (`perftest scripts`): the exit
/// code, 0 when written or the reader closed the pipe, [`EXIT_STDOUT`] otherwise.
pub fn print_text(text: &str) -> i32 {
    match write_stdout(text.as_bytes()) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            errln!("perftest: cannot write to stdout: {e}");
            EXIT_STDOUT
        }
    }
}

/// Writes one line to stderr; a stderr that cannot be written drops it.
pub fn eprint_line(args: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|_| err.write_all(b"\n"));
}

/// stderr as a writer that never fails (for the log): what cannot be written is dropped.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
