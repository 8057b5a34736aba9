//! Text: the [`Text`] data config (`type = "Text"`): text samples from CSV/TSV, JSON lines,
//! plain text or a folder per class, a tokenizer plugin with a vocabulary fitted on the
//! training split, token-id sequences truncated to `max_len`, and either a class per text or
//! next-token targets for a language model.

mod hf;
mod predict;
mod read;
mod tokenizer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[cfg(feature = "tokenizers")]
pub use hf::{BpeTokenizer, HuggingFaceTokenizer};
pub use read::{records, Fields, TextFormat, TextRecord};
pub use tokenizer::{
    CharTokenizer, FittedTokenizer, TokenizerConfig, WordTokenizer, BOS, EOS, PAD, UNK,
};

use crate::config::{
    split_seed, DataConfig, DataContext, DataSplits, PredictRows, Task, TextCodec,
};
use crate::dataset::{Dataset, Targets, TokenDataset, TokenTargets};
use crate::error::DataError;
use crate::labels::{check_two_classes, class_labels, LabelCell};
use crate::split::{check_holdouts, random_split, stratified_split, Holdout, SplitIndices};

/// What a [`Text`] data set is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextTask {
    /// One class per text (the `label` field).
    #[default]
    Classification,
    /// Predict every next token of the text (a language model): the input is
    /// `<bos> t1 ... tn`, the target `t1 ... tn <eos>`; perplexity is the metric.
    LanguageModel,
}

/// One or several text fields (several are joined with a line break).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TextFields {
    /// One field.
    One(String),
    /// Several fields, joined in order.
    Many(Vec<String>),
}

impl TextFields {
    fn names(&self) -> Vec<String> {
        match self {
            TextFields::One(s) => vec![s.clone()],
            TextFields::Many(v) => v.clone(),
        }
    }
}

/// The `[data]` section for text: samples from a file or a folder per class, tokenized with a
/// vocabulary fitted on the training split (saved with the run, so eval, predict and resume
/// use the same ids), truncated to `max_len` tokens, and split by seeded fractions (stratified
/// by class) or given files.
///
/// ```toml
/// [data]
/// type = "Text"
/// path = "../../datasets/text/names/names.csv"
/// text = "name"
/// label = "gender"
/// validation = 0.1
/// test = 0.1
///
/// [data.tokenizer]
/// type = "Char"
/// lowercase = true
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// The file (`.csv`, `.tsv`, `.jsonl`, `.txt`, optionally `.gz`) or folder (one
    /// sub-folder per class). A relative path is looked up next to the experiment file, then
    /// in the working directory.
    pub path: PathBuf,
    /// `"csv"`, `"tsv"`, `"jsonl"`, `"lines"` or `"folder"`. Default: from the path (a folder,
    /// or the file's extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// The text field (column or JSON key), or a list of fields joined with a line break.
    /// Default `"text"`.
    #[serde(default = "text_field")]
    pub text: TextFields,
    /// The label field. Default `"label"` (for a folder: the sub-folder names).
    #[serde(default = "label_field")]
    pub label: String,
    /// `"classification"` or `"language_model"`. Default `"classification"`.
    #[serde(default)]
    pub task: TextTask,
    /// Classification only: the class names in index order. Default: integer labels `0..=max`,
    /// or label names sorted alphabetically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
    /// How text becomes token ids (`type = "Char"`, `"Word"`, `"Bpe"`, `"HuggingFace"`).
    /// Default: `Word` with its defaults.
    #[serde(default = "default_tokenizer")]
    pub tokenizer: Box<dyn TokenizerConfig>,
    /// At most this many tokens per sample (the rest is cut off; a language model's input
    /// counts its `<bos>`). Default 256.
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    /// Held out for validation: a fraction or a file in the same format. Default `0.2`.
    #[serde(default = "point_two")]
    pub validation: Holdout,
    /// Held out for the final test: a fraction or a file. Default `0.0`.
    #[serde(default = "no_holdout")]
    pub test: Holdout,
    /// Split every class in proportion. Default `true` (ignored for a language model).
    #[serde(default = "yes")]
    pub stratified: bool,
    /// The seed of the split. Default: the experiment's `seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seed: Option<u64>,
}

fn text_field() -> TextFields {
    TextFields::One("text".into())
}
fn label_field() -> String {
    "label".into()
}
fn default_tokenizer() -> Box<dyn TokenizerConfig> {
    Box::new(WordTokenizer::default())
}
fn default_max_len() -> usize {
    256
}
fn point_two() -> Holdout {
    Holdout::Fraction(0.2)
}
fn no_holdout() -> Holdout {
    Holdout::Fraction(0.0)
}
fn yes() -> bool {
    true
}

