//! `tuna board` in a real browser: the binary serves a folder with a real iris run, the
//! fixture runs and a study; headless Chromium (driven over WebDriver by chromedriver) checks
//! that the runs appear and filter, that a curve is drawn, that an epoch appended to a
//! running run shows up without a reload within 2 s, that compare and a study page render
//! their plots; screenshots go to `target/board-screenshots/`. Ctrl-C (SIGINT) then stops the
//! board cleanly.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and `chromium-driver`; or set
//! TUNA_CHROMIUM and TUNA_CHROMEDRIVER). Without them the test is skipped with a message, and
//! fails when CI is set (`.ci/run` installs them).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

#[path = "../crates/board/tests/fixtures/mod.rs"]
mod fixtures;

fn tool(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// The browser and its driver, or `None` (skip) outside CI.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = tool(
        "TUNA_CHROMIUM",
        &[
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ],
    );
    let driver = tool("TUNA_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::env::var_os("CI").is_some() => panic!(
            "CI is set but chromium or chromedriver is missing: .ci/run must install Debian's \
             chromium and chromium-driver (or set TUNA_CHROMIUM and TUNA_CHROMEDRIVER)"
        ),
        _ => {
            eprintln!(
                "SKIPPED: the board's browser test needs chromium and chromedriver \
                 (apt-get install chromium chromium-driver, or TUNA_CHROMIUM / TUNA_CHROMEDRIVER)"
            );
            None
        }
    }
}

/// Child processes killed when the test ends, whatever happens.
struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP/1.1 request to `addr` (the WebDriver protocol is JSON over HTTP).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<Value> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    // read the head, then exactly Content-Length bytes: a driver may keep the connection
    // open after the response despite `Connection: close`
    let mut reader = BufReader::new(s);
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut bytes = Vec::new();
    match length {
        Some(n) => {
            bytes.resize(n, 0);
            reader.read_exact(&mut bytes)?;
        }
        None => {
            reader.read_to_end(&mut bytes)?;
        }
    }
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

struct Driver {
    addr: SocketAddr,
    session: String,
}

impl Driver {
    fn start(driver: &Path, chromium: &Path, profile: &Path, kill: &mut Kill) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        kill.0.push(child);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let start = Instant::now();
        while !http(addr, "GET", "/status", None).is_ok_and(|v| v["value"]["ready"] == true) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let v = http(addr, "POST", "/session", Some(&caps)).unwrap();
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Driver { addr, session }
    }

    fn call(&self, method: &str, what: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}/{what}", self.session);
        let v = http(self.addr, method, &path, body).unwrap();
        if v["value"]["error"].is_string() {
            panic!("WebDriver {what}: {}", v["value"]);
        }
        v["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "url", Some(&json!({ "url": url })));
    }

    fn js(&self, script: &str) -> Value {
        self.call(
            "POST",
            "execute/sync",
            Some(&json!({ "script": script, "args": [] })),
        )
    }

    /// Evaluates `script` until it returns something truthy, for at most `limit`.
    fn wait(&self, what: &str, script: &str, limit: Duration) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == false || v == 0 || v == "") {
                return v;
            }
            assert!(start.elapsed() < limit, "waited {limit:?} for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "window/rect",
            Some(&json!({ "width": width, "height": height })),
        );
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "screenshot", None);
        let png = base64(b64.as_str().expect("screenshot"));
        assert_eq!(&png[1..4], b"PNG");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/board-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), png).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = http(
            self.addr,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !matches!(c, b'=' | b'\n' | b'\r'))
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (val(c) as u32) << (18 - 6 * i));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The folder the board shows: a real iris run, the fixture runs and the fixture study.
fn folder() -> PathBuf {
    let root = fixtures::scratch("browser");
    fixtures::tree(&root);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(["train", "examples/configs/iris.toml", "--out"])
        .arg(root.join("iris"))
        .args([
            "--set",
            r#"train.metrics=["accuracy", "f1", "confusion_matrix"]"#,
        ])
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root
}

