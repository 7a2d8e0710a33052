//! perftest.json.decode and r:json(): any bytes, decoded (or the error's byte offset), into Lua and encoded back.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::json(data));
