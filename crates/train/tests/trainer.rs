//! The Trainer from Rust: regression end to end, in-process checkpoint/restore equivalence,
//! callbacks (gradients visible after backward, stop requests), non-finite detection.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tuna_autograd::NamedParam;
use tuna_data::DataContext;
use tuna_nn::Module;
use tuna_train::callback::{Callback, Flow};
use tuna_train::{EpochRecord, Experiment, TrainError, Trainer};

fn datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

fn ctx() -> DataContext {
    DataContext {
        base_dirs: vec![datasets()],
        seed: 0,
        fitted: None,
    }
}

fn link() {
    tuna_nn::link();
    tuna_loss::link();
    tuna_optim::link();
    tuna_sched::link();
    tuna_regularize::link();
    tuna_data::link();
}

const MNIST_SMALL: &str = r#"
seed = 5
[data]
type = "Mnist"
path = "mnist-10k"
validation = 0.25
train_subset = 800
[loader]
batch_size = 50
shuffle = true
[model]
type = "Sequential"
layers = [
  { type = "Flatten" },
  { type = "Linear", in_features = 784, out_features = 32 },
  { type = "ReLU" },
  { type = "Dropout", p = 0.2 },
  { type = "Linear", in_features = 32, out_features = 10 },
]
[loss]
type = "CrossEntropyLoss"
[optimizer]
type = "Adam"
lr = 0.003
[scheduler]
type = "StepLR"
step_size = 1
gamma = 0.7
[train]
epochs = 4
metrics = ["accuracy"]
"#;

#[test]
fn regression_from_csv_reaches_high_r2() {
    link();
    let exp = Experiment::from_toml_str(
        r#"
seed = 1
[data]
type = "Csv"
path = "iris/iris.csv"
header = false
skip_rows = 1
task = "regression"
features = [0, 1, 2]
targets = [3]                 # petal width from the other measurements
validation = 0.2
test = 0.2
[loader]
batch_size = 16
shuffle = true
[model]
type = "Sequential"
layers = [
  { type = "Linear", in_features = 3, out_features = 16 },
  { type = "Tanh" },
  { type = "Linear", in_features = 16, out_features = 1 },
]
[loss]
type = "MSELoss"
[optimizer]
type = "Adam"
lr = 0.01
[train]
epochs = 60
metrics = ["mae", "rmse", "r2"]
"#,
    )
    .unwrap();
    let mut t = Trainer::new(exp, &ctx()).unwrap();
    let s = t.fit().unwrap();
    let r2 = s.test["test_r2"].0;
    let rmse = s.test["test_rmse"].0;
    assert!(r2 > 0.85, "test r2 {r2}");
    assert!(rmse < 0.35, "test rmse {rmse}");
    assert!(t.history().iter().all(|r| r.get("val_mae").is_some()));
}

struct StopAfter(usize);
impl Callback for StopAfter {
    fn on_epoch_end(&mut self, record: &EpochRecord, _m: &dyn Module) -> Flow {
        if record.epoch >= self.0 {
            Flow::Stop("test stop".into())
        } else {
            Flow::Continue
        }
    }
}

