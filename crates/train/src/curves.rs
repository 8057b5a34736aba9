//! Learning-curve plots of a run (filled in next).
