//! Colour by the conventions: `--color`, NO_COLOR, CLICOLOR_FORCE, and none into a pipe unless
//! asked; the load's progress bar only on a terminal. (On a terminal: tests/terminal.rs.)

mod common;

use common::run_env;
use common::target::Target;

const ESC: &str = "\x1b[";

fn waterfall(args: &[&str], env: &[(&str, &str)]) -> String {
    let (code, out, err) = run_env(args, env);
    assert_eq!(code, 0, "{args:?} {env:?}: {err}");
    assert!(out.contains("DNS Lookup"), "{out}");
    out
}

#[test]
fn a_pipe_gets_colour_only_when_asked_and_no_color_wins_over_force() {
    let t = Target::http();
    let url = t.url("/page?size=10");
    let plain: &[(&str, &str)] = &[("NO_COLOR", ""), ("CLICOLOR_FORCE", "")];
    assert!(!waterfall(&["run", "waterfall", &url], plain).contains(ESC));
    let forced = waterfall(&["run", "waterfall", &url], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        forced.contains(ESC),
        "CLICOLOR_FORCE colours a pipe: {forced:?}"
    );
    let both = [("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")];
    assert!(!waterfall(&["run", "waterfall", &url], &both).contains(ESC));
    // --color before the command or after the scenario's name; it beats the environment.
    for args in [
        vec!["--color=always", "run", "waterfall", url.as_str()],
        vec!["--color", "always", "run", "waterfall", url.as_str()],
        vec!["run", "waterfall", "--color", "always", url.as_str()],
    ] {
        let out = waterfall(&args, &[("NO_COLOR", "1")]);
        assert!(out.contains(ESC), "{args:?}: {out:?}");
    }
    for args in [
        vec!["--color=never", "run", "waterfall", url.as_str()],
        vec!["run", "waterfall", "--color=never", url.as_str()],
    ] {
        let out = waterfall(&args, &[("CLICOLOR_FORCE", "1")]);
        assert!(!out.contains(ESC), "{args:?}: {out:?}");
    }
    // A script asks the same rules.
    let script = common::write_temp(
        "color",
        "ask.lua",
        "print(perftest.colors(), perftest.colors('always'), perftest.color('x', 'red'))\n",
    );
    let (code, out, err) = run_env(&["run", script.to_str().unwrap()], plain);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "false\ttrue\t\x1b[31mx\x1b[0m\n");
}

#[test]
fn a_bad_color_value_is_a_usage_error_naming_the_choices() {
    let (code, _, err) = run_env(&["--color=sometimes", "version"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("'sometimes'") && err.contains("always"),
        "{err}"
    );
    let (code, _, err) = run_env(
        &["run", "slo", "--color", "red", "http://127.0.0.1:1/"],
        &[],
    );
    assert_eq!(code, 2);
    assert_eq!(
        err.trim_end(),
        "perftest run slo: --color 'red': give auto, always or never (see --help)"
    );
}

#[test]
fn the_classic_command_line_takes_color_and_its_rows_stay_plain() {
    let t = Target::http();
    let (code, out, err) = run_env(&["--color=always", "-n", "1", "-d", "0", &t.url("/")], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(ESC), "rows are data, never painted: {out:?}");
    let (code, _, err) = run_env(
        &["run", "default", "--color=never", "-n", "1", &t.url("/")],
        &[],
    );
    assert_eq!(code, 0, "{err}");
}

#[test]
fn no_progress_bar_off_a_terminal_even_when_colour_is_forced() {
    let t = Target::http();
    let (code, out, err) = run_env(
        &["run", "load", "-c", "2", "-n", "20", &t.url("/")],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("load "), "{out}");
    assert!(
        !err.contains('\r') && !err.contains('%'),
        "no bar on a pipe: {err:?}"
    );
}