#[test]
fn restore_from_a_checkpoint_continues_bit_identically() {
    link();
    let exp = Experiment::from_toml_str(MNIST_SMALL).unwrap();
    let mut full = Trainer::new(exp.clone(), &ctx()).unwrap();
    full.fit().unwrap();

    let mut first = Trainer::new(exp.clone(), &ctx()).unwrap();
    first.add_callback(Box::new(StopAfter(2)));
    let s = first.fit().unwrap();
    assert_eq!(s.stopped_early.as_deref(), Some("test stop"));
    let ckpt = first.checkpoint_now().unwrap();
    let bytes = ckpt.to_bytes().unwrap();
    let mut ckpt = tuna_train::checkpoint::Checkpoint::from_bytes(&bytes, "mem".as_ref()).unwrap();
    // The same state as a run killed after epoch 2 (a stopped run would stay stopped).
    assert_eq!(ckpt.meta.stopped.as_deref(), Some("test stop"));
    ckpt.meta.stopped = None;

    let mut second = Trainer::new(exp, &ctx()).unwrap();
    second.restore(&ckpt, "mem".as_ref()).unwrap();
    second.fit().unwrap();
    let a = full.model().state_dict();
    let b = second.model().state_dict();
    for ((ka, ta), (kb, tb)) in a.iter().zip(&b) {
        assert_eq!(ka, kb);
        assert!(ta.to_vec_f64() == tb.to_vec_f64(), "{ka} differs");
    }
    let strip = |h: &[EpochRecord]| {
        h.iter()
            .map(|r| {
                let mut r = r.clone();
                r.values.remove("seconds");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(full.history()), strip(second.history()));
}

#[derive(Clone, Default)]
struct Watch(Arc<Mutex<Vec<(usize, bool)>>>);
impl Callback for Watch {
    fn on_after_backward(&mut self, _e: usize, batch: usize, params: &[NamedParam]) {
        let all = params.iter().all(|(_, p)| p.grad().is_some());
        self.0.lock().unwrap().push((batch, all));
    }
}

#[test]
fn callbacks_see_gradients_after_backward() {
    link();
    let exp = Experiment::from_toml_str(&MNIST_SMALL.replace("epochs = 4", "epochs = 1")).unwrap();
    let mut t = Trainer::new(exp, &ctx()).unwrap();
    let w = Watch::default();
    t.add_callback(Box::new(w.clone()));
    t.fit().unwrap();
    let seen = w.0.lock().unwrap();
    assert_eq!(seen.len(), 12); // 600 training samples / 50
    assert!(seen.iter().all(|(_, all)| *all));
}

#[derive(Clone, Default)]
struct Finals(Arc<Mutex<Vec<(usize, &'static str)>>>);
impl Callback for Finals {
    fn on_final_epoch(&mut self, epoch: usize) {
        self.0.lock().unwrap().push((epoch, "final"));
    }
    fn on_eval_epoch_end(&mut self, epoch: usize, model: &dyn Module) {
        assert!(!model.is_training());
        self.0.lock().unwrap().push((epoch, "eval"));
    }
}

#[test]
fn callbacks_learn_the_final_epoch_before_its_eval_hook() {
    link();
    let run = |train: &str| {
        let text = MNIST_SMALL.replace("epochs = 4", train);
        let mut t = Trainer::new(Experiment::from_toml_str(&text).unwrap(), &ctx()).unwrap();
        let f = Finals::default();
        t.add_callback(Box::new(f.clone()));
        t.fit().unwrap();
        let seen = f.0.lock().unwrap().clone();
        seen
    };
    assert_eq!(run("epochs = 2"), [(1, "eval"), (2, "final"), (2, "eval")]);
    // no epoch after the first improves by 100: early stopping ends the run after epoch 2
    let stopped = run(
        "epochs = 10\nearly_stopping = { monitor = \"val_loss\", patience = 1, min_delta = 100.0 }",
    );
    assert_eq!(stopped, [(1, "eval"), (2, "final"), (2, "eval")]);
}

#[test]
fn a_diverging_run_names_the_step() {
    link();
    let exp = Experiment::from_toml_str(
        &MNIST_SMALL
            .replace("type = \"Adam\"\nlr = 0.003", "type = \"SGD\"\nlr = 1e6")
            .replace("epochs = 4", "epochs = 2"),
    )
    .unwrap();
    let mut t = Trainer::new(exp, &ctx()).unwrap();
    match t.fit() {
        Err(TrainError::NonFinite(msg)) => {
            assert!(msg.contains("epoch 1") && msg.contains("step"), "{msg}");
        }
        other => panic!("expected a non-finite error, got {other:?}"),
    }
}

#[test]
fn setup_errors_name_the_section() {
    link();
    let bad_out = MNIST_SMALL.replace("out_features = 10", "out_features = 7");
    let e = Trainer::new(Experiment::from_toml_str(&bad_out).unwrap(), &ctx()).unwrap_err();
    assert!(
        e.to_string()
            .contains("model: outputs 7 values per sample but the data has 10 classes"),
        "{e}"
    );
    let bad_metric = MNIST_SMALL.replace("metrics = [\"accuracy\"]", "metrics = [\"mae\"]");
    let e = Trainer::new(Experiment::from_toml_str(&bad_metric).unwrap(), &ctx()).unwrap_err();
    assert!(e.to_string().contains("train.metrics[0]"), "{e}");
    let bad_monitor = MNIST_SMALL.replace(
        "epochs = 4",
        "epochs = 4\nearly_stopping = { monitor = \"val_f1\" }",
    );
    let e = Trainer::new(Experiment::from_toml_str(&bad_monitor).unwrap(), &ctx()).unwrap_err();
    assert!(
        e.to_string().contains("train.early_stopping.monitor"),
        "{e}"
    );
}

#[test]
fn recording_signals_does_not_change_the_trajectory() {
    link();
    let on = Experiment::from_toml_str(&MNIST_SMALL.replace("epochs = 4", "epochs = 2")).unwrap();
    let off = Experiment::from_toml_str(
        &MNIST_SMALL.replace("epochs = 4", "epochs = 2\nsignals = false"),
    )
    .unwrap();
    let mut a = Trainer::new(on, &ctx()).unwrap();
    a.fit().unwrap();
    let mut b = Trainer::new(off, &ctx()).unwrap();
    b.fit().unwrap();
    for ((k, ta), (_, tb)) in a.model().state_dict().iter().zip(&b.model().state_dict()) {
        assert!(ta.to_vec_f64() == tb.to_vec_f64(), "{k} differs");
    }
}

#[test]
fn a_callback_stop_is_checkpointed_and_a_resume_does_not_train_on() {
    link();
    let exp = Experiment::from_toml_str(MNIST_SMALL).unwrap();
    let dir = std::env::temp_dir().join(format!("tuna-stop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut first = Trainer::new(exp.clone(), &ctx()).unwrap();
    first
        .set_run_dir(tuna_train::RunDir::create(&dir).unwrap())
        .unwrap();
    first.add_callback(Box::new(StopAfter(2)));
    first.fit().unwrap();
    // as if the process died right after the stop, before its summary
    let last = dir.join("checkpoints/last.ckpt");
    let ckpt = tuna_train::checkpoint::Checkpoint::load(&last).unwrap();
    assert_eq!(ckpt.meta.stopped.as_deref(), Some("test stop"));
    let mut resumed = Trainer::new(exp, &ctx()).unwrap();
    resumed.restore(&ckpt, &last).unwrap();
    let s = resumed.fit().unwrap();
    assert_eq!(s.epochs_completed, 2);
    assert_eq!(s.stopped_early.as_deref(), Some("test stop"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// iris as a two-class problem (virginica or not) in a temporary CSV.
fn binary_iris() -> PathBuf {
    let text = std::fs::read_to_string(datasets().join("iris/iris.csv")).unwrap();
    let mut out = String::from("sepal_length,sepal_width,petal_length,petal_width,virginica\n");
    for line in text.lines().skip(1) {
        let (features, label) = line.rsplit_once(',').unwrap();
        out.push_str(&format!("{features},{}\n", u8::from(label == "2")));
    }
    let path = std::env::temp_dir().join(format!("tuna-binary-iris-{}.csv", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

#[test]
fn binary_classification_with_one_logit_and_bce() {
    link();
    let csv = binary_iris();
    for (loss, last) in [
        ("BCEWithLogitsLoss", ""),
        ("BCELoss", r#", { type = "Sigmoid" }"#),
    ] {
        let exp = Experiment::from_toml_str(&format!(
            r#"
seed = 2
[data]
type = "Csv"
path = "{}"
label = "virginica"
validation = 0.2
test = 0.2
[loader]
batch_size = 16
shuffle = true
[model]
type = "Sequential"
layers = [
  {{ type = "Linear", in_features = 4, out_features = 8 }},
  {{ type = "ReLU" }},
  {{ type = "Linear", in_features = 8, out_features = 1 }}{last}
]
[loss]
type = "{loss}"
[optimizer]
type = "Adam"
lr = 0.02
[train]
epochs = 40
metrics = ["accuracy", "f1", "confusion_matrix"]
"#,
            csv.display().to_string().replace('\\', "/")
        ))
        .unwrap();
        let mut t = Trainer::new(exp, &ctx()).unwrap();
        let s = t.fit().unwrap();
        let acc = s.test["test_accuracy"].0;
        assert!(acc > 0.9, "{loss}: test accuracy {acc}");
        let cm = s.confusion_matrix.unwrap();
        assert_eq!(cm.len(), 2);
        assert_eq!(cm.iter().flatten().sum::<u64>(), 30);
    }
    // More than two classes cannot be scored by one output.
    let e = Trainer::new(
        Experiment::from_toml_str(
            &MNIST_SMALL
                .replace(
                    "type = \"CrossEntropyLoss\"",
                    "type = \"BCEWithLogitsLoss\"",
                )
                .replace("out_features = 10", "out_features = 1"),
        )
        .unwrap(),
        &ctx(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("needs 2 classes and one output"),
        "{e}"
    );
    std::fs::remove_file(csv).unwrap();
}

/// Sleeps in every batch-end hook (counting them): its time must show up as callback time.
struct Slow(std::time::Duration, Arc<Mutex<u32>>);

impl Callback for Slow {
    fn on_batch_end(&mut self, _step: &tuna_train::callback::StepInfo, _m: &dyn Module) -> Flow {
        std::thread::sleep(self.0);
        *self.1.lock().unwrap() += 1;
        Flow::Continue
    }
}

#[test]
fn the_summary_says_where_the_time_went() {
    link();
    let exp = Experiment::from_toml_str(MNIST_SMALL).unwrap();
    let dir = std::env::temp_dir().join(format!("tuna-time-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut t = Trainer::new(exp, &ctx()).unwrap();
    t.set_run_dir(tuna_train::RunDir::create(&dir).unwrap())
        .unwrap();
    let nap = std::time::Duration::from_millis(2);
    let count = Arc::new(Mutex::new(0));
    t.add_callback(Box::new(Slow(nap, count.clone())));
    let s = t.fit().unwrap();
    let time = s.time.clone().expect("time recorded");
    let naps = *count.lock().unwrap() as f64 * nap.as_secs_f64();
    assert!(naps > 0.0);
    assert!(time.callbacks >= naps, "{time:?}");
    for (part, v) in [
        ("steps", time.steps),
        ("evaluation", time.evaluation),
        ("records", time.records),
        ("checkpoints", time.checkpoints),
    ] {
        assert!(v > 0.0, "{part}: {time:?}");
    }
    assert!(time.data >= 0.0 && time.other >= 0.0, "{time:?}");
    // The parts add up to the training's wall time (read a moment apart).
    assert!(
        (time.total() - s.wall_seconds).abs() < 0.05 * s.wall_seconds + 0.05,
        "{} vs {}",
        time.total(),
        s.wall_seconds
    );
    let share = time.overhead_share();
    assert!(share > 0.0 && share < 1.0, "{share}");
    // summary.json carries it.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(written["time"]["callbacks"].as_f64().unwrap() >= naps);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The parameter `name` of the trainer's model as f64 values.
fn param_values(t: &Trainer, name: &str) -> Vec<f64> {
    let params = t.model().named_parameters();
    let (_, p) = params.iter().find(|(n, _)| n == name).unwrap();
    p.value().to_vec_f64()
}

#[test]
fn init_entries_set_the_selected_parameters_and_nothing_else() {
    link();
    let with_init = format!(
        "{}\n[[init]]\ntype = \"Constant\"\nval = 0.25\nparams = [\"1.*\"]\n\n\
         [[init]]\ntype = \"Orthogonal\"\nparams = [\"4.weight\"]\n",
        MNIST_SMALL.replace("epochs = 4", "epochs = 1")
    );
    let exp = Experiment::from_toml_str(&with_init).unwrap();
    assert_eq!(exp.init.len(), 2);
    let plain = Trainer::new(Experiment::from_toml_str(MNIST_SMALL).unwrap(), &ctx()).unwrap();
    let t = Trainer::new(exp.clone(), &ctx()).unwrap();
    assert!(param_values(&t, "1.weight").iter().all(|v| *v == 0.25));
    assert!(param_values(&t, "1.bias").iter().all(|v| *v == 0.25));
    // Unselected parameters keep the layers' default initialization, draw for draw.
    assert_eq!(param_values(&t, "4.bias"), param_values(&plain, "4.bias"));
    let w = param_values(&t, "4.weight");
    for i in 0..10 {
        let norm: f64 = (0..32).map(|k| w[i * 32 + k] * w[i * 32 + k]).sum();
        assert!((norm - 1.0).abs() < 1e-5, "row {i}: {norm}");
    }
    // The resolved experiment (the run folder's config.toml) keeps the entries.
    let again = Experiment::from_value(exp.resolved()).unwrap();
    assert_eq!(
        serde_json::to_value(&again.init).unwrap(),
        serde_json::to_value(&exp.init).unwrap()
    );
}

#[test]
fn init_errors_name_the_entry() {
    link();
    let bad_arg = format!("{MNIST_SMALL}\n[[init]]\ntype = \"Normal\"\nstd = -1.0\n");
    let e = Experiment::from_toml_str(&bad_arg).unwrap_err().to_string();
    assert!(e.contains("init[0]") && e.contains("std"), "{e}");
    let unknown = format!("{MNIST_SMALL}\n[[init]]\ntype = \"Glorot\"\n");
    let e = Experiment::from_toml_str(&unknown).unwrap_err().to_string();
    assert!(e.contains("init[0]") && e.contains("Glorot"), "{e}");
    let nothing =
        format!("{MNIST_SMALL}\n[[init]]\ntype = \"Zeros\"\nparams = [\"*weight_hh*\"]\n");
    let exp = Experiment::from_toml_str(&nothing).unwrap();
    let e = Trainer::new(exp, &ctx()).unwrap_err().to_string();
    assert!(
        e.contains("init[0] (Zeros).params") && e.contains("1.weight"),
        "{e}"
    );
}
