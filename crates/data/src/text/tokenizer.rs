//! Tokenizers: the `[data.tokenizer]` plugins that turn text into token ids, with a
//! vocabulary fitted on the training split and saved with the run.
//!
//! Built in: [`CharTokenizer`] (`type = "Char"`), [`WordTokenizer`] (`type = "Word"`), and
//! with the `tokenizers` feature the Hugging Face ones (`type = "HuggingFace"` reading a
//! `tokenizer.json`, `type = "Bpe"` trained on the training split).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use dyn_clone::DynClone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DataError;

/// The padding token every built-in vocabulary puts at id 0 (`padding_idx = 0` in an
/// `Embedding`).
pub const PAD: &str = "<pad>";
/// The unknown token (id 1 in built-in vocabularies): anything not in the vocabulary.
pub const UNK: &str = "<unk>";
/// The start-of-sequence token of language-model data.
pub const BOS: &str = "<bos>";
/// The end-of-sequence token of language-model data.
pub const EOS: &str = "<eos>";

/// A tokenizer fitted on training text: text to ids and back.
pub trait FittedTokenizer: Debug + Send + Sync {
    /// The ids of `text` (no truncation, no special tokens added).
    fn encode(&self, text: &str) -> Vec<i64>;
    /// The text of `ids`, special tokens dropped.
    fn decode(&self, ids: &[i64]) -> String;
    /// The number of ids.
    fn vocab_size(&self) -> usize;
    /// The id of a (special) token, if the vocabulary has it.
    fn id_of(&self, token: &str) -> Option<i64>;
    /// Everything needed to rebuild it ([`TokenizerConfig::restore`]), as saved in the run's
    /// `preprocessing.json`.
    fn state(&self) -> Value;
}

/// The `[data.tokenizer]` section: a tokenizer plugin (`type = "Char"`, `"Word"`, ...).
///
/// Register your own with `#[typetag::serde(name = "MyTokenizer")] impl TokenizerConfig for
/// ...`.
#[typetag::serde(tag = "type")]
pub trait TokenizerConfig: DynClone + Debug + Send + Sync {
    /// The tag this config is written with (`type = "..."`: the PyTorch, torchvision or
    /// Optuna class name where there is one).
    fn name(&self) -> &'static str {
        self.typetag_name()
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`DataError::Config`] naming the field (`data.tokenizer.min_freq`).
    fn validate(&self) -> Result<(), DataError> {
        Ok(())
    }

    /// Fits the vocabulary on the training texts; `specials` are reserved first, in order.
    ///
    /// # Errors
    /// A tokenizer that cannot be built (a bad pattern, an unreadable file).
    fn fit(&self, texts: &[&str], specials: &[&str])
        -> Result<Box<dyn FittedTokenizer>, DataError>;

    /// Rebuilds a fitted tokenizer from its saved [`FittedTokenizer::state`].
    ///
    /// # Errors
    /// [`DataError::Preprocessing`] when the state is not this tokenizer's.
    fn restore(&self, state: &Value) -> Result<Box<dyn FittedTokenizer>, DataError>;

    /// The files this tokenizer reads, with their field names (for path resolution).
    fn paths_mut(&mut self) -> Vec<(String, &mut std::path::PathBuf)> {
        Vec::new()
    }
}

dyn_clone::clone_trait_object!(TokenizerConfig);

/// A vocabulary of string tokens: id = position.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Vocab {
    tokens: Vec<String>,
    /// The first `specials` tokens are special (dropped when decoding).
    specials: usize,
    #[serde(skip)]
    index: HashMap<String, i64>,
}

impl Vocab {
    fn new(tokens: Vec<String>, specials: usize) -> Self {
        let index = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as i64))
            .collect();
        Vocab {
            tokens,
            specials,
            index,
        }
    }

    /// The non-special tokens of `ids`.
    fn words<'a>(&'a self, ids: &'a [i64]) -> impl Iterator<Item = &'a str> + 'a {
        ids.iter()
            .filter_map(|&i| usize::try_from(i).ok())
            .filter(|&i| i >= self.specials)
            .filter_map(|i| self.tokens.get(i).map(String::as_str))
    }

    /// Specials first, then tokens seen at least `min_freq` times, most frequent first (ties
    /// in code-point order), at most `max_size` ids in all.
    fn fit<'a>(
        pieces: impl Iterator<Item = &'a str>,
        specials: &[&str],
        min_freq: usize,
        max_size: Option<usize>,
    ) -> Self {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for p in pieces {
            *counts.entry(p).or_default() += 1;
        }
        let mut ranked: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|(t, n)| *n >= min_freq && !specials.contains(t))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let mut tokens: Vec<String> = specials.iter().map(|s| s.to_string()).collect();
        let room = max_size.map_or(usize::MAX, |m| m.saturating_sub(tokens.len()));
        tokens.extend(ranked.into_iter().take(room).map(|(t, _)| t.to_string()));
        Vocab::new(tokens, specials.len())
    }

    fn id(&self, token: &str) -> i64 {
        self.index
            .get(token)
            .or_else(|| self.index.get(UNK))
            .copied()
            .unwrap_or(0)
    }

    fn restore(state: &Value, kind: &str) -> Result<(Self, Value), DataError> {
        let bad = |e: String| DataError::Preprocessing(format!("tokenizer: {e}"));
        if state.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(bad(format!(
                "expected a {kind} tokenizer, got {}",
                state["type"]
            )));
        }
        let tokens: Vec<String> = serde_json::from_value(state["tokens"].clone())
            .map_err(|e| bad(format!("tokens: {e}")))?;
        let specials = state["specials"]
            .as_u64()
            .ok_or_else(|| bad("missing `specials` (the number of special tokens)".into()))?;
        Ok((Vocab::new(tokens, specials as usize), state.clone()))
    }
}

