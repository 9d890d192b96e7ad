//! `nnopt lab` over HTTP: a real server (the binary) on loopback, asked as a browser — or an
//! attacker's page — would ask. Its answers are checked against the command line's own: the
//! same numbers as `nnopt descent --json`, the same one-line messages as a terminal shows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::{nnopt, nnopt_command, nnopt_json, scratch};

/// A lab server the test started, stopped (SIGINT, as Ctrl-C) when dropped.
pub struct Lab {
    pub child: Child,
    pub port: u16,
    pub token: String,
}

impl Lab {
    pub fn start() -> Lab {
        let mut child = nnopt_command(&["lab", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nnopt lab starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "nnopt lab: open http://127.0.0.1:PORT/ (Ctrl-C stops it)"
        let port = line
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let mut lab = Lab { child, port, token: String::new() };
        let page = lab.request("GET", "/", &[], "");
        assert_eq!(page.status, 200, "{}", page.body);
        lab.token = page.body.split("name=\"nnopt-token\" content=\"").nth(1).unwrap()[..32].to_string();
        lab
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.host())
    }

    /// `method path` with the lab's own Host and `headers`.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
        let host = self.host();
        let mut all = vec![("Host", host.as_str())];
        all.extend_from_slice(headers);
        http(self.port, method, path, &all, body)
    }

    /// A POST from the page: its token, a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Response {
        let token = self.token.clone();
        self.request(
            "POST",
            path,
            &[("X-Nnopt-Token", &token), ("Content-Type", "application/json")],
            &body.to_string(),
        )
    }

    pub fn get(&self, path: &str) -> Response {
        let token = self.token.clone();
        self.request("GET", path, &[("X-Nnopt-Token", &token)], "")
    }

    /// Waits until the job is finished; returns it.
    pub fn wait_for_job(&self, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let job = self.get("/api/job").json();
            if job["state"] == "finished" {
                return job;
            }
            assert!(started.elapsed() < limit, "the job did not end within {limit:?}: {job}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the running job has said, on stderr, that it trains (`--log-interval`).
    pub fn wait_for_progress(&self, limit: Duration) {
        let started = Instant::now();
        loop {
            let job = self.get("/api/job").json();
            assert_eq!(job["state"], "running", "{job}");
            if job["stderr"].as_str().unwrap_or_default().contains("epoch 1 [") {
                return;
            }
            assert!(started.elapsed() < limit, "no progress within {limit:?}: {job}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's resident memory, in kB.
    pub fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Ctrl-C, as a user stops it; returns how it ended.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        self.child.wait().unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.interrupt();
        }
    }
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection, exactly the headers given (a test of `Host`
/// must be able to send any).
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the lab listens");
    stream.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    // Read to the body's end as its headers give it, not to the connection's: a server may keep
    // the connection open whatever the request asked (chromedriver does).
    let mut raw = Vec::new();
    let mut buffer = [0u8; 65536];
    loop {
        let text = String::from_utf8_lossy(&raw).into_owned();
        if let Some((head, rest)) = text.split_once("\r\n\r\n") {
            let lower = head.to_ascii_lowercase();
            let length = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|n| n.trim().parse::<usize>().ok());
            let done = match length {
                Some(n) => raw.len() - head.len() - 4 >= n,
                None if lower.contains("transfer-encoding: chunked") => rest.ends_with("0\r\n\r\n"),
                None => false,
            };
            if done {
                break;
            }
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(e) => panic!("{method} {path}: {e} after {:?}", String::from_utf8_lossy(&raw)),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        unchunk(rest)
    } else {
        rest.to_string()
    };
    Response { status, headers: head.to_string(), body }
}

fn unchunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        body.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    body
}

/// The page and its assets come from the binary: nothing is loaded from another host.
#[test]
fn the_page_and_its_assets_are_served_from_the_binary() {
    let lab = Lab::start();
    let page = lab.request("GET", "/", &[], "");
    assert!(
        page.headers.to_ascii_lowercase().contains("content-security-policy: default-src 'self'"),
        "{}",
        page.headers
    );
    for asset in ["/lab.js", "/lab.css"] {
        let r = lab.request("GET", asset, &[], "");
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.len() > 500, "{asset}");
    }
    let everything = [page.body, lab.request("GET", "/lab.js", &[], "").body].concat();
    for outside in ["http://", "https://", "//cdn", "@import"] {
        assert!(!everything.contains(outside), "the page refers to {outside}");
    }
}

/// A foreign Host (DNS rebinding), a foreign Origin, no token, a body too large, a body that is
/// not one, and flags the command line refuses: each refused with its status and a message.
#[test]
fn foreign_unauthorised_oversized_and_malformed_requests_are_refused() {
    let lab = Lab::start();
    let port = lab.port.to_string();
    let evil_host = format!("evil.example:{port}");
    let r = http(lab.port, "GET", "/", &[("Host", &evil_host)], "");
    assert_eq!((r.status, r.error().contains("is not this lab's address")), (403, true), "{}", r.body);
    let r = http(lab.port, "GET", "/", &[], "");
    assert_eq!(r.status, 403, "no Host at all: {}", r.body);
    let token = lab.token.clone();
    let r = lab.request(
        "POST",
        "/api/descent",
        &[("X-Nnopt-Token", &token), ("Origin", "http://evil.example")],
        "{\"args\":[]}",
    );
    assert_eq!((r.status, r.error().contains("Origin")), (403, true), "{}", r.body);
    let r = lab.request("POST", "/api/descent", &[], "{\"args\":[]}");
    assert_eq!((r.status, r.error().contains("token")), (403, true), "{}", r.body);
    let r = lab.request("POST", "/api/descent", &[("X-Nnopt-Token", &"0".repeat(32))], "{\"args\":[]}");
    assert_eq!(r.status, 403, "a wrong token: {}", r.body);
    let huge = json!({ "args": vec!["x".repeat(100); 400] });
    let r = lab.post("/api/descent", &huge);
    assert_eq!((r.status, r.error().contains("at most 16384")), (413, true), "{}", r.body);
    let r = lab.request("POST", "/api/descent", &[("X-Nnopt-Token", &token)], "{\"args\": 3}");
    assert_eq!((r.status, r.error().contains("{\"args\"")), (400, true), "{}", r.body);
    let r = lab.post("/api/descent", &json!({ "args": vec!["--lr"; 65] }));
    assert_eq!((r.status, r.error().contains("at most 64")), (400, true), "{}", r.body);

    // The command line's own message, word for word.
    for args in [
        vec!["--lr", "abc"],
        vec!["--steps", "999999999"],
        vec!["--surface", "nowhere"],
        vec!["--start", "1,2,3"],
    ] {
        let r = lab.post("/api/descent", &json!({ "args": args }));
        let cli = nnopt(&[&["descent"][..], &args].concat());
        let said = String::from_utf8_lossy(&cli.stderr);
        let said = said.lines().next().unwrap().trim_start_matches("error: ").trim_start_matches("nnopt: ");
        assert_eq!((r.status, cli.status.code()), (400, Some(2)), "{args:?}: {}", r.body);
        assert_eq!(r.error(), said, "{args:?}");
    }
    // The lab's own flags, and its bounds.
    let r = lab.post("/api/descent", &json!({ "args": ["--device", "cuda"] }));
    assert_eq!(
        (r.status, r.error().starts_with("--device: the lab sets it itself")),
        (400, true),
        "{}",
        r.body
    );
    let r = lab.post("/api/train", &json!({ "args": ["--epochs", "5000"] }));
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "--epochs 5000: the lab runs at most 100; run `nnopt train` on the command line for more"
                .to_string()
        )
    );
    let r = lab.post("/api/sweep", &json!({ "args": ["--trials", "3"] }));
    assert_eq!((r.status, r.error().starts_with("--csv FILE")), (400, true), "{}", r.body);
    let r = lab.get("/api/perceptron/epoch?k=3");
    assert_eq!(r.status, 404, "no run yet: {}", r.body);
    let r = lab.get("/api/journal?path=/nonexistent/j.csv");
    assert_eq!(
        (r.status, r.error().starts_with("/nonexistent/j.csv: cannot read")),
        (404, true),
        "{}",
        r.body
    );
    assert_eq!(lab.get("/nowhere").status, 404);
}

