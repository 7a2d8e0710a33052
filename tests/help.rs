//! What a terminal user reaches for first: `help`, `version`, completions and the man page, all
//! made from the one set of clap definitions, and no word naming a command ever probed as a URL.

mod common;

use std::process::Command;

use common::target::Target;
use common::{run, run_env, temp_dir};

#[test]
fn help_and_version_are_commands_not_urls() {
    let t = Target::http();
    let (code, help, _) = run(&["help"]);
    assert_eq!(code, 0);
    let (_, long, _) = run(&["--help"]);
    assert_eq!(help, long, "perftest help is perftest --help");
    let (code, run_help, _) = run(&["help", "run"]);
    assert_eq!(code, 0);
    assert!(run_help.contains("Usage: perftest run"), "{run_help}");
    let (code, version, _) = run(&["version"]);
    assert_eq!(code, 0);
    assert_eq!(version, format!("perftest {}\n", env!("CARGO_PKG_VERSION")));
    let (_, flag, _) = run(&["--version"]);
    assert_eq!(version, flag);

    // After a URL, a command's name is a usage error naming both fixes; nothing is probed.
    for word in ["help", "version", "completions", "repl", "scripts", "run"] {
        let (code, out, err) = run(&["-n", "1", "-d", "0", &t.url("/"), word]);
        assert_eq!(code, 2, "{word}: {out}{err}");
        assert!(
            err.contains(&format!("'{word}' is a command, not a URL"))
                && err.contains(&format!("http://{word}/")),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    assert!(t.requests().is_empty(), "no request was sent");
}

#[test]
fn a_host_named_like_a_command_is_reachable_as_a_url() {
    let t = Target::http();
    let port = t.addr.port();
    let pin = format!("help:{port}:127.0.0.1");
    let url = format!("http://help:{port}/");
    let (code, out, err) = run(&["-q", "-n", "1", "-d", "0", "--resolve", &pin, &url]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\t200\t") && out.contains(&url), "{out}");
    let seen = t.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("host"),
        Some(format!("help:{port}").as_str())
    );
}

#[test]
fn short_help_fits_40_lines_of_80_columns_and_ends_with_examples() {
    let (code, out, _) = run_env(&["-h"], &[("COLUMNS", "80")]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.trim_end().lines().collect();
    assert!(lines.len() <= 40, "{} lines:\n{out}", lines.len());
    for l in &lines {
        assert!(l.chars().count() <= 80, "wider than 80 columns: {l:?}");
    }
    let examples = lines
        .iter()
        .rposition(|l| *l == "Examples:")
        .expect("an Examples: block");
    let after = &lines[examples + 1..];
    assert!(after.len() >= 3, "{out}");
    assert!(
        after.iter().all(|l| l.starts_with("  perftest ")),
        "the help ends with the examples: {after:?}"
    );
    // The flags -h leaves out are in --help.
    let (_, long, _) = run(&["--help"]);
    for flag in ["--dns-server", "--remote-write", "-A <MS>", "Exit status"] {
        assert!(!out.contains(flag) && long.contains(flag), "{flag}");
    }
}

/// Asks the bash completion script what it offers after `words` (the last is being typed).
fn bash_offers(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_perftest perftest '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &program])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn bash_completes_commands_classic_flags_and_bundled_scenarios() {
    let dir = temp_dir("completions");
    let (code, script, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let path = dir.join("perftest.bash");
    std::fs::write(&path, script).unwrap();

    let first = bash_offers(&path, &["perftest", ""]);
    for want in [
        "run",
        "repl",
        "scripts",
        "help",
        "version",
        "completions",
        "-n",
        "--jsonl",
    ] {
        assert!(first.iter().any(|w| w == want), "{want} in {first:?}");
    }
    for hidden in ["man", "bench-load"] {
        assert!(!first.iter().any(|w| w == hidden), "{hidden} is hidden");
    }
    assert_eq!(
        bash_offers(&path, &["perftest", "--connect-t"]),
        ["--connect-timeout"]
    );
    let scenarios = bash_offers(&path, &["perftest", "run", ""]);
    for name in ["slo", "compare", "waterfall", "load", "monitor"] {
        assert!(
            scenarios.iter().any(|w| w == name),
            "{name} in {scenarios:?}"
        );
    }
    assert_eq!(bash_offers(&path, &["perftest", "run", "mon"]), ["monitor"]);
    assert_eq!(
        bash_offers(&path, &["perftest", "scripts", "wa"]),
        ["waterfall"]
    );
    let shells = bash_offers(&path, &["perftest", "completions", ""]);
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|w| w == shell), "{shell} in {shells:?}");
    }
}

#[test]
fn every_shell_gets_a_script_naming_the_commands_and_scenarios() {
    for shell in ["zsh", "fish", "powershell"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        for word in [
            "completions",
            "scripts",
            "monitor",
            "waterfall",
            "connect-timeout",
        ] {
            assert!(script.contains(word), "{shell}: {word}");
        }
        assert!(
            !script.contains("bench-load"),
            "{shell}: hidden commands stay hidden"
        );
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'tcsh'") && err.contains("possible values"),
        "{err}"
    );
}

#[test]
fn make_install_extras_puts_the_man_pages_and_completions_in_place() {
    let dest = temp_dir("install");
    let out = Command::new("make")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "-s",
            "install-extras",
            &format!("BIN={}", env!("CARGO_BIN_EXE_perftest")),
            &format!("DESTDIR={}", dest.display()),
            "PREFIX=/usr",
        ])
        .output()
        .expect("make");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = dest.join("usr/share");
    for file in [
        "bash-completion/completions/perftest",
        "zsh/site-functions/_perftest",
        "fish/vendor_completions.d/perftest.fish",
        "man/man1/perftest-run.1",
        "man/man1/perftest-completions.1",
    ] {
        let len = std::fs::metadata(share.join(file)).map_or(0, |m| m.len());
        assert!(len > 100, "{file}: {len} bytes");
    }
    assert!(
        !share.join("man/man1/perftest-man.1").exists(),
        "man is hidden"
    );
    let page = std::fs::read_to_string(share.join("man/man1/perftest.1")).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH perftest 1"),
        "{page}"
    );
    // The page is --help's: every flag, hidden from -h or not, with its text.
    for s in [
        "dns\\-server",
        "remote\\-write",
        "Exit status",
        "perftest\\-run(1)",
    ] {
        assert!(page.contains(s), "{s} in the page");
    }
    let (_, stdout_page, _) = run(&["man"]);
    assert_eq!(stdout_page, page, "perftest man prints the same page");

    // man itself renders it (Debian's man-db), as a reader would see it.
    let rendered = Command::new("man")
        .arg("-l")
        .arg(share.join("man/man1/perftest.1"))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .output()
        .expect("man");
    let text = String::from_utf8_lossy(&rendered.stdout);
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    for s in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "--connect-timeout",
        "SUBCOMMANDS",
    ] {
        assert!(text.contains(s), "{s} in:\n{text}");
    }
}
