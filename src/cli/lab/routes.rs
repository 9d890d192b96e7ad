//! The lab's HTTP interface: the page and its assets, and one JSON endpoint per thing the page
//! does. Every request passes [`guard`] first (this server's own `Host` and `Origin`, and for
//! `/api/` the page's token); every refusal is JSON `{"error": "…"}` with the command line's
//! one-line message and the status that says why: 400 a bad request, 403 a foreign one, 404
//! nothing there, 409 a run already running, 413 too large.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use nnopt::lab::guard::{token_matches, Bound};
use nnopt::lab::limits::MAX_BODY;
use nnopt::perceptron::PerceptronReport;
use serde::Deserialize;
use serde_json::{json, Value};

use super::jobs::{Followed, Jobs, Kind, Refused};
use super::request;
use crate::cli::Command;

/// What every handler shares.
pub struct Lab {
    pub bound: Bound,
    pub token: String,
    pub device: tch::Device,
    pub jobs: Arc<Jobs>,
    /// The perceptron run the page steps through: its number, the command that made it, the run.
    pub perceptron: Mutex<Option<(u64, String, PerceptronReport)>>,
}

pub type Shared = Arc<Lab>;

impl Lab {
    /// The address to open: the lab's, with the token that lets a page in after the `#`.
    pub fn entry(&self) -> String {
        format!("{}#token={}", self.bound.url(), self.token)
    }
}

pub fn router(lab: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { super::page::index() }))
        .route("/lab.js", get(|| async { super::page::script() }))
        .route("/lab.css", get(|| async { super::page::style() }))
        .route("/api/descent", post(descent))
        .route("/api/perceptron", post(perceptron))
        .route("/api/perceptron/epoch", get(perceptron_epoch))
        .route("/api/train", post(train))
        .route("/api/sweep", post(sweep))
        .route("/api/journal", get(journal))
        .route("/api/job", get(job))
        .route("/api/job/events", get(events))
        .route("/api/job/stop", post(stop))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "no such page: the lab is at /".into()) })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(lab.clone(), guard))
        .with_state(lab)
}

/// A request refused: `{"error": message}` with its status.
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

pub fn fail(status: StatusCode, message: String) -> Response {
    Refusal(status, message).into_response()
}

/// A library or command-line error as the page shows it: a usage error is the request's fault
/// (400), anything else the run's (500, with the one-line message, never a backtrace).
fn refusal(e: anyhow::Error) -> Refusal {
    let status = match nnopt::error::exit_code(&e) {
        2 => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    Refusal(status, format!("{e:#}"))
}

fn refuse(e: anyhow::Error) -> Response {
    refusal(e).into_response()
}

/// This server's own names only; `/api/` with the token (the `X-Nnopt-Token` header).
async fn guard(State(lab): State<Shared>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let text = |name: header::HeaderName| headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let host = text(header::HOST).unwrap_or_default();
    if !lab.bound.host_allowed(host) {
        return fail(
            StatusCode::FORBIDDEN,
            format!("Host {host:?} is not this lab's address ({}): refused", lab.bound.url()),
        );
    }
    if let Some(origin) = text(header::ORIGIN).filter(|o| !lab.bound.origin_allowed(o)) {
        return fail(StatusCode::FORBIDDEN, format!("Origin {origin:?} is not this lab's page: refused"));
    }
    // The token comes once, after the `#` of the address the lab printed: a browser never sends
    // that part anywhere, and the page keeps it in its tab's session storage (this origin's,
    // port included) and sends it with every request as a header. No cookie: a browser would
    // send one to every port of this host. The page itself holds no secret.
    let given = text(header::HeaderName::from_static("x-nnopt-token"));
    if req.uri().path().starts_with("/api/") && !given.is_some_and(|t| token_matches(t, &lab.token)) {
        return fail(
            StatusCode::FORBIDDEN,
            "missing or wrong token: open the address `nnopt lab` printed, with its #token=…".into(),
        );
    }
    next.run(req).await
}

/// A request's body: `{"args": ["--flag", "value", …]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    args: Vec<String>,
}

fn read_args(body: Result<Bytes, BytesRejection>) -> Result<Vec<String>, Refusal> {
    let body = body.map_err(|e| {
        let status = e.status();
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => {
                format!("the request is over {MAX_BODY} bytes: the lab takes at most {MAX_BODY}")
            }
            _ => format!("unreadable request: {e}"),
        };
        Refusal(status, message)
    })?;
    serde_json::from_slice::<Args>(&body).map(|a| a.args).map_err(|e| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("the request is not {{\"args\": [\"--flag\", \"value\", …]}}: {e}"),
        )
    })
}