/// The descent view's numbers are `nnopt descent --json`'s: every run's end point, loss and
/// verdict, for the default view and for one with its own optimizers, rates and start.
#[test]
fn descent_answers_equal_the_command_s() {
    let lab = Lab::start();
    for args in [
        vec![],
        vec![
            "--surface",
            "ill-conditioned",
            "--optimizers",
            "gd,momentum",
            "--lr",
            "0.45,0.45",
            "--momentum",
            "0.9,0.5",
        ],
        vec!["--surface", "cosine", "--start", "2.5", "--optimizers", "adam,rmsprop", "--lr", "0.0316,0.5"],
    ] {
        let page = lab.post("/api/descent", &json!({ "args": args })).json();
        let cli = nnopt_json(&[&["descent", "--json"][..], &args].concat());
        let (ours, theirs) = (page["runs"].as_array().unwrap(), cli["runs"].as_array().unwrap());
        assert_eq!(ours.len(), theirs.len(), "{args:?}");
        for (a, b) in ours.iter().zip(theirs) {
            assert_eq!(a["end"], b["final"]["point"], "{args:?}");
            assert_eq!(a["loss"], b["final"]["loss"], "{args:?}");
            assert_eq!(a["outcome"], b["outcome"], "{args:?}");
        }
        assert_eq!(page["summary"], cli["summary"], "{args:?}");
        assert!(page["svg"].as_str().unwrap().starts_with("<svg"), "{args:?}");
        let frame = &page["frames"][0];
        assert!(frame["pixels_x"][0].as_i64().unwrap() < frame["pixels_x"][1].as_i64().unwrap());
    }
}

