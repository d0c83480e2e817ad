//! Where each effective setting came from, for `clk configure --show`: the built-in
//! `default`, the user's own settings (`user`), the project's files (`project`) or a `CLK_*`
//! variable (`env`), later ones winning in that order.

use serde_json::{Map, Value, json};

use super::Failure;
use crate::engine::ground::config::keys;
use crate::engine::store::user;
use crate::engine::store::workspace::{Project, read_json};

/// Whether `file` sets `dotted` (or holds a plain value on its way there, as the short form
/// `"sandbox": "off"` does for `sandbox.mode`).
fn sets(file: &Value, dotted: &str) -> bool {
    let mut at = file;
    for part in dotted.split('.') {
        match at {
            Value::Object(map) => match map.get(part) {
                Some(next) => at = next,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

fn origin(key: &str, env_var: Option<String>, p: &Project, project: &Value, mine: &Value) -> Value {
    let word = if env_var.is_some_and(|v| p.env.get(&v).is_some()) {
        "env"
    } else if sets(project, key) {
        "project"
    } else if sets(mine, key) {
        "user"
    } else {
        "default"
    };
    Value::String(word.to_string())
}

/// `{"files": {...}, "config": {key: origin}, "providers": {key: origin}}` for every leaf of the
/// effective settings. Only words, never values, so no key can leak through here.
pub fn sources(p: &Project) -> Result<Value, Failure> {
    let empty = || json!({});
    let user_cfg_path = user::config_file(&p.env);
    let user_prov_path = user::providers_file(&p.env);
    let user_cfg = user::read_object(user_cfg_path.as_deref())?.unwrap_or_else(empty);
    let user_prov = user::read_object(user_prov_path.as_deref())?.unwrap_or_else(empty);
    let proj_cfg = read_json(&p.ws.config_file())?.unwrap_or_else(empty);
    let proj_prov = read_json(&p.ws.providers_file())?.unwrap_or_else(empty);

    let mut config = Map::new();
    let effective = serde_json::to_value(&p.config).unwrap_or_default();
    for (key, _) in keys::leaves(&effective) {
        let var = Some(keys::env_name(&key));
        let o = origin(&key, var, p, &proj_cfg, &user_cfg);
        config.insert(key, o);
    }
    let mut providers = Map::new();
    let effective = serde_json::to_value(&p.providers).unwrap_or_default();
    for (key, _) in keys::leaves(&effective) {
        // providers.NAME.FIELD may be set by CLK_<NAME>_<FIELD>; deeper keys (prices, env)
        // only by the files.
        let parts: Vec<&str> = key.split('.').collect();
        let var = match parts.as_slice() {
            ["providers", name, field] => Some(format!(
                "CLK_{}_{}",
                name.to_ascii_uppercase().replace('-', "_"),
                field.to_ascii_uppercase()
            )),
            _ => None,
        };
        let o = origin(&key, var, p, &proj_prov, &user_prov);
        providers.insert(key, o);
    }
    let shown = |path: Option<std::path::PathBuf>| {
        path.map(|p| Value::String(p.display().to_string()))
            .unwrap_or(Value::Null)
    };
    Ok(json!({
        "files": {
            "user": shown(user_cfg_path.and_then(|f| f.parent().map(|d| d.to_path_buf()))),
            "project": shown(p.ws.config_file().parent().map(|d| d.to_path_buf())),
        },
        "config": config,
        "providers": providers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_sets_a_key_or_a_short_form_above_it() {
        let f = json!({"supervise": {"max_cycles": 3}, "sandbox": "off"});
        assert!(sets(&f, "supervise.max_cycles"));
        assert!(!sets(&f, "supervise.other"));
        assert!(sets(&f, "sandbox.mode"));
        assert!(!sets(&f, "ui.theme"));
    }
}
