//! [`EarlyStopping`]: stop training when a monitored metric has stopped improving
//! (Keras `callbacks.EarlyStopping`, Lightning `EarlyStopping`).
//!
//! Pure logic: the trainer feeds one value per epoch to [`EarlyStopping::update`] and acts on
//! the returned [`EarlyStoppingDecision`] (stop; at the end, restore the weights of
//! `best_epoch` if `restore_best`). The state is serializable for resuming a run.
//!
//! **Rule.** In `min` mode an epoch *improves* if `value < best − min_delta` (`max` mode:
//! `value > best + min_delta`), where `best` is the best value so far, or `baseline` before
//! any improvement, or ±∞ if there is neither. A NaN or ±∞ value never improves. `wait` counts
//! consecutive epochs without improvement; training stops once `wait >= patience` on a
//! non-improving epoch (so `patience = 0` stops at the first epoch that does not improve,
//! `patience = 3` at the third in a row), or immediately on a non-finite value if
//! `check_finite`. This is Keras' and Lightning's rule.

use serde::{Deserialize, Serialize};

use crate::error::{check_non_negative, RegularizeError};

/// Whether the monitored metric should go down or up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Infer from the metric's name (Keras' `"auto"`): `max` if the lower-cased name contains
    /// one of [`MAX_MODE_HINTS`] (`val_acc`, `val_accuracy`, `auc`, `f1`, ...), else `min`.
    #[default]
    Auto,
    /// Lower is better (losses, error rates).
    Min,
    /// Higher is better (accuracy, AUC, F1).
    Max,
}

/// Substrings of a metric name that make [`Mode::Auto`] choose [`Mode::Max`].
pub const MAX_MODE_HINTS: [&str; 5] = ["acc", "auc", "f1", "precision", "recall"];

impl Mode {
    /// The concrete mode ([`Mode::Min`] or [`Mode::Max`]) for the metric `monitor`.
    ///
    /// ```
    /// use tuna_regularize::Mode;
    /// assert_eq!(Mode::Auto.resolve("val_loss"), Mode::Min);
    /// assert_eq!(Mode::Auto.resolve("val_accuracy"), Mode::Max);
    /// assert_eq!(Mode::Min.resolve("val_accuracy"), Mode::Min);
    /// ```
    pub fn resolve(self, monitor: &str) -> Mode {
        match self {
            Mode::Auto => {
                let m = monitor.to_lowercase();
                if MAX_MODE_HINTS.iter().any(|h| m.contains(h)) {
                    Mode::Max
                } else {
                    Mode::Min
                }
            }
            m => m,
        }
    }
}

/// The early-stopping settings, as written in an experiment file:
///
/// ```toml
/// [train]
/// early_stopping = { monitor = "val_loss", patience = 5, min_delta = 1e-4 }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyStoppingConfig {
    /// The metric to watch, as the trainer names it. Default `"val_loss"`.
    pub monitor: String,
    /// `"min"`, `"max"` or `"auto"`. Default `"auto"` (see [`Mode::Auto`]).
    pub mode: Mode,
    /// Epochs without improvement after which training stops. Default `10`: Keras' `0` stops
    /// on the first noisy epoch and Lightning's `3` is often too short once the learning rate
    /// is scheduled; with `restore_best` the extra epochs cost only time.
    pub patience: usize,
    /// The smallest change that counts as an improvement; `>= 0`. Default `0`.
    pub min_delta: f64,
    /// Whether the trainer should restore the weights of the best epoch when training ends
    /// (Keras `restore_best_weights`). Default `true`.
    pub restore_best: bool,
    /// A value the metric must beat before any epoch counts as an improvement; if it never
    /// does, training stops after `patience` epochs. Default: none.
    pub baseline: Option<f64>,
    /// Stop at once when the metric is NaN or infinite (Lightning `check_finite`); if `false`
    /// such an epoch just does not improve. Default `true`.
    pub check_finite: bool,
}

