//! `clk configure`: show settings, or change them with dotted keys.
//!
//! `default_provider=NAME` (or `provider=NAME`) sets the active provider in providers.json;
//! `providers.NAME.FIELD=VALUE` edits a provider; `tasks.review_pairs` and `tasks.checks` take
//! the forms `task_keys.rs` describes; any other key is a clk.config.json setting.
//! Every change is checked as a whole before anything is written, so a bad value leaves the
//! files exactly as they were.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{Failure, project};
use crate::engine::ground::config::keys::{self, coerce, get_path, set_path};
use crate::engine::ground::config::task_keys;
use crate::engine::ground::config::{ClkConfig, Env, ProviderSettings, ProvidersFile, process_env};
use crate::engine::store::user;
use crate::engine::store::workspace::{Workspace, read_json, write_json};

fn no_env(_: &str) -> Option<String> {
    None
}

/// The two files a `configure` call edits: the project's, or with `--user` the user's own
/// (defaults for every project).
struct Target {
    config: PathBuf,
    providers: PathBuf,
    user: bool,
}

fn target(dir: &Path, user: bool) -> Result<Target, Failure> {
    if user {
        let env = Env::process();
        let (Some(config), Some(providers)) = (user::config_file(&env), user::providers_file(&env))
        else {
            return Err(Failure::bad_input(
                "no home folder to keep your settings in: set HOME or XDG_CONFIG_HOME",
            ));
        };
        return Ok(Target {
            config,
            providers,
            user,
        });
    }
    let p = project(dir)?;
    Ok(Target {
        config: p.ws.config_file(),
        providers: p.ws.providers_file(),
        user,
    })
}

