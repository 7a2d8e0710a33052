//! A JSON Schema validator for the subset docs/schema/ uses: type (one or a list), const, enum,
//! properties, required, additionalProperties (false or a schema), items, minimum, maximum and
//! local $ref. The jsonschema crate (0.61, no default features) is 75 crates, 7 minutes and
//! 465 MB of target on its own here (bench/RESULTS.md, "A JSON Schema validator"), too much for
//! CI's small disk; a keyword a schema uses that this does not know fails the check, so the
//! subset cannot silently shrink what a schema says.

use serde_json::Value;

const KNOWN: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
];

/// Every way `value` breaks `schema` (`root` resolves `$ref`), as "path: why".
pub fn errors(root: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(s) = schema.as_object() else {
        return vec![format!("{path}: the schema is not an object")];
    };
    for key in s.keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "schema keyword {key} is not supported here"
        );
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .map(|p| p.split('/').fold(root, |v, k| &v[k]))
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| panic!("unresolved $ref {r}"));
        out.extend(errors(root, target, value, path));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => panic!("{path}: type must be a string or a list"),
        };
        if !types.iter().any(|t| is_type(value, t)) {
            out.push(format!("{path}: {value} is not {}", types.join(" or ")));
        }
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        out.push(format!("{path}: {value} is not {c}"));
    }
    if let Some(list) = s.get("enum").and_then(Value::as_array)
        && !list.contains(value)
    {
        out.push(format!(
            "{path}: {value} is not one of {}",
            Value::from(list.clone())
        ));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = s.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            out.push(format!("{path}: {n} is below {min}"));
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            out.push(format!("{path}: {n} is above {max}"));
        }
    }
    if let Some(obj) = value.as_object() {
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().unwrap_or_default();
            if !obj.contains_key(name) {
                out.push(format!("{path}: {name} is missing"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, v) in obj {
            let at = format!("{path}.{k}");
            match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                (Some(sub), _) => out.extend(errors(root, sub, v, &at)),
                (None, Some(Value::Bool(false))) => out.push(format!("{at}: not in the schema")),
                (None, Some(sub @ Value::Object(_))) => out.extend(errors(root, sub, v, &at)),
                (None, _) => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (s.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            out.extend(errors(root, items, v, &format!("{path}[{i}]")));
        }
    }
    out
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|n| n.fract() == 0.0) && !v.to_string().contains('.'),
        other => panic!("unknown type {other}"),
    }
}

/// docs/schema/NAME.json.
pub fn load(name: &str) -> Value {
    let path = format!("{}/docs/schema/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Checks every line of `out` against the schema its `type` names; returns how many of each.
pub fn check_lines(out: &str) -> (usize, usize) {
    let (sample, summary) = (load("sample"), load("summary"));
    let (mut samples, mut summaries) = (0, 0);
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        let schema = match v["type"].as_str() {
            Some("sample") => {
                samples += 1;
                &sample
            }
            Some("summary") => {
                summaries += 1;
                &summary
            }
            _ => panic!("a line without a known type: {line}"),
        };
        let errs = errors(schema, schema, &v, "$");
        assert!(errs.is_empty(), "{errs:#?}\nin {line}");
    }
    (samples, summaries)
}