impl Default for EarlyStoppingConfig {
    fn default() -> Self {
        EarlyStoppingConfig {
            monitor: "val_loss".to_string(),
            mode: Mode::Auto,
            patience: 10,
            min_delta: 0.0,
            restore_best: true,
            baseline: None,
            check_finite: true,
        }
    }
}

impl EarlyStoppingConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// A [`RegularizeError`] naming the field: empty `monitor`, negative or non-finite
    /// `min_delta`, non-finite `baseline`.
    pub fn validate(&self) -> Result<(), RegularizeError> {
        if self.monitor.trim().is_empty() {
            return Err(RegularizeError::field(
                "EarlyStopping",
                "monitor",
                "must name a metric (e.g. \"val_loss\"), got an empty string",
            ));
        }
        check_non_negative("EarlyStopping", "min_delta", self.min_delta)?;
        if let Some(b) = self.baseline {
            if !b.is_finite() {
                return Err(RegularizeError::field(
                    "EarlyStopping",
                    "baseline",
                    format!("must be finite, got {b}"),
                ));
            }
        }
        Ok(())
    }

    /// The concrete mode for `monitor` ([`Mode::resolve`]).
    pub fn resolved_mode(&self) -> Mode {
        self.mode.resolve(&self.monitor)
    }

    /// A fresh policy.
    ///
    /// # Errors
    /// See [`validate`](Self::validate).
    pub fn build(&self) -> Result<EarlyStopping, RegularizeError> {
        EarlyStopping::resume(self.clone(), EarlyStoppingState::default())
    }
}

/// The mutable part of [`EarlyStopping`], saved with a checkpoint so a resumed run makes the
/// same decisions as an uninterrupted one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStoppingState {
    /// The best value seen so far (always finite), if any epoch improved.
    pub best_value: Option<f64>,
    /// The epoch that produced `best_value`.
    pub best_epoch: Option<usize>,
    /// Consecutive epochs without improvement.
    pub wait: usize,
    /// The epoch at which the policy decided to stop, if it has.
    pub stopped_epoch: Option<usize>,
}

/// Why [`EarlyStopping`] decided to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// `patience` epochs in a row without improvement.
    Patience,
    /// The monitored value was NaN or infinite (and `check_finite` is on).
    NonFinite,
}

/// What [`EarlyStopping::update`] concluded about one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyStoppingDecision {
    /// This epoch improved on the best value (by more than `min_delta`, and beat `baseline`).
    pub improved: bool,
    /// Training should stop after this epoch.
    pub should_stop: bool,
    /// Why, when `should_stop`.
    pub reason: Option<StopReason>,
    /// The best epoch so far (`None` if no epoch has improved yet, e.g. under a baseline).
    pub best_epoch: Option<usize>,
    /// The best value so far.
    pub best_value: Option<f64>,
    /// Consecutive epochs without improvement, this one included.
    pub wait: usize,
}

/// The early-stopping policy: a validated [`EarlyStoppingConfig`] plus its
/// [`EarlyStoppingState`].
///
/// ```
/// use tuna_regularize::EarlyStoppingConfig;
///
/// let cfg = EarlyStoppingConfig { patience: 2, ..Default::default() };
/// let mut es = cfg.build().unwrap();
/// let losses = [1.0, 0.8, 0.85, 0.9, 0.7];
/// let mut stopped_at = None;
/// for (epoch, &loss) in losses.iter().enumerate() {
///     let d = es.update(epoch, loss);
///     if d.should_stop {
///         stopped_at = Some(epoch);
///         break;
///     }
/// }
/// assert_eq!(stopped_at, Some(3)); // epochs 2 and 3 did not improve on 0.8
/// assert_eq!(es.best_epoch(), Some(1));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct EarlyStopping {
    config: EarlyStoppingConfig,
    mode: Mode,
    state: EarlyStoppingState,
}

