//! The data chapter of the book: loading MNIST and a CSV table from config sections, batching
//! them, and a user-defined data source.
//!
//! ```sh
//! cargo run --release -p tuna-data --example data
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tuna_data::{
    random_split, DataConfig, DataContext, DataError, DataLoader, DataSplits, LoaderConfig, Task,
    TensorDataset,
};

fn context(seed: u64) -> DataContext {
    // the working directory first, then the repository root (so this runs from anywhere)
    DataContext {
        base_dirs: vec![
            ".".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/../..").into(),
        ],
        seed,
        fitted: None,
    }
}

fn mnist() -> Result<(), DataError> {
    // ANCHOR: mnist
    let data: Box<dyn DataConfig> = toml::from_str(
        r#"
        type = "Mnist"
        path = "datasets/mnist-10k"
        validation = 0.1    # 800 of the 8000 training digits, stratified by digit
        "#,
    )
    .expect("valid TOML");
    let loader: LoaderConfig =
        toml::from_str("batch_size = 64\nshuffle = true").expect("valid TOML");
    data.validate()?;
    loader.validate()?;

    let splits = data.load(&context(0))?; // seed 0 fixes the validation split
    let train = DataLoader::train(splits.train.clone(), &loader, 0);
    for batch in train.epoch(0).take(2) {
        // inputs f32 [64, 1, 28, 28], targets i64 [64]
        println!(
            "batch {}: inputs {:?}, targets {:?}",
            batch.index,
            batch.inputs.shape(),
            batch.targets.shape()
        );
    }
    // resuming at batch 100 of epoch 3 yields exactly what an uninterrupted run would
    let resumed = train
        .epoch_from(3, 100)
        .next()
        .expect("125 batches per epoch");
    assert_eq!(resumed.inputs, train.epoch(3).nth(100).unwrap().inputs);

    // evaluation: in order, nothing dropped, eval_batch_size (default batch_size)
    let val = DataLoader::eval(
        splits.validation.clone().expect("validation = 0.1"),
        &loader,
    );
    println!("validation: {} batches", val.batches_per_epoch());
    // ANCHOR_END: mnist
    assert_eq!(splits.train.len(), 7200);
    Ok(())
}

fn iris() -> Result<(), DataError> {
    // ANCHOR: csv
    let data: Box<dyn DataConfig> = toml::from_str(
        r#"
        type = "Csv"
        path = "datasets/iris/iris.csv"
        header = false
        skip_rows = 1       # the line "150,4,setosa,versicolor,virginica"
        label = -1          # the last column
        class_names = ["setosa", "versicolor", "virginica"]
        validation = 0.2
        test = 0.2
        "#,
    )
    .expect("valid TOML");
    let splits = data.load(&context(0))?;
    // 90 / 30 / 30 rows, 10 of each class in validation and in test; every feature
    // standardized with the training rows' mean and std
    println!(
        "iris: {} train, {} validation, {} test; {:?}",
        splits.train.len(),
        splits.validation.as_ref().map_or(0, |d| d.len()),
        splits.test.as_ref().map_or(0, |d| d.len()),
        splits.task
    );
    // ANCHOR_END: csv
    assert_eq!(splits.train.len(), 90);
    Ok(())
}

// ANCHOR: custom
/// `y = slope · x` (no noise) on `points` evenly spaced x in [0, 1): a data source of
/// one's own, usable from an experiment file as `[data] type = "Line"`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    points: usize,
    #[serde(default = "one")]
    slope: f32,
    #[serde(default)]
    validation: f64,
}

fn one() -> f32 {
    1.0
}

#[typetag::serde(name = "Line")]
impl DataConfig for Line {
    fn validate(&self) -> Result<(), DataError> {
        if self.points < 2 {
            return Err(DataError::config(
                "data.points",
                format!("must be >= 2, got {}", self.points),
            ));
        }
        tuna_data::check_fraction("data.validation", self.validation)
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        let x: Vec<f32> = (0..self.points)
            .map(|i| i as f32 / self.points as f32)
            .collect();
        let y: Vec<f32> = x.iter().map(|v| self.slope * v).collect();
        let all = TensorDataset::regression(x, &[1], y, 1);
        // the experiment seed makes the split reproducible
        let split = random_split(self.points, self.validation, 0.0, ctx.seed)?;
        Ok(DataSplits {
            train: Arc::new(all.select(&split.train)),
            validation: (!split.validation.is_empty())
                .then(|| Arc::new(all.select(&split.validation)) as _),
            test: None,
            task: Task::Regression {
                outputs: 1,
                target_names: vec!["y".into()],
                target_scale: None,
            },
            // nothing is fitted on the training split here; a plugin that fits statistics
            // records them so that eval and predict reuse them
            preprocessing: serde_json::Value::Null,
            notes: Vec::new(),
        })
    }
}

fn custom() -> Result<(), DataError> {
    let data: Box<dyn DataConfig> =
        toml::from_str("type = \"Line\"\npoints = 100\nslope = 3.0\nvalidation = 0.2")
            .expect("valid TOML");
    let splits = data.load(&DataContext::new(0))?;
    assert_eq!(splits.train.len(), 80);
    Ok(())
}
// ANCHOR_END: custom

fn main() -> Result<(), DataError> {
    tuna_data::link();
    mnist()?;
    iris()?;
    custom()?;
    println!("custom Line data source: ok");
    Ok(())
}
