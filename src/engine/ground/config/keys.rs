//! Dotted keys over JSON config values: deep merge, `CLK_*` overrides, `configure --set`.
//!
//! The defaults' JSON is the schema: a key exists when the defaults have it, and a value must
//! have the type the default has. That keeps `clk configure` and the env overrides in step with
//! the typed config without a second list of keys.

use serde_json::{Map, Value};

use super::error::{ConfigError, EnvLookup};

/// Keys whose value is an open map from names the user picks to numbers
/// (`budget.agent_usd_caps.engineer`). The defaults cannot list their keys, so they are
/// handled here: any name under them is a known key that takes a number, and `CLK_<KEY>` sets
/// the whole map as `name=number,name=number` (or a JSON object).
pub const NUMBER_MAPS: &[&str] = &["budget.agent_usd_caps"];

/// The open map `dotted` belongs to (`budget.agent_usd_caps.qa` -> `budget.agent_usd_caps`).
pub fn number_map_of(dotted: &str) -> Option<&'static str> {
    NUMBER_MAPS.iter().copied().find(|m| {
        dotted
            .strip_prefix(m)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|name| !name.is_empty() && !name.contains('.'))
    })
}

/// `a=1,b=2.5` or `{"a": 1}` as a JSON object of numbers.
fn parse_number_map(raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    let bad = || "takes name=number pairs separated by commas (agent=usd,agent=usd)".to_string();
    if raw.starts_with('{') {
        let v: Value = serde_json::from_str(raw).map_err(|_| bad())?;
        let ok = v
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_number));
        return if ok { Ok(v) } else { Err(bad()) };
    }
    let mut map = Map::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, num) = pair.split_once('=').ok_or_else(bad)?;
        let n = coerce(num, &Value::from(0.5)).map_err(|_| bad())?;
        if name.trim().is_empty() {
            return Err(bad());
        }
        map.insert(name.trim().to_string(), n);
    }
    Ok(Value::Object(map))
}

/// Merge `over` into `base`: objects key by key at every depth, anything else replaced.
pub fn merge_deep(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge_deep(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// Every leaf of `value` as (dotted key, value), objects descended, in key order.
pub fn leaves(value: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, child, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// The environment variable that overrides a dotted key: `supervise.max_cycles` ->
/// `CLK_SUPERVISE_MAX_CYCLES`.
pub fn env_name(dotted: &str) -> String {
    format!("CLK_{}", dotted.replace('.', "_").to_ascii_uppercase())
}

/// Apply `CLK_<KEY>` overrides for every leaf of `value` (the merged config).
pub fn apply_env_overrides(value: &mut Value, env: EnvLookup<'_>) -> Result<(), ConfigError> {
    for (key, current) in leaves(value) {
        let name = env_name(&key);
        if let Some(raw) = env(&name) {
            let typed = coerce(&raw, &current).map_err(|why| {
                ConfigError::Invalid(format!("environment variable {name}={raw:?}: {why}"))
            })?;
            set_path(value, &key, typed);
        }
    }
    for key in NUMBER_MAPS {
        let name = env_name(key);
        if let Some(raw) = env(&name) {
            let map = parse_number_map(&raw).map_err(|why| {
                ConfigError::Invalid(format!("environment variable {name}={raw:?}: {why}"))
            })?;
            set_path(value, key, map);
        }
    }
    Ok(())
}

/// Parse `raw` into the JSON type of `like` (the default or current value).
pub fn coerce(raw: &str, like: &Value) -> Result<Value, String> {
    let raw = raw.trim();
    match like {
        Value::Bool(_) => match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "on" => Ok(Value::Bool(true)),
            "0" | "false" | "no" | "n" | "off" => Ok(Value::Bool(false)),
            _ => Err("takes true or false".into()),
        },
        Value::Number(n) if n.is_u64() || n.is_i64() => raw
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| "takes a whole number".into()),
        Value::Number(_) => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| "takes a number".into()),
        Value::Array(_) => {
            if raw.starts_with('[') {
                serde_json::from_str::<Value>(raw)
                    .ok()
                    .filter(Value::is_array)
                    .ok_or_else(|| "takes a JSON list or comma-separated words".into())
            } else {
                Ok(Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ))
            }
        }
        Value::String(_) | Value::Null => {
            if raw == "null" && like.is_null() {
                Ok(Value::Null)
            } else {
                Ok(Value::String(raw.to_string()))
            }
        }
        Value::Object(_) => Err("names a whole block; set one of its keys instead".into()),
    }
}

/// Set a dotted key, creating objects on the way.
pub fn set_path(value: &mut Value, dotted: &str, new: Value) {
    let mut cur = value;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i == parts.len() - 1 {
            map.insert(part.to_string(), new);
            return;
        }
        cur = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Read a dotted key.
pub fn get_path<'a>(value: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(value, |cur, part| cur.as_object()?.get(part))
}