impl Text {
    /// A config with every default for the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Text {
            path: path.into(),
            format: None,
            text: text_field(),
            label: label_field(),
            task: TextTask::Classification,
            class_names: None,
            tokenizer: default_tokenizer(),
            max_len: default_max_len(),
            validation: point_two(),
            test: no_holdout(),
            stratified: true,
            split_seed: None,
        }
    }

    fn format_of(&self, path: &Path) -> Result<TextFormat, DataError> {
        self.format
            .or_else(|| TextFormat::detect(path))
            .ok_or_else(|| {
                DataError::config(
                    "data.format",
                    format!(
                        "cannot tell the format of {} from its name: set format = \"csv\", \
                     \"tsv\", \"jsonl\", \"lines\" or \"folder\"",
                        path.display()
                    ),
                )
            })
    }

    fn specials(&self) -> Vec<&'static str> {
        match self.task {
            TextTask::Classification => vec![PAD, UNK],
            TextTask::LanguageModel => vec![PAD, UNK, BOS, EOS],
        }
    }

    fn read(&self, path: &Path, label_required: bool) -> Result<Vec<read::TextRecord>, DataError> {
        let names = self.text.names();
        let fields = Fields {
            text: &names,
            label: (self.task == TextTask::Classification).then_some(self.label.as_str()),
            label_required,
        };
        let out: Vec<read::TextRecord> =
            records(path, self.format_of(path)?, &fields)?.collect::<Result<_, _>>()?;
        if out.is_empty() && label_required {
            return Err(DataError::parse(path, "", "no samples"));
        }
        Ok(out)
    }
}

/// Everything a [`Text`] data section fitted on the training split: `preprocessing.json` of a
/// text run. A text's model input is `tokenizer`'s ids of the text, cut to `max_len`
/// (a language model's: `bos_id`, then the ids, cut to `max_len`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextPreprocessing {
    /// Always `"Text"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The format of this record (1).
    pub version: u32,
    /// Classification or language model.
    pub task: TextTask,
    /// The longest input.
    pub max_len: usize,
    /// The number of token ids.
    pub vocab_size: usize,
    /// The id that pads batches.
    pub pad_id: i64,
    /// The start-of-sequence id (language models).
    pub bos_id: Option<i64>,
    /// The end-of-sequence id (language models).
    pub eos_id: Option<i64>,
    /// The class names, index order (classification).
    pub classes: Option<Vec<String>>,
    /// The fitted tokenizer (its type, options and vocabulary: id = position in `tokens`).
    pub tokenizer: Value,
}

/// A fitted tokenizer with the ids a text data set needs.
struct Encoder {
    tok: Box<dyn FittedTokenizer>,
    pre: TextPreprocessing,
}

impl Encoder {
    /// The ids a model sees for `text`: a class sample's tokens (at least one, cut to
    /// `max_len`), or a language model's `<bos> tokens <eos>` (input and target together,
    /// cut to `max_len + 1`). Returns whether the text was cut.
    fn sequence(&self, text: &str) -> (Vec<i64>, bool) {
        let mut ids = self.tok.encode(text);
        let max = self.pre.max_len;
        match (self.pre.bos_id, self.pre.eos_id) {
            (Some(b), Some(e)) => {
                ids.insert(0, b);
                ids.push(e);
                let cut = ids.len() > max + 1;
                ids.truncate(max + 1);
                (ids, cut)
            }
            _ => {
                let cut = ids.len() > max;
                ids.truncate(max);
                if ids.is_empty() {
                    ids.push(self.pre.pad_id);
                }
                (ids, cut)
            }
        }
    }
}

impl Text {
    fn encoder(
        &self,
        fitted: Option<TextPreprocessing>,
        train: &[&str],
        classes: Option<Vec<String>>,
    ) -> Result<Encoder, DataError> {
        if let Some(pre) = fitted {
            let tok = self.tokenizer.restore(&pre.tokenizer)?;
            return Ok(Encoder { tok, pre });
        }
        let tok = self.tokenizer.fit(train, &self.specials())?;
        let lm = self.task == TextTask::LanguageModel;
        let pre = TextPreprocessing {
            kind: "Text".into(),
            version: 1,
            task: self.task,
            max_len: self.max_len,
            vocab_size: tok.vocab_size(),
            pad_id: tok.id_of(PAD).unwrap_or(0),
            bos_id: if lm { tok.id_of(BOS) } else { None },
            eos_id: if lm { tok.id_of(EOS) } else { None },
            classes,
            tokenizer: tok.state(),
        };
        if lm && (pre.bos_id.is_none() || pre.eos_id.is_none()) {
            return Err(DataError::config(
                "data.tokenizer",
                "a language model needs <bos> and <eos> tokens, which this tokenizer's \
                 vocabulary lacks",
            ));
        }
        Ok(Encoder { tok, pre })
    }
}

