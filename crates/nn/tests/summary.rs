//! The text of a model summary.

use tuna_nn::{summary, LayerConfig};

#[test]
fn summary_table_of_a_small_cnn() {
    // ANCHOR: summary
    let spec: Box<dyn LayerConfig> = serde_json::from_str(
        r#"{"type": "Sequential", "layers": [
            {"type": "Conv2d", "in_channels": 1, "out_channels": 4, "kernel_size": 3, "padding": 1},
            {"type": "BatchNorm2d", "num_features": 4},
            {"type": "ReLU"},
            {"type": "MaxPool2d", "kernel_size": 2},
            {"type": "Flatten"},
            {"type": "Linear", "in_features": 64, "out_features": 10}]}"#,
    )
    .unwrap();
    let s = summary(spec.as_ref(), &[2, 1, 8, 8]).unwrap();
    println!("{s}");
    // ANCHOR_END: summary
    assert_eq!(s.total_params, 40 + 8 + 650);
    let expected = "\
========================================================================
Layer (type:depth-idx)              Output Shape                 Param #
========================================================================
Sequential                          [2, 10]                           --
├─Conv2d: 1-1                       [2, 4, 8, 8]                      40
├─BatchNorm2d: 1-2                  [2, 4, 8, 8]                       8
├─ReLU: 1-3                         [2, 4, 8, 8]                      --
├─MaxPool2d: 1-4                    [2, 4, 4, 4]                      --
├─Flatten: 1-5                      [2, 64]                           --
└─Linear: 1-6                       [2, 10]                          650
========================================================================
Input shape: [2, 1, 8, 8]
Total params: 698
Trainable params: 698
Non-trainable params: 0
Buffer values: 9
========================================================================";
    assert_eq!(s.to_string(), expected, "\n{s}");
    let err = summary(spec.as_ref(), &[2, 3, 8, 8])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[2, 3, 8, 8]") && err.contains("Conv2d"),
        "{err}"
    );
}
