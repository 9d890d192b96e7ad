//! The page and its assets, compiled into the binary (the machine that runs the lab may have no
//! network: nothing is fetched from elsewhere, and there is no build step).

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

static INDEX: &str = include_str!("../../../assets/lab/index.html");
static SCRIPT: &str = include_str!("../../../assets/lab/lab.js");
static STYLE: &str = include_str!("../../../assets/lab/lab.css");

/// The page (served only to a browser the token let in).
pub fn index() -> Response {
    let mut response = Html(INDEX).into_response();
    let headers = response.headers_mut();
    // The page runs only its own script and loads nothing from elsewhere; no other site frames it.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (headers, body).into_response()
}
