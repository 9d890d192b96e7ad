//! The page and its assets, compiled into the binary (the machine that runs the lab may have no
//! network: nothing is fetched from elsewhere, and there is no build step). The page is given
//! the token its requests must carry.

use axum::extract::State;
use axum::response::Response;

use super::routes::{asset, page, Shared};

static INDEX: &str = include_str!("../../../assets/lab/index.html");
static SCRIPT: &str = include_str!("../../../assets/lab/lab.js");
static STYLE: &str = include_str!("../../../assets/lab/lab.css");

pub async fn index(State(lab): State<Shared>) -> Response {
    page(INDEX.replace("{{TOKEN}}", &lab.token))
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}
