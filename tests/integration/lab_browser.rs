//! `nnopt lab` in a real browser: Debian's headless Chromium driven through its WebDriver
//! (chromedriver, W3C protocol). The page is used as a learner uses it — a slider moved, a run
//! started and stopped, a journal opened — and what it then shows is checked against the
//! command line. Screenshots of each view go to `target/lab-*.png`; the descent view's
//! input-to-picture times to `target/lab-latency.json`.
//!
//! CI installs the browser (`scripts/setup-browser.sh`); without it these tests fail and say so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::{nnopt_json, nnopt_ok, scratch};
use super::lab::{http, Lab, PATIENCE};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A WebDriver session on a fresh chromedriver, ended when dropped.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Browser {
    fn start() -> Browser {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's {package} (bash scripts/setup-browser.sh installs it)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut browser = Browser { driver, port, session: String::new() };
        let capabilities = json!({ "capabilities": { "alwaysMatch": { "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1900"],
        } } } });
        let created = browser.call("POST", "/session", &capabilities);
        browser.session =
            created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let body = if method == "GET" { String::new() } else { body.to_string() };
        let host = format!("127.0.0.1:{}", self.port);
        let r =
            http(self.port, method, path, &[("Host", &host), ("Content-Type", "application/json")], &body);
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", r.body));
        assert_eq!(r.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: &Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn open(&self, url: &str) {
        self.session("POST", "/url", &json!({ "url": url }));
    }

    /// Runs `script` in the page (its `arguments`: `args`); returns what it returns.
    fn run(&self, script: &str, args: Value) -> Value {
        self.session("POST", "/execute/sync", &json!({ "script": script, "args": args }))
    }

    fn text(&self, id: &str) -> String {
        self.run("return document.getElementById(arguments[0]).textContent", json!([id]))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn click(&self, selector: &str) {
        let found = self.session("POST", "/element", &json!({ "using": "css selector", "value": selector }));
        let id =
            found.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_string();
        self.session("POST", &format!("/element/{id}/click"), &json!({}));
    }

    /// Waits until `condition` (a script's expression) holds in the page.
    fn wait(&self, condition: &str, limit: Duration) {
        let started = Instant::now();
        while self.run(&format!("return !!({condition})"), json!([])) != json!(true) {
            assert!(started.elapsed() < limit, "the page did not show {condition} within {limit:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.session("GET", "/screenshot", &json!({}));
        let bytes = base64(png.as_str().unwrap());
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(format!("lab-{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let host = format!("127.0.0.1:{}", self.port);
            http(self.port, "DELETE", &format!("/session/{}", self.session), &[("Host", &host)], "");
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = text.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    clean
        .chunks(4)
        .flat_map(|q| {
            let n = q.iter().enumerate().fold(0u32, |acc, (i, &c)| acc | (value(c) as u32) << (18 - 6 * i));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(q.len() - 1).collect::<Vec<_>>()
        })
        .collect()
}

/// Moves a range input to `value` as a hand would: its value set, its `input` event fired.
const MOVE: &str = "const e = document.querySelectorAll(arguments[0])[arguments[1]]; \
                    e.value = arguments[2]; e.dispatchEvent(new Event('input', { bubbles: true }));";

/// The page's numbers, rounded as it shows them (5 significant figures), against the command's.
fn shown(v: f64) -> String {
    let s = format!("{:.*e}", 4, v);
    let (m, e) = s.split_once('e').unwrap();
    let v: f64 = format!("{m}e{e}").parse().unwrap();
    format!("{}", v)
}

/// The descent view: the lr slider moved, the picture redrawn, and every run's end point and
/// verdict on the page equal to `nnopt descent --json` run with the command the page shows.
#[test]
fn the_descent_view_redraws_and_agrees_with_the_command() {
    let lab = Lab::start();
    let browser = Browser::start();
    browser.open(&lab.entry());
    browser.wait("document.body.dataset.descent === 'drawn' && document.querySelectorAll('#d-rows tr.opt').length === 5", PATIENCE);
    let before = browser.run("return document.querySelector('#d-figure svg').outerHTML", json!([]));
    // gd's learning rate moved step by step up to 10^-0.5 = 0.316: 30 inputs, each waited for,
    // for the latency figures.
    let mut latencies_from = browser.run("return window.labLatencies.length", json!([])).as_u64().unwrap();
    for v in (0..30).map(|k| -0.79 + 0.01 * k as f64).chain([-0.5]) {
        browser.run(MOVE, json!([".opt-lr", 0, v]));
        browser.wait(&format!("window.labLatencies.length > {latencies_from}"), PATIENCE);
        latencies_from = browser.run("return window.labLatencies.length", json!([])).as_u64().unwrap();
    }
    browser.wait("document.getElementById('d-command').textContent.includes('--lr 0.316,')", PATIENCE);
    let after = browser.run("return document.querySelector('#d-figure svg').outerHTML", json!([]));
    assert_ne!(before, after, "the picture was not redrawn");

    let command = browser.text("d-command");
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let cli = nnopt_json(&[&args[..], &["--json"]].concat());
    let rows = browser.run(
        "return [...document.querySelectorAll('#d-runs tr')].map(r => [r.querySelector('.end').textContent, r.querySelector('.outcome').textContent])",
        json!([]),
    );
    let runs = cli["runs"].as_array().unwrap();
    assert_eq!(rows.as_array().unwrap().len(), runs.len(), "{command}");
    for (row, run) in rows.as_array().unwrap().iter().zip(runs) {
        let point: Vec<String> =
            run["final"]["point"].as_array().unwrap().iter().map(|v| shown(v.as_f64().unwrap())).collect();
        assert_eq!(row[0].as_str().unwrap(), format!("({})", point.join(", ")), "{command}");
        assert_eq!(row[1], run["outcome"], "{command}");
    }
    assert_eq!(runs[0]["lr"], json!(0.316));
    assert_eq!(browser.text("d-summary"), cli["summary"].as_str().unwrap(), "{command}");

    // Distill's demonstration is one click away: the ill-conditioned quadratic, gd against momentum.
    browser.click("#d-distill");
    browser.wait("document.getElementById('d-command').textContent.includes('ill-conditioned')", PATIENCE);
    browser.wait("document.querySelectorAll('#d-runs tr').length === 2", PATIENCE);
    browser.run(MOVE, json!([".opt-mu", 1, 0.5]));
    browser.wait("document.getElementById('d-command').textContent.includes('--momentum 0.9,0.5')", PATIENCE);
    browser.wait("document.body.dataset.descent === 'drawn'", PATIENCE);
    browser.click("#d-distill");
    browser.wait("document.getElementById('d-command').textContent.includes('--momentum 0.9,0.9')", PATIENCE);
    std::thread::sleep(Duration::from_millis(500));
    browser.screenshot("descent");

    let latencies: Vec<f64> = browser
        .run("return window.labLatencies", json!([]))
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    let figures =
        json!({ "samples": sorted.len(), "p50_ms": at(0.5), "p95_ms": at(0.95), "all_ms": latencies });
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lab-latency.json"),
        figures.to_string(),
    )
    .unwrap();
    eprintln!(
        "lab descent input-to-picture: p50 {:.0} ms, p95 {:.0} ms over {} inputs",
        at(0.5),
        at(0.95),
        sorted.len()
    );
}

/// The perceptron stepped epoch by epoch: the page's loss at an epoch is the command's.
#[test]
fn the_perceptron_view_steps_through_the_command_s_epochs() {
    let lab = Lab::start();
    let browser = Browser::start();
    browser.open(&lab.entry());
    browser.click("nav button[data-view=perceptron]");
    browser.run("document.getElementById('p-seed').value = '0'", json!([]));
    browser.click("#p-run");
    browser.wait(
        "!document.getElementById('p-epoch').disabled && document.getElementById('p-state').textContent",
        PATIENCE,
    );
    browser.run(MOVE, json!(["#p-epoch", 0, 12]));
    browser.wait("document.getElementById('p-state').textContent.startsWith('after epoch 12:')", PATIENCE);
    let cli = nnopt_json(&["perceptron", "--seed", "0", "--json"]);
    let loss = cli["history"][11]["loss"].as_f64().unwrap();
    let state = browser.text("p-state");
    assert!(state.ends_with(&format!("training loss {}", shown(loss))), "{state} vs {loss}");
    assert!(
        browser.text("p-text").contains("rose"),
        "seed 0's rise is explained: {}",
        browser.text("p-text")
    );
    browser.screenshot("perceptron");
}

/// Training from the page: a 1-epoch run on synthetic data started, stopped, and the epoch it
/// was in shown as kept; then a sweep's journal opened, its table equal to the CSV.
#[test]
fn training_is_stopped_from_the_page_and_a_journal_opens_as_its_csv() {
    let lab = Lab::start();
    let browser = Browser::start();
    browser.open(&lab.entry());
    browser.click("nav button[data-view=training]");
    browser.run(
        "document.getElementById('t-epochs').value = '1'; document.getElementById('t-lr').value = '0.005'; \
         document.getElementById('t-hidden').value = '32';",
        json!([]),
    );
    // One image per batch: an epoch long enough to stop in.
    browser.run(
        "document.getElementById('t-save').value = ''; window.labExtra = ['--batch-size', '1', '--log-interval', '500'];",
        json!([]),
    );
    browser.click("#t-start");
    browser.wait("document.getElementById('t-status').textContent.includes('epoch 1 [')", PATIENCE);
    // The page closed and opened again (the cookie stays): it finds the run and follows it.
    browser.open(&lab.url());
    browser.wait("!document.getElementById('training').hidden", PATIENCE);
    let progress = browser.run("return document.getElementById('t-status').textContent", json!([]));
    browser.wait(
        &format!(
            "document.getElementById('t-status').textContent.includes('running (epoch 1 [') && \
             document.getElementById('t-status').textContent !== {progress}"
        ),
        PATIENCE,
    );
    browser.click("#t-stop");
    browser
        .wait("document.getElementById('t-status').textContent.includes('stopped from the page')", PATIENCE);
    let status = browser.text("t-status");
    assert!(
        status.contains("stopped from the page (SIGINT, as Ctrl-C) after 0 complete epoch(s) and "),
        "{status}"
    );
    assert!(status.ends_with(" batch(es) of epoch 1"), "{status}");
    let rows = browser.run(
        "return [...document.querySelectorAll('#t-epochs-table tr')].map(r => r.textContent)",
        json!([]),
    );
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(rows[0].as_str().unwrap().starts_with("1 (cut short)"), "{rows}");
    browser.wait("document.querySelector('#t-confusion svg')", PATIENCE);
    browser.screenshot("training");

    let dir = scratch("lab-browser-journal");
    let journal = dir.join("sweep.csv");
    let _ = std::fs::remove_file(&journal);
    nnopt_ok(&[
        "sweep",
        "--data",
        "synthetic",
        "--trials",
        "3",
        "--epochs",
        "1",
        "--lr",
        "0.01,0.1,0.5",
        "--csv",
        journal.to_str().unwrap(),
        "--quiet",
    ]);
    browser.click("nav button[data-view=sweep]");
    browser.run(
        "document.getElementById('s-open-path').value = arguments[0]",
        json!([journal.to_str().unwrap()]),
    );
    browser.click("#s-open");
    browser.wait("document.body.dataset.journal === 'open'", PATIENCE);
    let cells = browser.run(
        "return [...document.querySelectorAll('#s-head tr, #s-table tr')].map(r => [...r.children].map(c => c.textContent).join(','))",
        json!([]),
    );
    let csv = std::fs::read_to_string(&journal).unwrap();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(cells, json!(lines), "the page's table is the journal");
    browser.screenshot("sweep");
}
