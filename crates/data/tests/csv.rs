//! The `Csv` config on the bundled iris data and on small temporary tables: labels, targets,
//! splits, standardization and every error naming the file and line.

mod common;

use std::path::PathBuf;

use common::{class_counts, ctx, feature_stats, labels, temp_dir};
use tuna_data::{Column, Csv, CsvTask, DataConfig, DataSplits, Target, Task};

fn iris() -> Csv {
    let mut c = Csv::new("datasets/iris/iris.csv");
    c.header = false;
    c.skip_rows = 1;
    c.label = Some(Column::Index(-1));
    c.class_names = Some(vec![
        "setosa".into(),
        "versicolor".into(),
        "virginica".into(),
    ]);
    c
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = temp_dir("csv").join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(c: &Csv) -> DataSplits {
    c.load(&ctx(0)).unwrap()
}

fn err(c: &Csv) -> String {
    c.load(&ctx(0)).unwrap_err().to_string()
}

#[test]
fn iris_all_rows() {
    let mut c = iris();
    c.validation = 0.0.into();
    c.standardize = false;
    let s = load(&c);
    assert_eq!(s.train.len(), 150);
    assert!(s.validation.is_none() && s.test.is_none());
    assert_eq!(s.train.input_kind().sample_shape(), &[4]);
    assert_eq!(class_counts(&*s.train, 3), vec![50, 50, 50]);
    assert_eq!(
        s.task,
        Task::Classification {
            num_classes: 3,
            class_names: vec!["setosa".into(), "versicolor".into(), "virginica".into()]
        }
    );
    // raw values survive (first row 5.1,3.5,1.4,0.2,0 is somewhere in the train order)
    assert!((0..150).any(|i| *s.train.get(i).input.as_dense() == [5.1, 3.5, 1.4, 0.2]));
}

#[test]
fn iris_default_class_names_from_integers() {
    let mut c = iris();
    c.class_names = None;
    let s = load(&c);
    match s.task {
        Task::Classification { class_names, .. } => assert_eq!(class_names, ["0", "1", "2"]),
        t => panic!("{t:?}"),
    }
}

#[test]
fn iris_stratified_split() {
    let mut c = iris();
    c.validation = 0.2.into();
    c.test = 0.2.into();
    let s = load(&c);
    let (val, test) = (s.validation.unwrap(), s.test.unwrap());
    assert_eq!((s.train.len(), val.len(), test.len()), (90, 30, 30));
    assert_eq!(class_counts(&*s.train, 3), vec![30, 30, 30]);
    assert_eq!(class_counts(&*val, 3), vec![10, 10, 10]);
    assert_eq!(class_counts(&*test, 3), vec![10, 10, 10]);
    // deterministic in the seed
    let again = c.load(&ctx(0)).unwrap();
    assert_eq!(labels(&*again.train), labels(&*s.train));
    assert_eq!(
        again.train.get(5).input.as_dense(),
        s.train.get(5).input.as_dense()
    );
    let other = c.load(&ctx(1)).unwrap();
    assert_ne!(
        (0..90)
            .map(|i| other.train.get(i).input.as_dense().to_vec())
            .collect::<Vec<_>>(),
        (0..90)
            .map(|i| s.train.get(i).input.as_dense().to_vec())
            .collect::<Vec<_>>()
    );
}

#[test]
fn standardization_fitted_on_train_only() {
    let mut c = iris();
    c.validation = 0.2.into();
    c.test = 0.2.into();
    let s = load(&c);
    let (mean, std) = feature_stats(&*s.train);
    for j in 0..4 {
        assert!(mean[j].abs() < 1e-5, "train mean {j}: {}", mean[j]);
        assert!((std[j] - 1.0).abs() < 1e-5, "train std {j}: {}", std[j]);
    }
    // validation uses the training statistics, so its own are not exactly 0/1
    for held_out in [&s.validation, &s.test] {
        let (vm, vs) = feature_stats(&**held_out.as_ref().unwrap());
        assert!(vm.iter().any(|m| m.abs() > 1e-3), "{vm:?}");
        assert!(vs.iter().any(|s| (s - 1.0).abs() > 1e-3), "{vs:?}");
        assert!(vm.iter().all(|m| m.abs() < 1.0));
    }
    // without standardization the raw centimetres come through
    c.standardize = false;
    let raw = load(&c);
    let (rm, _) = feature_stats(&*raw.train);
    assert!(rm[0] > 5.0 && rm[0] < 6.5, "{rm:?}");
}

#[test]
fn header_names_string_labels_and_quotes() {
    let p = write(
        "animals.csv",
        "weight,\"height, cm\",kind\r\n1,10,cat\r\n2,20,dog\r\n3,30,\"cat\"\r\n4,40,ant\r\n\r\n",
    );
    let mut c = Csv::new(&p);
    c.label = Some("kind".into());
    c.validation = 0.0.into();
    c.standardize = false;
    let s = load(&c);
    match &s.task {
        Task::Classification { class_names, .. } => {
            assert_eq!(class_names, &["ant", "cat", "dog"])
        }
        t => panic!("{t:?}"),
    }
    assert_eq!(s.train.len(), 4);
    let mut rows: Vec<(Vec<f32>, usize)> = (0..4)
        .map(|i| {
            let x = s.train.get(i);
            let Target::Class(c) = x.target else { panic!() };
            (x.input.as_dense().to_vec(), c)
        })
        .collect();
    rows.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
    assert_eq!(rows[0], (vec![1.0, 10.0], 1));
    assert_eq!(rows[3], (vec![4.0, 40.0], 0));
    // a subset of features by name and by index
    c.features = Some(vec!["height, cm".into()]);
    assert_eq!(load(&c).train.input_kind().sample_shape(), &[1]);
    c.features = Some(vec![Column::Index(0)]);
    assert_eq!(load(&c).train.input_kind().sample_shape(), &[1]);
    // string labels mapped by class_names
    c.features = None;
    c.class_names = Some(vec!["dog".into(), "cat".into(), "ant".into(), "bee".into()]);
    let s = load(&c);
    assert_eq!(class_counts(&*s.train, 4), vec![1, 2, 1, 0]);
}

#[test]
fn regression_with_several_targets() {
    let p = write(
        "reg.tsv",
        "a\tb\ty1\ty2\n1\t2\t3\t4\n5\t6\t7\t8\n9\t10\t11\t12\n",
    );
    let mut c = Csv::new(&p);
    c.delimiter = "\t".into();
    c.task = CsvTask::Regression;
    c.targets = Some(vec!["y1".into(), "y2".into()]);
    c.validation = 0.0.into();
    let s = load(&c);
    assert_eq!(
        s.task,
        Task::Regression {
            outputs: 2,
            target_names: vec!["y1".into(), "y2".into()],
            target_scale: None,
        }
    );
    let x = s.train.get(0);
    let Target::Values(v) = x.target else {
        panic!()
    };
    assert_eq!(v.len(), 2);
    assert_eq!(v[1] - v[0], 1.0); // targets are not standardized
    assert_eq!(x.input.as_dense().len(), 2);
    // one target via label; the features exclude it
    c.targets = None;
    c.label = Some(Column::Index(2));
    let s = load(&c);
    assert_eq!(s.train.input_kind().sample_shape(), &[3]);
}

#[test]
fn ragged_row() {
    let p = write(
        "ragged.csv",
        "a,b,c,d,label\n1,2,3,4,0\n1,2,3,4,1\n1,2,3,1\n",
    );
    let e = err(&Csv::new(&p));
    assert_eq!(
        e,
        format!("{}: line 4: expected 5 columns, found 4", p.display())
    );
}

#[test]
fn non_numeric_cell() {
    // one text cell among numbers is an error naming the file, line and column
    let p = write("nan.csv", "a,b,label\n1,2,0\n1,oops,1\n");
    let e = err(&Csv::new(&p));
    assert!(
        e.starts_with(&format!(
            "{}: line 3: column \"b\": expected a finite number, found \"oops\"",
            p.display()
        )),
        "{e}"
    );
    assert!(
        e.contains("data.na_values") && e.contains("data.categorical"),
        "{e}"
    );
    // an empty cell is a missing value: imputed with the training mean, not an error
    let p = write("nohdr.csv", "1,2,0\n1,,1\n3,4,0\n");
    let mut c = Csv::new(&p);
    c.header = false;
    c.validation = 0.0.into();
    c.standardize = false;
    let s = load(&c);
    let rows: Vec<Vec<f32>> = (0..3)
        .map(|i| s.train.get(i).input.as_dense().to_vec())
        .collect();
    assert!(rows.contains(&vec![1.0, 3.0]), "{rows:?}");
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("column 1: 1 of 3 training rows miss a value")),
        "{:?}",
        s.notes
    );
}

