//! Which blackboard posts a stage sees (`inputs:`), and whether it delivered its `outputs:`.
//!
//! A selector is `type:<post type>`, `stage:<stage id>`, `author:<agent>`, `produces:<key>`,
//! `id:<post id>`, `to:<agent>`, or a bare word meaning `type:<word>`. Matching ignores case,
//! and `*` in a value matches any run of characters (`id:2025*`). A post is shown when any
//! selector matches it; no selectors means every post. Selectors are checked when the workflow
//! loads, so at run time an unparsable one (from a hand-built [`Stage`]) simply matches nothing.

use crate::engine::store::blackboard::Post;

use super::spec::Stage;

/// One parsed `inputs:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Type(String),
    Stage(String),
    Author(String),
    Produces(String),
    Id(String),
    To(String),
}

const PREFIXES: &str = "type:, stage:, author:, produces:, id:, to:, or a bare post type";

impl Selector {
    /// Read one selector; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let text = text.trim();
        let Some((prefix, value)) = text.split_once(':') else {
            if text.is_empty() {
                return Err("empty selector".into());
            }
            return Ok(Selector::Type(text.to_string()));
        };
        let value = value.trim();
        let make: fn(String) -> Selector = match prefix.trim().to_ascii_lowercase().as_str() {
            "type" => Selector::Type,
            "stage" => Selector::Stage,
            "author" => Selector::Author,
            "produces" => Selector::Produces,
            "id" => Selector::Id,
            "to" => Selector::To,
            _ => {
                return Err(format!(
                    "unknown selector prefix \"{}\" in \"{text}\" (use {PREFIXES})",
                    prefix.trim()
                ));
            }
        };
        if value.is_empty() {
            return Err(format!("selector \"{text}\" has no value after the ':'"));
        }
        Ok(make(value.to_string()))
    }

    /// True when `post` is one this selector asks for.
    pub fn matches(&self, post: &Post) -> bool {
        let opt =
            |field: &Option<String>, want: &str| field.as_deref().is_some_and(|f| glob(want, f));
        match self {
            Selector::Type(t) => glob(t, &post.post_type),
            Selector::Stage(s) => opt(&post.stage_id, s),
            Selector::Author(a) => glob(a, &post.author),
            Selector::Produces(k) => post.produces.iter().any(|p| glob(k, p)),
            Selector::Id(i) => glob(i, &post.id),
            Selector::To(a) => opt(&post.target_agent, a),
        }
    }
}

/// The posts any of `selectors` matches, in the order given; all posts when there are none.
pub fn select<'a>(posts: &'a [Post], selectors: &[String]) -> Vec<&'a Post> {
    if selectors.is_empty() {
        return posts.iter().collect();
    }
    let parsed: Vec<Selector> = selectors
        .iter()
        .filter_map(|s| Selector::parse(s).ok())
        .collect();
    posts
        .iter()
        .filter(|p| parsed.iter().any(|s| s.matches(p)))
        .collect()
}

/// The selectors a stage reads with: its own, or for a review stage that names none, the
/// posts of the stages it depends on (a review is about its upstream, not the whole board).
pub fn effective_selectors(stage: &Stage) -> Vec<String> {
    if stage.inputs.is_empty() && stage.is_review() {
        return stage
            .depends_on
            .iter()
            .map(|d| format!("stage:{d}"))
            .collect();
    }
    stage.inputs.clone()
}

/// The declared outputs that no post of the stage lists under PRODUCES (case-insensitive),
/// in declaration order.
pub fn outputs_missing(stage: &Stage, posts_by_stage: &[&Post]) -> Vec<String> {
    stage
        .outputs
        .iter()
        .filter(|key| {
            let key = key.trim();
            !posts_by_stage.iter().any(|p| {
                p.produces
                    .iter()
                    .any(|k| k.trim().eq_ignore_ascii_case(key))
            })
        })
        .cloned()
        .collect()
}

