//! One suite of storage tests, run on every backend.
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::trial::ParamValue;

#[cfg(feature = "sqlite")]
fn db(name: &str) -> Location {
    let p = std::env::temp_dir().join(format!("tuna-store-{}-{name}.db", std::process::id()));
    let _ = std::fs::remove_file(&p);
    Location::Sqlite(p)
}

fn memory() -> Location {
    Location::Memory(MemoryDatabase::new())
}

#[cfg(feature = "sqlite")]
fn cleanup(loc: &Location) {
    if let Location::Sqlite(p) = loc {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(feature = "postgres")]
/// The test PostgreSQL server (`TUNA_TEST_POSTGRES`, set by `.ci/run`): required in CI,
/// skipped with a message elsewhere.
fn postgres() -> Option<Location> {
    match std::env::var("TUNA_TEST_POSTGRES") {
        Ok(url) if !url.trim().is_empty() => Some(Location::parse(&url).unwrap()),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but TUNA_TEST_POSTGRES is not: .ci/run must start PostgreSQL and export it")
        }
        _ => {
            eprintln!("SKIPPED: set TUNA_TEST_POSTGRES=postgres://user:password@localhost/db to test the PostgreSQL storage");
            None
        }
    }
}

#[cfg(feature = "postgres")]
/// A study name no other test run uses (studies stay in the shared test database).
fn unique(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("test-{name}-{}-{nanos}", std::process::id())
}

fn budget_numbering_and_round_trip(loc: &Location, name: &str) {
    let space = serde_json::json!({"params": {"x": 1}});
    let mut s = open(loc, name, &space).unwrap();
    let mut made = Vec::new();
    while let Some((n, params)) = s
        .create_trial(3, "w", None, &mut |trials, n| {
            assert_eq!(trials.len() as u64, n);
            BTreeMap::from([("x".to_string(), ParamValue::Float(n as f64))])
        })
        .unwrap()
    {
        s.report(n, 1, 0.5).unwrap();
        s.report(n, 2, f64::NAN).unwrap();
        assert!(s
            .finish(
                n,
                TrialState::Complete,
                Some(n as f64),
                None,
                &serde_json::json!({"k": n}),
            )
            .unwrap());
        made.push((n, params));
    }
    assert_eq!(made.len(), 3);
    let trials = s.trials().unwrap();
    assert_eq!(trials.len(), 3);
    assert_eq!(trials[2].trial.value, Some(2.0));
    assert_eq!(trials[2].trial.state, TrialState::Complete);
    assert_eq!(trials[2].attrs["k"], 2);
    assert_eq!(
        trials[1].trial.params["x"],
        ParamValue::Float(1.0),
        "params round-trip"
    );
    assert_eq!(
        trials[1].trial.intermediate,
        BTreeMap::from([(1, 0.5)]),
        "NaN is not stored"
    );
    // A finished trial is not finished again.
    assert!(!s
        .finish(0, TrialState::Failed, None, None, &serde_json::json!({}))
        .unwrap());
    // The same name and space joins the study; a different space is refused.
    let (mut again, stored_name, stored_space) = open_existing(loc, Some(name)).unwrap();
    assert_eq!((stored_name.as_str(), &stored_space), (name, &space));
    assert_eq!(again.trials().unwrap(), trials);
    let mut joined = open(loc, name, &space).unwrap();
    assert_eq!(joined.trials().unwrap().len(), 3);
    let e = open(loc, name, &serde_json::json!({})).unwrap_err();
    assert!(e.to_string().contains("different search space"), "{e}");
}

fn a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(loc: &Location, name: &str) {
    let mut s = open(loc, name, &serde_json::json!({})).unwrap();
    s.create_trial(5, &worker_id(), None, &mut |_, _| BTreeMap::new())
        .unwrap()
        .unwrap();
    s.create_trial(
        5,
        &format!("{}:{}", hostname(), u32::MAX - 7),
        None,
        &mut |_, _| BTreeMap::new(),
    )
    .unwrap()
    .unwrap();
    s.expire_heartbeats();
    let reaped = s.reap_stale().unwrap();
    assert_eq!(reaped.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1]);
}

fn stale_running_trials_are_reaped_and_not_counted(loc: &Location, name: &str) {
    let mut s = open(loc, name, &serde_json::json!({})).unwrap();
    s.create_trial(2, "elsewhere:1", None, &mut |_, _| BTreeMap::new())
        .unwrap()
        .unwrap();
    assert!(s.reap_stale().unwrap().is_empty(), "fresh heartbeat");
    s.expire_heartbeats();
    // A worker's heartbeat keeps its trials alive.
    s.heartbeat_worker("elsewhere:1").unwrap();
    assert!(s.reap_stale().unwrap().is_empty(), "refreshed heartbeat");
    s.expire_heartbeats();
    let reaped = s.reap_stale().unwrap();
    assert_eq!(reaped.len(), 1);
    assert!(s.reap_stale().unwrap().is_empty(), "reaped once");
    // The reaped trial's late finish does not overwrite it.
    assert!(!s
        .finish(
            0,
            TrialState::Complete,
            Some(1.0),
            None,
            &serde_json::json!({})
        )
        .unwrap());
    // The interrupted trial does not use up the budget.
    assert!(s
        .create_trial(2, "w", Some(0), &mut |_, _| BTreeMap::new())
        .unwrap()
        .is_some());
    assert!(s
        .create_trial(2, "w", None, &mut |_, _| BTreeMap::new())
        .unwrap()
        .is_some());
    assert!(s
        .create_trial(2, "w", None, &mut |_, _| BTreeMap::new())
        .unwrap()
        .is_none());
}

