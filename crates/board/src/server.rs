//! The HTTP side: routes, embedded assets, server-sent events and the guards (read-only,
//! `GET` only, ids never paths, `Host` checked on a loopback address).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::error::BoardError;
use crate::run::{self, RunData, Stamp};
use crate::scan::{Found, Roots};
use crate::study;

/// How often a live page's watched files are looked at.
pub const POLL: Duration = Duration::from_millis(400);

/// Points per curve a page gets at most (longer curves are downsampled).
pub const MAX_POINTS: usize = 2000;

/// The board's shared state: its folders and the runs read so far.
pub(crate) struct Shared {
    pub(crate) roots: Roots,
    runs: Mutex<HashMap<PathBuf, (Stamp, Arc<RunData>)>>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// `Host` values accepted (empty: any, when serving on a non-loopback address).
    pub(crate) hosts: Vec<String>,
}

pub(crate) fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Shared {
    pub(crate) fn new(roots: Roots, shutdown: watch::Receiver<bool>, hosts: Vec<String>) -> Self {
        Shared {
            roots,
            runs: Mutex::new(HashMap::new()),
            shutdown,
            hosts,
        }
    }

    /// The run in `dir`, read again only when one of its files changed.
    fn run(&self, dir: &Path) -> Arc<RunData> {
        let s = run::stamp(dir);
        if let Some((old, data)) = self.cache().get(dir) {
            if *old == s {
                return data.clone();
            }
        }
        let data = Arc::new(run::read(dir, &self.roots));
        self.cache().insert(dir.to_path_buf(), (s, data.clone()));
        data
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Stamp, Arc<RunData>)>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads every run of `found`, on all cores when many changed.
    fn read_all(&self, found: &Found) -> Vec<Arc<RunData>> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = found.runs.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = found
                .runs
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || part.iter().map(|(_, d)| self.run(d)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }

    /// The runs list: a row per run (with the hyperparameters that differ between runs), the
    /// metrics seen, and a line per study.
    pub(crate) fn runs_list(&self) -> Value {
        let found = self.roots.walk();
        let now = now();
        let data = self.read_all(&found);
        let mut rows: Vec<run::RunRow> = found
            .runs
            .iter()
            .zip(&data)
            .map(|((id, _), d)| run::row(id, d, now))
            .collect();
        let differing = differing_keys(&rows);
        let mut metrics: Vec<String> = Vec::new();
        for r in &mut rows {
            r.params.retain(|k, _| differing.contains(k));
            for k in r.best.keys().chain(r.last.keys()) {
                if !metrics.contains(k) {
                    metrics.push(k.clone());
                }
            }
        }
        metrics.sort();
        let studies: Vec<Value> = found
            .studies
            .iter()
            .map(|(id, dir)| match study::read(id, dir, &self.roots) {
                Ok(s) => study::brief(id, &s),
                Err(e) => json!({ "id": id, "name": id, "error": e.to_string() }),
            })
            .collect();
        json!({
            "folders": self.roots.folders(),
            "runs": rows,
            "differing": differing,
            "metrics": metrics,
            "studies": studies,
        })
    }

    fn find_run(&self, id: &str) -> Result<PathBuf, BoardError> {
        self.roots
            .walk()
            .runs
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, d)| d)
            .ok_or_else(|| BoardError::NotFound {
                kind: "run",
                id: id.to_string(),
            })
    }

    fn find_study(&self, id: &str) -> Result<PathBuf, BoardError> {
        self.roots
            .walk()
            .studies
            .into_iter()
            .find(|(i, _)| i == id)
            .map(|(_, d)| d)
            .ok_or_else(|| BoardError::NotFound {
                kind: "study",
                id: id.to_string(),
            })
    }

    /// The page of run `id`.
    pub(crate) fn run_page(&self, id: &str) -> Result<Value, BoardError> {
        let dir = self.find_run(id)?;
        let data = self.run(&dir);
        Ok(run::page(id, &dir, &data, now(), MAX_POINTS))
    }

    /// The curves and config differences of several runs.
    pub(crate) fn compare(&self, ids: &[String]) -> Result<Value, BoardError> {
        let mut runs = Vec::new();
        let mut rows = Vec::new();
        for id in ids {
            let dir = self.find_run(id)?;
            let data = self.run(&dir);
            rows.push(run::row(id, &data, now()));
            runs.push(json!({ "id": id, "curves": run::curves(&data.records, MAX_POINTS) }));
        }
        let differing = differing_keys(&rows);
        for r in &mut rows {
            r.params.retain(|k, _| differing.contains(k));
        }
        Ok(json!({ "runs": runs, "rows": rows, "differing": differing }))
    }

    /// The page of study `id`.
    pub(crate) fn study_page(&self, id: &str) -> Result<Value, BoardError> {
        let dir = self.find_study(id)?;
        let data = study::read(id, &dir, &self.roots)?;
        let found = self.roots.walk();
        let trial_dir = dir.join("trials");
        let run_of = |n: u64| {
            let want = trial_dir.join(format!("{n:04}"));
            found
                .runs
                .iter()
                .find(|(_, d)| *d == want)
                .map(|(i, _)| i.clone())
        };
        Ok(study::page(id, &data, &run_of))
    }

    /// A number that changes when what `watch` shows changes.
    pub(crate) fn fingerprint(&self, watch: &Watch) -> u64 {
        let mut h = DefaultHasher::new();
        match watch {
            Watch::Runs => {
                let found = self.roots.walk();
                for (id, dir) in &found.runs {
                    (id, run::stamp(dir)).hash(&mut h);
                }
                for (id, dir) in &found.studies {
                    id.hash(&mut h);
                    study_fingerprint(id, dir, &self.roots).hash(&mut h);
                }
            }
            Watch::Run(id) => match self.find_run(id) {
                Ok(dir) => run::stamp(&dir).hash(&mut h),
                Err(_) => 0.hash(&mut h),
            },
            Watch::Study(id) => match self.find_study(id) {
                Ok(dir) => study_fingerprint(id, &dir, &self.roots).hash(&mut h),
                Err(_) => 0.hash(&mut h),
            },
        }
        h.finish()
    }
}