#[test]
fn bad_labels() {
    let mut c = iris();
    c.class_names = Some(vec!["setosa".into(), "versicolor".into()]);
    let e = err(&c);
    assert!(
        e.contains("iris.csv: line 102: column 4: label 2 is out of range for the 2 class_names"),
        "{e}"
    );
    let p = write("lab.csv", "x,y\n1,a\n2,b\n3,zebra\n");
    let mut c = Csv::new(&p);
    c.class_names = Some(vec!["a".into(), "b".into()]);
    let e = err(&c);
    assert_eq!(
        e,
        format!(
            "{}: line 4: column \"y\": label \"zebra\" is not one of the class_names [\"a\", \"b\"]",
            p.display()
        )
    );
}

#[test]
fn unknown_columns() {
    let p = write("cols.csv", "sepal,petal,species\n1,2,a\n");
    let mut c = Csv::new(&p);
    c.label = Some("class".into());
    let e = err(&c);
    assert!(e.starts_with("data.label: no column \"class\" in "), "{e}");
    assert!(
        e.contains("cols.csv; the columns are \"sepal\", \"petal\", \"species\""),
        "{e}"
    );
    c.label = Some(Column::Index(3));
    let e = err(&c);
    assert!(
        e.contains("column index 3 is out of range") && e.contains("cols.csv"),
        "{e}"
    );
    c.label = None;
    c.features = Some(vec!["species".into()]);
    let e = err(&c);
    assert!(e.starts_with("data.features: column \"species\""), "{e}");
    let mut c = iris();
    c.label = Some("species".into());
    let e = err(&c);
    assert!(e.contains("header = false"), "{e}");
}

