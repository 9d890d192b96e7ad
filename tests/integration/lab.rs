//! `nnopt lab` over HTTP: a real server (the binary) on loopback, asked as a browser — or an
//! attacker's page — would ask. Its answers are checked against the command line's own: the
//! same numbers as `nnopt descent --json`, the same one-line messages as a terminal shows.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::common::{nnopt, nnopt_command, nnopt_json, scratch};

/// How long a test waits for the lab to show something: a wait for a condition, not a speed
/// (16 test processes on 2 cores took over 120 s to make the synthetic digits before training).
pub const PATIENCE: Duration = Duration::from_secs(900);

/// A lab server the test started, stopped (SIGINT, as Ctrl-C) when dropped.
pub struct Lab {
    pub child: Child,
    pub port: u16,
    pub token: String,
}

impl Lab {
    pub fn start() -> Lab {
        Lab::spawn(nnopt_command(&["lab", "--port", "0"]))
    }

    /// A lab started as `nnopt lab &` in a script starts: with SIGINT ignored, and in a process
    /// group of its own (as a terminal's job is).
    pub fn start_in_background() -> Lab {
        use std::os::unix::process::CommandExt;
        let mut command = nnopt_command(&["lab", "--port", "0"]);
        command.process_group(0);
        // SAFETY: signal(2) only, between fork and exec.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                Ok(())
            });
        }
        Lab::spawn(command)
    }

    fn spawn(mut command: std::process::Command) -> Lab {
        let mut child =
            command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("nnopt lab starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "nnopt lab: open http://127.0.0.1:PORT/#token=TOKEN (Ctrl-C stops it)"
        let address = line.split_whitespace().nth(3).unwrap_or_else(|| panic!("no address in {line:?}"));
        let (port, token) = address
            .strip_prefix("http://127.0.0.1:")
            .and_then(|rest| rest.split_once("/#token="))
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Lab { child, port: port.parse().unwrap(), token: token.to_string() }
    }

    /// The address the lab printed: its URL with the token.
    pub fn entry(&self) -> String {
        format!("{}#token={}", self.url(), self.token)
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
            if !matches!(job["state"].as_str(), Some("running" | "stopping")) {
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
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SIGTERM: a lab started with SIGINT ignored stops too.
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = self.child.wait();
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
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
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

/// The page and its assets come from the binary: nothing is loaded from another host. The
/// page holds no secret; the API answers only the token the lab printed, sent as a header —
/// never a cookie, which a browser would send to every port of this host.
#[test]
fn the_page_holds_no_secret_and_loads_nothing_from_elsewhere() {
    let lab = Lab::start();
    let page = lab.request("GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&lab.token), "the page holds no token");
    assert!(!page.headers.to_ascii_lowercase().contains("set-cookie"), "{}", page.headers);
    let r = lab.request("GET", "/api/job", &[], "");
    assert_eq!((r.status, r.error().contains("#token=")), (403, true), "no token: {}", r.body);
    let r = lab.request("GET", &format!("/api/job?token={}", lab.token), &[], "");
    assert_eq!(r.status, 403, "a token in the query is not taken: {}", r.body);
    let cookie = format!("nnopt_lab_{}={}", lab.port, lab.token);
    assert_eq!(lab.request("GET", "/api/job", &[("Cookie", &cookie)], "").status, 403, "nor in a cookie");
    assert_eq!(lab.get("/api/job").status, 200, "the header lets a page in");
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
    let token = lab.token.clone();
    let r = http(lab.port, "GET", "/", &[("Host", &evil_host), ("X-Nnopt-Token", &token)], "");
    assert_eq!((r.status, r.error().contains("is not this lab's address")), (403, true), "{}", r.body);
    let r = http(lab.port, "GET", "/", &[("X-Nnopt-Token", &token)], "");
    assert_eq!(r.status, 403, "no Host at all: {}", r.body);
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
    let r = lab.post(
        "/api/sweep",
        &json!({ "args": ["--strategy", "grid", "--lr", "1e-3..1:log", "--grid-points", "100", "--repeats", "3", "--csv", "j.csv"] }),
    );
    assert_eq!(
        (
            r.status,
            r.error().starts_with("trainings (--trials, the grid, --repeats) 300: the lab runs at most 256")
        ),
        (400, true),
        "{}",
        r.body
    );
    let r = lab.post("/api/sweep", &json!({ "args": ["--strategy", "grid", "--lr", "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8", "--momentum", "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8", "--hidden", "8,16,32,64,128", "--csv", "j.csv"] }));
    assert_eq!((r.status, r.error().contains("320: the lab runs at most 256")), (400, true), "{}", r.body);
    let r = lab.post("/api/sweep", &json!({ "args": ["--hidden", "8,9999", "--csv", "j.csv"] }));
    assert_eq!((r.status, r.error().starts_with("--hidden 9999")), (400, true), "{}", r.body);
    let r = lab.post("/api/train", &json!({ "args": ["--plot", "x.png"] }));
    assert_eq!(
        (r.status, r.error().starts_with("--plot: the lab draws and keeps these itself")),
        (400, true),
        "{}",
        r.body
    );
    // A device or a FIFO is no journal: refused at once, not read forever.
    let r = lab.get("/api/journal?path=/dev/zero");
    assert_eq!((r.status, r.error().contains("not a regular file")), (400, true), "{}", r.body);
    let r = lab.get("/api/perceptron/epoch?run=1&k=3");
    assert_eq!(r.status, 404, "no run yet: {}", r.body);
    let r = lab.get("/api/journal?path=/nonexistent/j.csv");
    assert_eq!(
        (r.status, r.error().starts_with("/nonexistent/j.csv: cannot read")),
        (400, true),
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
/// Ctrl-C does — even from a lab started with SIGINT ignored, as `nnopt lab &` in a script is —
/// and the epoch it was in is evaluated and shown; the page opened again finds it.
#[test]
fn a_second_run_is_refused_and_a_stopped_run_keeps_its_epoch() {
    let lab = Lab::start_in_background();
    let elsewhere = scratch("lab-409").join("x.csv");
    // 60 000 batches of one image: an epoch long enough to be stopped in.
    let slow = json!({ "args": ["--data", "synthetic", "--epochs", "1", "--batch-size", "1", "--lr", "0.005", "--log-interval", "500"] });
    let r = lab.post("/api/train", &slow);
    assert_eq!(r.status, 202, "{}", r.body);
    let r =
        lab.post("/api/sweep", &json!({ "args": ["--trials", "2", "--csv", elsewhere.to_str().unwrap()] }));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.error().starts_with("a training run is running (nnopt train --data synthetic --epochs 1"),
        "{}",
        r.body
    );
    // Once it trains (its progress on stderr, passed on to the page), the page's Stop.
    lab.wait_for_progress(PATIENCE);
    assert_eq!(lab.post("/api/job/stop", &json!({})).status, 200);
    let again = lab.post("/api/job/stop", &json!({}));
    assert_eq!(
        (again.status, again.json()["state"].as_str()),
        (200, Some("stopping")),
        "asked twice: {}",
        again.body
    );
    let job = lab.wait_for_job(PATIENCE);
    assert_eq!(job["state"], "stopped", "{job}");
    assert_eq!(job["epochs"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["epochs"][0]["complete"], false, "{job}");
    let cut = &job["epochs"][0]["batches"];
    assert_eq!(
        job["ended"].as_str().unwrap(),
        format!("stopped from the page (SIGINT, as Ctrl-C) after 0 complete epoch(s) and {cut} batch(es) of epoch 1"),
        "{job}"
    );
    assert!(job["live_svg"].as_str().is_some_and(|s| s.contains("cut short")), "{job}");
    assert!(job["stdout"].as_str().unwrap().contains("final test accuracy"), "{job}");
    // The lab's own files for the job (its metrics, its pictures) are never named to the user.
    let said = format!("{}{}", job["stdout"], job["stderr"]);
    assert!(!said.contains("nnopt-lab-") && !said.contains("(--metrics)"), "{said}");
    assert_eq!(lab.post("/api/job/stop", &json!({})).status, 404, "nothing runs now");
    // Finished, the slot is free again.
    let r = lab.post("/api/train", &json!({ "args": ["--data", "synthetic", "--epochs", "1"] }));
    assert_eq!(r.status, 202, "{}", r.body);
    let job = lab.wait_for_job(PATIENCE);
    assert_eq!(
        (job["state"].as_str(), job["ended"].as_str(), job["exit_code"].as_i64()),
        (Some("finished"), Some("finished"), Some(0)),
        "{job}"
    );
    assert!(job["confusion_svg"].as_str().is_some_and(|s| s.contains("Confusion matrix")), "{job}");
    // A sweep asked to write its journal over a file that is not one: refused, the file intact.
    let precious = scratch("lab-409").join("notes.txt");
    std::fs::write(&precious, "my notes\n").unwrap();
    let r = lab
        .post("/api/sweep", &json!({ "args": ["--data", "synthetic", "--csv", precious.to_str().unwrap()] }));
    assert_eq!(r.status, 202, "{}", r.body);
    let job = lab.wait_for_job(PATIENCE);
    let said = format!(
        "refused: --csv {}: the file exists and is not a sweep journal; choose another name",
        precious.display()
    );
    assert_eq!(
        (job["state"].as_str(), job["ended"].as_str(), job["exit_code"].as_i64()),
        (Some("refused"), Some(said.as_str()), Some(2)),
        "{job}"
    );
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "my notes\n");
    assert!(job["table"].is_null(), "a refused sweep shows no table: {job}");
}

/// Ctrl-C on the lab while it trains — to its whole process group, as a terminal sends it: the
/// run stops as Ctrl-C stops it, its weights saved and valid, and the lab ends as that signal
/// asks (exit by SIGINT), leaving no process behind.
#[test]
fn ctrl_c_on_the_lab_stops_its_run_with_the_work_kept() {
    use std::os::unix::process::CommandExt;
    let mut command = nnopt_command(&["lab", "--port", "0"]);
    command.process_group(0);
    let mut lab = Lab::spawn(command);
    let dir = scratch("lab-ctrl-c");
    let weights = dir.join("w.safetensors");
    let args = json!({ "args": ["--data", "synthetic", "--epochs", "3", "--batch-size", "1", "--lr", "0.005",
                                "--log-interval", "500", "--save", weights.to_str().unwrap()] });
    assert_eq!(lab.post("/api/train", &args).status, 202);
    lab.wait_for_progress(PATIENCE);
    // SAFETY: kill(2) on the group our own child leads.
    unsafe { libc::kill(-(lab.child.id() as libc::pid_t), libc::SIGINT) };
    let status = lab.child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(weights.to_str().unwrap()))
        .collect();
    assert!(left.is_empty(), "left running: {left:?}");
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
    // Two rounds of warming up: the allocator's and libtorch's pools settle, then stay.
    for _ in 0..100 {
        lab.post("/api/descent", &args);
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

/// The perceptron view's run is `nnopt perceptron`'s, loss for loss; its epochs are asked for
/// by run, and a run replaced by a newer one (another tab) is refused, not mixed up.
#[test]
fn perceptron_runs_equal_the_command_s_and_a_replaced_run_is_refused() {
    let lab = Lab::start();
    let args = ["--seed", "0", "--epochs", "20"];
    let first = lab.post("/api/perceptron", &json!({ "args": args })).json();
    let cli = nnopt_json(&[&["perceptron", "--json"][..], &args].concat());
    let losses: Vec<Value> = cli["history"].as_array().unwrap().iter().map(|h| h["loss"].clone()).collect();
    assert_eq!(first["losses"], json!(losses));
    let view = lab.get(&format!("/api/perceptron/epoch?run={}&k=7", first["run"])).json();
    assert_eq!(view["view"]["loss"], losses[6]);
    assert_eq!(
        view["view"]["w"],
        json!(cli["history"][6]["w"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().clone())
            .collect::<Vec<_>>())
    );
    let second = lab.post("/api/perceptron", &json!({ "args": ["--seed", "3", "--epochs", "5"] })).json();
    assert_ne!(first["run"], second["run"]);
    let stale = lab.get(&format!("/api/perceptron/epoch?run={}&k=7", first["run"]));
    assert_eq!((stale.status, stale.error().contains("was replaced by run")), (409, true), "{}", stale.body);
    let unknown = lab.get("/api/perceptron/epoch?run=999&k=1");
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, format!("no run 999: the latest is run {}", second["run"]))
    );
    let past = lab.get(&format!("/api/perceptron/epoch?run={}&k=6", second["run"]));
    assert_eq!((past.status, past.error()), (400, "epoch 6: this run has epochs 0 to 5".to_string()));
}

/// A sweep continued from its journal (`--resume`) and stopped from the page says what this
/// run added and what the journal holds — not the resumed trials as its own.
#[test]
fn a_resumed_sweep_stopped_from_the_page_says_what_this_run_added() {
    let lab = Lab::start();
    let journal = scratch("lab-resume").join("j.csv");
    let _ = std::fs::remove_file(&journal);
    let path = journal.to_str().unwrap();
    let flags = ["--data", "synthetic", "--epochs", "1", "--lr", "1e-3..1:log"];
    super::common::nnopt_ok(&[&["sweep", "--quiet", "--trials", "2", "--csv", path][..], &flags].concat());
    let args: Vec<&str> = [&["--trials", "40", "--resume", path][..], &flags].concat();
    let r = lab.post("/api/sweep", &json!({ "args": args }));
    assert_eq!(r.status, 202, "{}", r.body);
    let started = Instant::now();
    while lab.get("/api/job").json()["table"]["rows"].as_array().map_or(0, Vec::len) < 3 {
        assert!(started.elapsed() < PATIENCE, "no new trial");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab.post("/api/job/stop", &json!({})).status, 200);
    let job = lab.wait_for_job(PATIENCE);
    let held = job["table"]["rows"].as_array().unwrap().len();
    let journal_rows = std::fs::read_to_string(&journal).unwrap().lines().count() - 2;
    assert_eq!(held, journal_rows, "{job}");
    assert_eq!(
        job["ended"].as_str().unwrap(),
        format!(
            "stopped from the page (SIGINT, as Ctrl-C) after {} trial(s) in this run; {path} holds {held}",
            held - 2
        ),
        "{job}"
    );
}
