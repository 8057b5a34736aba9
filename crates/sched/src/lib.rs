//! # tuna-sched
//!
//! Tuna's learning-rate schedules: every torch.optim.lr_scheduler as a typetag plugin; pure functions of the step.

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}