#[test]
fn empty_and_missing_files() {
    let p = write("empty.csv", "");
    let e = err(&Csv::new(&p));
    assert_eq!(e, format!("{}: empty file: no rows", p.display()));
    let p = write("blank.csv", "\n\r\n\n");
    assert!(err(&Csv::new(&p)).contains("empty file"));
    let p = write("header-only.csv", "a,b,c\n");
    assert_eq!(err(&Csv::new(&p)), format!("{}: no data rows", p.display()));
    let e = err(&Csv::new("datasets/iris/nope.csv"));
    assert!(
        e.contains("datasets/iris/nope.csv not found; looked in "),
        "{e}"
    );
    let p = write("quote.csv", "a,b\n1,\"2\n");
    let e = err(&Csv::new(&p));
    assert!(
        e.contains("quote.csv: line 2: quoted field is never closed"),
        "{e}"
    );
}

#[test]
fn constant_feature_gets_unit_std() {
    let p = write("const.csv", "a,b,y\n1,7,0\n2,7,1\n3,7,0\n4,7,1\n");
    let mut c = Csv::new(&p);
    c.validation = 0.0.into();
    let s = load(&c);
    for i in 0..4 {
        assert_eq!(s.train.get(i).input.as_dense()[1], 0.0);
    }
}
