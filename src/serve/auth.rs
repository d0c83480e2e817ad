//! The bearer token: made at the first `clk serve`, kept 0600 in the user's config folder
//! (`$XDG_CONFIG_HOME/clk/serve-token`, else `~/.config/clk/`), checked on every request but
//! the health check and the dashboard's static files, compared in constant time. A token in the
//! URL is refused even when it is right: URLs end up in logs and browser history.

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::reply::ApiError;

/// The token file's name inside the config folder.
const FILE: &str = "serve-token";

/// Where the token is kept: the user-level config folder, not the project.
pub fn token_path() -> Result<PathBuf, String> {
    let dirs = directories::ProjectDirs::from("", "", "clk")
        .ok_or("cannot find your home folder to keep the serve token in; set HOME")?;
    Ok(dirs.config_dir().join(FILE))
}

/// The token, made and saved (0600) when there is none yet; `true` when it was just made.
pub fn load_or_create(path: &Path) -> Result<(String, bool), String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{} can be read by other users; run `chmod 600 {}` (or delete it for a new \
                     token)",
                    path.display(),
                    path.display()
                ));
            }
            let token = text.trim().to_string();
            if token.len() < 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "{} does not hold a usable token; delete it and clk serve makes a new one",
                    path.display()
                ));
            }
            Ok((token, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = fresh()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            f.write_all(format!("{token}\n").as_bytes())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((token, true))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// 32 random bytes from the kernel, as 64 hex digits.
fn fresh() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("cannot read random bytes for the token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal without an early exit, so the time taken says nothing about where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// Whether the query string carries a token: a parameter named like one, or the token itself.
fn token_in_query(query: &str, token: &str) -> bool {
    query.contains(token)
        || query.split('&').any(|pair| {
            let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            name.contains("token") || name == "key" || name == "auth" || name == "bearer"
        })
}

/// The refusal of a token in the URL, on any route, the open ones too.
fn in_query(query: Option<&str>, token: &str) -> Option<ApiError> {
    query.filter(|q| token_in_query(q, token)).map(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "token_in_query",
            "a token in the URL is refused (URLs end up in logs); send it as an \
             `Authorization: Bearer <token>` header",
        )
    })
}

/// Why a request's credentials are refused, or `None` when they are good.
pub fn refusal(headers: &HeaderMap, query: Option<&str>, token: &str) -> Option<ApiError> {
    if let Some(e) = in_query(query, token) {
        return Some(e);
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        None => Some(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the token from `clk serve` as an `Authorization: Bearer <token>` header",
        )),
        Some(g) if !same(g.trim().as_bytes(), token.as_bytes()) => Some(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is wrong; it is in the file clk serve named when it started",
        )),
        Some(_) => None,
    }
}

/// The middleware in front of every route: no token in the URL, even where none is needed.
pub async fn no_token_in_url(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match in_query(req.uri().query(), &app.token) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

/// The middleware in front of every route that needs the token.
pub async fn require(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match refusal(req.headers(), req.uri().query(), &app.token) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tokens_match_and_any_difference_does_not() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
        assert!(same(b"", b""));
    }

    #[test]
    fn a_token_in_the_query_is_spotted_by_name_or_value() {
        assert!(token_in_query("token=x", "secret"));
        assert!(token_in_query("a=1&access_token=x", "secret"));
        assert!(token_in_query("a=secret", "secret"));
        assert!(!token_in_query("since=4", "secret"));
    }

    #[test]
    fn the_token_file_is_made_once_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clk/serve-token");
        let (t, made) = load_or_create(&path).unwrap();
        assert!(made);
        assert_eq!(t.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, made) = load_or_create(&path).unwrap();
        assert_eq!((again, made), (t, false));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path).unwrap_err().contains("chmod 600"));
    }
}
