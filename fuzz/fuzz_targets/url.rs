//! A URL as a target, the request made from it, and a redirect's Location joined to it: the text before the first newline is the URL, the rest the Location.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::url(data));