/// Character-level tokens (each Unicode scalar value is a token), with a vocabulary of the
/// characters seen in the training split (`<pad>` = 0, `<unk>` = 1, then by frequency).
///
/// ```toml
/// [data.tokenizer]
/// type = "Char"
/// lowercase = true
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharTokenizer {
    /// Lowercase the text first. Default `false`.
    #[serde(default)]
    pub lowercase: bool,
    /// Characters seen fewer times in the training split map to `<unk>`. Default 1.
    #[serde(default = "one")]
    pub min_freq: usize,
    /// At most this many ids, specials included. Default: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<usize>,
}

fn one() -> usize {
    1
}

impl Default for CharTokenizer {
    fn default() -> Self {
        CharTokenizer {
            lowercase: false,
            min_freq: 1,
            max_size: None,
        }
    }
}

/// A fitted character tokenizer.
#[derive(Clone, Debug)]
struct FittedChars {
    lowercase: bool,
    vocab: Vocab,
}

fn prepare(text: &str, lowercase: bool) -> std::borrow::Cow<'_, str> {
    if lowercase {
        std::borrow::Cow::Owned(text.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

impl FittedTokenizer for FittedChars {
    fn encode(&self, text: &str) -> Vec<i64> {
        let text = prepare(text, self.lowercase);
        let mut buf = [0u8; 4];
        text.chars()
            .map(|c| self.vocab.id(c.encode_utf8(&mut buf)))
            .collect()
    }

    fn decode(&self, ids: &[i64]) -> String {
        self.vocab.words(ids).collect()
    }

    fn vocab_size(&self) -> usize {
        self.vocab.tokens.len()
    }

    fn id_of(&self, token: &str) -> Option<i64> {
        self.vocab.index.get(token).copied()
    }

    fn state(&self) -> Value {
        serde_json::json!({
            "type": "Char",
            "lowercase": self.lowercase,
            "specials": self.vocab.specials,
            "tokens": self.vocab.tokens,
        })
    }
}

#[typetag::serde(name = "Char")]
impl TokenizerConfig for CharTokenizer {
    fn validate(&self) -> Result<(), DataError> {
        check_counts(self.min_freq, self.max_size)
    }

    fn fit(
        &self,
        texts: &[&str],
        specials: &[&str],
    ) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let prepared: Vec<String> = texts
            .iter()
            .map(|t| prepare(t, self.lowercase).into_owned())
            .collect();
        let chars: Vec<String> = prepared
            .iter()
            .flat_map(|t| t.chars().map(String::from))
            .collect();
        let vocab = Vocab::fit(
            chars.iter().map(String::as_str),
            specials,
            self.min_freq,
            self.max_size,
        );
        Ok(Box::new(FittedChars {
            lowercase: self.lowercase,
            vocab,
        }))
    }

    fn restore(&self, state: &Value) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let (vocab, state) = Vocab::restore(state, "Char")?;
        Ok(Box::new(FittedChars {
            lowercase: state["lowercase"].as_bool().unwrap_or(false),
            vocab,
        }))
    }
}

fn check_counts(min_freq: usize, max_size: Option<usize>) -> Result<(), DataError> {
    if min_freq == 0 {
        return Err(DataError::config(
            "data.tokenizer.min_freq",
            "must be >= 1, got 0",
        ));
    }
    if let Some(m) = max_size {
        if m < 5 {
            return Err(DataError::config(
                "data.tokenizer.max_size",
                format!("must leave room for the special tokens and at least one more, got {m}"),
            ));
        }
    }
    Ok(())
}

/// Word-level tokens: every match of a regular expression (after optional lowercasing) is a
/// token, with a vocabulary of the training split's words (`<pad>` = 0, `<unk>` = 1, then by
/// frequency, ties alphabetical): torchtext's `build_vocab_from_iterator` with a regex
/// tokenizer, Keras' `TextVectorization(output_mode="int")`.
///
/// ```toml
/// [data.tokenizer]
/// type = "Word"
/// pattern = "[a-z0-9']+"
/// min_freq = 2
/// max_size = 20000
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WordTokenizer {
    /// The regular expression a token matches (Rust `regex` syntax). Default `[\w']+`
    /// (letters, digits, underscores and apostrophes).
    #[serde(default = "word_pattern")]
    pub pattern: String,
    /// Lowercase the text first. Default `true`.
    #[serde(default = "yes")]
    pub lowercase: bool,
    /// Words seen fewer times in the training split map to `<unk>`. Default 1.
    #[serde(default = "one")]
    pub min_freq: usize,
    /// At most this many ids, specials included (the most frequent words are kept). Default:
    /// no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<usize>,
}