/// `nnopt descent`, computed here (it draws nothing from libtorch's generator): the picture,
/// every run's end and verdict, the summary, and the command.
async fn descent(State(lab): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let args = match read_args(body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let device = lab.device;
    let work = move || -> anyhow::Result<Value> {
        let Command::Descent(parsed) = request::parse("descent", &args)? else {
            unreachable!("parsed as descent")
        };
        if parsed.list {
            return Err(nnopt::error::usage("--list: run `nnopt descent --list` for every surface and rule"));
        }
        if parsed.csv.is_some() {
            return Err(nnopt::error::usage(
                "--csv: the lab shows the runs itself; run `nnopt descent --csv FILE` for a file",
            ));
        }
        let config = crate::cli::descent::config(&parsed)?;
        let report = nnopt::descent::run(&config, device, &nnopt::observe::Quiet)?;
        let figure = nnopt::descent::figure::figure(&report)?;
        let (svg, frames) = figure.svg_framed()?;
        let runs: Vec<Value> = report
            .runs
            .iter()
            .map(|r| {
                json!({
                    "label": nnopt::descent::report::run_label(r, &report.runs),
                    "optimizer": r.optimizer.name(),
                    "rule": r.rule,
                    "in_words": r.optimizer.in_words(),
                    "lr": r.lr,
                    "momentum": r.momentum,
                    "start": r.start,
                    "end": r.end.point,
                    "loss": r.end.loss,
                    "steps": r.end.steps,
                    "outcome": r.outcome,
                })
            })
            .collect();
        Ok(json!({
            "command": request::shown("descent", &args),
            "surface": report.surface,
            "svg": svg,
            "frames": frames,
            "runs": runs,
            "summary": report.summary,
        }))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => refuse(e),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("the descent failed: {e}")),
    }
}

/// `nnopt perceptron`, run here behind the library's one lock on libtorch's generator (its
/// numbers are the command's, whatever else the lab does): its summary and the run kept for
/// the epoch slider.
async fn perceptron(State(lab): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let args = match read_args(body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let shared = lab.clone();
    let work = move || -> anyhow::Result<Value> {
        let command = request::parse("perceptron", &args)?;
        request::bounded(&command, shared.device)?;
        let Command::Perceptron(parsed) = command else { unreachable!("parsed as perceptron") };
        if parsed.csv.is_some() || parsed.code {
            let flag = if parsed.code { "--code" } else { "--csv" };
            return Err(nnopt::error::usage(format!(
                "{flag}: the lab shows the run itself; run `nnopt perceptron {flag}` for it"
            )));
        }
        let config = crate::cli::perceptron::config(&parsed);
        let report = nnopt::perceptron::run(&config, shared.device, &nnopt::observe::Quiet)?;
        let shown = request::shown("perceptron", &args);
        let mut kept = shared.perceptron.lock().unwrap_or_else(|p| p.into_inner());
        let run = kept.as_ref().map_or(1, |k| k.0 + 1);
        let answer = json!({
            "run": run,
            "command": shown,
            "epochs": report.history.len(),
            "text": nnopt::report::Report::text(&report),
            "losses": report.history.iter().map(|h| h.loss).collect::<Vec<_>>(),
            "rises": report.rises,
            "loss_rise": report.loss_rise,
        });
        *kept = Some((run, shown, report));
        Ok(answer)
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => refuse(e),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("the perceptron failed: {e}")),
    }
}

/// The kept perceptron run after epoch `k`: its weights, predictions and picture.
async fn perceptron_epoch(State(lab): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let (Some(k), Some(run)) =
        (q.get("k").and_then(|k| k.parse::<usize>().ok()), q.get("run").and_then(|r| r.parse::<u64>().ok()))
    else {
        return fail(
            StatusCode::BAD_REQUEST,
            "?run=N&k=EPOCH: give the run and the epoch as whole numbers".into(),
        );
    };
    let work = move || -> Result<Value, Refusal> {
        let kept = lab.perceptron.lock().unwrap_or_else(|p| p.into_inner());
        let Some((kept_run, command, report)) = kept.as_ref() else {
            return Err(Refusal(StatusCode::NOT_FOUND, "no perceptron run yet: run one first".into()));
        };
        if run > *kept_run {
            return Err(Refusal(
                StatusCode::NOT_FOUND,
                format!("no run {run}: the latest is run {kept_run}"),
            ));
        }
        if *kept_run != run {
            // Another page (or tab) ran one since: its epochs are not this run's.
            return Err(Refusal(
                StatusCode::CONFLICT,
                format!("run {run} was replaced by run {kept_run} ({command}); run it again"),
            ));
        }
        let view = nnopt::lab::epoch::view(report, k).map_err(refusal)?;
        let svg = nnopt::lab::epoch::figure(report, k).and_then(|f| f.svg()).map_err(refusal)?;
        Ok(json!({ "command": command, "view": view, "svg": svg }))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(r)) => r.into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("the epoch view failed: {e}")),
    }
}

