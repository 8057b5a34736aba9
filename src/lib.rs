//! # Tuna
//!
//! A Rust toolkit for training deep-learning models and tuning them. This umbrella crate
//! re-exports every Tuna crate:
//!
//! - [`tensor`]: n-d tensors and PyTorch-exact CPU kernels;
//! - [`autograd`]: reverse-mode automatic differentiation on a per-step tape;
//! - [`nn`]: modules, layers, initialization, config-built models;
//! - [`loss`]: every PyTorch loss as a config plugin;
//! - [`optim`]: PyTorch-exact optimizers, parameter groups, gradient clipping;
//! - [`sched`]: learning-rate schedules;
//! - [`regularize`]: penalties, constraints and early stopping;
//! - [`data`]: datasets, the seeded `DataLoader`, MNIST and CSV readers;
//! - [`train`]: experiment files, the `Trainer`, metrics, run folders, checkpoints;
//! - [`plot`]: dependency-free SVG/PNG line plots;
//! - [`tune`]: hyperparameter search over experiment files;
//! - [`board`]: the local web dashboard over runs and studies (`tuna board`).

pub use tuna_autograd as autograd;
pub use tuna_board as board;
pub use tuna_data as data;
pub use tuna_loss as loss;
pub use tuna_nn as nn;
pub use tuna_optim as optim;
pub use tuna_plot as plot;
pub use tuna_regularize as regularize;
pub use tuna_sched as sched;
pub use tuna_tensor as tensor;
pub use tuna_train as train;
pub use tuna_tune as tune;

pub use tuna_autograd::{no_grad, Param, Tape, Var};
pub use tuna_tensor::{DType, Tensor};

/// Links every built-in plugin crate so that all typetag plugins (losses, optimizers,
/// schedules, regularizers, samplers, pruners, ...) can be deserialized by name. Call it once before loading a
/// config if your binary depends on `tuna`.
pub fn link_all() {
    tuna_nn::link();
    tuna_loss::link();
    tuna_optim::link();
    tuna_sched::link();
    tuna_regularize::link();
    tuna_data::link();
    tuna_tune::link();
}
