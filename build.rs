//! Link-time settings for the perftest binary.

fn main() {
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+): the dynamic loader
    // reads a few KiB instead of 700 KiB of relocations at every start, a cold start's
    // measurable share and part of a lone probe's resident memory.
    if target_os == "linux" && target_env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
