//! The fuzz targets' entry points that need no Lua (fuzz/, cargo-fuzz): each takes the fuzzer's
//! bytes to one parser that reads outside input, the way perftest calls it, and must neither
//! panic nor hang, whatever the bytes. `perftest::fuzzing` (lib.rs) joins them to the Lua
//! ones in engine/fuzzing.rs; the regression tests (tests/fuzz.rs) call the same
//! functions with the inputs that once failed.

use std::ffi::OsString;
use std::time::Duration;

use clap::CommandFactory;

use crate::cli::{self, Classic, Cli};
pub use crate::cli::{go_forms, parse_classic};
pub use crate::probe::{ProbeRequest, Target};
use crate::stats::{Sample, Scope, Stats};
pub use crate::thresholds::Threshold;

/// Splits `data` at its first newline (the second part empty without one), lossily as text.
fn two_texts(data: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(data);
    match text.split_once('\n') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (text.into_owned(), String::new()),
    }
}

/// A URL as a target, the request made from it, a redirect's Location joined to it, and the
/// text as `resolve` and `dns_server` read an address: URL, newline, Location.
pub fn url(data: &[u8]) {
    let (url, location) = two_texts(data);
    if let Ok(t) = Target::parse(&url) {
        let _ = t.authority();
        if let Ok(next) = t.join(&location) {
            let _ = next.authority();
            // A Location that parses as the next hop parses as a URL of its own too.
            let again = Target::parse(&next.display);
            assert!(
                again.is_ok(),
                "{url:?} joined with {location:?} gave {:?}, which does not parse: {again:?}",
                next.display
            );
        }
    }
    let _ = ProbeRequest::new(&url);
    let _ = crate::publish::metrics::target_label(&url);
    let _ = crate::probe::socket_addr(&location, 53);
}

/// The threshold grammar: the metric before the first newline, the expression after it;
/// parsed, labelled and judged over a few samples, for the run and for a rolling window.
pub fn thresholds(data: &[u8]) {
    let (metric, expr) = two_texts(data);
    let Ok(t) = Threshold::parse(&metric, &expr, false) else {
        return;
    };
    let _ = t.label();
    let mut stats = Stats::new("fuzz", Some(Duration::from_secs(60)));
    for (i, (ok, status)) in [(true, 200), (false, 0), (true, 503)]
        .into_iter()
        .enumerate()
    {
        let v = 10.0 * (i + 1) as f64;
        stats.add(&Sample {
            start: 1_800_000_000.0 + i as f64,
            values: [v, v, v, v, v, 5.0 * v, 1000.0],
            ok,
            status,
            error_kind: (!ok).then(|| "timeout".to_string()),
        });
    }
    for scope in [
        Scope::Run,
        Scope::Window {
            now: 1_800_000_030.0,
        },
    ] {
        let _ = t.evaluate(&stats, scope, 1_800_000_030.0);
    }
}

/// The classic command line: NUL-separated words, as `perftest run default` hands them to the
/// flags (Go's forms, then clap, then `perftest.args`), and as the process reads its own
/// argv (the image's entrypoint, Go's forms, clap; `Cli::from_list` exits on an error, as a
/// process should, so its parse is tried here).
/// The flags parsed, for `perftest.args` to be made of them.
pub fn classic(data: &[u8]) -> Option<Classic> {
    let words: Vec<String> = String::from_utf8_lossy(data)
        .split('\0')
        .map(str::to_string)
        .collect();
    let parsed = parse_classic(&words).ok();
    if let Some(c) = &parsed {
        let _ = c.verbosity();
        let _ = c.classic_only_flag();
        let _ = c.without_urls();
    }
    let argv: Vec<OsString> = std::iter::once("perftest".to_string())
        .chain(words)
        .map(OsString::from)
        .collect();
    let mut cmd = Cli::command();
    cmd.build();
    if let Ok(argv) = go_forms(&cmd, cli::container_argv(argv)) {
        use clap::Parser;
        let _ = Cli::try_parse_from(argv);
    }
    parsed
}
