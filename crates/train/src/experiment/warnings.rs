//! Settings that have no effect, said at start: a user who changes `optimizer.lr` under a
//! schedule that sets the lr from `max_lr` must hear why nothing changes.

use serde_json::Value;

use super::{get_path, Experiment};

impl Experiment {
    /// Every setting of the file (or of a `--set`) that is overridden by another or unused,
    /// one message each naming the setting, why, and what controls it instead.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.schedule_overrides(&mut out);
        let given = |p: &str| get_path(&self.source, p).is_some();
        if given("train.clip_norm_type") && self.train.clip_grad_norm.is_none() {
            out.push(self.say(
                "train.clip_norm_type",
                "is unused: it is the norm of train.clip_grad_norm, which is not set",
            ));
        }
        if let Some(s) = &self.scheduler {
            if s.monitor.is_some() && s.config.typetag_name() != "ReduceLROnPlateau" {
                out.push(self.say(
                    "scheduler.monitor",
                    &format!(
                        "is unused: only ReduceLROnPlateau watches a metric, the schedule is {}",
                        s.config.typetag_name()
                    ),
                ));
            }
        }
        out
    }

    /// `path` plus whether it came from `--set`, then `why`.
    fn say(&self, path: &str, why: &str) -> String {
        let value = get_path(&self.source, path).map(value_text);
        let set = self.overridden.iter().any(|o| o == path);
        let how = match (value, set) {
            (Some(v), true) => format!("{path} = {v} (from --set) "),
            (Some(v), false) => format!("{path} = {v} "),
            (None, _) => format!("{path} "),
        };
        format!("{how}{why}")
    }

    /// The lr (and momentum) a cycling schedule sets, which the optimizer's own values do
    /// not change.
    fn schedule_overrides(&self, out: &mut Vec<String>) {
        let Some(s) = &self.scheduler else { return };
        let name = s.config.typetag_name();
        let (peak, cycles_momentum) = match name {
            "OneCycleLR" => ("scheduler.max_lr", s.config.cycles_momentum()),
            "CyclicLR" => (
                "scheduler.base_lr and scheduler.max_lr",
                s.config.cycles_momentum(),
            ),
            _ => return,
        };
        if get_path(&self.source, "optimizer.lr").is_some() {
            let peak_value = get_path(&self.source, "scheduler.max_lr").map(value_text);
            let at = peak_value.map_or(String::new(), |v| format!(" (max_lr = {v})"));
            out.push(self.say(
                "optimizer.lr",
                &format!(
                    "has no effect: {name} sets the learning rate from {peak}{at}; change that \
                     instead"
                ),
            ));
        }
        if !cycles_momentum {
            return;
        }
        for field in ["optimizer.momentum", "optimizer.betas"] {
            if get_path(&self.source, field).is_some() {
                out.push(self.say(
                    field,
                    &format!(
                        "is overridden: {name} cycles the momentum between \
                         scheduler.base_momentum and scheduler.max_momentum (set \
                         scheduler.cycle_momentum = false to keep it)"
                    ),
                ));
            }
        }
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}
