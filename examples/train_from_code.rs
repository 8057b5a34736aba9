//! The iris experiment built in Rust instead of run from the command line: an [`Experiment`]
//! parsed from TOML text (then edited as a struct), trained by a [`Trainer`] with a custom
//! [`Callback`] that watches the validation accuracy.
//!
//! Run with `cargo run --release --example train_from_code`.

use std::path::PathBuf;

use tuna::data::DataContext;
use tuna::nn::Module;
use tuna::train::callback::{Callback, Flow, RunInfo};
use tuna::train::{EpochRecord, Experiment, RunSummary, Trainer};

// ANCHOR: experiment
const IRIS: &str = r#"
seed = 0

[data]
type = "Csv"
path = "datasets/iris/iris.csv"
skip_rows = 1
label = 4
class_names = ["setosa", "versicolor", "virginica"]
validation = 0.2
test = 0.2
stratified = true
standardize = true

[loader]
batch_size = 16

[model]
type = "Sequential"
layers = [
  { type = "Linear", in_features = 4, out_features = 16 },
  { type = "ReLU" },
  { type = "Linear", in_features = 16, out_features = 3 },
]

[loss]
type = "CrossEntropyLoss"

[optimizer]
type = "Adam"
lr = 0.01

[train]
epochs = 100
metrics = ["accuracy"]
"#;
// ANCHOR_END: experiment

// ANCHOR: callback
/// Collects the validation accuracy of every epoch, prints it every 10 epochs, and stops
/// the run once it has been perfect for `patience` epochs in a row.
#[derive(Default)]
struct ValAccuracy {
    history: Vec<f64>,
    patience: usize,
}

impl Callback for ValAccuracy {
    fn on_train_begin(&mut self, info: &RunInfo) {
        println!(
            "training {} ({} parameters, {} batches per epoch)",
            info.name, info.parameters, info.batches_per_epoch
        );
    }

    fn on_epoch_end(&mut self, record: &EpochRecord, _model: &dyn Module) -> Flow {
        let acc = record.get("val_accuracy").unwrap_or(f64::NAN);
        self.history.push(acc);
        if record.epoch % 10 == 0 {
            println!("epoch {:3}: val_accuracy {:.3}", record.epoch, acc);
        }
        let perfect = self.history.iter().rev().take_while(|&&a| a == 1.0).count();
        if perfect >= self.patience {
            return Flow::Stop(format!("val_accuracy was 1.0 for {perfect} epochs"));
        }
        Flow::Continue
    }

    fn on_train_end(&mut self, summary: &RunSummary) {
        println!("done after {} epochs", summary.epochs_completed);
    }
}
// ANCHOR_END: callback

/// Trains iris and returns the test accuracy.
pub fn run() -> f64 {
    tuna::link_all();
    // ANCHOR: train
    let mut exp = Experiment::from_toml_str(IRIS).expect("a valid experiment");
    exp.name = Some("iris-from-code".into());
    exp.train.epochs = 60; // every section is a plain struct or a plugin box: edit freely
                           // Relative data paths resolve against these folders, in order.
    let ctx = DataContext {
        base_dirs: vec![
            PathBuf::from("."),
            PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        ],
        seed: exp.seed,
        fitted: None,
    };
    let mut trainer = Trainer::new(exp, &ctx).expect("data and model fit together");
    trainer.add_callback(Box::new(ValAccuracy {
        patience: 15,
        ..Default::default()
    }));
    // trainer.set_run_dir(RunDir::create("runs/iris".as_ref())?)? would also write a run folder
    let summary = trainer.fit().expect("training succeeds");
    let test_accuracy = summary.test["test_accuracy"].0;
    println!("test accuracy {test_accuracy:.3}");
    // ANCHOR_END: train
    test_accuracy
}

fn main() {
    let acc = run();
    assert!(acc > 0.9, "iris should be learned, test accuracy {acc}");
}
