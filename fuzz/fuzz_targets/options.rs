//! perftest.probe's opts: a URL and a Lua table built from the bytes (option names, values of every Lua type, nested tables).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::options(data));
