//! When colour is written: `--color` first, then the environment's conventions (NO_COLOR from
//! no-color.org, CLICOLOR and CLICOLOR_FORCE from bixense.com/clicolors), then whether the
//! stream is a terminal. Every coloured thing asks here, so the rules are in one place.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};

/// `--color`'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// On a terminal, unless NO_COLOR (or CLICOLOR=0) says no; CLICOLOR_FORCE says yes anywhere
    Auto,
    /// Always, even into a pipe or a file
    Always,
    /// Never
    Never,
}

impl When {
    /// Parses "auto", "always", "never" (as `perftest.colors` takes them).
    pub fn parse(text: &str) -> Option<When> {
        match text {
            "auto" => Some(When::Auto),
            "always" => Some(When::Always),
            "never" => Some(When::Never),
            _ => None,
        }
    }

    /// The word `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            When::Auto => "auto",
            When::Always => "always",
            When::Never => "never",
        }
    }
}

static CHOICE: AtomicU8 = AtomicU8::new(0);

/// Sets the process's choice (`--color`, or a scenario's own `--color`).
pub fn set(when: When) {
    CHOICE.store(when as u8, Ordering::Relaxed);
}

/// The process's choice.
pub fn choice() -> When {
    match CHOICE.load(Ordering::Relaxed) {
        1 => When::Always,
        2 => When::Never,
        _ => When::Auto,
    }
}

/// Whether to colour a stream that is (or is not) a terminal, `env` reading the environment.
pub fn decide(when: When, terminal: bool, env: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    match when {
        When::Always => true,
        When::Never => false,
        // NO_COLOR wins over CLICOLOR_FORCE: the user who asked for none is the one to obey.
        When::Auto if set("NO_COLOR") => false,
        When::Auto if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") => true,
        When::Auto if env("CLICOLOR").is_some_and(|v| v == "0") => false,
        When::Auto => terminal,
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Colour on stdout.
pub fn stdout() -> bool {
    decide(choice(), std::io::stdout().is_terminal(), env)
}

/// Colour on stderr (the log, a monitor's FAILING lines).
pub fn stderr() -> bool {
    decide(choice(), std::io::stderr().is_terminal(), env)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The choice, a terminal or not, the environment, and colour or not.
    type Case = (When, bool, &'static [(&'static str, &'static str)], bool);

    #[test]
    fn the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        let cases: &[Case] = &[
            (When::Auto, true, &[], true),
            (When::Auto, false, &[], false),
            (When::Auto, true, &[("NO_COLOR", "1")], false),
            // no-color.org: an empty NO_COLOR is as if unset.
            (When::Auto, true, &[("NO_COLOR", "")], true),
            (When::Auto, false, &[("CLICOLOR_FORCE", "1")], true),
            (When::Auto, false, &[("CLICOLOR_FORCE", "0")], false),
            (
                When::Auto,
                false,
                &[("NO_COLOR", "1"), ("CLICOLOR_FORCE", "1")],
                false,
            ),
            (When::Auto, true, &[("CLICOLOR", "0")], false),
            (When::Always, false, &[("NO_COLOR", "1")], true),
            (When::Never, true, &[("CLICOLOR_FORCE", "1")], false),
        ];
        for (when, terminal, vars, want) in cases {
            let got = decide(*when, *terminal, |name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            });
            assert_eq!(got, *want, "{when:?} terminal={terminal} {vars:?}");
        }
    }
}
