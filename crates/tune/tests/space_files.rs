//! Every search-space file shipped in `examples/tune` loads, and `objective.also` takes a
//! metric name or a table.

use std::path::Path;

use tuna_tune::search::SearchSpace;
use tuna_tune::Direction;

fn link() {
    tuna_data::link();
    tuna_nn::link();
    tuna_tune::link();
}

#[test]
fn every_shipped_space_file_loads() {
    link();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/tune");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let space = SearchSpace::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!space.params.is_empty(), "{}", path.display());
            loaded += 1;
        }
    }
    assert!(
        loaded >= 2,
        "only {loaded} space files in {}",
        dir.display()
    );
}

#[test]
fn also_takes_a_metric_name_or_a_table() {
    link();
    let dir = std::env::temp_dir().join(format!("tuna-also-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/configs/iris.toml");
    let file = dir.join("space.toml");
    std::fs::write(
        &file,
        format!(
            "base = {:?}\n[objective]\nmetric = \"val_loss\"\n\
             also = [\"val_accuracy\", {{ metric = \"seconds\" }}, {{ metric = \"val_loss\", direction = \"maximize\" }}]\n\
             [params]\n\"optimizer.lr\" = {{ log_uniform = [1e-4, 1e-1] }}\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    let space = SearchSpace::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let also: Vec<(&str, Direction)> = space
        .also
        .iter()
        .map(|o| (o.metric.as_str(), o.direction))
        .collect();
    assert_eq!(
        also,
        [
            ("val_accuracy", Direction::Maximize),
            ("seconds", Direction::Minimize),
            ("val_loss", Direction::Maximize)
        ]
    );
    std::fs::write(
        &file,
        format!(
            "base = {:?}\n[objective]\nmetric = \"val_loss\"\nalso = [3]\n\
             [params]\n\"optimizer.lr\" = {{ log_uniform = [1e-4, 1e-1] }}\n",
            base.display().to_string()
        ),
    )
    .unwrap();
    let e = SearchSpace::load(&file).err().unwrap().to_string();
    assert!(
        e.contains("objective.also") && e.contains("a metric name or a table"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
