//! Text analysis behind the casting rules: name normalization, name keys, prompt similarity.
//!
//! Everything here is pure and total: any string in, a value out, no panics. A *name key* is
//! what two role names are compared by. It folds the synonyms the chief keeps reaching for
//! (coder, developer, tester, ...) onto one canonical role, drops seniority words (senior,
//! lead, ...) and strips English suffixes, so `senior-developer`, `coders` and `engineer` land
//! on the same key while `data_steward` keeps its own.

use crate::engine::store::prompts::PROTOCOL_MARKER;

/// Words the chief uses for roles we already have, mapped to the canonical role.
const SYNONYMS: &[(&str, &str)] = &[
    ("coder", "engineer"),
    ("developer", "engineer"),
    ("engineering", "engineer"),
    ("programmer", "engineer"),
    ("implementer", "engineer"),
    ("implementor", "engineer"),
    ("builder", "engineer"),
    ("dev", "engineer"),
    ("software_engineer", "engineer"),
    ("swe", "engineer"),
    ("tester", "qa"),
    ("quality", "qa"),
    ("validator", "qa"),
    ("auditor", "qa"),
    ("reviewer", "qa"),
    ("qa_engineer", "qa"),
    ("research", "researcher"),
    ("scientist", "researcher"),
    ("investigator", "researcher"),
    ("analysis", "analyst"),
    ("analytics", "analyst"),
    ("writer", "doc_writer"),
    ("documenter", "doc_writer"),
    ("scribe", "doc_writer"),
    ("ops", "operator"),
    ("devops", "operator"),
    ("deploy", "operator"),
    ("deployer", "operator"),
    // Not in the reference table: suffix stripping leaves "oper" here and "operat" for
    // operator, which would let `operations` through as a second operator.
    ("operations", "operator"),
    ("ux", "ux_writer"),
    ("designer", "ux_writer"),
];

/// Rank and filler words that do not change what a role does: `qa_lead` is still qa.
/// Dropped from multi-part names only; a name made of nothing else keeps its words.
const MODIFIERS: &[&str] = &[
    "senior",
    "junior",
    "lead",
    "principal",
    "staff",
    "head",
    "chief",
    "main",
    "primary",
    "general",
    "expert",
    "specialist",
    "agent",
    "bot",
    "assistant",
    "helper",
    "team",
    "ai",
    "role",
    "of",
    "the",
];

/// Suffixes stripped in this order, one per round; `ies` becomes `y`.
const SUFFIXES: &[(&str, &str)] = &[
    ("ization", ""),
    ("ation", ""),
    ("ment", ""),
    ("ance", ""),
    ("ence", ""),
    ("ity", ""),
    ("ies", "y"),
    ("ing", ""),
    ("es", ""),
    ("s", ""),
    ("er", ""),
    ("or", ""),
    ("ist", ""),
];

const MIN_STEM: usize = 3;
const MAX_ROUNDS: usize = 6;

/// Common words that say nothing about what a role does.
const STOP_WORDS: &[&str] = &[
    "the", "and", "for", "you", "your", "with", "that", "this", "are", "from", "into", "not",
    "but", "all", "any", "can", "will", "each", "its", "our", "has", "have", "was", "were", "what",
    "when", "which", "who", "how", "then", "than", "them", "they", "their", "there", "these",
    "those", "only", "also", "must", "should", "would", "could", "may", "one", "use", "per", "out",
    "about", "over", "under", "more", "most", "other", "some", "such", "own", "same", "very",
    "just", "via", "does", "did", "been", "being", "here", "where", "why", "onto", "upon",
];

/// Runs of anything but `[A-Za-z0-9_]` become `_`, `_` is trimmed from both ends, lowercased.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.trim_matches('_').to_string()
}

fn synonym(word: &str) -> Option<&'static str> {
    SYNONYMS.iter().find(|(w, _)| *w == word).map(|(_, c)| *c)
}

/// One round of suffix stripping: the first listed suffix whose removal leaves a long
/// enough stem.
fn strip_once(word: &str) -> Option<String> {
    SUFFIXES.iter().find_map(|(suffix, repl)| {
        let stem = word.strip_suffix(suffix)?;
        (stem.len() + repl.len() >= MIN_STEM).then(|| format!("{stem}{repl}"))
    })
}

/// The forms a word passes through while its suffixes are stripped, the word itself first.
fn strip_chain(word: &str) -> Vec<String> {
    let mut chain = vec![word.to_string()];
    for _ in 0..MAX_ROUNDS {
        let Some(next) = chain.last().and_then(|w| strip_once(w)) else {
            break;
        };
        chain.push(next);
    }
    chain
}

