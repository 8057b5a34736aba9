//! The PyTorch fixtures, through the shared `tuna-fixtures` test-support crate.
#![allow(unused_imports)]

pub use tuna_fixtures::{
    cfg_dims, cfg_f64, cfg_i, cfg_usizes, check_close, Case as OpCase, FixtureTensor, Tolerance,
};

/// The cases of `ops.json`.
pub fn load_ops() -> Vec<OpCase> {
    tuna_fixtures::load("ops.json")
}
