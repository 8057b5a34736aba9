//! [`EpochRecord`]: one line of a run folder's `metrics.jsonl`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The metrics of one epoch, written as one flat JSON object per line of `metrics.jsonl`:
/// `{"epoch": 3, "train_loss": 0.21, "val_loss": 0.25, "train_accuracy": 0.94,
/// "val_accuracy": 0.93, "lr": 0.05, "seconds": 1.8}`.
///
/// Keys besides `epoch` are `train_<metric>` / `val_<metric>` (`loss` included), `lr` (the
/// first parameter group's learning rate at the end of the epoch) and `seconds` (wall time of
/// the epoch). A non-finite value (a diverged loss) is written as `null` and read back as NaN.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// The epoch, counting from 1.
    pub epoch: usize,
    /// Every other key of the line.
    #[serde(flatten)]
    pub values: BTreeMap<String, Value>,
}

/// An `f64` that serializes non-finite values as JSON `null` (and reads `null` back as NaN).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Value(pub f64);

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_none()
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Value(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
    }
}

impl EpochRecord {
    /// An empty record for `epoch`.
    pub fn new(epoch: usize) -> Self {
        EpochRecord {
            epoch,
            values: BTreeMap::new(),
        }
    }

    /// Sets `key` to `value`.
    pub fn set(&mut self, key: impl Into<String>, value: f64) {
        self.values.insert(key.into(), Value(value));
    }

    /// The value of `key` (NaN for a recorded non-finite value), if recorded.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values.get(key).map(|v| v.0)
    }

    /// The metric names recorded for training (`loss`, `accuracy`, ...: the keys starting
    /// with `train_`, without the prefix), in key order.
    pub fn train_metrics(&self) -> Vec<&str> {
        self.values
            .keys()
            .filter_map(|k| k.strip_prefix("train_"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_round_trip_with_non_finite() {
        let mut r = EpochRecord::new(2);
        r.set("train_loss", f64::NAN);
        r.set("val_accuracy", 0.5);
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(line, r#"{"epoch":2,"train_loss":null,"val_accuracy":0.5}"#);
        let back: EpochRecord = serde_json::from_str(&line).unwrap();
        assert!(back.get("train_loss").unwrap().is_nan());
        assert_eq!(back.get("val_accuracy"), Some(0.5));
        assert_eq!(back.train_metrics(), vec!["loss"]);
    }
}
