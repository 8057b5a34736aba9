//! Applying remedies to experiment files: the file a run was started from ([`Origin`]), edited
//! with `toml_edit` so the user's comments and order are kept, checked to be a valid
//! experiment before it is written.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Remedy;
use crate::experiment::{edit_toml, get_path, Edit, Experiment};
use crate::run_dir::RunDir;

/// Why an experiment could not be edited or written.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A file could not be read or written.
    #[error("{}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The edits do not apply to the file, or the result is not a valid experiment.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file being edited.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io(path: &Path, e: impl std::fmt::Display) -> ApplyError {
    ApplyError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The experiment text a run came from, and the edits the run applied to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Origin {
    /// The file (the original experiment, or the run's `config.toml`).
    pub file: PathBuf,
    /// Its text.
    pub text: String,
    /// `--set` / `--unset` edits the run applied to it.
    pub edits: Vec<Edit>,
}

impl Origin {
    /// The experiment file recorded in the run's `run.json` when it still exists (with the
    /// run's `--set` / `--unset` edits), else the run's `config.toml`.
    ///
    /// # Errors
    /// The folder is not a run folder, or the file cannot be read.
    pub fn of_run(dir: &Path) -> Result<Origin, ApplyError> {
        let run = RunDir::open(dir).map_err(|e| io(dir, e))?;
        let manifest = run
            .read_manifest()
            .map_err(|e| io(&run.manifest_path(), e))?;
        if let Some(m) = manifest {
            if let Some(file) = m.experiment_file.filter(|f| f.is_file()) {
                let edits = m
                    .experiment_edits
                    .iter()
                    .filter_map(|e| match (e["set"].as_str(), e["unset"].as_str()) {
                        (Some(p), _) => Some(Edit::Set(p.into(), e["value"].clone())),
                        (None, Some(p)) => Some(Edit::Unset(p.into())),
                        _ => None,
                    })
                    .collect();
                return Ok(Origin {
                    text: read(&file)?,
                    file,
                    edits,
                });
            }
        }
        Origin::of_file(&run.config_path())
    }

    /// An experiment file as it is.
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of_file(file: &Path) -> Result<Origin, ApplyError> {
        Ok(Origin {
            text: read(file)?,
            file: file.to_path_buf(),
            edits: Vec::new(),
        })
    }

    /// The data paths that must become absolute when a copy is written to `out` in another
    /// folder (relative paths are looked up next to the experiment file).
    fn absolute_paths(&self, out: &Path) -> Vec<Edit> {
        let folder = |p: &Path| std::path::absolute(p.parent().unwrap_or(Path::new("."))).ok();
        if folder(out) == folder(&self.file) {
            return Vec::new();
        }
        let Ok(exp) = Experiment::load(&self.file, &[]) else {
            return Vec::new();
        };
        [
            "data.path",
            "data.validation",
            "data.test",
            "data.tokenizer.path",
        ]
        .iter()
        .filter_map(|field| match get_path(&exp.source, field) {
            Some(Value::String(p)) if Path::new(p).is_absolute() => {
                Some(Edit::Set(field.to_string(), Value::String(p.clone())))
            }
            _ => None,
        })
        .collect()
    }

    /// Writes this experiment with its edits and then every remedy's changes applied to
    /// `out` (comments kept; data paths made absolute when `out` is in another folder), after
    /// checking that the result is a valid experiment. `head` is written as a comment line
    /// first.
    ///
    /// # Errors
    /// A change does not apply to the text, the result is not a valid experiment, or a file
    /// cannot be written.
    pub fn write_with(
        &self,
        remedies: &[&Remedy],
        out: &Path,
        head: &str,
    ) -> Result<(), ApplyError> {
        let mut edits = self.absolute_paths(out);
        edits.extend(self.edits.iter().cloned());
        edits.extend(
            remedies
                .iter()
                .flat_map(|r| r.changes.iter().map(|c| c.to_edit())),
        );
        let edited = edit_toml(&self.text, &edits).map_err(|reason| ApplyError::Invalid {
            path: self.file.clone(),
            reason: reason.to_string(),
        })?;
        let text = format!("# {}\n{edited}", head.replace('\n', " "));
        let tmp = out.with_extension("toml.part");
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        if let Err(e) = Experiment::load_edited(&tmp, &[], &[]) {
            let _ = std::fs::remove_file(&tmp);
            return Err(ApplyError::Invalid {
                path: self.file.clone(),
                reason: format!("the edited experiment is not valid: {e}"),
            });
        }
        std::fs::rename(&tmp, out).map_err(|e| io(out, e))
    }
}

fn read(path: &Path) -> Result<String, ApplyError> {
    std::fs::read_to_string(path).map_err(|e| io(path, e))
}