fn study_fingerprint(id: &str, dir: &Path, roots: &Roots) -> String {
    match study::read(id, dir, roots) {
        Ok(s) => study::fingerprint(&s.trials),
        Err(e) => e.to_string(),
    }
}

/// The config paths whose values are not the same in every row that has a config (absent
/// counts as a value; a run whose config.toml is missing or unreadable is left out).
fn differing_keys(rows: &[run::RunRow]) -> Vec<String> {
    let rows: Vec<&run::RunRow> = rows.iter().filter(|r| !r.params.is_empty()).collect();
    if rows.len() < 2 {
        return Vec::new();
    }
    let mut keys: Vec<&String> = rows.iter().flat_map(|r| r.params.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            let first = rows[0].params.get(*k);
            rows.iter().any(|r| r.params.get(*k) != first)
        })
        .cloned()
        .collect()
}

/// What a page watches for changes.
#[derive(Clone, Debug)]
pub(crate) enum Watch {
    /// The runs list.
    Runs,
    /// One run.
    Run(String),
    /// One study.
    Study(String),
}

/// The values of `key` in a query string (`a=1&a=2`), percent-decoded.
pub(crate) fn query_values(raw: Option<&str>, key: &str) -> Vec<String> {
    raw.unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k)? == key).then(|| decode(v)).flatten()
        })
        .collect()
}

/// Percent-decoding (`+` is a space); `None` for a malformed escape or bytes that are not
/// UTF-8.
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

type AppState = Arc<Shared>;

/// The board's routes.
pub(crate) fn router(shared: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
        .route("/api/runs", get(api_runs))
        .route("/api/run", get(api_run))
        .route("/api/compare", get(api_compare))
        .route("/api/study", get(api_study))
        .route("/api/events", get(api_events))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), guard))
        .with_state(shared)
}