pub fn run(dir: &Path, sets: &[String], show: bool, user: bool) -> Result<u8, Failure> {
    let t = target(dir, user)?;
    if !sets.is_empty() {
        let mut cfg_user = read_json(&t.config)?.unwrap_or_else(|| json!({}));
        let mut prov_user = read_json(&t.providers)?.unwrap_or_else(|| json!({}));
        let schema = crate::engine::ground::fixed::json(&ClkConfig::default());
        let (mut cfg_changed, mut prov_changed) = (false, false);
        // A reviewer must be a provider: the project's (with the user's own), or the file's.
        let mut provider_names: Vec<String> = project(dir)
            .map(|p| p.providers.providers.keys().cloned().collect())
            .unwrap_or_default();
        if let Ok(f) = ProvidersFile::from_json_with_env(Some(&prov_user), &no_env) {
            provider_names.extend(f.providers.keys().cloned());
        }
        provider_names.sort();
        provider_names.dedup();
        for item in sets {
            let (key, raw) = item.split_once('=').ok_or_else(|| {
                Failure::bad_input(format!(
                    "{item:?} is not KEY=VALUE (e.g. supervise.max_cycles=5)"
                ))
            })?;
            // `sandbox=off` is short for `sandbox.mode=off`.
            let key = match key.trim() {
                "sandbox" => "sandbox.mode",
                k => k,
            };
            if key == "default_provider" || key == "provider" || key == "active" {
                set_path(
                    &mut prov_user,
                    "active",
                    Value::String(raw.trim().to_string()),
                );
                prov_changed = true;
            } else if let Some(rest) = key.strip_prefix("providers.") {
                let (name, field) = rest.split_once('.').ok_or_else(|| {
                    Failure::bad_input(format!(
                        "{key}: use providers.NAME.FIELD (e.g. providers.ollama.model)"
                    ))
                })?;
                if let Some((model, part)) = price_field(field) {
                    let v = coerce(raw, &json!(0.5))
                        .map_err(|why| Failure::bad_input(format!("{key}: {why}")))?;
                    set_price(&mut prov_user, name, model, part, v);
                    prov_changed = true;
                    continue;
                }
                let like = if field.strip_prefix("env.").is_some_and(|v| !v.is_empty()) {
                    Some(json!(""))
                } else {
                    ProviderSettings::fields()
                        .into_iter()
                        .find(|(f, like)| f == field && !like.is_object())
                        .map(|(_, like)| like)
                };
                let Some(like) = like else {
                    return Err(Failure::bad_input(format!(
                        "{key}: unknown provider field {field:?}; fields: {}",
                        ProviderSettings::settable().join(", ")
                    )));
                };
                let v = coerce(raw, &like)
                    .map_err(|why| Failure::bad_input(format!("{key}: {why}")))?;
                set_path(&mut prov_user, &format!("providers.{name}.{field}"), v);
                prov_changed = true;
            } else if let Some(v) = task_keys::parse(key, raw, &provider_names) {
                let v = v.map_err(|why| Failure::bad_input(format!("{key}: {why}")))?;
                set_path(&mut cfg_user, key, v);
                cfg_changed = true;
            } else if keys::number_map_of(key).is_some() {
                let v = coerce(raw, &json!(0.5))
                    .map_err(|why| Failure::bad_input(format!("{key}: {why}")))?;
                set_path(&mut cfg_user, key, v);
                cfg_changed = true;
            } else {
                let Some(default) = get_path(&schema, key) else {
                    return Err(Failure::bad_input(format!(
                        "unknown setting {key:?}; `clk configure --show` lists them"
                    )));
                };
                if default.is_object() {
                    return Err(Failure::bad_input(format!(
                        "{key} is a block; set one of its keys, e.g. {key}.{}",
                        default
                            .as_object()
                            .and_then(|m| m.keys().next())
                            .cloned()
                            .unwrap_or_default()
                    )));
                }
                let v = coerce(raw, default)
                    .map_err(|why| Failure::bad_input(format!("{key}: {why}")))?;
                set_path(&mut cfg_user, key, v);
                cfg_changed = true;
            }
        }
        if let Some(why) = half_price(&prov_user) {
            return Err(Failure::bad_input(why));
        }
        // Check the result as a whole before writing anything.
        ClkConfig::from_json_with_env(Some(&cfg_user), &no_env)?;
        let prov = ProvidersFile::from_json_with_env(Some(&prov_user), &no_env)?;
        prov.check()?;
        if cfg_changed {
            write_json(&t.config, &cfg_user).map_err(|e| {
                Failure::failed(format!("cannot write {}: {e}", t.config.display()))
            })?;
        }
        if prov_changed {
            write_json(&t.providers, &prov_user).map_err(|e| {
                Failure::failed(format!("cannot write {}: {e}", t.providers.display()))
            })?;
        }
        let whose = if t.user {
            " (your settings, for every project)"
        } else {
            ""
        };
        for item in sets {
            let key = item.split_once('=').map(|(k, _)| k.trim()).unwrap_or(item);
            let shown = if key.contains("api_key") {
                format!("{key}=<hidden>")
            } else {
                item.clone()
            };
            println!("set {shown}{whose}");
        }
        let unknown = keys::unknown_keys(&schema, &cfg_user);
        if !unknown.is_empty() {
            println!(
                "note: clk.config.json has keys clk does not use: {}",
                unknown.join(", ")
            );
        }
    }
    if show || sets.is_empty() {
        if t.user && Workspace::find(dir).is_none() {
            // Outside a project: the user's own files, as they are.
            let mut providers = read_json(&t.providers)?.unwrap_or_else(|| json!({}));
            crate::engine::ground::redact::redact_json(&mut providers);
            let doc = json!({
                "files": {"user": t.config.parent().map(|d| d.display().to_string())},
                "config": read_json(&t.config)?.unwrap_or_else(|| json!({})),
                "providers": providers,
            });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            return Ok(super::EXIT_OK);
        }
        let p = project(dir)?;
        let mut providers = serde_json::to_value(&p.providers).unwrap_or_default();
        crate::engine::ground::redact::redact_json(&mut providers);
        let doc = json!({
            "config": p.config,
            "providers": providers,
            "env_overrides": env_in_use(),
            "sources": super::configure_sources::sources(&p)?,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    Ok(super::EXIT_OK)
}

use crate::engine::ground::config::providers::PRICE_PARTS;

/// `price.input_per_mtok` -> (None, part); `prices.gpt-4.1.input_per_mtok` -> (Some(model),
/// part). Model names may contain dots, so the part is the last segment.
fn price_field(field: &str) -> Option<(Option<&str>, &str)> {
    if let Some(part) = field.strip_prefix("price.") {
        return PRICE_PARTS.contains(&part).then_some((None, part));
    }
    let (model, part) = field.strip_prefix("prices.")?.rsplit_once('.')?;
    (!model.is_empty() && PRICE_PARTS.contains(&part)).then_some((Some(model), part))
}

/// A price in `prov` that lacks one of the two figures every price needs, said as what to set.
fn half_price(prov: &Value) -> Option<String> {
    let providers = prov.get("providers")?.as_object()?;
    for (name, p) in providers {
        let mut prices: Vec<(String, &Value)> = Vec::new();
        if let Some(one) = p.get("price") {
            prices.push(("price".into(), one));
        }
        if let Some(map) = p.get("prices").and_then(Value::as_object) {
            prices.extend(map.iter().map(|(m, v)| (format!("prices.{m}"), v)));
        }
        for (at, price) in prices {
            for part in ["input_per_mtok", "output_per_mtok"] {
                if price.is_object() && price.get(part).is_none() {
                    return Some(format!(
                        "providers.{name}.{at} needs {part} too: add --set \
                         providers.{name}.{at}.{part}=USD (per million tokens)"
                    ));
                }
            }
        }
    }
    None
}

/// Set one figure of a provider's price without splitting the model name on its dots.
fn set_price(prov_user: &mut Value, name: &str, model: Option<&str>, part: &str, v: Value) {
    let slot = |v: &mut Value, k: &str| -> Value {
        if !v.is_object() {
            *v = json!({});
        }
        match v.as_object_mut() {
            Some(map) => map.entry(k.to_string()).or_insert_with(|| json!({})).take(),
            None => json!({}),
        }
    };
    let mut providers = slot(prov_user, "providers");
    let mut provider = slot(&mut providers, name);
    match model {
        None => {
            let mut price = slot(&mut provider, "price");
            price[part] = v;
            provider["price"] = price;
        }
        Some(m) => {
            let mut prices = slot(&mut provider, "prices");
            let mut one = slot(&mut prices, m);
            one[part] = v;
            prices[m] = one;
            provider["prices"] = prices;
        }
    }
    providers[name] = provider;
    prov_user["providers"] = providers;
}

/// Names of CLK_* variables currently set (values left out: they may be secrets).
fn env_in_use() -> Vec<String> {
    let mut v: Vec<String> = std::env::vars()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("CLK_") && process_env(k).is_some())
        .collect();
    v.sort();
    v
}

/// The provider fields `configure --set` takes, from the provider settings type.
pub fn help() -> String {
    format!(
        "Provider fields (providers.NAME.FIELD=VALUE): {}\n\n\
         Task reviewers and checks:\n  \
         --set tasks.review_pairs.claude=codex        work done on claude is reviewed on codex\n  \
         --set tasks.review_pairs.claude=             claude's tasks get no reviewer\n  \
         --set tasks.review_pairs=claude=codex,codex=claude   several pairs (or a JSON object)\n  \
         --set 'tasks.checks=cargo test --all'        one check command (commas are kept)\n  \
         --set 'tasks.checks=[\"cargo test\", \"make lint\"]'   several (a JSON list)\n  \
         --set tasks.checks=                          none: the project's shape decides",
        crate::engine::ground::config::ProviderSettings::settable().join(", ")
    )
}
