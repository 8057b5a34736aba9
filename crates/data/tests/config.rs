//! The `[data]` section: TOML/JSON round trips of every built-in `DataConfig`, defaults,
//! unknown fields, field validation, and a user-defined plugin.

mod common;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tuna_data::{
    Column, Csv, CsvTask, DataConfig, DataContext, DataError, DataSplits, Holdout, Mnist, Task,
    TensorDataset,
};

fn from_toml(s: &str) -> Result<Box<dyn DataConfig>, toml::de::Error> {
    toml::from_str(s)
}

fn roundtrip(cfg: Box<dyn DataConfig>) {
    let t = toml::to_string(&cfg).unwrap();
    let back: Box<dyn DataConfig> = toml::from_str(&t).unwrap();
    assert_eq!(format!("{cfg:?}"), format!("{back:?}"), "TOML:\n{t}");
    let j = serde_json::to_string(&cfg).unwrap();
    let back: Box<dyn DataConfig> = serde_json::from_str(&j).unwrap();
    assert_eq!(format!("{cfg:?}"), format!("{back:?}"), "JSON: {j}");
}

#[test]
fn every_builtin_roundtrips() {
    tuna_data::link();
    let mut m = Mnist::new("datasets/mnist-10k");
    m.validation = 0.1;
    m.train_subset = Some(1000);
    roundtrip(Box::new(m));
    roundtrip(Box::new(Mnist::new("x")));
    let mut c = Csv::new("data.csv");
    c.label = Some(Column::Name("y".into()));
    c.features = Some(vec![
        Column::Index(0),
        Column::Name("b".into()),
        Column::Index(-2),
    ]);
    c.class_names = Some(vec!["a".into(), "b".into()]);
    c.delimiter = ";".into();
    roundtrip(Box::new(c));
    let mut r = Csv::new("r.csv");
    r.task = CsvTask::Regression;
    r.targets = Some(vec!["y1".into(), "y2".into()]);
    roundtrip(Box::new(r));
}

#[test]
fn mnist_defaults_from_toml() {
    let cfg = from_toml("type = \"Mnist\"\npath = \"datasets/mnist-10k\"").unwrap();
    cfg.validate().unwrap();
    let s = toml::to_string(&cfg).unwrap();
    let m: Mnist = toml::from_str(&s.replace("type = \"Mnist\"\n", "")).unwrap();
    assert_eq!(m, Mnist::new("datasets/mnist-10k"));
    assert_eq!(m.validation, 0.0);
    assert!(m.stratified && m.normalize && m.test);
    assert_eq!(m.train_subset, None);
}

#[test]
fn csv_defaults_and_iris_config() {
    let c: Csv = toml::from_str("path = \"a.csv\"").unwrap();
    assert_eq!(c, Csv::new("a.csv"));
    assert_eq!(c.delimiter, ",");
    assert!(c.header && c.stratified && c.standardize);
    assert_eq!(
        (c.skip_rows, c.validation, c.test),
        (0, Holdout::Fraction(0.2), Holdout::Fraction(0.0))
    );
    assert_eq!(c.task, CsvTask::Classification);

    let cfg = from_toml(
        r#"
type = "Csv"
path = "datasets/iris/iris.csv"
header = false
skip_rows = 1
label = -1
class_names = ["setosa", "versicolor", "virginica"]
validation = 0.2
"#,
    )
    .unwrap();
    let s = cfg.load(&common::ctx(0)).unwrap();
    assert_eq!(s.train.len(), 120);
    assert_eq!(s.validation.unwrap().len(), 30);
    // JSON works the same
    let j: Box<dyn DataConfig> = serde_json::from_str(
        r#"{"type": "Csv", "path": "datasets/iris/iris.csv", "header": false, "skip_rows": 1,
            "label": 4, "task": "classification"}"#,
    )
    .unwrap();
    assert_eq!(j.load(&common::ctx(0)).unwrap().train.len(), 120);
}

