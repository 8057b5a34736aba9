//! The `Text` data config: the bundled names and spam corpora, tokenizers, splits, the saved
//! vocabulary reused as it is, language-model targets and text prediction rows.

mod common;

use std::path::PathBuf;

use common::{ctx, labels, temp_dir};
use tuna_data::{
    CharTokenizer, DataConfig, DataContext, DataLoader, LoaderConfig, Target, Task, Text,
    TextPreprocessing, TextTask, WordTokenizer, IGNORE_INDEX,
};

fn names() -> Text {
    let mut t = Text::new("datasets/text/names/names.csv");
    t.text = tuna_data::TextFields::One("name".into());
    t.label = "gender".into();
    t.tokenizer = Box::new(CharTokenizer {
        lowercase: true,
        ..CharTokenizer::default()
    });
    t.validation = 0.1.into();
    t.test = 0.1.into();
    t
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = temp_dir("text").join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn names_char_level_stratified() {
    let s = names().load(&ctx(0)).unwrap();
    let (val, test) = (s.validation.unwrap(), s.test.unwrap());
    assert_eq!(s.train.len() + val.len() + test.len(), 8008);
    assert_eq!((val.len(), test.len()), (801, 801));
    let Task::Classification { class_names, .. } = &s.task else {
        panic!()
    };
    assert_eq!(class_names, &["female", "male"]);
    let female = labels(&*test).iter().filter(|&&l| l == 0).count();
    // 4530 / 8008 of 801, stratified
    assert!((452..=454).contains(&female), "{female}");
    let pre: TextPreprocessing = serde_json::from_value(s.preprocessing).unwrap();
    assert_eq!(pre.pad_id, 0);
    // lowercase letters, a few punctuation marks, <pad> and <unk>
    assert!((28..45).contains(&pre.vocab_size), "{}", pre.vocab_size);
    let x = s.train.get(0);
    assert!(x.input.as_tokens().iter().all(|&t| t >= 2), "{x:?}");
}

#[test]
fn spam_word_level_vocabulary_from_training_split_only() {
    let mut t = Text::new("datasets/text/spamassassin/spam-2002.jsonl.gz");
    t.tokenizer = Box::new(WordTokenizer {
        pattern: "[a-z0-9']+".into(),
        min_freq: 2,
        max_size: Some(20_000),
        ..WordTokenizer::default()
    });
    t.validation = 0.1.into();
    t.test = 0.1.into();
    let s = t.load(&ctx(0)).unwrap();
    assert_eq!(s.train.len(), 2600);
    let pre: TextPreprocessing = serde_json::from_value(s.preprocessing.clone()).unwrap();
    assert!(pre.vocab_size <= 20_000);
    let longest = (0..s.train.len())
        .map(|i| s.train.get(i).input.as_tokens().len())
        .max()
        .unwrap();
    assert_eq!(longest, 256);
    assert!(s
        .notes
        .iter()
        .any(|n| n.contains("cut to data.max_len = 256")));
    // the saved vocabulary is reused, never refitted: same ids for the same text
    let reuse = DataContext {
        fitted: Some(s.preprocessing.clone()),
        ..ctx(1)
    };
    let again = t.load(&reuse).unwrap();
    assert_eq!(again.preprocessing, s.preprocessing);
}

#[test]
fn folder_per_class_and_predict_rows() {
    let root = temp_dir("folder");
    for (class, texts) in [
        ("neg", ["bad film", "awful"]),
        ("pos", ["good film", "great"]),
    ] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for (i, t) in texts.iter().enumerate() {
            std::fs::write(root.join(class).join(format!("{i}.txt")), t).unwrap();
        }
    }
    let mut t = Text::new(&root);
    t.validation = 0.0.into();
    let s = t.load(&ctx(0)).unwrap();
    assert_eq!(s.train.len(), 4);
    let Task::Classification { class_names, .. } = &s.task else {
        panic!()
    };
    assert_eq!(class_names, &["neg", "pos"]);
    let fitted = DataContext {
        fitted: Some(s.preprocessing.clone()),
        ..ctx(0)
    };
    let input = write("new.txt", "good good film\nunheard words\n");
    let rows: Vec<_> = t
        .predict_rows(&fitted, &input)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].id, "line 2");
    assert_eq!(
        rows[1].input.as_tokens(),
        [1, 1],
        "unknown words map to <unk>"
    );
    let codec = t.text_codec(&s.preprocessing).unwrap();
    assert_eq!(codec.decode(rows[0].input.as_tokens()), "good good film");
}

#[test]
fn language_model_targets_are_the_next_tokens() {
    let p = write("lm.csv", "name\nann\nbo\n");
    let mut t = Text::new(&p);
    t.text = tuna_data::TextFields::One("name".into());
    t.task = TextTask::LanguageModel;
    t.tokenizer = Box::new(CharTokenizer::default());
    t.validation = 0.0.into();
    let s = t.load(&ctx(0)).unwrap();
    let pre: TextPreprocessing = serde_json::from_value(s.preprocessing.clone()).unwrap();
    let (bos, eos) = (pre.bos_id.unwrap(), pre.eos_id.unwrap());
    assert!(matches!(s.task, Task::LanguageModel { .. }));
    let loader = DataLoader::train(
        s.train.clone(),
        &LoaderConfig {
            batch_size: 2,
            ..Default::default()
        },
        0,
    );
    let b = loader.epoch(0).next().unwrap();
    let x = b.inputs.to_vec::<i64>();
    let y = b.targets.to_vec::<i64>();
    // "ann": <bos> a n n -> a n n <eos>; "bo" padded
    assert_eq!(b.inputs.shape(), &[2, 4]);
    assert_eq!(x[0], bos);
    assert_eq!(y[3], eos);
    assert_eq!(&x[1..4], &y[0..3]);
    assert_eq!(y[7], IGNORE_INDEX);
    assert_eq!(b.lengths.as_deref(), Some(&[4, 3][..]));
    let codec = t.text_codec(&s.preprocessing).unwrap();
    assert_eq!(codec.decode(&x[..4]), "ann");
    assert!(matches!(s.train.get(0).target, Target::Tokens(_)));
}

#[test]
fn errors_name_fields_and_files() {
    let p = write("x.csv", "name,gender\nann,f\n");
    let mut t = Text::new(&p);
    let e = t.load(&ctx(0)).unwrap_err().to_string();
    assert!(e.starts_with("data.text: no column \"text\""), "{e}");
    t.text = tuna_data::TextFields::One("name".into());
    let e = t.load(&ctx(0)).unwrap_err().to_string();
    assert!(e.starts_with("data.label: no column \"label\""), "{e}");
    t.path = write("x.dat", "");
    let e = t.load(&ctx(0)).unwrap_err().to_string();
    assert!(e.starts_with("data.format: cannot tell the format"), "{e}");
}
