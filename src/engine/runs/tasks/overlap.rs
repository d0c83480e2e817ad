//! Which files a task will touch, and whether two tasks would collide.
//!
//! Before a task runs, its files are guessed from its prompt (words that look like paths:
//! `src/app.rs`, `README.md`); once it has worked, what it actually changed counts too. Two
//! tasks overlap when they share a file, or when one names a folder the other works inside.

use std::sync::LazyLock;

use regex::Regex;

use crate::engine::ground::fixed;

static PATHISH: LazyLock<Regex> = LazyLock::new(|| {
    fixed::regex(r"(?:[A-Za-z0-9_.\-]+/)+[A-Za-z0-9_.\-]*|[A-Za-z0-9_\-]+\.[A-Za-z0-9]{1,8}")
});

/// Words of `prompt` that look like paths in the project, in order, without duplicates.
pub fn predict_files(prompt: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in PATHISH.find_iter(prompt) {
        let p = m
            .as_str()
            .trim_start_matches("./")
            .trim_end_matches(['.', ','])
            .to_string();
        // "e.g" and version numbers are not files; a URL is not a project path.
        let looks_real = p.contains('/') && !p.contains("//")
            || p.rsplit_once('.').is_some_and(|(stem, ext)| {
                stem.len() > 1 && ext.chars().any(|c| c.is_ascii_alphabetic())
            });
        if looks_real && !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

fn covers(a: &str, b: &str) -> bool {
    a == b
        || (a.ends_with('/') && b.starts_with(a))
        || b.strip_prefix(a).is_some_and(|rest| rest.starts_with('/'))
}

/// The files of `a` that `b` also touches (a folder covers what is inside it).
pub fn shared(a: &[String], b: &[String]) -> Vec<String> {
    a.iter()
        .filter(|x| b.iter().any(|y| covers(x, y) || covers(y, x)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicts_paths_from_prompts() {
        assert_eq!(
            predict_files("Add a health endpoint to src/server.rs and document it in README.md."),
            vec!["src/server.rs", "README.md"]
        );
        assert_eq!(
            predict_files("fix the flaky test, e.g. the one that times out"),
            Vec::<String>::new()
        );
        assert_eq!(predict_files("clean up ./docs/ please"), vec!["docs/"]);
        assert_eq!(predict_files("bump to 1.2.3"), Vec::<String>::new());
    }

    #[test]
    fn overlap_by_file_and_folder() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(shared(&v(&["a.rs", "b.rs"]), &v(&["b.rs"])), v(&["b.rs"]));
        assert_eq!(shared(&v(&["docs/"]), &v(&["docs/x.md"])), v(&["docs/"]));
        assert_eq!(shared(&v(&["src"]), &v(&["src/x.rs"])), v(&["src"]));
        assert!(shared(&v(&["src/a.rs"]), &v(&["src/ab.rs"])).is_empty());
        assert!(shared(&v(&[]), &v(&["x"])).is_empty());
    }
}
