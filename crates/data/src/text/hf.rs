//! Subword tokenizers through Hugging Face's `tokenizers` crate (cargo feature `tokenizers`):
//! a `tokenizer.json` a user already has (`type = "HuggingFace"`), or byte-level BPE trained
//! on the training split (`type = "Bpe"`). The whole tokenizer (its `tokenizer.json`) is saved
//! in the run's `preprocessing.json`, so a run folder needs no other file.

#![cfg(feature = "tokenizers")]

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::normalizers::Lowercase;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use super::tokenizer::{FittedTokenizer, TokenizerConfig, UNK};
use crate::error::DataError;

/// A Hugging Face tokenizer with the special tokens a data set needs.
#[derive(Clone, Debug)]
struct FittedHf {
    tok: Tokenizer,
    kind: &'static str,
}

impl FittedHf {
    /// Adds the specials the tokenizer lacks (`<pad>`, and `<bos>`/`<eos>` for a language
    /// model; `<unk>` is the model's business).
    fn with_specials(mut tok: Tokenizer, specials: &[&str], kind: &'static str) -> Self {
        let missing: Vec<AddedToken> = specials
            .iter()
            .filter(|s| **s != UNK && tok.token_to_id(s).is_none())
            .map(|s| AddedToken::from(s.to_string(), true))
            .collect();
        tok.add_special_tokens(&missing);
        FittedHf { tok, kind }
    }

    fn restore(state: &Value, kind: &'static str) -> Result<Self, DataError> {
        let bad = |e: String| DataError::Preprocessing(format!("tokenizer: {e}"));
        if state.get("type").and_then(Value::as_str) != Some(kind) {
            return Err(bad(format!(
                "expected a {kind} tokenizer, got {}",
                state["type"]
            )));
        }
        let json = serde_json::to_string(&state["tokenizer"]).map_err(|e| bad(e.to_string()))?;
        let tok: Tokenizer = json
            .parse()
            .map_err(|e| bad(format!("tokenizer.json: {e}")))?;
        Ok(FittedHf { tok, kind })
    }
}

impl FittedTokenizer for FittedHf {
    fn encode(&self, text: &str) -> Vec<i64> {
        match self.tok.encode(text, false) {
            Ok(e) => e.get_ids().iter().map(|&i| i64::from(i)).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn decode(&self, ids: &[i64]) -> String {
        let ids: Vec<u32> = ids.iter().filter_map(|&i| u32::try_from(i).ok()).collect();
        self.tok.decode(&ids, true).unwrap_or_default()
    }

    fn vocab_size(&self) -> usize {
        self.tok.get_vocab_size(true)
    }

    fn id_of(&self, token: &str) -> Option<i64> {
        self.tok.token_to_id(token).map(i64::from)
    }

    fn state(&self) -> Value {
        let json = self.tok.to_string(false).unwrap_or_default();
        serde_json::json!({
            "type": self.kind,
            "tokenizer": serde_json::from_str::<Value>(&json).unwrap_or(Value::Null),
        })
    }
}

/// A pretrained Hugging Face tokenizer read from its `tokenizer.json` (`Tokenizer.from_file`);
/// nothing is fitted, but `<pad>` (and `<bos>`/`<eos>` for a language model) are added as
/// special tokens when the file lacks them.
///
/// ```toml
/// [data.tokenizer]
/// type = "HuggingFace"
/// path = "bert-base-uncased/tokenizer.json"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuggingFaceTokenizer {
    /// The `tokenizer.json` file (relative to the experiment file, then the working
    /// directory).
    pub path: PathBuf,
}

#[typetag::serde(name = "HuggingFace")]
impl TokenizerConfig for HuggingFaceTokenizer {
    fn validate(&self) -> Result<(), DataError> {
        if self.path.as_os_str().is_empty() {
            return Err(DataError::config(
                "data.tokenizer.path",
                "must name a tokenizer.json file",
            ));
        }
        Ok(())
    }