#[test]
fn the_board_in_a_real_browser() {
    let Some((chromium, chromedriver)) = browser() else {
        return;
    };
    let root = folder();
    let mut kill = Kill(Vec::new());
    let mut board = Command::new(env!("CARGO_BIN_EXE_tuna"))
        .args(["board", "--port", "0"])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(board.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let url = url.trim().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let pid = board.id();
    kill.0.push(board);
    let profile = fixtures::scratch("browser-profile");
    let d = Driver::start(&chromedriver, &chromium, &profile, &mut kill);
    let long = Duration::from_secs(20);

    // the runs: every one listed, filterable, sortable
    d.go(&url);
    let rows = d.wait("the runs table", "return document.querySelectorAll('#runs-table tbody tr[data-text]').length >= 8 && document.querySelectorAll('#runs-table tbody tr[data-text]').length", long);
    assert_eq!(
        rows, 8,
        "iris, mlp-a, mlp-b, 3 in sweep, broken, a study trial"
    );
    assert!(d
        .js("return document.querySelector('#studies-table').innerText")
        .as_str()
        .unwrap()
        .contains("fixture-study"));
    d.screenshot("board-runs.png");
    let shown = d.js("const f = document.querySelector('#filter'); f.value = 'failed'; f.dispatchEvent(new Event('input')); return [...document.querySelectorAll('#runs-table tbody tr')].filter(r => !r.hidden).length");
    assert_eq!(shown, 1);
    d.js("const f = document.querySelector('#filter'); f.value = ''; f.dispatchEvent(new Event('input'))");
    let epochs = d.js("const th = () => document.querySelector('th[data-key=epochs]'); th().click(); th().click(); return [...document.querySelectorAll('#runs-table tbody tr')].map(r => parseInt(r.children[3].textContent))");
    let epochs: Vec<i64> = serde_json::from_value(epochs).unwrap();
    assert!(
        epochs.windows(2).all(|w| w[0] >= w[1]),
        "not sorted by epochs, descending: {epochs:?}"
    );

    // a run: curves drawn
    d.size(1400, 1900);
    d.go(&format!("{url}#/run/iris"));
    d.wait(
        "the loss chart",
        "return document.querySelectorAll('#curves canvas').length >= 3",
        long,
    );
    let painted = d.wait("a drawn loss curve", r#"
        const c = document.querySelector('#curve-loss canvas');
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) {
          if (Math.abs(px[i] - 31) < 30 && Math.abs(px[i + 1] - 119) < 30 && Math.abs(px[i + 2] - 180) < 30) n++;
        }
        return n > 200 && n"#, long);
    assert!(painted.as_u64().unwrap() > 200);
    assert!(
        d.js("return document.querySelector('#diagnosis').innerText")
            .as_str()
            .unwrap()
            .len()
            > 10
    );
    d.wait(
        "the confusion matrix",
        "return document.querySelectorAll('table.cm td').length === 9",
        long,
    );
    d.screenshot("board-run.png");

    // live: an epoch appended to a running run appears without a reload
    d.size(1400, 1000);
    d.go(&format!("{url}#/run/sweep%2Flive"));
    d.wait("the live run", "return document.querySelector('#epochs') && document.querySelector('#epochs').textContent.startsWith('5 /') && document.querySelector('#live.on')", long);
    d.js("window.__sameDocument = 'yes'");
    let start = Instant::now();
    fixtures::append_epoch(&root.join("sweep/live"), 6);
    d.wait(
        "epoch 6 on the page",
        "return document.querySelector('#epochs').textContent.startsWith('6 /')",
        long,
    );
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "the new epoch took {took:?} to show"
    );
    assert_eq!(
        d.js("return window.__sameDocument"),
        "yes",
        "the page was reloaded"
    );
    assert_eq!(
        d.js("return tunaBoard.charts['curve-loss'].data[0].length"),
        6
    );
    eprintln!("a new epoch showed on the page after {took:?}");

    // compare
    d.go(&format!("{url}#/compare/mlp-a,mlp-b"));
    d.wait("the overlay", "return document.querySelectorAll('#overlay canvas').length && document.querySelector('#diff').innerText.includes('optimizer.lr')", long);
    d.screenshot("board-compare.png");

    // a study: every plot
    d.size(1400, 1700);
    d.go(&format!("{url}#/study/study"));
    d.wait("the study's plots", "return document.querySelectorAll('#parallel svg path.trial').length === 5 && document.querySelector('#history canvas') && document.querySelector('#intermediate canvas') && document.querySelectorAll('#importances .bar').length === 3 && document.querySelectorAll('#slices canvas').length >= 3", long);
    let trials = d.js("return document.querySelectorAll('#trials tbody tr').length");
    assert_eq!(trials, 9);
    d.screenshot("board-study.png");
    drop(d);

    // Ctrl-C stops it cleanly
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut board = kill.0.remove(0);
    let start = Instant::now();
    let code = loop {
        if let Some(s) = board.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the board did not stop on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    board
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(code.success(), "{code:?}: {err}");
    assert!(err.contains("stopped"), "{err}");
}
