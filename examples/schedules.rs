//! Learning-rate schedules: build one from a config, step it, save and resume its state.
//! The book's "Learning-rate schedules" page includes this file.

use tuna::sched::LrSchedulerConfig;

/// Builds, steps, saves and resumes a OneCycleLR schedule.
pub fn main() {
    tuna::link_all();
    // ANCHOR: use
    let config: Box<dyn LrSchedulerConfig> = toml::from_str(
        r#"
        type = "OneCycleLR"
        max_lr = 0.1
        total_steps = 100
        "#,
    )
    .expect("a valid schedule config");
    let mut sched = config.build(&[0.1]).expect("valid for one group"); // one base lr per group
    for _step in 0..50 {
        let lr = sched.lrs(); // the lr for this step, one per parameter group
        let momentum = sched.momentum(); // Some(..): OneCycleLR cycles momentum / Adam beta1
        assert!(lr[0] > 0.0 && momentum.is_some());
        // optimizer.step(...) with this lr and momentum
        sched.step(None); // ReduceLROnPlateau takes Some(validation_metric)
    }
    // The state is serializable: save it in a checkpoint and resume exactly.
    let saved = serde_json::to_string(&sched.state()).unwrap();
    let mut resumed = config.build(&[0.1]).unwrap();
    resumed
        .load_state(&serde_json::from_str(&saved).unwrap())
        .unwrap();
    sched.step(None);
    resumed.step(None);
    assert_eq!(sched.lrs(), resumed.lrs());
    // ANCHOR_END: use
    println!("lr after 51 steps: {}", sched.lrs()[0]);
}
