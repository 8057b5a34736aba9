//! Real tables: categorical columns, missing values, target standardization, separate
//! validation/test files, the preprocessing a run saves (reused as it is, never refitted) and
//! rows read for prediction.

mod common;

use std::path::PathBuf;

use common::{ctx, temp_dir};
use tuna_data::{
    csv_preprocessing, CategoricalEncoding, Column, Csv, CsvTask, DataConfig, DataContext,
    FittedColumn, Impute, Target, Task,
};

fn write(name: &str, text: &str) -> PathBuf {
    let p = temp_dir("tables").join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PETS: &str = "\
weight,color,size,kind
4,green,10,cat
5,blue,,cat
30,green,60,dog
NA,red,55,dog
3,blue,9,cat
28,green,50,dog
";

fn pets() -> Csv {
    let mut c = Csv::new(write("pets.csv", PETS));
    c.label = Some("kind".into());
    c.validation = 0.0.into();
    c.standardize = false;
    c
}

fn rows(s: &tuna_data::DataSplits) -> Vec<Vec<f32>> {
    let mut v: Vec<Vec<f32>> = (0..s.train.len())
        .map(|i| s.train.get(i).input.as_dense().to_vec())
        .collect();
    v.sort_by(|a, b| a[1].total_cmp(&b[1]).then(a[0].total_cmp(&b[0])));
    v
}

#[test]
fn text_columns_are_detected_as_categorical_and_one_hot_encoded() {
    let s = pets().load(&ctx(0)).unwrap();
    let pre = csv_preprocessing(&s.preprocessing).unwrap();
    assert_eq!(
        pre.inputs,
        ["weight", "color=blue", "color=green", "color=red", "size"]
    );
    assert!(
        s.notes
            .iter()
            .any(|n| n.contains("categorical") && n.contains("\"color\"")),
        "{:?}",
        s.notes
    );
    // weight NA -> mean of 4,5,30,3,28 = 14; size "" -> mean of 10,60,55,9,50 = 36.8
    let r = rows(&s);
    assert!(r.contains(&vec![14.0, 0.0, 0.0, 1.0, 55.0]), "{r:?}");
    assert!(r.contains(&vec![5.0, 1.0, 0.0, 0.0, 36.8]), "{r:?}");
}

#[test]
fn imputation_choices_indicator_and_ordinal_codes() {
    let mut c = pets();
    c.impute = Impute::Median;
    c.missing_indicator = true;
    c.categorical_encoding = CategoricalEncoding::Ordinal;
    let s = c.load(&ctx(0)).unwrap();
    let pre = csv_preprocessing(&s.preprocessing).unwrap();
    assert_eq!(
        pre.inputs,
        ["weight", "weight_missing", "color", "size", "size_missing"]
    );
    let r = rows(&s);
    // weight median of 3,4,5,28,30 = 5; red has code 2
    assert!(r.contains(&vec![5.0, 1.0, 2.0, 55.0, 0.0]), "{r:?}");
    c.impute = Impute::Constant;
    c.fill_value = Some(-1.0);
    let s = c.load(&ctx(0)).unwrap();
    assert!(rows(&s).iter().any(|r| r[0] == -1.0));
}

#[test]
fn declared_categorical_numbers_and_na_values() {
    let p = write(
        "codes.csv",
        "zip,x,y\n1001,1,a\n?,2,b\n1001,3,a\n2002,4,b\n",
    );
    let mut c = Csv::new(&p);
    c.categorical = Some(vec![Column::Name("zip".into())]);
    c.na_values = Some(vec!["?".into()]);
    c.validation = 0.0.into();
    c.standardize = false;
    let s = c.load(&ctx(0)).unwrap();
    let pre = csv_preprocessing(&s.preprocessing).unwrap();
    assert_eq!(pre.inputs, ["zip=1001", "zip=2002", "zip=(missing)", "x"]);
}

#[test]
fn saved_preprocessing_is_reused_not_refitted() {
    // standardization fitted on one file, applied unchanged to another (tuna eval --data)
    let train = write("a.csv", "x,y\n0,0\n2,1\n4,0\n6,1\n");
    let other = write("b.csv", "x,y\n100,0\n102,1\n");
    let mut c = Csv::new(&train);
    c.validation = 0.0.into();
    let fitted = c.load(&ctx(0)).unwrap().preprocessing;
    let pre = csv_preprocessing(&fitted).unwrap();
    let FittedColumn::Numeric { mean, std, .. } = &pre.columns[0] else {
        panic!()
    };
    assert_eq!((*mean, *std), (3.0, 5.0f32.sqrt()));
    let mut o = Csv::new(&other);
    o.validation = 0.0.into();
    let reuse = DataContext {
        fitted: Some(fitted.clone()),
        ..ctx(0)
    };
    let s = o.load(&reuse).unwrap();
    let mut xs: Vec<f32> = (0..2).map(|i| s.train.get(i).input.as_dense()[0]).collect();
    xs.sort_by(f32::total_cmp);
    assert!((xs[0] - 97.0 / 5.0f32.sqrt()).abs() < 1e-4, "{xs:?}");
    assert_eq!(s.preprocessing, fitted, "nothing refitted");
    // refitting would have centred the new file on its own mean
    let refit = o.load(&ctx(0)).unwrap();
    assert_ne!(refit.preprocessing, fitted);
}

#[test]
fn unseen_category_at_eval_time_is_all_zeros() {
    let mut c = pets();
    let fitted = c.load(&ctx(0)).unwrap().preprocessing;
    c.path = write(
        "pets2.csv",
        "weight,color,size,kind\n4,purple,10,cat\n30,green,60,dog\n",
    );
    let s = c
        .load(&DataContext {
            fitted: Some(fitted),
            ..ctx(0)
        })
        .unwrap();
    assert!(rows(&s).contains(&vec![4.0, 0.0, 0.0, 0.0, 10.0]));
}

#[test]
fn regression_targets_standardized_and_recorded() {
    let p = write("reg.csv", "x,y\n1,100\n2,200\n3,300\n4,400\n");
    let mut c = Csv::new(&p);
    c.task = CsvTask::Regression;
    c.standardize_target = true;
    c.validation = 0.0.into();
    let s = c.load(&ctx(0)).unwrap();
    let Task::Regression {
        target_scale: Some(scale),
        ..
    } = &s.task
    else {
        panic!("{:?}", s.task)
    };
    assert_eq!(scale.mean, [250.0]);
    let mut ys: Vec<f32> = (0..4)
        .map(|i| match s.train.get(i).target {
            Target::Values(v) => v[0],
            _ => panic!(),
        })
        .collect();
    ys.sort_by(f32::total_cmp);
    let sd = 12500.0f32.sqrt();
    assert!((ys[0] + 150.0 / sd).abs() < 1e-5, "{ys:?}");
    let mut back = ys.clone();
    scale.invert(&mut back);
    assert!((back[3] - 400.0).abs() < 1e-3);
}

#[test]
fn real_numbers_as_labels_point_at_the_task() {
    let p = write("price.csv", "x,price\n1,10.5\n2,12.25\n3,9\n");
    let e = Csv::new(&p).load(&ctx(0)).unwrap_err().to_string();
    assert!(e.contains("task = \"regression\""), "{e}");
}

#[test]
fn a_single_class_is_caught_before_training() {
    let p = write("one.csv", "x,y\n1,a\n2,a\n3,a\n4,a\n");
    let e = Csv::new(&p).load(&ctx(0)).unwrap_err().to_string();
    assert!(e.contains("single class (\"a\")"), "{e}");
}

#[test]
fn a_numeric_header_is_noted() {
    let p = write("nohead.csv", "1,2,0\n3,4,1\n5,6,0\n7,8,1\n");
    let mut c = Csv::new(&p);
    c.validation = 0.0.into();
    let s = c.load(&ctx(0)).unwrap();
    assert!(
        s.notes.iter().any(|n| n.contains("looks like data")),
        "{:?}",
        s.notes
    );
}

#[test]
fn separate_validation_and_test_files() {
    let train = write("t.csv", "x,y\n1,a\n2,b\n3,a\n4,b\n");
    let val = write("v.csv", "x,y\n5,a\n6,b\n7,b\n");
    let test = write("s.csv", "x,y\n8,a\n");
    let mut c = Csv::new(&train);
    c.validation = tuna_data::Holdout::File(val.clone());
    c.test = tuna_data::Holdout::File(test);
    let s = c.load(&ctx(0)).unwrap();
    assert_eq!(s.train.len(), 4);
    assert_eq!(s.validation.unwrap().len(), 3);
    assert_eq!(s.test.unwrap().len(), 1);
    let bad = write("w.csv", "x,z\n5,a\n");
    c.validation = tuna_data::Holdout::File(bad);
    let e = c.load(&ctx(0)).unwrap_err().to_string();
    assert!(
        e.contains("w.csv: its columns (\"x\", \"z\") differ"),
        "{e}"
    );
}

#[test]
fn split_seed_is_apart_from_the_experiment_seed() {
    let mut c = Csv::new("datasets/iris/iris.csv");
    c.header = false;
    c.skip_rows = 1;
    c.split_seed = Some(5);
    let order = |seed| {
        let s = c.load(&ctx(seed)).unwrap();
        (0..s.train.len())
            .map(|i| s.train.get(i).input.as_dense().to_vec())
            .collect::<Vec<_>>()
    };
    assert_eq!(order(0), order(1));
}

#[test]
fn predict_rows_stream_with_or_without_the_label_column() {
    let mut c = pets();
    c.id_column = Some("weight".into());
    let fitted = c.load(&ctx(0)).unwrap().preprocessing;
    let pctx = DataContext {
        fitted: Some(fitted),
        ..ctx(0)
    };
    // the header decides where columns are: any order, the label absent
    let input = write("new.csv", "size,color,weight\n10,blue,7\n,purple,8\n");
    let rows: Vec<_> = c
        .predict_rows(&pctx, &input)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].id, "7");
    // inputs: color=blue, color=green, color=red, size (weight is the id, not a feature)
    assert_eq!(rows[0].input.as_dense(), [1.0, 0.0, 0.0, 10.0]);
    assert_eq!(rows[1].input.as_dense(), [0.0, 0.0, 0.0, 36.8]);
    let e = c
        .predict_rows(&pctx, &write("bad.csv", "size,weight\n1,2\n"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("lacks the feature column(s) \"color\""), "{e}");
}