/// Refuses requests whose `Host` is not this machine's loopback name (a web page elsewhere
/// cannot read the board through DNS rebinding), and adds the headers every answer carries.
async fn guard(State(shared): State<AppState>, request: Request, next: Next) -> Response {
    if !shared.hosts.is_empty() {
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !shared.hosts.iter().any(|h| h == host) {
            return (StatusCode::FORBIDDEN, "unexpected Host header\n").into_response();
        }
    }
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn json_response(v: Value) -> Response {
    let mut r = axum::Json(v).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn board_error(e: BoardError) -> Response {
    let status = match e {
        BoardError::NotFound { .. } => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, &e.to_string())
}

/// Runs `f` on the blocking pool (file and database reads).
async fn blocking(f: impl FnOnce() -> Result<Value, BoardError> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => json_response(v),
        Ok(Err(e)) => board_error(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn index() -> Response {
    asset_response("index.html")
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    asset_response(&name)
}

fn asset_response(name: &str) -> Response {
    match crate::assets::get(name) {
        Some((bytes, mime)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            ],
            bytes,
        )
            .into_response(),
        None => not_found_sync(),
    }
}

fn not_found_sync() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

async fn api_runs(State(s): State<AppState>) -> Response {
    blocking(move || Ok(s.runs_list())).await
}

/// The first `id` of the query, or the 400 response to send when there is none.
fn one_id(raw: &Option<String>) -> Result<String, Box<Response>> {
    query_values(raw.as_deref(), "id")
        .into_iter()
        .next()
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::BAD_REQUEST,
                "expected ?id=<run or study id>",
            ))
        })
}

async fn api_run(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    match one_id(&q) {
        Ok(id) => blocking(move || s.run_page(&id)).await,
        Err(r) => *r,
    }
}

async fn api_compare(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let ids = query_values(q.as_deref(), "id");
    if ids.is_empty() {
        return error(StatusCode::BAD_REQUEST, "expected ?id=<run>&id=<run>...");
    }
    blocking(move || s.compare(&ids)).await
}

async fn api_study(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    match one_id(&q) {
        Ok(id) => blocking(move || s.study_page(&id)).await,
        Err(r) => *r,
    }
}

/// `GET /api/events?watch=runs|run|study[&id=ID]`: a `change` event whenever what the page
/// shows changed (looked at every [`POLL`]); the stream ends when the board stops.
async fn api_events(State(s): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let id = query_values(q.as_deref(), "id").into_iter().next();
    let watch = match (
        query_values(q.as_deref(), "watch")
            .first()
            .map(String::as_str),
        id,
    ) {
        (Some("runs"), _) => Watch::Runs,
        (Some("run"), Some(id)) => Watch::Run(id),
        (Some("study"), Some(id)) => Watch::Study(id),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "expected ?watch=runs, ?watch=run&id=ID or ?watch=study&id=ID",
            )
        }
    };
    let (s2, w2) = (s.clone(), watch.clone());
    let known = tokio::task::spawn_blocking(move || match &w2 {
        Watch::Runs => true,
        Watch::Run(id) => s2.find_run(id).is_ok(),
        Watch::Study(id) => s2.find_study(id).is_ok(),
    })
    .await
    .unwrap_or(false);
    if !known {
        return error(StatusCode::NOT_FOUND, "no such run or study");
    }
    Sse::new(changes(s, watch))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

fn changes(s: AppState, watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    let shutdown = s.shutdown.clone();
    futures_util::stream::unfold(
        (s, watch, None::<u64>, shutdown),
        |(s, watch, last, mut shutdown)| async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                let (s2, w2) = (s.clone(), watch.clone());
                let fp = tokio::task::spawn_blocking(move || s2.fingerprint(&w2))
                    .await
                    .ok()?;
                match last {
                    Some(old) if old != fp => {
                        let event = Event::default().event("change").data(fp.to_string());
                        return Some((Ok(event), (s, watch, Some(fp), shutdown)));
                    }
                    None => {
                        let event = Event::default().event("ready").data(fp.to_string());
                        return Some((Ok(event), (s, watch, Some(fp), shutdown)));
                    }
                    _ => {}
                }
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.changed() => return None,
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = Some("id=a%2Fb&id=c+d&x=1&id=%zz&id=%2e%2e%2F");
        assert_eq!(query_values(q, "id"), ["a/b", "c d", "../"]);
        assert!(query_values(None, "id").is_empty());
    }
}