#[typetag::serde(name = "Text")]
impl DataConfig for Text {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config("data.path", "must name a file or folder"));
        }
        check_holdouts(&self.validation, &self.test)?;
        if self.max_len == 0 {
            return Err(DataError::config("data.max_len", "must be >= 1, got 0"));
        }
        if self.text.names().is_empty() {
            return Err(DataError::config(
                "data.text",
                "must name at least one field",
            ));
        }
        if self.task == TextTask::LanguageModel && self.class_names.is_some() {
            return Err(DataError::config(
                "data.class_names",
                "only for task = \"classification\"",
            ));
        }
        self.tokenizer.validate()
    }

    fn load(&self, ctx: &DataContext) -> Result<DataSplits, DataError> {
        self.validate()?;
        load(self, ctx)
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        let mut v = vec![("data.path".to_string(), &mut self.path)];
        if let Some(p) = self.validation.file_mut() {
            v.push(("data.validation".to_string(), p));
        }
        if let Some(p) = self.test.file_mut() {
            v.push(("data.test".to_string(), p));
        }
        v.extend(self.tokenizer.paths_mut());
        v
    }

    fn predict_rows(
        &self,
        ctx: &DataContext,
        input: &Path,
    ) -> Result<Box<dyn PredictRows>, DataError> {
        let pre: TextPreprocessing = ctx.fitted_as()?.ok_or_else(|| {
            DataError::Preprocessing("prediction needs the run's fitted preprocessing".into())
        })?;
        if pre.task == TextTask::LanguageModel {
            return Err(DataError::Unsupported(
                "a language model predicts text: use `tuna generate RUN --prefix ...`".into(),
            ));
        }
        let enc = self.encoder(Some(pre), &[], None)?;
        predict::rows(self, input, enc.tok, enc.pre)
    }

    fn text_codec(&self, fitted: &Value) -> Result<Box<dyn TextCodec>, DataError> {
        let pre: TextPreprocessing = serde_json::from_value(fitted.clone())
            .map_err(|e| DataError::Preprocessing(e.to_string()))?;
        let tok = self.tokenizer.restore(&pre.tokenizer)?;
        Ok(Box::new(predict::Codec { tok, pre }))
    }
}

/// The records of the main file and of the holdout files given as files.
fn read_all(cfg: &Text, ctx: &DataContext) -> Result<Vec<Vec<read::TextRecord>>, DataError> {
    let required = cfg.task == TextTask::Classification;
    let main = ctx.resolve("data.path", &cfg.path)?;
    let mut tables = vec![cfg.read(&main, required)?];
    for (field, h) in [
        ("data.validation", &cfg.validation),
        ("data.test", &cfg.test),
    ] {
        if let Some(p) = h.file() {
            tables.push(cfg.read(&ctx.resolve(field, p)?, required)?);
        }
    }
    Ok(tables)
}

/// Labels of every record of every table, mapped together so the classes agree.
fn labels_of(
    cfg: &Text,
    tables: &[Vec<read::TextRecord>],
    fitted: Option<&[String]>,
) -> Result<(Vec<Vec<usize>>, Vec<String>), DataError> {
    let file = cfg.path.clone();
    let cells: Vec<LabelCell<'_>> = tables
        .iter()
        .flatten()
        .map(|r| LabelCell {
            line: r.line,
            text: r.label.as_deref().unwrap_or(""),
        })
        .collect();
    let what = format!("field {:?}", cfg.label);
    let (labels, names) =
        class_labels(&file, &what, &cells, fitted.or(cfg.class_names.as_deref()))?;
    let mut out = Vec::new();
    let mut start = 0;
    for t in tables {
        out.push(labels[start..start + t.len()].to_vec());
        start += t.len();
    }
    Ok((out, names))
}

