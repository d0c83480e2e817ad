//! How risky a finished task's change is, for `balanced` autonomy: a change that touches CI
//! config, lockfiles, migrations or secrets-like files, or is large, waits for approval; a
//! small ordinary one merges by itself.

/// Files past this many make a change large.
pub const MANY_FILES: usize = 20;
/// Changed lines past this many make a change large.
pub const MANY_LINES: usize = 400;

/// What kind of sensitive file `path` is, if any.
pub fn sensitive(path: &str) -> Option<&'static str> {
    let lower = path.to_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    if lower.starts_with(".github/workflows/")
        || lower.starts_with(".gitlab-ci")
        || lower.starts_with(".circleci/")
        || name == "jenkinsfile"
    {
        return Some("CI config");
    }
    if matches!(
        name,
        "cargo.lock"
            | "package-lock.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "poetry.lock"
            | "go.sum"
            | "gemfile.lock"
            | "composer.lock"
    ) {
        return Some("a lockfile");
    }
    if lower
        .split('/')
        .any(|p| p == "migrations" || p == "migrate")
    {
        return Some("a migration");
    }
    if name.starts_with(".env")
        || name.ends_with(".pem")
        || name.ends_with(".key")
        || name.contains("secret")
        || name.contains("credential")
        || name == "id_rsa"
    {
        return Some("a secrets-like file");
    }
    None
}

/// Why the change needs a person's approval under `balanced`, or None when it is low-risk.
pub fn needs_approval(files: &[String], lines: usize) -> Option<String> {
    if let Some((f, kind)) = files.iter().find_map(|f| sensitive(f).map(|k| (f, k))) {
        return Some(format!("it changes {f} ({kind})"));
    }
    if files.len() > MANY_FILES {
        return Some(format!(
            "it changes {} files (more than {MANY_FILES})",
            files.len()
        ));
    }
    if lines > MANY_LINES {
        return Some(format!("it changes {lines} lines (more than {MANY_LINES})"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn sensitive_paths_and_size_need_approval() {
        assert_eq!(needs_approval(&v(&["src/app.rs", "README.md"]), 40), None);
        let why = |f: &[&str]| needs_approval(&v(f), 1).unwrap();
        assert!(why(&[".github/workflows/ci.yml"]).contains("CI config"));
        assert!(why(&["Cargo.lock"]).contains("a lockfile"));
        assert!(why(&["db/migrations/001_init.sql"]).contains("a migration"));
        assert!(why(&[".env.production"]).contains("secrets-like"));
        assert!(why(&["config/aws_credentials.json"]).contains("secrets-like"));
        let many: Vec<String> = (0..21).map(|i| format!("f{i}.rs")).collect();
        assert!(needs_approval(&many, 10).unwrap().contains("21 files"));
        assert!(
            needs_approval(&v(&["a.rs"]), 401)
                .unwrap()
                .contains("401 lines")
        );
    }
}
