//! Runs the examples (and so the book's code, which is included from them) as tests.

#[path = "../examples/autograd_basics.rs"]
mod autograd_basics;

#[test]
fn autograd_basics_runs() {
    autograd_basics::main();
}

#[path = "../examples/sequence_models.rs"]
mod sequence_models;

#[test]
fn sequence_models_runs() {
    sequence_models::main();
}
