//! Remedies for experiments the trainer rejects before any work: a loss that does not fit the
//! data's task (class labels into a regression loss, real values into a class loss) is caught
//! when the trainer is built, and the fix is to use the loss the task needs.

use serde_json::json;

use super::remedy::{Change, Remedy};

/// The remedy for a rejection message of the trainer's setup, when there is one: the loss
/// the data's task needs.
pub fn remedy_for(rejection: &str) -> Option<Remedy> {
    if !rejection.starts_with("loss: ") {
        return None;
    }
    let (loss, why) = if rejection.contains("but the data's targets are class labels") {
        (
            "CrossEntropyLoss",
            "the targets are class labels: CrossEntropyLoss",
        )
    } else if rejection.contains("but the data's targets are real values") {
        ("MSELoss", "the targets are real values: MSELoss")
    } else if rejection.contains("a language model is trained with CrossEntropyLoss") {
        (
            "CrossEntropyLoss",
            "a language model predicts tokens: CrossEntropyLoss",
        )
    } else {
        return None;
    };
    Some(Remedy::new(
        vec![Change::set("loss", json!({ "type": loss }))],
        why,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regression_loss_on_classes_becomes_cross_entropy() {
        let r = remedy_for(
            "loss: MSELoss takes real-valued targets, but the data's targets are class labels: use CrossEntropyLoss",
        )
        .unwrap();
        assert_eq!(r.to_cli(), "--set 'loss={ type = \"CrossEntropyLoss\" }'");
        let r = remedy_for(
            "loss: CrossEntropyLoss takes class labels, but the data's targets are real values (task = \"regression\")",
        )
        .unwrap();
        assert!(r.to_cli().contains("MSELoss"));
        assert!(
            remedy_for("model: outputs 3 values per sample but the data has 10 classes").is_none()
        );
    }
}