impl EarlyStopping {
    /// The policy for `config` continuing from `state` (use `EarlyStoppingState::default()`
    /// for a new run).
    ///
    /// # Errors
    /// If the config is invalid, or the state holds a non-finite `best_value`.
    pub fn resume(
        config: EarlyStoppingConfig,
        state: EarlyStoppingState,
    ) -> Result<Self, RegularizeError> {
        config.validate()?;
        if let Some(b) = state.best_value {
            if !b.is_finite() {
                return Err(RegularizeError::field(
                    "EarlyStoppingState",
                    "best_value",
                    format!("must be finite, got {b}"),
                ));
            }
        }
        let mode = config.resolved_mode();
        Ok(EarlyStopping {
            config,
            mode,
            state,
        })
    }

    /// The settings.
    pub fn config(&self) -> &EarlyStoppingConfig {
        &self.config
    }

    /// The resolved mode ([`Mode::Min`] or [`Mode::Max`]).
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The state to save with a checkpoint.
    pub fn state(&self) -> &EarlyStoppingState {
        &self.state
    }

    /// The best epoch so far.
    pub fn best_epoch(&self) -> Option<usize> {
        self.state.best_epoch
    }

    /// The best value so far.
    pub fn best_value(&self) -> Option<f64> {
        self.state.best_value
    }

    /// Whether the policy has decided to stop.
    pub fn stopped(&self) -> bool {
        self.state.stopped_epoch.is_some()
    }

    /// Whether the trainer should restore the best epoch's weights at the end.
    pub fn restore_best(&self) -> bool {
        self.config.restore_best
    }

    /// Whether `value` improves on the best so far (or on `baseline` before any improvement).
    /// Non-finite values never improve.
    pub fn is_improvement(&self, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        let Some(reference) = self.state.best_value.or(self.config.baseline) else {
            return true;
        };
        let d = self.config.min_delta;
        match self.mode {
            Mode::Max => value > reference + d,
            _ => value < reference - d,
        }
    }

    /// Records the monitored `value` of `epoch` and decides whether to stop. Once stopped,
    /// further calls change nothing and keep answering `should_stop = true`.
    pub fn update(&mut self, epoch: usize, value: f64) -> EarlyStoppingDecision {
        if self.stopped() {
            return self.decision(false, true, None);
        }
        let improved = self.is_improvement(value);
        if improved {
            self.state.best_value = Some(value);
            self.state.best_epoch = Some(epoch);
            self.state.wait = 0;
        } else {
            self.state.wait += 1;
        }
        let reason = if !value.is_finite() && self.config.check_finite {
            Some(StopReason::NonFinite)
        } else if !improved && self.state.wait >= self.config.patience {
            Some(StopReason::Patience)
        } else {
            None
        };
        if reason.is_some() {
            self.state.stopped_epoch = Some(epoch);
        }
        self.decision(improved, reason.is_some(), reason)
    }

    fn decision(
        &self,
        improved: bool,
        should_stop: bool,
        reason: Option<StopReason>,
    ) -> EarlyStoppingDecision {
        EarlyStoppingDecision {
            improved,
            should_stop,
            reason,
            best_epoch: self.state.best_epoch,
            best_value: self.state.best_value,
            wait: self.state.wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: EarlyStoppingConfig, values: &[f64]) -> (Option<usize>, EarlyStopping) {
        let mut es = cfg.build().unwrap();
        for (e, &v) in values.iter().enumerate() {
            if es.update(e, v).should_stop {
                return (Some(e), es);
            }
        }
        (None, es)
    }

    fn patience(p: usize) -> EarlyStoppingConfig {
        EarlyStoppingConfig {
            patience: p,
            ..Default::default()
        }
    }

    #[test]
    fn defaults() {
        let c = EarlyStoppingConfig::default();
        assert_eq!(c.monitor, "val_loss");
        assert_eq!(c.resolved_mode(), Mode::Min);
        assert_eq!((c.patience, c.min_delta, c.restore_best), (10, 0.0, true));
        assert_eq!((c.baseline, c.check_finite), (None, true));
    }

    #[test]
    fn validation() {
        let e = EarlyStoppingConfig {
            min_delta: -0.1,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "EarlyStopping.min_delta: must be >= 0, got -0.1"
        );
        let e = EarlyStoppingConfig {
            monitor: " ".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.to_string().starts_with("EarlyStopping.monitor:"), "{e}");
        let e = EarlyStoppingConfig {
            baseline: Some(f64::NAN),
            ..Default::default()
        }
        .build()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "EarlyStopping.baseline: must be finite, got NaN"
        );
    }