/// Two workers (threads with their own connections) create trials at once until the
/// budget: every number is handed out once, the numbers are contiguous, and each
/// proposal saw every earlier trial.
fn concurrent_creators_never_share_a_number(loc: &Location, name: &str) {
    const BUDGET: usize = 40;
    let space = serde_json::json!({"concurrent": true});
    open(loc, name, &space).unwrap();
    let made: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let space = &space;
                scope.spawn(move || {
                    let mut s = open(loc, name, space).unwrap();
                    let mut mine = Vec::new();
                    while let Some((n, _)) = s
                        .create_trial(BUDGET, &format!("w{w}"), None, &mut |trials, n| {
                            assert_eq!(trials.len() as u64, n, "the proposal sees every trial");
                            BTreeMap::from([("x".to_string(), ParamValue::Float(n as f64))])
                        })
                        .unwrap()
                    {
                        s.report(n, 0, n as f64).unwrap();
                        s.finish(n, TrialState::Complete, Some(1.0), None, &Value::Null)
                            .unwrap();
                        mine.push(n);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u64> = made.concat();
    all.sort_unstable();
    assert_eq!(all, (0..BUDGET as u64).collect::<Vec<_>>());
    let mut s = open(loc, name, &space).unwrap();
    let trials = s.trials().unwrap();
    assert_eq!(trials.len(), BUDGET);
    assert!(trials.iter().all(|t| t.trial.state == TrialState::Complete));
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_budget_numbering_and_round_trip() {
    let loc = db("a");
    budget_numbering_and_round_trip(&loc, "s");
    cleanup(&loc);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
    let loc = db("c");
    a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(&loc, "s");
    cleanup(&loc);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_stale_running_trials_are_reaped_and_not_counted() {
    let loc = db("b");
    stale_running_trials_are_reaped_and_not_counted(&loc, "s");
    cleanup(&loc);
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_concurrent_creators_never_share_a_number() {
    let loc = db("d");
    concurrent_creators_never_share_a_number(&loc, "s");
    cleanup(&loc);
}

#[test]
fn memory_budget_numbering_and_round_trip() {
    budget_numbering_and_round_trip(&memory(), "s");
}

#[test]
fn memory_a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
    a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(&memory(), "s");
}

#[test]
fn memory_stale_running_trials_are_reaped_and_not_counted() {
    stale_running_trials_are_reaped_and_not_counted(&memory(), "s");
}

#[test]
fn memory_concurrent_creators_never_share_a_number() {
    concurrent_creators_never_share_a_number(&memory(), "s");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_budget_numbering_and_round_trip() {
    if let Some(loc) = postgres() {
        budget_numbering_and_round_trip(&loc, &unique("round-trip"));
    }
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_a_dead_local_worker_is_reaped_at_once_and_a_live_one_never() {
    if let Some(loc) = postgres() {
        a_dead_local_worker_is_reaped_at_once_and_a_live_one_never(&loc, &unique("dead"));
    }
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_stale_running_trials_are_reaped_and_not_counted() {
    if let Some(loc) = postgres() {
        stale_running_trials_are_reaped_and_not_counted(&loc, &unique("stale"));
    }
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_concurrent_creators_never_share_a_number() {
    if let Some(loc) = postgres() {
        concurrent_creators_never_share_a_number(&loc, &unique("concurrent"));
    }
}

#[test]
fn storage_arguments_parse_and_passwords_stay_out_of_messages() {
    let l = Location::parse("postgres://tuna:secret@db.example:5433/studies").unwrap();
    assert!(l.is_shared());
    assert_eq!(l.to_string(), "postgres://tuna:***@db.example:5433/studies");
    assert_eq!(l.as_arg(), "postgres://tuna:secret@db.example:5433/studies");
    assert_eq!(
        Location::parse("postgresql://me@localhost/db")
            .unwrap()
            .to_string(),
        "postgresql://me@localhost/db"
    );
    assert_eq!(
        Location::parse("sqlite:///tmp/x.db").unwrap(),
        Location::Sqlite(PathBuf::from("/tmp/x.db"))
    );
    assert!(
        l.same_database(&Location::parse("postgres://tuna:other@db.example:5433/studies").unwrap())
    );
    assert!(
        !l.same_database(&Location::parse("postgres://tuna:secret@db.example:5433/other").unwrap())
    );
    assert!(Location::parse("mysql://x@y/z").is_err());
    assert!(Location::parse("").is_err());
}
