//! What undo plans and what it did: plain data shared by the commit and merge undos.

/// Author of the commits undo makes; its commits carry a `Reverts: <sha>` trailer.
pub const UNDO_AUTHOR: &str = "clk-undo";

/// One file the commit changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    /// added, modified, deleted or renamed
    pub how: &'static str,
}

/// The commit undo would revert, and whether it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub sha: String,
    pub subject: String,
    pub agent: String,
    pub when: String,
    pub changes: Vec<Change>,
    /// Why it cannot be reverted now (files changed later or uncommitted edits).
    pub blocked: Option<String>,
}

/// What a confirmed undo did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub reverted: String,
    pub sha: String,
    pub subject: String,
    pub files: Vec<String>,
}