/// Suffix-stripped form of a word (or of each part of a canonical name like `doc_writer`).
fn stem(word: &str) -> String {
    word.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| strip_chain(p).pop().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("_")
}

/// A word's key and the canonical role it names, if any. Synonyms are looked up at every
/// stage of stripping, so plurals (`coders`, `devs`) still find their canonical role.
fn word_key(word: &str) -> (String, Option<&'static str>) {
    let chain = strip_chain(word);
    if let Some(canon) = chain.iter().find_map(|w| synonym(w)) {
        return (stem(canon), Some(canon));
    }
    // `engineers` reaches `engineer` on its way down: count it as naming the engineer.
    let canon = chain.iter().any(|w| w == "engineer").then_some("engineer");
    (chain.last().cloned().unwrap_or_default(), canon)
}

/// The key of a normalized name, and the canonical roles its words name.
fn analyse(name: &str) -> (String, Vec<&'static str>) {
    let n = normalize(name);
    // Whole-name synonyms first, with and without underscores: `dev-ops` is `devops`.
    let joined = n.replace('_', "");
    if let Some(canon) = synonym(&n).or_else(|| synonym(&joined)) {
        return (stem(canon), vec![canon]);
    }
    let parts: Vec<&str> = n.split('_').filter(|p| !p.is_empty()).collect();
    let meaningful: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !MODIFIERS.contains(p))
        .collect();
    let parts = if meaningful.is_empty() {
        parts
    } else {
        meaningful
    };
    let mut keys = Vec::with_capacity(parts.len());
    let mut canons = Vec::new();
    for part in parts {
        let (key, canon) = word_key(part);
        keys.push(key);
        canons.extend(canon);
    }
    (keys.join("_"), canons)
}

/// The key two role names are compared by (parts joined with `_`).
pub fn name_key(name: &str) -> String {
    analyse(name).0
}

/// True when any word of the name names the engineer (`senior_developer`, `backend_engineer`,
/// `coders`): engineer variants are refused outright, whatever else the name says.
pub fn names_engineer(name: &str) -> bool {
    let (key, canons) = analyse(name);
    canons.contains(&"engineer") || key == stem("engineer")
}

/// Near-duplicate keys: equal (part boundaries ignored, so `auto_research` clashes with
/// `autoresearch`), or the shorter key, at least six letters long, is the leading whole
/// words of the longer one (`research_plann` clashes with `research`). A prefix inside a
/// word does not count: `critical_path` is not a kind of `critic`.
pub fn keys_clash(a: &str, b: &str) -> bool {
    let flat = |k: &str| k.replace('_', "");
    let (fa, fb) = (flat(a), flat(b));
    if fa.is_empty() || fb.is_empty() {
        return false;
    }
    if fa == fb {
        return true;
    }
    let (short, long, flat_short) = if fa.len() <= fb.len() {
        (a, b, fa)
    } else {
        (b, a, fb)
    };
    flat_short.len() >= 6
        && long
            .strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('_'))
}

/// Content words of a prompt: the shared protocol section and `$placeholders` removed, then
/// lowercase alphanumeric tokens longer than two characters that are not stop words.
/// Placeholders are plumbing every prompt shares; counting them would make any two
/// house-style prompts look alike.
fn content_tokens(prompt: &str) -> std::collections::BTreeSet<String> {
    let own = prompt
        .find(PROTOCOL_MARKER)
        .map_or(prompt, |i| &prompt[..i]);
    let mut tokens = std::collections::BTreeSet::new();
    let mut word = String::new();
    let mut placeholder = false;
    let mut prev = ' ';
    for c in own.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if c == '_' && placeholder {
            // `$state_summary` is one placeholder, not the words state and summary.
        } else {
            if !placeholder && word.chars().count() > 2 && !STOP_WORDS.contains(&word.as_str()) {
                tokens.insert(std::mem::take(&mut word));
            }
            word.clear();
            placeholder = c == '$' || (c == '{' && prev == '$');
        }
        prev = c;
    }
    tokens
}

/// Jaccard similarity (0..=1) of two prompts' content words; 0 when either has none.
pub fn prompt_similarity(a: &str, b: &str) -> f64 {
    let a = content_tokens(a);
    let b = content_tokens(b);
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(&b).count();
    let union = a.len() + b.len() - shared;
    shared as f64 / union as f64
}
