//! The bundled scenarios and Lua modules, compiled into the binary so a lone binary works
//! anywhere; a path on the command line overrides them.

use std::path::{Path, PathBuf};

input_error!(
    /// A script that cannot be read, or a name that is neither a file nor bundled.
    NoScript
);

/// A script ready to load: its source and the name errors will show.
pub struct Script {
    /// Chunk name, `@default.lua` or `@path/to/file.lua`: errors read `default.lua:12: ...`.
    pub chunk_name: String,
    pub source: String,
    /// The script's directory, searched first by `require`.
    pub dir: Option<PathBuf>,
}

/// Bundled scenarios: name and source.
pub const BUNDLED: &[(&str, &str)] = &[
    ("default", include_str!("../scripts/default.lua")),
    ("slo", include_str!("../scripts/slo.lua")),
    ("compare", include_str!("../scripts/compare.lua")),
    ("waterfall", include_str!("../scripts/waterfall.lua")),
    ("load", include_str!("../scripts/load.lua")),
    ("monitor", include_str!("../scripts/monitor.lua")),
    ("flow", include_str!("../scripts/flow.lua")),
];

/// Bundled Lua modules, found by `require`.
pub const STDLIB: &[(&str, &str)] = &[
    (
        "perftest.prelude",
        include_str!("../stdlib/perftest/prelude.lua"),
    ),
    (
        "perftest.classic",
        include_str!("../stdlib/perftest/classic.lua"),
    ),
    ("perftest.cli", include_str!("../stdlib/perftest/cli.lua")),
    ("perftest.repl", include_str!("../stdlib/perftest/repl.lua")),
    (
        "perftest.conditions",
        include_str!("../stdlib/perftest/conditions.lua"),
    ),
    ("perftest.flow", include_str!("../stdlib/perftest/flow.lua")),
    (
        "perftest.alert",
        include_str!("../stdlib/perftest/alert.lua"),
    ),
    (
        "perftest.publishing",
        include_str!("../stdlib/perftest/publishing.lua"),
    ),
];

/// The Lua API's type definitions for lua-language-server.
pub const DEFINITIONS: &str = include_str!("../stdlib/perftest.d.lua");

/// The source of a bundled module.
pub fn stdlib(name: &str) -> Option<&'static str> {
    STDLIB.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// A bundled scenario by name.
pub fn bundled(name: &str) -> Option<Script> {
    let name = name.strip_suffix(".lua").unwrap_or(name);
    BUNDLED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, src)| Script {
            chunk_name: format!("@{n}.lua"),
            source: (*src).to_string(),
            dir: None,
        })
}

/// A file if `what` names one, else a bundled scenario of that name.
pub fn find(what: &str) -> Result<Script, NoScript> {
    let path = Path::new(what);
    let looks_like_path = what.contains('/') || what.ends_with(".lua");
    if path.is_file() || (looks_like_path && bundled(what).is_none()) {
        let source =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read script {what}: {e}"))?;
        let source = as_lua_reads_files(source);
        let dir = path.parent().map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
            .to_path_buf()
        });
        return Ok(Script {
            chunk_name: format!("@{what}"),
            source,
            dir,
        });
    }
    bundled(what).ok_or_else(|| {
        let names: Vec<&str> = BUNDLED.iter().map(|(n, _)| *n).collect();
        format!(
            "no script '{what}': not a file, nor a bundled scenario ({}); see perftest scripts",
            names.join(", ")
        )
        .into()
    })
}

/// A file's text as Lua's own `lua` loads it: without a byte-order mark, and with a first line
/// starting with `#` (`#!/usr/bin/env perftest run`) blanked, its newline kept so that line
/// numbers still match the file.
fn as_lua_reads_files(source: String) -> String {
    let source = match source.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => source,
    };
    if source.starts_with('#') {
        let rest = source.find('\n').map_or("", |i| &source[i..]);
        return rest.to_string();
    }
    source
}

/// The first sentence of a script's header comment, without a leading "name:".
pub fn summary(source: &str) -> String {
    let text = source
        .lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| l.trim_start_matches('-').trim())
        .take_while(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let first = match text.find(". ") {
        Some(i) => &text[..=i],
        None => text.as_str(),
    };
    match first.split_once(": ") {
        Some((name, rest)) if !name.contains(' ') => rest.to_string(),
        _ => first.to_string(),
    }
}

/// The whole header comment, without the comment marks.
pub fn header(source: &str) -> String {
    source
        .lines()
        .take_while(|l| l.starts_with("--"))
        .map(|l| {
            format!(
                "{}\n",
                l.trim_start_matches("--")
                    .strip_prefix(' ')
                    .unwrap_or(l.trim_start_matches("--"))
            )
        })
        .collect()
}