/// One training run at a time: a second is refused (409) naming the first; Stop stops it as
/// Ctrl-C does, and the epoch it was in is kept (evaluated, in the job's table); the page
/// opened again finds it.
#[test]
fn a_second_run_is_refused_and_a_stopped_run_keeps_its_epoch() {
    let lab = Lab::start();
    // 60 000 batches of one image: an epoch long enough to be stopped in.
    let slow = json!({ "args": ["--data", "synthetic", "--epochs", "1", "--batch-size", "1", "--lr", "0.005", "--log-interval", "500"] });
    let r = lab.post("/api/train", &slow);
    assert_eq!(r.status, 202, "{}", r.body);
    let r = lab.post("/api/sweep", &json!({ "args": ["--trials", "2", "--csv", "x.csv"] }));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.error().starts_with("a training run is running (nnopt train --data synthetic --epochs 1"),
        "{}",
        r.body
    );
    // Once it trains (its progress on stderr, passed on to the page), the page's Stop.
    lab.wait_for_progress(Duration::from_secs(120));
    assert_eq!(lab.post("/api/job/stop", &json!({})).status, 200);
    let job = lab.wait_for_job(Duration::from_secs(120));
    assert_eq!(job["ended"], "stopped by SIGINT (Ctrl-C): 1 epoch(s) kept", "{job}");
    assert_eq!(job["epochs"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["epochs"][0]["complete"], false, "{job}");
    assert!(job["live_svg"].as_str().is_some_and(|s| s.contains("cut short")), "{job}");
    assert!(job["stdout"].as_str().unwrap().contains("final test accuracy"), "{job}");
    assert_eq!(lab.post("/api/job/stop", &json!({})).status, 404, "nothing runs now");
    // Finished, the slot is free again.
    let r = lab.post("/api/train", &json!({ "args": ["--data", "synthetic", "--epochs", "1"] }));
    assert_eq!(r.status, 202, "{}", r.body);
    let job = lab.wait_for_job(Duration::from_secs(120));
    assert_eq!((job["ended"].as_str(), job["exit_code"].as_i64()), (Some("finished"), Some(0)), "{job}");
    assert!(job["confusion_svg"].as_str().is_some_and(|s| s.contains("Confusion matrix")), "{job}");
}

/// Ctrl-C on the lab while it trains: the run stops as Ctrl-C stops it, its weights saved and
/// valid, and the lab ends as that signal asks (exit by SIGINT), leaving no process behind.
#[test]
fn ctrl_c_on_the_lab_stops_its_run_with_the_work_kept() {
    let mut lab = Lab::start();
    let dir = scratch("lab-ctrl-c");
    let weights = dir.join("w.safetensors");
    let args = json!({ "args": ["--data", "synthetic", "--epochs", "3", "--batch-size", "1", "--lr", "0.005",
                                "--log-interval", "500", "--save", weights.to_str().unwrap()] });
    assert_eq!(lab.post("/api/train", &args).status, 202);
    lab.wait_for_progress(Duration::from_secs(120));
    let status = lab.interrupt();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    let evaluated =
        nnopt_json(&["evaluate", "--json", "--weights", weights.to_str().unwrap(), "--data", "synthetic"]);
    assert!(evaluated["accuracy"].as_f64().is_some(), "{evaluated}");
}

/// A bounded load: 8 clients × 250 descent requests on loopback, every answer the right one,
/// the server's memory flat after warming up.
#[test]
fn eight_clients_of_250_descent_requests_each_get_correct_answers_in_flat_memory() {
    let lab = Lab::start();
    let args =
        json!({ "args": ["--surface", "quadratic", "--optimizers", "gd", "--lr", "0.1", "--steps", "40"] });
    let expected = lab.post("/api/descent", &args).json()["runs"][0]["end"].clone();
    for _ in 0..50 {
        assert_eq!(lab.post("/api/descent", &args).json()["runs"][0]["end"], expected);
    }
    let warm = lab.rss_kb();
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..250 {
                    let r = lab.post("/api/descent", &args);
                    assert_eq!(r.status, 200, "{}", r.body);
                    assert_eq!(r.json()["runs"][0]["end"], expected);
                }
            });
        }
    });
    let took = started.elapsed();
    let after = lab.rss_kb();
    eprintln!("lab load: 2000 descent requests in {took:.1?}; RSS {warm} kB warm, {after} kB after");
    assert!(took < Duration::from_secs(60), "2000 requests took {took:?}");
    assert!(after < warm + 32 * 1024, "memory grew from {warm} kB to {after} kB");
}
