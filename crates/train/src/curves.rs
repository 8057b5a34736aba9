//! TEMPORARY stub (replaced by the metrics branch).
#![allow(missing_docs)]
use crate::record::EpochRecord;
pub struct Fig;
impl Fig {
    pub fn save(&self, _p: &std::path::Path) -> Result<(), String> {
        Ok(())
    }
}
pub fn learning_curves(_r: &[EpochRecord], _t: &str) -> Fig {
    Fig
}
