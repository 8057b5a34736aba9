//! `--set KEY=VALUE` / `--unset KEY`: edits of an experiment file before a command uses it,
//! shared by every command that loads one.

use std::path::Path;

use tuna::train::experiment::Experiment;

use super::CliError;

/// The edits `tuna train` and its neighbours apply to an experiment file
/// (`#[command(flatten)]` into a command's arguments).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Override any field by its path, e.g. optimizer.lr=0.01 or model.layers[3].p=0.2
    /// (the value is read as TOML; repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Remove a field or section, e.g. scheduler or train.early_stopping (repeatable; applied
    /// after --set).
    #[arg(long = "unset", value_name = "KEY")]
    pub unset: Vec<String>,
}

impl Overrides {
    /// Whether no edit was given.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.unset.is_empty()
    }

    /// The experiment file at `path` with these edits applied.
    pub fn load(&self, path: &Path) -> Result<Experiment, CliError> {
        Ok(Experiment::load_edited(path, &self.set, &self.unset)?)
    }
}