#[test]
fn unknown_fields_rejected() {
    let e = from_toml("type = \"Mnist\"\npath = \"x\"\nvalidaton = 0.1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `validaton`"), "{e}");
    let e = from_toml("type = \"Csv\"\npath = \"x\"\nlabels = \"y\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown field `labels`"), "{e}");
    let e = from_toml("type = \"Parquet\"\npath = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("Parquet"), "{e}");
    let e = from_toml("type = \"Csv\"\npath = \"x\"\ntask = \"ranking\"")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ranking"), "{e}");
}

#[test]
fn invalid_fields_name_the_field() {
    let cfg = from_toml("type = \"Mnist\"\npath = \"x\"\nvalidation = 1.5").unwrap();
    let e = cfg.validate().unwrap_err();
    assert!(matches!(e, DataError::Config { ref field, .. } if field == "data.validation"));
    assert_eq!(
        e.to_string(),
        "data.validation: must be a fraction in [0, 1), got 1.5"
    );
    // load validates too, before touching the file system
    assert!(cfg
        .load(&DataContext::new(0))
        .unwrap_err()
        .to_string()
        .starts_with("data.validation: "));
    let cfg = from_toml("type = \"Csv\"\npath = \"x\"\nvalidation = 1.5").unwrap();
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.validation: "));
    let cfg = from_toml("type = \"Csv\"\npath = \"x\"\ntest = -0.1").unwrap();
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.test: "));
    let cfg = from_toml("type = \"Csv\"\npath = \"x\"\ndelimiter = \"\"").unwrap();
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.delimiter: "));
    let cfg =
        from_toml("type = \"Csv\"\npath = \"x\"\ntask = \"regression\"\nclass_names = [\"a\"]")
            .unwrap();
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.class_names: "));
    let cfg = from_toml("type = \"Mnist\"\npath = \"x\"\ntrain_subset = 0").unwrap();
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.train_subset: "));
}

/// A user's own data source: y = 2x on a grid, registered with one attribute.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    points: usize,
}

#[typetag::serde(name = "Line")]
impl DataConfig for Line {
    fn validate(&self) -> Result<(), DataError> {
        if self.points < 2 {
            return Err(DataError::config("data.points", "must be >= 2"));
        }
        Ok(())
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        let x: Vec<f32> = (0..self.points).map(|i| i as f32).collect();
        let y: Vec<f32> = x.iter().map(|v| 2.0 * v).collect();
        let all = TensorDataset::regression(x, &[1], y, 1);
        let split = tuna_data::random_split(self.points, 0.25, 0.0, ctx.seed)?;
        Ok(DataSplits {
            train: Arc::new(all.select(&split.train)),
            validation: Some(Arc::new(all.select(&split.validation))),
            test: None,
            task: Task::Regression {
                outputs: 1,
                target_names: vec!["y".into()],
                target_scale: None,
            },
            preprocessing: serde_json::Value::Null,
            notes: Vec::new(),
        })
    }
}

#[test]
fn user_plugin_by_name() {
    let cfg = from_toml("type = \"Line\"\npoints = 8").unwrap();
    let s = cfg.load(&DataContext::new(1)).unwrap();
    assert_eq!(s.train.len(), 6);
    assert_eq!(s.validation.unwrap().len(), 2);
    roundtrip(cfg);
    let bad = from_toml("type = \"Line\"\npoints = 1").unwrap();
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "data.points: must be >= 2"
    );
}

#[test]
fn context_resolves_against_base_dirs_in_order() {
    let ctx = DataContext {
        base_dirs: vec!["/nonexistent-base".into(), common::repo_root()],
        seed: 0,
        fitted: None,
    };
    let p = ctx
        .resolve("data.path", std::path::Path::new("datasets/iris/iris.csv"))
        .unwrap();
    assert!(p.exists());
    let e = ctx
        .resolve("data.path", std::path::Path::new("datasets/nothing.csv"))
        .unwrap_err()
        .to_string();
    // the error names the field and every place that was tried
    assert!(
        e.starts_with("data.path: datasets/nothing.csv not found; looked in /nonexistent-base/datasets/nothing.csv, "),
        "{e}"
    );
    assert!(e.ends_with("datasets/nothing.csv"), "{e}");
}
