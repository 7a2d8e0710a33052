//! Standard output for rows and summaries. A closed pipe (`perftest ... | head`) is not an
//! error: output stops, the run is asked to end, and the exit code stays 0.

use std::cell::Cell;
use std::io::{self, Write};

use crate::shutdown::Shutdown;

/// Writes whole lines to stdout and notices when nobody reads them any more.
pub struct Output {
    closed: Cell<bool>,
    shutdown: Shutdown,
}

impl Output {
    pub fn new(shutdown: Shutdown) -> Output {
        Output {
            closed: Cell::new(false),
            shutdown,
        }
    }

    /// Writes `text` as is; on a closed pipe, drops it and stops the run.
    pub fn write(&self, text: &[u8]) -> io::Result<()> {
        if self.closed.get() {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        match out.write_all(text).and_then(|_| out.flush()) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed.set(true);
                self.shutdown.trigger();
                Ok(())
            }
            other => other,
        }
    }
}
