//! # tuna-loss
//!
//! Tuna's losses: every torch.nn loss as a typetag plugin with PyTorch names, options and defaults.

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}
