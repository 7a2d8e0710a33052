//! The threshold grammar: the metric before the first newline, the expression after it; parsed, labelled and evaluated over a few samples.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| perftest::fuzzing::thresholds(data));
