//! The web console: hand-written HTML, CSS and JavaScript modules (no build step, no
//! third-party code) embedded in the binary and served at `/ui/`. A browser that asks for
//! `/` with `Accept: text/html` is sent there; API clients still get Connect's JSON at `/`.
//!
//! The console is a client of the REST API in the same origin, so it sits behind the same
//! listeners (HTTP or HTTPS) and the same basic authentication as the API: the router's auth
//! layer covers `/ui` like every other path but `/health`. Its pages read Connect's resources
//! and the Conveyor-only `/conveyor/*` ones (see [`super::conveyor`]).

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::RestError;

/// Where the console lives.
pub const UI_PATH: &str = "/ui/";

/// Every file of the console: path under `/ui/`, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", HTML, include_str!("assets/index.html")),
    ("console.css", CSS, include_str!("assets/console.css")),
    ("app.js", JS, include_str!("assets/app.js")),
    ("api.js", JS, include_str!("assets/api.js")),
    ("dom.js", JS, include_str!("assets/dom.js")),
    ("chart.js", JS, include_str!("assets/chart.js")),
    (
        "pages/cluster.js",
        JS,
        include_str!("assets/pages/cluster.js"),
    ),
    (
        "pages/connector.js",
        JS,
        include_str!("assets/pages/connector.js"),
    ),
    ("pages/edit.js", JS, include_str!("assets/pages/edit.js")),
    (
        "pages/plugins.js",
        JS,
        include_str!("assets/pages/plugins.js"),
    ),
    ("pages/peek.js", JS, include_str!("assets/pages/peek.js")),
    (
        "pages/loggers.js",
        JS,
        include_str!("assets/pages/loggers.js"),
    ),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Scripts and styles from this origin only, no inline code, no framing: a page that can
/// pause or delete connectors must not be embedded in another site's page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn asset(path: &str) -> Response {
    let Some((_, content_type, body)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return RestError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found").into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Revalidated on every load, so a new binary's console is used at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    (headers, *body).into_response()
}

/// `GET /ui`: to `/ui/`, so that relative module paths resolve.
pub async fn redirect() -> Redirect {
    Redirect::permanent(UI_PATH)
}

/// `GET /ui/`.
pub async fn index() -> Response {
    asset("index.html")
}

/// `GET /ui/{*path}`.
pub async fn file(Path(path): Path<String>) -> Response {
    asset(&path)
}

/// Whether a request for `/` comes from a browser navigating (it prefers HTML), rather than an
/// API client, which gets Connect's JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .any(|t| t.split(';').next().unwrap_or("").trim() == "text/html")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_console_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/rest/console/assets");
        let mut on_disk = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    on_disk.push(rel);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|(p, _, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn every_module_import_names_an_embedded_file() {
        for (path, _, body) in ASSETS.iter().filter(|(p, _, _)| p.ends_with(".js")) {
            let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .split(['"', '\''])
                    .nth(1)
                    .unwrap_or_else(|| panic!("{path}: {line}"));
                let mut parts: Vec<&str> = if dir.is_empty() {
                    vec![]
                } else {
                    dir.split('/').collect()
                };
                for segment in target.split('/') {
                    match segment {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let resolved = parts.join("/");
                assert!(
                    ASSETS.iter().any(|(p, _, _)| *p == resolved),
                    "{path} imports {target}, which is not embedded"
                );
            }
        }
    }

    #[test]
    fn browsers_get_the_console_and_api_clients_json() {
        let mut h = HeaderMap::new();
        assert!(!wants_html(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_html(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_html(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            ),
        );
        assert!(wants_html(&h));
    }

    #[test]
    fn unknown_files_are_404_and_assets_carry_their_type() {
        assert_eq!(asset("nope.js").status(), StatusCode::NOT_FOUND);
        let r = asset("app.js");
        assert_eq!(r.headers()[header::CONTENT_TYPE], JS);
        assert!(r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
    }
}