#[test]
fn predict_rows_without_header_drop_the_label_by_width() {
    let mut c = Csv::new("datasets/iris/iris.csv");
    c.header = false;
    c.skip_rows = 1;
    c.standardize = false;
    let fitted = c.load(&ctx(0)).unwrap().preprocessing;
    let pctx = DataContext {
        fitted: Some(fitted),
        ..ctx(0)
    };
    let mut p = Csv::new("x");
    p.header = false;
    let input = write("iris-new.csv", "5.1,3.5,1.4,0.2\n6.0,2.2,5.0,1.5,2\n");
    let got: Vec<_> = p.predict_rows(&pctx, &input).unwrap().collect();
    assert_eq!(
        got[0].as_ref().unwrap().input.as_dense(),
        [5.1, 3.5, 1.4, 0.2]
    );
    // a row of another width than the first is an error naming the line
    let e = got[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("line 2: expected 4 columns, found 5"), "{e}");
}

#[test]
fn predicting_the_training_file_skips_its_preamble_and_another_file_names_it() {
    let mut c = Csv::new("datasets/iris/iris.csv");
    c.header = false;
    c.skip_rows = 1;
    c.label = Some(Column::Index(4));
    let fitted = c.load(&ctx(0)).unwrap().preprocessing;
    let pctx = DataContext {
        fitted: Some(fitted),
        ..ctx(0)
    };
    let training = pctx.resolve("data.path", &c.path).unwrap();
    let rows: Vec<_> = c.predict_rows(&pctx, &training).unwrap().collect();
    assert_eq!(
        rows.len(),
        150,
        "the preamble row is skipped, every flower predicted"
    );
    assert!(rows.iter().all(|r| r.is_ok()));
    // Another file with the same kind of first line: an error that names the setting.
    let text = std::fs::read_to_string(&training).unwrap();
    let copy = write("iris-copy.csv", &text);
    let e = c
        .predict_rows(&pctx, &copy)
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1") && e.contains("data.skip_rows"), "{e}");
}