/// A short name for the JSON type a value has, as a person would say it.
pub fn type_word(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "true or false",
        Value::Number(n) if n.is_u64() || n.is_i64() => "a whole number",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a block of keys",
        Value::Null => "nothing",
    }
}

/// Check every leaf of `user` that the schema knows has the schema's type. A whole number
/// fits where a number is asked for; anything fits where the default is null.
pub fn check_types(schema: &Value, user: &Value, file: &str) -> Result<(), ConfigError> {
    for (key, value) in leaves(user) {
        if number_map_of(&key).is_some() && !value.is_number() {
            return Err(ConfigError::Invalid(format!(
                "{file}: {key} is {value}, but it takes a number"
            )));
        }
        if super::task_keys::is_pair_key(&key) && !value.is_string() {
            return Err(ConfigError::Invalid(format!(
                "{file}: {key} is {value}, but it takes a provider's name"
            )));
        }
        let Some(want) = get_path(schema, &key) else {
            continue;
        };
        let fits = match (want, &value) {
            (Value::Null, _) => true,
            (Value::Number(w), Value::Number(v)) => !(w.is_u64() || w.is_i64()) || v.is_u64(),
            (Value::Bool(_), Value::Bool(_))
            | (Value::String(_), Value::String(_))
            | (Value::Array(_), Value::Array(_))
            | (Value::Object(_), Value::Object(_)) => true,
            _ => false,
        };
        if !fits {
            return Err(ConfigError::Invalid(format!(
                "{file}: {key} is {value}, but it takes {}",
                type_word(want)
            )));
        }
    }
    Ok(())
}

/// Keys of `user` that the schema does not know, as dotted names.
pub fn unknown_keys(schema: &Value, user: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, _) in leaves(user) {
        if key.is_empty() || number_map_of(&key).is_some() || super::task_keys::is_pair_key(&key) {
            continue;
        }
        // A key is known when some prefix of it is a leaf or the whole path exists.
        let parts: Vec<&str> = key.split('.').collect();
        let known = (1..=parts.len()).any(|n| {
            let p = parts[..n].join(".");
            matches!(get_path(schema, &p), Some(v) if !v.is_object() || n == parts.len())
        });
        if !known {
            out.push(key);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_keeps_siblings_at_every_depth() {
        let mut base = json!({"a": {"b": 1, "c": {"d": 2, "e": 3}}, "f": 4});
        merge_deep(&mut base, &json!({"a": {"c": {"d": 9}}}));
        assert_eq!(base, json!({"a": {"b": 1, "c": {"d": 9, "e": 3}}, "f": 4}));
    }

    #[test]
    fn coerce_follows_the_default_type() {
        assert_eq!(coerce("yes", &json!(false)).unwrap(), json!(true));
        assert_eq!(coerce("12", &json!(3)).unwrap(), json!(12));
        assert!(coerce("twelve", &json!(3)).is_err());
        assert_eq!(coerce("0.5", &json!(0.8)).unwrap(), json!(0.5));
        assert_eq!(coerce("a, b", &json!([])).unwrap(), json!(["a", "b"]));
        assert_eq!(coerce("demo", &Value::Null).unwrap(), json!("demo"));
    }

    #[test]
    fn env_names_are_upper_snake() {
        assert_eq!(
            env_name("provider_retry.max_retries"),
            "CLK_PROVIDER_RETRY_MAX_RETRIES"
        );
    }

    #[test]
    fn open_number_maps_take_any_name() {
        assert_eq!(
            number_map_of("budget.agent_usd_caps.qa"),
            Some("budget.agent_usd_caps")
        );
        assert_eq!(number_map_of("budget.agent_usd_caps"), None);
        assert_eq!(number_map_of("budget.agent_usd_caps.a.b"), None);
        let schema = json!({"budget": {"agent_usd_caps": {}}});
        let user = json!({"budget": {"agent_usd_caps": {"qa": 1}}});
        assert!(unknown_keys(&schema, &user).is_empty());
        assert_eq!(
            parse_number_map("a=1, b=2.5").unwrap(),
            json!({"a": 1.0, "b": 2.5})
        );
        assert!(parse_number_map("a").is_err());
        assert!(parse_number_map(r#"{"a": "x"}"#).is_err());
    }

    #[test]
    fn unknown_keys_are_found() {
        let schema = json!({"a": {"b": 1}, "c": 2});
        let user = json!({"a": {"b": 5, "x": 1}, "zz": 1, "c": 3});
        assert_eq!(unknown_keys(&schema, &user), vec!["a.x", "zz"]);
    }
}