    fn fit(
        &self,
        _texts: &[&str],
        specials: &[&str],
    ) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let tok = Tokenizer::from_file(&self.path)
            .map_err(|e| DataError::parse(&self.path, "", format!("not a tokenizer.json: {e}")))?;
        Ok(Box::new(FittedHf::with_specials(
            tok,
            specials,
            "HuggingFace",
        )))
    }

    fn restore(&self, state: &Value) -> Result<Box<dyn FittedTokenizer>, DataError> {
        Ok(Box::new(FittedHf::restore(state, "HuggingFace")?))
    }

    fn paths_mut(&mut self) -> Vec<(String, &mut PathBuf)> {
        vec![("data.tokenizer.path".to_string(), &mut self.path)]
    }
}

/// Byte-level BPE (GPT-2's scheme) trained on the training split with Hugging Face's
/// `BpeTrainer`: `vocab_size` ids at most, merges of pairs seen at least `min_frequency`
/// times, specials first.
///
/// ```toml
/// [data.tokenizer]
/// type = "Bpe"
/// vocab_size = 4000
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BpeTokenizer {
    /// The vocabulary size to reach (specials and the 256 byte tokens included). Default 8000.
    #[serde(default = "default_vocab")]
    pub vocab_size: usize,
    /// A pair must be seen this often to be merged. Default 2.
    #[serde(default = "two")]
    pub min_frequency: u64,
    /// Lowercase the text first. Default `false`.
    #[serde(default)]
    pub lowercase: bool,
}

fn default_vocab() -> usize {
    8000
}
fn two() -> u64 {
    2
}

#[typetag::serde(name = "Bpe")]
impl TokenizerConfig for BpeTokenizer {
    fn validate(&self) -> Result<(), DataError> {
        if self.vocab_size < 300 {
            return Err(DataError::config(
                "data.tokenizer.vocab_size",
                format!(
                    "must be >= 300 (256 byte tokens, the specials and some merges), got {}",
                    self.vocab_size
                ),
            ));
        }
        Ok(())
    }

    fn fit(
        &self,
        texts: &[&str],
        specials: &[&str],
    ) -> Result<Box<dyn FittedTokenizer>, DataError> {
        let mut tok = Tokenizer::new(BPE::default());
        if self.lowercase {
            tok.with_normalizer(Some(Lowercase));
        }
        tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
        tok.with_decoder(Some(ByteLevel::default()));
        let tokens: Vec<AddedToken> = specials
            .iter()
            .map(|s| AddedToken::from(s.to_string(), true))
            .collect();
        let mut trainer: TrainerWrapper = BpeTrainerBuilder::new()
            .vocab_size(self.vocab_size)
            .min_frequency(self.min_frequency)
            .special_tokens(tokens)
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .show_progress(false)
            .build()
            .into();
        tok.train(&mut trainer, texts.iter()).map_err(|e| {
            DataError::config("data.tokenizer", format!("BPE training failed: {e}"))
        })?;
        Ok(Box::new(FittedHf { tok, kind: "Bpe" }))
    }

    fn restore(&self, state: &Value) -> Result<Box<dyn FittedTokenizer>, DataError> {
        Ok(Box::new(FittedHf::restore(state, "Bpe")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::tokenizer::{PAD, UNK};

    #[test]
    fn bpe_trains_saves_and_restores() {
        let texts = [
            "the cat sat on the mat",
            "the dog sat on the log",
            "a cat and a dog",
        ];
        let cfg = BpeTokenizer {
            vocab_size: 300,
            min_frequency: 1,
            lowercase: true,
        };
        let f = cfg.fit(&texts, &[PAD, UNK]).unwrap();
        assert_eq!(f.id_of(PAD), Some(0));
        let ids = f.encode("The cat sat");
        assert!(!ids.is_empty());
        assert_eq!(f.decode(&ids), "the cat sat");
        let back = cfg.restore(&f.state()).unwrap();
        assert_eq!(back.encode("the cat sat"), ids);
        assert_eq!(back.vocab_size(), f.vocab_size());
    }
}
