//! # tuna-regularize
//!
//! Tuna's regularizers (L1, L2, elastic net), constraints (max-norm, unit-norm, non-negativity) and early stopping.

/// Forces this crate's typetag plugins to be linked into the final binary (typetag registers a
/// type only if its crate is linked). The `tuna` umbrella crate calls it; call it yourself if
/// you depend on this crate alone and load plugins by name.
pub fn link() {}
