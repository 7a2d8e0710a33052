//! The classic command line: NUL-separated words through the image's entrypoint, Go's flag forms and clap, then into perftest.args.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::classic(data));
