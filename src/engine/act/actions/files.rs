//! The file operations behind write, append, edit and delete, each returning the line the
//! `Event::Action` shows, or why it could not be done. Paths are already jailed and checked.

use std::path::Path;

/// Why an existing path must not be written as a file: folders, FIFOs, devices and sockets
/// (a FIFO would block the write forever), and files with other hard links (writing one
/// would change the other name too, which may lie in .git/ or outside the project).
pub(super) fn not_a_plain_file(abs: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(abs).ok()?;
    if meta.is_dir() {
        return Some("is a directory".into());
    }
    if !meta.is_file() {
        return Some("is not a regular file (a FIFO, device or socket)".into());
    }
    if meta.nlink() > 1 {
        return Some("has other hard links; agents may only change files with one name".into());
    }
    None
}

pub(super) fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

pub(super) fn write_file(abs: &Path, content: &str) -> Result<String, String> {
    if let Some(p) = abs.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("cannot create folder: {e}"))?;
    }
    let existed = abs.exists();
    std::fs::write(abs, content).map_err(|e| format!("cannot write: {e}"))?;
    Ok(format!(
        "{} ({} bytes)",
        if existed { "overwrote" } else { "created" },
        content.len()
    ))
}

pub(super) fn append_file(abs: &Path, content: &str) -> Result<String, String> {
    use std::io::Write;
    if let Some(p) = abs.parent() {
        std::fs::create_dir_all(p).map_err(|e| format!("cannot create folder: {e}"))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(abs)
        .map_err(|e| format!("cannot open: {e}"))?;
    f.write_all(content.as_bytes())
        .map_err(|e| format!("cannot append: {e}"))?;
    Ok(format!("appended {} bytes", content.len()))
}

pub(super) fn edit_file(abs: &Path, old: &str, new: &str) -> Result<String, String> {
    if old.is_empty() {
        return Err("OLD is empty; quote the exact text to replace".into());
    }
    let text = std::fs::read_to_string(abs).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "file does not exist; use ACTION: write".to_string(),
        _ => format!("cannot read: {e}"),
    })?;
    // Agents write \n; keep a CRLF file's line endings.
    let (old, new) = if !text.contains(old) && text.contains("\r\n") {
        (old.replace('\n', "\r\n"), new.replace('\n', "\r\n"))
    } else {
        (old.to_string(), new.to_string())
    };
    match text.matches(old.as_str()).count() {
        0 => Err("OLD text not found in the file; copy it exactly from the current file".into()),
        1 => {
            let updated = text.replacen(old.as_str(), &new, 1);
            std::fs::write(abs, &updated).map_err(|e| format!("cannot write: {e}"))?;
            Ok("replaced 1 match".into())
        }
        n => Err(format!(
            "OLD text matches {n} places; include more surrounding lines so it matches once"
        )),
    }
}

pub(super) fn delete_file(abs: &Path) -> Result<String, String> {
    match std::fs::remove_file(abs) {
        Ok(()) => Ok("deleted".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("file does not exist".into()),
        Err(e) => Err(format!("cannot delete: {e}")),
    }
}
