//! The exit codes a script can act on, each provoked for real: the table is README's "Exit
//! codes" (its test, with --help's copy, is in hostile.rs). 74 and 130 are driven in
//! hostile.rs and engine.rs, where the full disk and the signals are.

mod common;

use common::target::Target;
use common::{free_port, run, run_env, write_temp};

#[test]
fn a_scenario_in_which_every_sample_failed_exits_69_so_a_script_can_page() {
    let dead = format!("http://127.0.0.1:{}/", free_port());
    for args in [
        vec!["run", "monitor", "-n", "3", "-d", "0", dead.as_str()],
        vec!["run", "load", "-c", "1", "-n", "3", dead.as_str()],
        vec!["run", "waterfall", dead.as_str()],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 69, "{args:?}: {out}{err}");
        assert!(
            (out.contains("connect") || err.contains("connection refused"))
                && err
                    .trim_end()
                    .ends_with("no sample got a response (exit status 69)"),
            "{args:?}: {err}"
        );
    }
    // The classic command line keeps Go's 0, as `perftest run default` does.
    for args in [
        vec!["-n", "2", "-d", "0", dead.as_str()],
        vec!["run", "default", "-n", "2", "-d", "0", dead.as_str()],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out.matches("\t500\t").count(), 2, "{out}");
    }
}

#[test]
fn one_answered_sample_or_the_scripts_own_exit_keeps_0_and_a_threshold_keeps_99() {
    let t = Target::http();
    let dead = format!("http://127.0.0.1:{}/", free_port());
    let (code, _, err) = run(&["run", "monitor", "-n", "2", "-d", "0", &dead, &t.url("/")]);
    assert_eq!(code, 0, "one target answered: {err}");

    let on_purpose = write_temp(
        "exit",
        "closed.lua",
        format!(
            "local r = perftest.probe('{dead}')\nassert(r.error_kind == 'connect', r.error)\nperftest.exit(0)\n"
        ),
    );
    let (code, _, err) = run(&["run", on_purpose.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");

    let falls_off = write_temp(
        "exit",
        "ends.lua",
        format!("print(perftest.probe('{dead}').error_kind)\n"),
    );
    let (code, out, _) = run(&["run", falls_off.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (69, "connect\n"));

    // slo's default errors threshold fails first: 99, k6's code, wins over 69.
    let (code, _, _) = run(&["run", "slo", "-n", "2", &dead]);
    assert_eq!(code, 99);
}

#[test]
fn the_documented_codes_0_1_2_and_70_come_from_what_they_say() {
    let t = Target::http();
    assert_eq!(run(&["-n", "1", "-d", "0", &t.url("/")]).0, 0);
    // As Go: no URL is 1; a bad flag is 2; so is a URL that cannot be probed.
    assert_eq!(run(&[]).0, 1);
    assert_eq!(run(&["-n", "x", &t.url("/")]).0, 2);
    assert_eq!(run(&["ftp://example.com/"]).0, 2);
    let broken = write_temp("exit", "broken.lua", "error('on purpose')\n");
    let (code, _, err) = run(&["run", broken.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("broken.lua:1: on purpose"), "{err}");
    let (code, _, err) = run_env(&["version"], &[("PERFTEST_TEST_PANIC", "outside")]);
    assert_eq!(code, 70, "{err}");
    assert!(
        err.contains("internal error") && err.contains("injected fault outside any script"),
        "{err}"
    );
}