/// Case-insensitive match of `text` against `pattern`, where `*` matches any run of
/// characters. Greedy with one backtrack point, so it is linear-ish and never explodes.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, author: &str, ty: &str, stage: Option<&str>, produces: &[&str]) -> Post {
        Post {
            id: id.into(),
            author: author.into(),
            post_type: ty.into(),
            title: None,
            stage_id: stage.map(str::to_string),
            workflow: None,
            consumes: Vec::new(),
            produces: produces.iter().map(|s| s.to_string()).collect(),
            body: "b".into(),
            ts: "t".into(),
            target_agent: None,
            urgency: None,
        }
    }

    fn board() -> Vec<Post> {
        let mut q = post(
            "20250101-qa-verdict",
            "qa",
            "qa",
            Some("qa"),
            &["qa_verdict"],
        );
        q.target_agent = Some("engineer".into());
        vec![
            post(
                "20250101-eng-impl",
                "engineer",
                "implementation",
                Some("implement"),
                &[],
            ),
            q,
            post(
                "20250102-res-find",
                "researcher",
                "Finding",
                Some("research"),
                &["Findings"],
            ),
        ]
    }

    fn ids(posts: &[&Post]) -> Vec<String> {
        posts.iter().map(|p| p.id.clone()).collect()
    }

    fn sel(selectors: &[&str]) -> Vec<String> {
        let b = board();
        let s: Vec<String> = selectors.iter().map(|s| s.to_string()).collect();
        ids(&select(&b, &s))
    }

    #[test]
    fn each_selector_kind_matches_its_field() {
        assert_eq!(sel(&["type:qa"]), ["20250101-qa-verdict"]);
        assert_eq!(sel(&["stage:implement"]), ["20250101-eng-impl"]);
        assert_eq!(sel(&["author:researcher"]), ["20250102-res-find"]);
        assert_eq!(sel(&["produces:findings"]), ["20250102-res-find"]);
        assert_eq!(sel(&["id:20250101-eng-impl"]), ["20250101-eng-impl"]);
        assert_eq!(sel(&["to:engineer"]), ["20250101-qa-verdict"]);
        assert_eq!(sel(&["finding"]), ["20250102-res-find"], "bare word = type");
    }

    #[test]
    fn selectors_are_ored_case_insensitive_and_glob() {
        assert_eq!(
            sel(&["type:QA", "stage:research"]),
            ["20250101-qa-verdict", "20250102-res-find"]
        );
        assert_eq!(sel(&["id:20250101*"]).len(), 2);
        assert_eq!(sel(&["id:*-impl"]), ["20250101-eng-impl"]);
        assert_eq!(sel(&[]).len(), 3, "no selectors = every post");
        assert!(sel(&["stage:nowhere"]).is_empty());
        assert!(sel(&["tpye:qa"]).is_empty(), "unparsable matches nothing");
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        let e = Selector::parse("tpye:qa").unwrap_err();
        assert!(e.contains("\"tpye\"") && e.contains("type:"), "{e}");
        assert!(Selector::parse("stage:").unwrap_err().contains("no value"));
        assert_eq!(Selector::parse("  ").unwrap_err(), "empty selector");
        assert_eq!(
            Selector::parse(" Type : qa "),
            Ok(Selector::Type("qa".into()))
        );
    }

    #[test]
    fn glob_handles_stars_anywhere() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("*", ""));
        assert!(glob("a**", "a"));
        assert!(!glob("a*d", "abc"));
        assert!(!glob("abc", "ab"));
        assert!(glob("*b*", "ABC"));
    }

    #[test]
    fn outputs_missing_lists_undelivered_keys_in_order() {
        let b = board();
        let mut stage = crate::engine::store::workflow::tests::stage("research", "researcher", &[]);
        stage.outputs = vec!["findings".into(), "risks".into(), "qa_verdict".into()];
        let mine: Vec<&Post> = b.iter().filter(|p| p.author == "researcher").collect();
        assert_eq!(outputs_missing(&stage, &mine), ["risks", "qa_verdict"]);
        assert_eq!(outputs_missing(&stage, &[]).len(), 3);
        stage.outputs.clear();
        assert!(outputs_missing(&stage, &[]).is_empty());
    }

    #[test]
    fn review_stages_default_to_their_upstream() {
        let mut s = crate::engine::store::workflow::tests::stage("sup", "chief", &["qa", "impl"]);
        assert!(effective_selectors(&s).is_empty());
        s.phase = Some("review".into());
        assert_eq!(effective_selectors(&s), ["stage:qa", "stage:impl"]);
        s.inputs = vec!["type:qa".into()];
        assert_eq!(effective_selectors(&s), ["type:qa"]);
    }
}
