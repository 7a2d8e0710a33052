//! The response path without a socket: the bytes are what the server sends (HTTP/1.1, or HTTP/2 frames when the first byte is odd), read by hyper as the prober drives it, the result made a Lua table.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::response(data));
