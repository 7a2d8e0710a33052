//! Link-time settings for the perftest binary: what a lone probe maps and how fast it starts.

use std::path::Path;
use std::process::Command;

/// The symbol order bench/order-startup writes; optional.
const ORDER: &str = "bench/startup.order";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={ORDER}");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+ or lld): the dynamic
    // loader reads a few KiB instead of 700 KiB of relocations at every start.
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");

    // The functions a probe, a monitor and a load run, laid out together (bench/order-startup
    // lists them in bench/startup.order, a generated file kept out of src/): the kernel maps a
    // binary's code 64 KiB around each page first touched, so scattered over 11 MiB of code
    // they cost a lone probe 5 MiB of resident memory; together, about 2. Only lld reads an ordering file: Rust's own, the default linker on
    // x86_64-unknown-linux-gnu since 1.90, unless another linker was chosen.
    if target == "x86_64-unknown-linux-gnu"
        && Path::new(ORDER).exists()
        && default_linker()
        && rustc_minor().is_some_and(|m| m >= 90)
    {
        let order = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join(ORDER);
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names from another build (hashes change with the code) are skipped, not errors: a
        // stale or missing list costs memory, never the build.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// True when no linker was chosen in the environment or the flags.
fn default_linker() -> bool {
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    !flags.contains("linker")
        && !flags.contains("fuse-ld")
        && std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_none()
        && std::env::var_os("RUSTC_LINKER").is_none()
}

/// rustc's minor version (95 for 1.95.0).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
