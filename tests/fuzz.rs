//! The fuzz targets' entry points (perftest::fuzzing) over their committed seeds, in the normal
//! suite: the seeds are the tests' own cases and must go through every parser without a panic
//! or a hang. Inputs the fuzzer found failing are pinned below, each named after its bug.

use std::path::Path;

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("url", perftest::fuzzing::url),
    ("options", perftest::fuzzing::options),
    ("thresholds", perftest::fuzzing::thresholds),
    ("classic", perftest::fuzzing::classic),
    ("json", perftest::fuzzing::json),
    ("response", perftest::fuzzing::response),
];

#[test]
fn every_seed_goes_through_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (name, entry) in TARGETS {
        let dir = root.join(name);
        let mut n = 0;
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| entry(&data));
            assert!(
                outcome.is_ok(),
                "fuzz target {name} failed on {}",
                path.display()
            );
            n += 1;
        }
        assert!(n > 5, "{name}: only {n} seeds in {}", dir.display());
    }
}

fn canned(bytes: &[u8], h2: bool) -> perftest::probe::ProbeResult {
    let req = perftest::probe::ProbeRequest::new("http://fuzz.test/page").unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(perftest::probe::canned(&req, bytes.to_vec(), h2))
}

/// The response target reads what it is fed as a probe does: else its fuzzing proves nothing.
#[test]
fn the_response_target_reads_http1_and_http2_as_a_probe_does() {
    let r = canned(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        false,
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!((r.status, r.size, r.version), (200, 11, Some("HTTP/1.1")));

    let r = canned(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
        false,
    );
    let e = r.error.expect("a body cut short fails");
    assert!(
        e.message.contains("connection closed after 5 body bytes"),
        "{e:?}"
    );
    assert_eq!(r.size, 5, "the bytes that came are kept");

    // SETTINGS, SETTINGS ack, HEADERS (:status 200), DATA "hello" with END_STREAM, GOAWAY.
    let frame = |kind: u8, flags: u8, stream: u8, payload: &[u8]| {
        let mut f = vec![0, 0, payload.len() as u8, kind, flags, 0, 0, 0, stream];
        f.extend_from_slice(payload);
        f
    };
    let h2 = [
        frame(4, 0, 0, b""),
        frame(4, 1, 0, b""),
        frame(1, 4, 1, b"\x88"),
        frame(0, 1, 1, b"hello"),
        frame(7, 0, 0, b"\0\0\0\x01\0\0\0\0"),
    ]
    .concat();
    let r = canned(&h2, true);
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!((r.status, r.size, r.version), (200, 5, Some("HTTP/2")));

    let r = canned(
        b"HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n",
        false,
    );
    let e = r.error.expect("a Location that is no URL fails the sample");
    assert!(e.message.contains("bad redirect"), "{e:?}");
}