    #[test]
    fn serde_round_trips_and_errors() {
        let c = EarlyStoppingConfig {
            monitor: "val_accuracy".into(),
            mode: Mode::Max,
            patience: 3,
            min_delta: 1e-3,
            restore_best: false,
            baseline: Some(0.5),
            check_finite: false,
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            serde_json::from_str::<EarlyStoppingConfig>(&json).unwrap(),
            c
        );
        let t = toml::to_string(&c).unwrap();
        assert_eq!(toml::from_str::<EarlyStoppingConfig>(&t).unwrap(), c);
        let d: EarlyStoppingConfig =
            toml::from_str("monitor = \"val_loss\"\npatience = 5").unwrap();
        assert_eq!(d, patience(5));
        let e = toml::from_str::<EarlyStoppingConfig>("restore_best_weights = true")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `restore_best_weights`"), "{e}");
        let e = toml::from_str::<EarlyStoppingConfig>("mode = \"maximize\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected one of `auto`, `min`, `max`"), "{e}");
    }

    #[test]
    fn mode_inference() {
        for m in [
            "val_acc",
            "val_accuracy",
            "Accuracy",
            "val_auc",
            "f1",
            "val_recall",
        ] {
            assert_eq!(Mode::Auto.resolve(m), Mode::Max, "{m}");
        }
        for m in ["val_loss", "loss", "val_mae", "perplexity"] {
            assert_eq!(Mode::Auto.resolve(m), Mode::Min, "{m}");
        }
    }

    #[test]
    fn plateau_stops_after_patience() {
        let (stop, es) = run(patience(3), &[1.0, 0.5, 0.5, 0.5, 0.5, 0.5]);
        // epochs 2, 3, 4 do not improve (equal is not better)
        assert_eq!(stop, Some(4));
        assert_eq!((es.best_epoch(), es.best_value()), (Some(1), Some(0.5)));
        assert_eq!(es.state().stopped_epoch, Some(4));
    }

    #[test]
    fn improvement_resets_wait() {
        let mut es = patience(2).build().unwrap();
        let d: Vec<_> = [1.0, 1.1, 0.9, 1.0, 0.95, 0.8]
            .iter()
            .enumerate()
            .map(|(e, &v)| es.update(e, v))
            .collect();
        let improved: Vec<bool> = d.iter().map(|d| d.improved).collect();
        assert_eq!(improved, [true, false, true, false, false, false]);
        assert_eq!(d[1].wait, 1);
        assert_eq!(d[2].wait, 0);
        assert!(!d[3].should_stop);
        assert!(d[4].should_stop);
        assert_eq!(d[4].reason, Some(StopReason::Patience));
        assert_eq!(d[4].best_epoch, Some(2));
        // after stopping, nothing changes
        assert!(d[5].should_stop && !d[5].improved);
        assert_eq!(d[5].best_value, Some(0.9));
    }

    #[test]
    fn noisy_improvements_below_min_delta_do_not_count() {
        let cfg = EarlyStoppingConfig {
            patience: 3,
            min_delta: 0.01,
            ..Default::default()
        };
        // every value stays within min_delta of the best: only epoch 0 is an improvement
        let (stop, es) = run(cfg.clone(), &[1.0, 0.995, 0.992, 0.991, 0.9905]);
        assert_eq!(stop, Some(3));
        assert_eq!(es.best_epoch(), Some(0));
        // small steps that add up to more than min_delta below the best do count
        let (stop, es) = run(cfg, &[1.0, 0.995, 0.989, 0.985, 0.982, 0.981]);
        assert_eq!(stop, Some(5));
        assert_eq!(es.best_epoch(), Some(2));
    }

    #[test]
    fn max_mode() {
        let cfg = EarlyStoppingConfig {
            monitor: "val_accuracy".into(),
            patience: 2,
            ..Default::default()
        };
        let (stop, es) = run(cfg.clone(), &[0.5, 0.7, 0.6, 0.7, 0.9]);
        assert_eq!(es.mode(), Mode::Max);
        assert_eq!(stop, Some(3));
        assert_eq!((es.best_epoch(), es.best_value()), (Some(1), Some(0.7)));
        // explicit min on an accuracy name is respected
        let (stop, _) = run(
            EarlyStoppingConfig {
                mode: Mode::Min,
                ..cfg
            },
            &[0.5, 0.4, 0.3],
        );
        assert_eq!(stop, None);
    }

    #[test]
    fn patience_zero_stops_at_first_non_improvement() {
        let (stop, es) = run(patience(0), &[3.0, 2.0, 1.0, 1.5, 0.5]);
        assert_eq!(stop, Some(3));
        assert_eq!(es.best_epoch(), Some(2));
        // the first epoch always improves (no baseline)
        let (stop, _) = run(patience(0), &[3.0]);
        assert_eq!(stop, None);
    }

    #[test]
    fn nan_never_improves() {
        // check_finite (default): stop at once, best kept
        let mut es = patience(5).build().unwrap();
        es.update(0, 1.0);
        let d = es.update(1, f64::NAN);
        assert!(!d.improved && d.should_stop);
        assert_eq!(d.reason, Some(StopReason::NonFinite));
        assert_eq!((d.best_epoch, d.best_value), (Some(0), Some(1.0)));

        // without check_finite: NaN and -inf just do not improve, even as the first value
        let cfg = EarlyStoppingConfig {
            check_finite: false,
            patience: 3,
            ..Default::default()
        };
        let mut es = cfg.build().unwrap();
        let d = es.update(0, f64::NAN);
        assert!(!d.improved && !d.should_stop && d.best_value.is_none());
        assert!(!es.update(1, f64::NEG_INFINITY).improved);
        let d = es.update(2, 5.0);
        assert!(d.improved && d.wait == 0);
        assert!(!es.update(3, f64::NAN).should_stop);
        assert!(!es.update(4, f64::NAN).should_stop);
        assert!(es.update(5, f64::NAN).should_stop);
        assert_eq!(es.best_value(), Some(5.0));
    }

    #[test]
    fn baseline_must_be_beaten() {
        let cfg = EarlyStoppingConfig {
            patience: 3,
            baseline: Some(0.5),
            ..Default::default()
        };
        let (stop, es) = run(cfg.clone(), &[0.9, 0.8, 0.7, 0.6]);
        assert_eq!(stop, Some(2));
        assert_eq!(es.best_epoch(), None);
        let (stop, es) = run(cfg, &[0.9, 0.8, 0.4, 0.45, 0.42]);
        assert_eq!(stop, None);
        assert_eq!(es.best_epoch(), Some(2));
    }

    #[test]
    fn save_resume_equals_uninterrupted() {
        let values = [
            1.0, 0.9, 0.95, 0.85, 0.86, 0.87, 0.88, 0.84, 0.9, 0.91, 0.92,
        ];
        let cfg = patience(3);
        let mut full = cfg.build().unwrap();
        let whole: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(e, &v)| full.update(e, v))
            .collect();
        for k in 0..values.len() {
            let mut first = cfg.build().unwrap();
            let mut got: Vec<_> = (0..k).map(|e| first.update(e, values[e])).collect();
            let saved = serde_json::to_string(first.state()).unwrap();
            let state: EarlyStoppingState = serde_json::from_str(&saved).unwrap();
            let mut resumed = EarlyStopping::resume(cfg.clone(), state).unwrap();
            got.extend((k..values.len()).map(|e| resumed.update(e, values[e])));
            assert_eq!(got, whole, "resumed at {k}");
            assert_eq!(resumed, full);
        }
    }
}