async fn train(State(lab): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    start(lab, Kind::Train, body)
}

async fn sweep(State(lab): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    start(lab, Kind::Sweep, body)
}

/// Starts a training run or a sweep as a child `nnopt` (202), after the command line's parser
/// and the lab's bounds have accepted it; 409 where one runs already.
fn start(lab: Shared, kind: Kind, body: Result<Bytes, BytesRejection>) -> Response {
    let args = match read_args(body) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let checked =
        request::parse(kind.command(), &args).and_then(|c| request::bounded(&c, lab.device).map(|()| c));
    let (data, journal) = match checked {
        Ok(Command::Train(a)) => (a.data, None),
        Ok(Command::Sweep(a)) => {
            let (csv, resume) = (a.csv.map(absolute), a.resume.map(absolute));
            // A --csv that holds something already (and is not the file resumed) is refused by
            // the sweep itself: those rows are another sweep's, never shown as this one's.
            let taken = csv
                .as_ref()
                .is_some_and(|c| resume.as_ref() != Some(c) && c.metadata().is_ok_and(|m| m.len() > 0));
            let Some(path) = csv.clone().or(resume.clone()) else {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "--csv FILE: the sweep view follows the sweep's journal; say where to keep it".into(),
                );
            };
            let resumed = resume.and_then(|r| nnopt::lab::journal::read(&r).ok()).map_or(0, |t| t.rows.len());
            (a.data, (!taken).then_some(Followed { path, resumed }))
        }
        Ok(_) => unreachable!("parsed as {}", kind.command()),
        Err(e) => return refuse(e),
    };
    match lab.jobs.start(kind, &args, data, journal) {
        Ok(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
        Err(Refused::Busy(message)) => fail(StatusCode::CONFLICT, message),
        Err(Refused::Failed(e)) => refuse(e),
    }
}

/// A path as the child will read it: relative to the lab's working directory, which the child shares.
fn absolute(path: PathBuf) -> PathBuf {
    std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path)
}

/// A sweep's journal opened: its table and its trials drawn.
async fn journal(Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(path) = q.get("path").filter(|p| !p.is_empty()).cloned() else {
        return fail(StatusCode::BAD_REQUEST, "?path=FILE.csv: give a sweep's --csv journal".into());
    };
    let work = move || -> Result<Value, Refusal> {
        let table = nnopt::lab::journal::read(std::path::Path::new(&path)).map_err(refusal)?;
        let svg = match table.rows.is_empty() {
            true => None,
            false => Some(nnopt::sweep::figure::journal_figure(&table).svg().map_err(refusal)?),
        };
        Ok(json!({ "path": path, "table": table, "svg": svg }))
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(r)) => r.into_response(),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the journal failed: {e}")),
    }
}

/// The job, running or ended (`null`: none yet): what a page opened again re-attaches to.
async fn job(State(lab): State<Shared>) -> Response {
    Json(lab.jobs.snapshot()).into_response()
}

async fn stop(State(lab): State<Shared>) -> Response {
    match lab.jobs.stop("from the page") {
        Some(job) => Json(job).into_response(),
        None => fail(StatusCode::NOT_FOUND, "no run is running".into()),
    }
}

/// The job as server-sent events: one at once, one at every change, until it has ended.
async fn events(
    State(lab): State<Shared>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let version = lab.jobs.subscribe();
    let stream = futures_util::stream::unfold(
        (lab, version, true, false),
        |(lab, mut version, first, done)| async move {
            if done {
                return None;
            }
            if !first && version.changed().await.is_err() {
                return None;
            }
            version.borrow_and_update();
            let job = lab.jobs.snapshot();
            let finished = job.as_ref().is_none_or(|j| j.state.is_over());
            let data = serde_json::to_string(&job).unwrap_or_else(|_| "null".into());
            Some((Ok(Event::default().data(data)), (lab, version, false, finished)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
