//! Runs the examples (and so the book's code, which is included from them) as tests.

#[path = "../examples/autograd_basics.rs"]
mod autograd_basics;

#[test]
fn autograd_basics_runs() {
    autograd_basics::main();
}

#[path = "../examples/schedules.rs"]
mod schedules;

#[test]
fn schedules_runs() {
    schedules::main();
}

#[path = "../examples/custom_plugin.rs"]
#[allow(dead_code)] // its `main` is the binary entry point
mod custom_plugin;

#[test]
fn custom_plugins_load_by_name_and_train() {
    let (first, last) = custom_plugin::run();
    assert!(last < first / 10.0);
}

#[path = "../examples/sequence_models.rs"]
mod sequence_models;

#[test]
fn sequence_models_runs() {
    sequence_models::main();
}
