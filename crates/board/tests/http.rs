//! Every endpoint of the board over plain HTTP, on the fixture tree: the runs list, a run's
//! page, compare, a study, live events, the embedded assets; and the guards: nothing outside
//! the folders (`..`, absolute paths, links, percent-encoded traversal), `GET` only, the
//! `Host` check, malformed and half-written run files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

mod fixtures;

/// One board over one fixture tree, shared by every test of this file.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let root = fixtures::scratch("http");
        let runs = root.join("runs");
        fixtures::tree(&runs);
        fixtures::long_run(&runs.join("long"), 100_000);
        // outside the served folder: a run, a secret, and links to them from inside
        let outside = root.join("outside");
        fixtures::run(&outside.join("secret-run"), "secret", 0.01, 16, 2, 2);
        std::fs::write(outside.join("secret.txt"), "TOP-SECRET").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink(outside.join("secret-run"), runs.join("linked-run")).unwrap();
            let l = fixtures::run(&runs.join("leaky"), "leaky", 0.01, 16, 2, 2);
            std::fs::remove_file(l.path().join("signals.jsonl")).unwrap();
            symlink(outside.join("secret.txt"), l.path().join("signals.jsonl")).unwrap();
        }
        start(&runs)
    })
}

/// A board over `folder` on a free port, running until the test process ends.
fn start(folder: &Path) -> SocketAddr {
    let board = tuna_board::Board::new(&[folder.to_path_buf()]).unwrap();
    let listener = tuna_board::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || board.serve(listener, std::future::pending()).unwrap());
    addr
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends `request_line` (with the board's own `Host` unless `host` says otherwise) and
/// reads the whole answer. No URL normalization: the target goes out as written.
fn raw(method: &str, target: &str, host: Option<&str>) -> Reply {
    raw_at(server(), method, target, host)
}

fn raw_at(addr: SocketAddr, method: &str, target: &str, host: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let host = host.map_or(addr.to_string(), str::to_string);
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Reply {
        status,
        head: head.to_string(),
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn get(target: &str) -> Reply {
    raw("GET", target, None)
}

fn row<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no run {id} in {list}"))
}

#[test]
fn the_runs_list_has_every_run_with_its_state_metrics_and_differences() {
    let r = get("/api/runs");
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let ids: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in [
        "mlp-a",
        "mlp-b",
        "sweep/failed",
        "sweep/live",
        "sweep/stopped",
        "broken",
        "long",
        "study/trials/0000",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert!(
        !ids.contains(&"linked-run"),
        "a linked folder outside was listed"
    );
    assert_eq!(row(&list, "mlp-a")["state"], "finished");
    assert_eq!(row(&list, "sweep/failed")["state"], "failed");
    assert_eq!(row(&list, "sweep/live")["state"], "running");
    assert_eq!(row(&list, "sweep/stopped")["state"], "stopped");
    let a = row(&list, "mlp-a");
    assert_eq!(a["epochs"], 30);
    assert_eq!(a["monitor"], "val_loss");
    assert!(a["best"]["val_accuracy"].as_f64().unwrap() > 0.9);
    assert!(a["last"]["val_loss"].is_number());
    assert!(a["diagnosis"]["id"].is_string(), "{a}");
    let differing: Vec<&str> = list["differing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(differing.contains(&"optimizer.lr"), "{differing:?}");
    assert!(
        differing.contains(&"model.layers[0].out_features"),
        "{differing:?}"
    );
    assert!(!differing.contains(&"loss.type"), "{differing:?}");
    assert_eq!(a["params"]["optimizer.lr"], 0.01);
    assert_eq!(row(&list, "mlp-b")["params"]["optimizer.lr"], 0.003);
    let study = &list["studies"][0];
    assert_eq!(study["id"], "study");
    assert_eq!(study["counts"]["complete"], 5);
    assert_eq!(study["counts"]["pruned"], 2);
}

#[test]
fn a_run_page_has_curves_signals_diagnosis_config_and_confusion_matrix() {
    let r = get("/api/run?id=mlp-a");
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    let series = &p["curves"]["series"];
    for k in ["train_loss", "val_loss", "val_accuracy", "lr"] {
        assert_eq!(series[k].as_array().map(Vec::len), Some(30), "{k}");
    }
    assert_eq!(p["curves"]["x"][0], 1.0);
    assert_eq!(
        p["signals"]["params"]["0.weight"]["grad_norm"]
            .as_array()
            .map(Vec::len),
        Some(30)
    );
    assert!(p["signals"]["dead_units"]["1 (ReLU)"].is_array());
    assert!(!p["diagnosis"]["findings"].as_array().unwrap().is_empty());
    assert!(p["config"].as_str().unwrap().contains("[optimizer]"));
    assert_eq!(p["confusion"]["classes"][2], "virginica");
    assert_eq!(p["confusion"]["matrix"][1][2], 1);
    let failed = get("/api/run?id=sweep%2Ffailed").json();
    assert!(failed["failure"].as_str().unwrap().contains("non-finite"));
    assert_eq!(failed["row"]["state"], "failed");
}

#[test]
fn a_folder_of_a_thousand_runs_is_listed_whole() {
    let root = fixtures::scratch("thousand");
    for i in 0..1000 {
        let lr = 0.001 * (1 + i % 10) as f64;
        let run = fixtures::run(&root.join(format!("r{i:04}")), "many", lr, 16 + i % 4, 5, 5);
        if i % 2 == 0 {
            fixtures::finish(&run, "many");
        }
    }
    let addr = start(&root);
    let started = Instant::now();
    let r = raw_at(addr, "GET", "/api/runs", None);
    eprintln!(
        "1000 runs listed in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    let runs = list["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1000);
    let finished = runs.iter().filter(|r| r["state"] == "finished").count();
    assert_eq!(finished, 500, "{}", runs[0]);
}

#[test]
fn a_run_of_100000_epochs_arrives_downsampled_with_its_spike() {
    let p = get("/api/run?id=long").json();
    let c = &p["curves"];
    assert_eq!(c["total"], 100_000);
    let shown = c["shown"].as_u64().unwrap() as usize;
    // at least the first and last point of every bucket
    assert!((200..=tuna_board::MAX_POINTS).contains(&shown), "{shown}");
    let loss = c["series"]["train_loss"].as_array().unwrap();
    assert_eq!(loss.len(), shown);
    let max = loss
        .iter()
        .filter_map(Value::as_f64)
        .fold(f64::MIN, f64::max);
    assert!(max > 5.0, "the spike at epoch 50000 was lost: max {max}");
    assert_eq!(c["x"][shown - 1], 100_000.0);
}

#[test]
fn compare_overlays_runs_and_lists_their_differences() {
    let r = get("/api/compare?id=mlp-a&id=mlp-b");
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_eq!(c["runs"].as_array().unwrap().len(), 2);
    assert_eq!(c["runs"][1]["id"], "mlp-b");
    let diff: Vec<&str> = c["differing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(
        diff.contains(&"optimizer.lr") && !diff.contains(&"name"),
        "{diff:?}"
    );
    assert_eq!(get("/api/compare").status, 400);
    assert_eq!(get("/api/compare?id=mlp-a&id=nope").status, 404);
}

#[test]
fn a_study_page_has_trials_importances_and_links_to_trial_runs() {
    let r = get("/api/study?id=study");
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.json();
    assert_eq!(s["name"], "fixture-study");
    assert_eq!(s["metric"], "val_accuracy");
    assert_eq!(s["direction"], "maximize");
    let trials = s["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 9);
    assert_eq!(trials[0]["run"], "study/trials/0000");
    assert_eq!(trials[3]["state"], "pruned");
    assert_eq!(trials[3]["intermediate"].as_array().unwrap().len(), 2);
    assert_eq!(trials[8]["state"], "running");
    assert_eq!(trials[1]["params"]["loader.batch_size"]["shown"], "32");
    let names: Vec<&str> = s["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"optimizer.lr"));
    assert_eq!(
        s["params"][names.iter().position(|n| *n == "optimizer.lr").unwrap()]["scale"],
        "log"
    );
    let imp = s["importances"].as_array().unwrap();
    assert_eq!(imp.len(), 3);
    let total: f64 = imp.iter().map(|i| i[1].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    assert!(s["best"].is_u64());
    assert_eq!(get("/api/study?id=mlp-a").status, 404);
}

#[test]
fn the_page_and_its_assets_are_embedded_and_load_nothing_from_elsewhere() {
    let index = get("/");
    assert_eq!(index.status, 200);
    assert!(index
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/html"));
    assert!(index.body.contains("/assets/app.js"));
    for name in tuna_board::asset_names() {
        let r = get(&format!("/assets/{name}"));
        assert_eq!(r.status, 200, "{name}");
        assert!(!r.body.is_empty(), "{name}");
        if name.ends_with(".html") || name == "app.js" || name == "app.css" {
            for bad in [
                "src=\"http",
                "href=\"http",
                "url(http",
                "fetch(\"http",
                "//cdn",
            ] {
                assert!(!r.body.contains(bad), "{name} loads from elsewhere: {bad}");
            }
        }
    }
    assert!(get("/assets/uPlot-LICENSE.txt").body.contains("MIT"));
    assert!(
        index.head.contains("content-security-policy"),
        "{}",
        index.head
    );
}

#[test]
fn nothing_outside_the_folders_is_served() {
    let secretish = |r: &Reply| r.body.contains("TOP-SECRET") || r.body.contains("root:x:");
    for target in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/assets/..%2f..%2f..%2fCargo.toml",
        "/assets/%2e%2e%2fsrc%2flib.rs",
        "/assets/../../etc/passwd",
        "//etc/passwd",
        "/api/run?id=../outside/secret-run",
        "/api/run?id=..%2Foutside%2Fsecret-run",
        "/api/run?id=%2Fetc%2Fpasswd",
        "/api/run?id=/etc",
        "/api/run?id=linked-run",
        "/api/run?id=mlp-a/../../outside/secret-run",
        "/api/run?id=%252e%252e%252foutside",
        "/api/study?id=../outside",
        "/api/compare?id=mlp-a&id=..%2Foutside%2Fsecret-run",
        "/api/events?watch=run&id=../outside/secret-run",
        "/etc/passwd",
        "/runs/mlp-a/config.toml",
        "/mlp-a/metrics.jsonl",
    ] {
        let r = get(target);
        assert!(
            !secretish(&r),
            "{target} served a file from outside: {}",
            r.body
        );
        if !target.starts_with("/api/events") {
            assert!(
                r.status == 404 || r.status == 400,
                "{target}: status {} {}",
                r.status,
                r.body
            );
        }
    }
    // a run whose signals.jsonl links outside: listed, but that file is not read
    let leaky = get("/api/run?id=leaky");
    assert_eq!(leaky.status, 200);
    assert!(!secretish(&leaky));
    assert!(leaky.body.contains("links outside"), "{}", leaky.body);
}

#[test]
fn only_get_is_answered_and_only_for_this_machine() {
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let r = raw(method, "/api/runs", None);
        assert_eq!(r.status, 405, "{method}: {}", r.head);
    }
    assert_eq!(raw("GET", "/api/runs", Some("evil.example:80")).status, 403);
    let port = server().port();
    assert_eq!(
        raw("GET", "/", Some(&format!("localhost:{port}"))).status,
        200
    );
    assert_eq!(get("/nope").status, 404);
    assert_eq!(get("/api/run").status, 400);
    assert_eq!(get("/api/run?id=nope").status, 404);
    assert_eq!(get("/api/events?watch=bogus").status, 400);
}

#[test]
fn malformed_and_half_written_files_leave_the_rest_readable() {
    let r = get("/api/run?id=broken");
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    // the three good epochs and the one after the bad line; the torn last line is skipped
    assert_eq!(p["curves"]["total"], 4, "{}", p["curves"]);
    let warnings = p["row"]["warnings"].to_string();
    assert!(warnings.contains("line 4"), "{warnings}");
    assert!(warnings.contains("summary.json"), "{warnings}");
    assert_eq!(p["signals"]["total"], 3);
    let list = get("/api/runs").json();
    assert_eq!(row(&list, "broken")["epochs"], 4);
}

/// Reads server-sent events from `target` until one named `name` arrives or `limit` passes.
fn wait_event(reader: &mut impl BufRead, name: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut line = String::new();
    while start.elapsed() < limit {
        // a read that times out keeps what it read of the line: clear only after whole lines
        match reader.read_line(&mut line) {
            Ok(0) => return None,
            Ok(_) if line.trim_end() == format!("event: {name}") => return Some(start.elapsed()),
            Ok(_) => line.clear(),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    None
}

fn events(addr: SocketAddr, target: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    BufReader::new(s)
}

#[test]
fn a_new_epoch_and_a_new_trial_are_announced_live() {
    // a board of its own: this test changes its runs and study
    let root = fixtures::scratch("http-live");
    fixtures::tree(&root);
    let addr = start(&root);
    let get = |target: &str| raw_at(addr, "GET", target, None);
    let mut run = events(addr, "/api/events?watch=run&id=sweep%2Flive");
    assert!(wait_event(&mut run, "ready", Duration::from_secs(10)).is_some());
    let mut list = events(addr, "/api/events?watch=runs");
    assert!(wait_event(&mut list, "ready", Duration::from_secs(10)).is_some());
    fixtures::append_epoch(&root.join("sweep/live"), 6);
    let took = wait_event(&mut run, "change", Duration::from_secs(10)).expect("no change event");
    assert!(
        took < Duration::from_secs(2),
        "the run's change took {took:?}"
    );
    assert!(wait_event(&mut list, "change", Duration::from_secs(10)).is_some());
    assert_eq!(get("/api/run?id=sweep%2Flive").json()["row"]["epochs"], 6);

    let mut study = events(addr, "/api/events?watch=study&id=study");
    assert!(wait_event(&mut study, "ready", Duration::from_secs(10)).is_some());
    let loc = tuna_tune::storage::Location::Sqlite(root.join("study/study.db"));
    let (mut st, _, _) = tuna_tune::storage::open_existing(&loc, Some("fixture-study")).unwrap();
    let n = fixtures::add_trial(
        st.as_mut(),
        0.007,
        32,
        1,
        tuna_tune::TrialState::Complete,
        6,
    );
    let took = wait_event(&mut study, "change", Duration::from_secs(10)).expect("no study change");
    assert!(
        took < Duration::from_secs(2),
        "the study's change took {took:?}"
    );
    let s = get("/api/study?id=study").json();
    assert!(s["trials"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["number"] == n));
}
