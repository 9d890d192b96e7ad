//! `nnopt lab`: the notebook's optimization live in a browser. A local web server
//! ([`routes`]) serves one page ([`page`]) with four views — descent, the perceptron, training,
//! a sweep — each computed by the same library calls, or the same `nnopt` command, as the
//! command line ([`request`] reads each request as that command's flags; [`jobs`] runs the long
//! ones as child processes). It listens on 127.0.0.1 unless `--host` says otherwise, and stops
//! on Ctrl-C as every command does: a running job is stopped as Ctrl-C stops it, its work kept.

mod jobs;
mod page;
mod request;
mod routes;

use std::io::Read as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use nnopt::error::usage;
use nnopt::lab::guard::Bound;
use nnopt::observe::Observer as _;
use serde::Serialize;

use super::output::Output;
use super::Global;

#[derive(Debug, Args)]
pub struct LabArgs {
    /// The port to listen on (0: any free one; the address is printed).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// The address to listen on. Anything but a loopback address lets other machines reach
    /// the lab (and run training on this one): it is said on stderr.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Open the page in the default browser (xdg-open / open).
    #[arg(long)]
    pub open: bool,
}

/// What `nnopt lab` prints once it listens.
#[derive(Debug, Serialize)]
struct Listening {
    url: String,
    host: String,
    port: u16,
}

impl nnopt::report::Report for Listening {
    fn text(&self) -> String {
        format!("nnopt lab: open {} (Ctrl-C stops it)", self.url)
    }
}

pub fn run(args: LabArgs, global: &Global, out: &Output) -> Result<()> {
    let device = global.device.resolve()?;
    let listener = TcpListener::bind((args.host.as_str(), args.port)).map_err(|e| {
        usage(format!(
            "--host {} --port {}: cannot listen there ({e}); give another --port (0 picks a free one)",
            args.host, args.port
        ))
    })?;
    let port = listener.local_addr()?.port();
    let bound = Bound { host: args.host.clone(), port };
    if bound.is_wildcard() {
        out.warn(&format!(
            "--host {}: the lab listens on every interface but answers only requests that name it 127.0.0.1, \
             localhost or [::1] (its guard against DNS rebinding); to reach it from another machine, give --host \
             this machine's address",
            args.host
        ));
    } else if !bound.is_loopback() {
        out.warn(&format!(
            "--host {}: other machines can reach the lab at {} and start runs on this one",
            args.host,
            bound.url()
        ));
    }
    let stop = super::signals::stop_flag(out.quiet);
    let dir = std::env::temp_dir().join(format!("nnopt-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lab = Arc::new(routes::Lab {
        bound: bound.clone(),
        token: token()?,
        device,
        jobs: jobs::Jobs::new(dir.clone(), nnopt::device::name(device), global.threads),
        perceptron: Mutex::new(None),
    });
    out.report(&Listening { url: lab.entry(), host: args.host.clone(), port })?;
    if args.open {
        open(&lab.entry(), out);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the server")?;
    let served = runtime.block_on(async {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let jobs = lab.jobs.clone();
        let shutdown = async move {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // As Ctrl-C stops a run in a terminal: it finishes its batch and keeps its work.
            jobs.stop_and_wait().await;
        };
        axum::serve(listener, routes::router(lab)).with_graceful_shutdown(shutdown).await
    });
    // Pages still following a job hold their connections open: they are let go here.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let _ = std::fs::remove_dir_all(&dir);
    served.context("the server stopped")?;
    Ok(())
}

/// 128 random bits from the kernel, as hex: the token in the printed address, which lets a
/// page in (as Jupyter's does).
fn token() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for the page's token")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Opens `url` in the default browser; a machine without one is told, not refused.
fn open(url: &str, out: &Output) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let opened = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = opened {
        out.warn(&format!("--open: cannot run {opener} ({e}); open {url} yourself"));
    }
}