fn word_pattern() -> String {
    r"[\w']+".to_string()
}

fn yes() -> bool {
    true
}

impl Default for WordTokenizer {
    fn default() -> Self {
        WordTokenizer {
            pattern: word_pattern(),
            lowercase: true,
            min_freq: 1,
            max_size: None,
        }
    }
}

/// A fitted word tokenizer.
#[derive(Clone, Debug)]
struct FittedWords {
    regex: regex::Regex,
    lowercase: bool,
    vocab: Vocab,
}

fn compile(pattern: &str) -> Result<regex::Regex, DataError> {
    regex::Regex::new(pattern).map_err(|e| {
        DataError::config(
            "data.tokenizer.pattern",
            format!("invalid regular expression: {e}"),
        )
    })
}

impl FittedTokenizer for FittedWords {
    fn encode(&self, text: &str) -> Vec<i64> {
        let text = prepare(text, self.lowercase);
        self.regex
            .find_iter(&text)
            .map(|m| self.vocab.id(m.as_str()))
            .collect()
    }

    fn decode(&self, ids: &[i64]) -> String {
        self.vocab.words(ids).collect::<Vec<_>>().join(" ")
    }

    fn vocab_size(&self) -> usize {
        self.vocab.tokens.len()
    }

    fn id_of(&self, token: &str) -> Option<i64> {
        self.vocab.index.get(token).copied()
    }

    fn state(&self) -> Value {
        serde_json::json!({
            "type": "Word",
            "pattern": self.regex.as_str(),
            "lowercase": self.lowercase,
            "specials": self.vocab.specials,
            "tokens": self.vocab.tokens,
        })
    }
}

#[typetag::serde(name = "Word")]
impl TokenizerConfig for WordTokenizer {
    fn validate(&self) -> Result<(), DataError> {
        compile(&self.pattern)?;
        check_counts(self.min_freq, self.max_size)
    }

    fn fit(
        &self,
        texts: &[&str],
        specials: &[&str],
    ) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let regex = compile(&self.pattern)?;
        let prepared: Vec<String> = texts
            .iter()
            .map(|t| prepare(t, self.lowercase).into_owned())
            .collect();
        let words = prepared
            .iter()
            .flat_map(|t| regex.find_iter(t).map(|m| m.as_str()));
        let vocab = Vocab::fit(words, specials, self.min_freq, self.max_size);
        Ok(Box::new(FittedWords {
            regex,
            lowercase: self.lowercase,
            vocab,
        }))
    }

    fn restore(&self, state: &Value) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let (vocab, state) = Vocab::restore(state, "Word")?;
        let pattern = state["pattern"].as_str().unwrap_or(&self.pattern);
        Ok(Box::new(FittedWords {
            regex: compile(pattern)?,
            lowercase: state["lowercase"].as_bool().unwrap_or(true),
            vocab,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_vocab_by_frequency_with_specials_first() {
        let t = CharTokenizer {
            lowercase: true,
            ..CharTokenizer::default()
        };
        let f = t.fit(&["Abba", "cab"], &[PAD, UNK]).unwrap();
        // a:3, b:3, c:1 -> a, b, c after the specials
        assert_eq!(f.encode("abcz"), vec![2, 3, 4, 1]);
        assert_eq!(f.decode(&[2, 0, 3, 1, 4]), "abc");
        assert_eq!(f.vocab_size(), 5);
        let back = t.restore(&f.state()).unwrap();
        assert_eq!(back.encode("CAB"), f.encode("cab"));
    }

    #[test]
    fn word_vocab_min_freq_max_size_and_pattern() {
        let t = WordTokenizer {
            pattern: "[a-z0-9']+".into(),
            min_freq: 2,
            ..WordTokenizer::default()
        };
        let f = t
            .fit(&["the cat's hat", "The dog, the CAT's bone"], &[PAD, UNK])
            .unwrap();
        // the:3, cat's:2 ; hat, dog, bone seen once -> <unk>
        assert_eq!(f.encode("the cat's dog"), vec![2, 3, 1]);
        assert_eq!(f.decode(&[2, 3]), "the cat's");
        let capped = WordTokenizer {
            max_size: Some(5),
            ..WordTokenizer::default()
        };
        let f = capped.fit(&["a a a b b c d"], &[PAD, UNK]).unwrap();
        assert_eq!(f.vocab_size(), 5);
        assert_eq!(f.encode("c d"), vec![4, 1]);
        assert!(WordTokenizer {
            pattern: "(".into(),
            ..WordTokenizer::default()
        }
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("data.tokenizer.pattern: "));
    }
}