fn split(
    cfg: &Text,
    ctx: &DataContext,
    n: usize,
    labels: Option<(&[usize], usize)>,
) -> Result<SplitIndices, DataError> {
    let seed = split_seed(cfg.split_seed, ctx);
    let (v, t) = (cfg.validation.fraction(), cfg.test.fraction());
    match labels {
        Some((l, k)) if cfg.stratified => stratified_split(l, k, v, t, seed),
        _ => random_split(n, v, t, seed),
    }
}

/// The (table, row) pairs of the train, validation and test parts.
fn parts(
    cfg: &Text,
    tables: &[Vec<read::TextRecord>],
    s: &SplitIndices,
) -> [Vec<(usize, usize)>; 3] {
    let of_main = |rows: &[usize]| rows.iter().map(|&r| (0, r)).collect::<Vec<_>>();
    let whole = |t: usize| (0..tables[t].len()).map(|r| (t, r)).collect::<Vec<_>>();
    let val_file = cfg.validation.file().is_some();
    let val = if val_file {
        whole(1)
    } else {
        of_main(&s.validation)
    };
    let test = match cfg.test.file() {
        Some(_) => whole(1 + usize::from(val_file)),
        None => of_main(&s.test),
    };
    [of_main(&s.train), val, test]
}

fn load(cfg: &Text, ctx: &DataContext) -> Result<DataSplits, DataError> {
    let fitted: Option<TextPreprocessing> = ctx.fitted_as()?;
    let tables = read_all(cfg, ctx)?;
    let classification = cfg.task == TextTask::Classification;
    let (labels, classes) = if classification {
        let given = fitted.as_ref().and_then(|f| f.classes.as_deref());
        let (l, c) = labels_of(cfg, &tables, given)?;
        (Some(l), Some(c))
    } else {
        (None, None)
    };
    let k = classes.as_ref().map_or(0, Vec::len);
    let s = split(
        cfg,
        ctx,
        tables[0].len(),
        labels.as_ref().map(|l| (l[0].as_slice(), k)),
    )?;
    let parts = parts(cfg, &tables, &s);
    let train_texts: Vec<&str> = parts[0]
        .iter()
        .map(|&(t, r)| tables[t][r].text.as_str())
        .collect();
    let reuse = fitted.is_some();
    let enc = cfg.encoder(fitted, &train_texts, classes.clone())?;
    let mut cut = 0usize;
    let mut datasets = Vec::with_capacity(3);
    for part in &parts {
        let mut seqs = Vec::with_capacity(part.len());
        for &(t, r) in part {
            let (ids, c) = enc.sequence(&tables[t][r].text);
            cut += usize::from(c);
            seqs.push(ids);
        }
        let targets = match &labels {
            Some(l) => TokenTargets::PerSequence(Targets::Class {
                labels: part.iter().map(|&(t, r)| l[t][r]).collect(),
                num_classes: k,
            }),
            None => TokenTargets::NextToken,
        };
        datasets.push(TokenDataset::new(
            seqs,
            enc.pre.vocab_size,
            enc.pre.max_len,
            enc.pre.pad_id,
            targets,
        ));
    }
    if let (Some(c), false) = (&classes, reuse) {
        let train_labels: Vec<usize> = parts[0]
            .iter()
            .map(|&(t, r)| labels.as_ref().expect("classification")[t][r])
            .collect();
        check_two_classes(&train_labels, c)?;
    }
    let mut notes = vec![format!(
        "{}: {} token ids in the vocabulary ({})",
        cfg.path.display(),
        enc.pre.vocab_size,
        if reuse {
            "the run's"
        } else {
            "fitted on the training split"
        }
    )];
    if cut > 0 {
        notes.push(format!(
            "{cut} samples were cut to data.max_len = {} tokens",
            enc.pre.max_len
        ));
    }
    let task = match &classes {
        Some(c) => Task::Classification {
            num_classes: c.len(),
            class_names: c.clone(),
        },
        None => Task::LanguageModel {
            vocab_size: enc.pre.vocab_size,
        },
    };
    let [train, val, test] = <[TokenDataset; 3]>::try_from(datasets).expect("three parts");
    let arc = |d: TokenDataset| Arc::new(d) as Arc<dyn Dataset>;
    let nonempty = |d: TokenDataset| (d.len() > 0).then(|| arc(d));
    Ok(DataSplits {
        train: arc(train),
        validation: nonempty(val),
        test: nonempty(test),
        task,
        preprocessing: serde_json::to_value(&enc.pre).expect("serializable"),
        notes,
    })
}
