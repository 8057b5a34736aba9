//! Text for prediction (rows of token ids from a file in the training format, labels
//! optional) and the [`TextCodec`] of a fitted text data set.

use std::borrow::Cow;
use std::path::Path;

use super::read::{records, Fields, Records, TextFormat};
use super::tokenizer::FittedTokenizer;
use super::{Text, TextPreprocessing};
use crate::config::{PredictRow, PredictRows, TextCodec};
use crate::dataset::{Input, InputKind};
use crate::error::DataError;

struct TextRows {
    records: Records,
    tok: Box<dyn FittedTokenizer>,
    pre: TextPreprocessing,
}

/// Opens `input` (the training format, or plain lines for a `.txt` file) for prediction.
pub(super) fn rows(
    cfg: &Text,
    input: &Path,
    tok: Box<dyn FittedTokenizer>,
    pre: TextPreprocessing,
) -> Result<Box<dyn PredictRows>, DataError> {
    let format = TextFormat::detect(input)
        .filter(|f| *f == TextFormat::Lines)
        .map_or_else(|| cfg.format_of(input), Ok)?;
    let names = cfg.text.names();
    let fields = Fields {
        text: &names,
        label: Some(cfg.label.as_str()),
        label_required: false,
    };
    Ok(Box::new(TextRows {
        records: records(input, format, &fields)?,
        tok,
        pre,
    }))
}

impl Iterator for TextRows {
    type Item = Result<PredictRow, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = match self.records.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        let mut ids = self.tok.encode(&r.text);
        ids.truncate(self.pre.max_len);
        if ids.is_empty() {
            ids.push(self.pre.pad_id);
        }
        Some(Ok(PredictRow {
            id: r.origin,
            input: Input::Tokens(Cow::Owned(ids)),
        }))
    }
}

impl PredictRows for TextRows {
    fn input_kind(&self) -> InputKind {
        InputKind::Tokens {
            vocab_size: self.pre.vocab_size,
            max_len: self.pre.max_len,
            pad_id: self.pre.pad_id,
        }
    }
}

/// Text to ids and back with a run's vocabulary.
#[derive(Debug)]
pub(super) struct Codec {
    pub(super) tok: Box<dyn FittedTokenizer>,
    pub(super) pre: TextPreprocessing,
}

impl TextCodec for Codec {
    fn encode(&self, text: &str) -> Vec<i64> {
        self.tok.encode(text)
    }

    fn decode(&self, ids: &[i64]) -> String {
        self.tok.decode(ids)
    }

    fn vocab_size(&self) -> usize {
        self.pre.vocab_size
    }

    fn bos_id(&self) -> Option<i64> {
        self.pre.bos_id
    }

    fn eos_id(&self) -> Option<i64> {
        self.pre.eos_id
    }
}
