//! Finding runs and studies under the board's folders, and nothing outside them.
//!
//! A run is a folder holding `config.toml` and one of `run.json`, `metrics.jsonl` or
//! `summary.json` (what `tuna train` writes); a study is a folder holding `space.toml` and
//! `study.db` or `storage.txt` (what `tuna tune` writes). The walk never follows a symbolic
//! link and skips hidden folders; every file the board reads is checked to resolve inside the
//! folder it was given ([`Roots::check_file`]), so a link planted in a run folder cannot make it
//! serve a file from elsewhere. Requests name runs and studies by the ids the walk hands out,
//! never by path.

use std::path::{Component, Path, PathBuf};

use crate::error::BoardError;

/// How deep below a given folder runs and studies are looked for.
pub const MAX_DEPTH: usize = 8;

/// Files a run folder may hold that the board reads.
pub const RUN_FILES: [&str; 6] = [
    "config.toml",
    "run.json",
    "metrics.jsonl",
    "signals.jsonl",
    "summary.json",
    "failure.json",
];

/// One folder given to the board.
#[derive(Clone, Debug)]
struct Root {
    /// The folder, with every link resolved.
    canonical: PathBuf,
    /// Its name in ids when the board has several folders.
    label: String,
}

/// The folders the board serves.
#[derive(Clone, Debug)]
pub struct Roots {
    roots: Vec<Root>,
}

/// What a walk found, each with its id (its path relative to its folder, `/`-separated) and
/// its canonical path.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// Run folders, sorted by id.
    pub runs: Vec<(String, PathBuf)>,
    /// Study folders, sorted by id.
    pub studies: Vec<(String, PathBuf)>,
}

impl Roots {
    /// The folders, resolved.
    ///
    /// # Errors
    /// A folder that does not exist or is not a folder.
    pub fn new(dirs: &[PathBuf]) -> Result<Roots, BoardError> {
        let mut roots: Vec<Root> = Vec::new();
        for dir in dirs {
            let canonical = dir.canonicalize().map_err(|e| BoardError::Folder {
                path: dir.clone(),
                message: e.to_string(),
            })?;
            if !canonical.is_dir() {
                return Err(BoardError::Folder {
                    path: dir.clone(),
                    message: "not a folder".into(),
                });
            }
            if roots.iter().any(|r| r.canonical == canonical) {
                continue;
            }
            let base = canonical
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "root".into());
            let mut label = base.clone();
            let mut k = 2;
            while roots.iter().any(|r| r.label == label) {
                label = format!("{base}-{k}");
                k += 1;
            }
            roots.push(Root { canonical, label });
        }
        Ok(Roots { roots })
    }

    /// The resolved folders.
    pub fn folders(&self) -> Vec<&Path> {
        self.roots.iter().map(|r| r.canonical.as_path()).collect()
    }

    /// Walks every folder for runs and studies.
    pub fn walk(&self) -> Found {
        let mut found = Found::default();
        let several = self.roots.len() > 1;
        for root in &self.roots {
            let mut stack = vec![(root.canonical.clone(), 0usize)];
            while let Some((dir, depth)) = stack.pop() {
                let id = self.id_of(root, &dir, several);
                let is_run = dir.join("config.toml").is_file()
                    && ["run.json", "metrics.jsonl", "summary.json"]
                        .iter()
                        .any(|f| dir.join(f).is_file());
                if is_run {
                    found.runs.push((id, dir));
                    continue; // a run's own folders (checkpoints) hold no runs
                }
                if dir.join("space.toml").is_file()
                    && (dir.join("study.db").is_file() || dir.join("storage.txt").is_file())
                {
                    found.studies.push((id, dir.clone()));
                }
                if depth < MAX_DEPTH {
                    stack.extend(subfolders(&dir).into_iter().map(|d| (d, depth + 1)));
                }
            }
        }
        found.runs.sort();
        found.studies.sort();
        found
    }

    fn id_of(&self, root: &Root, dir: &Path, several: bool) -> String {
        let rel: Vec<String> = dir
            .strip_prefix(&root.canonical)
            .map(|r| {
                r.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        match (several, rel.is_empty()) {
            (_, true) => root.label.clone(),
            (true, false) => format!("{}/{}", root.label, rel.join("/")),
            (false, false) => rel.join("/"),
        }
    }

    /// Whether `file` (which need not exist) resolves to a place inside one of the folders:
    /// a file that is a link to somewhere else is refused.
    pub fn check_file(&self, file: &Path) -> bool {
        if file
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return false;
        }
        match file.canonicalize() {
            Ok(real) => self.roots.iter().any(|r| real.starts_with(&r.canonical)),
            // a file that is not there yet: its folder must be inside
            Err(_) => file
                .parent()
                .and_then(|p| p.canonicalize().ok())
                .is_some_and(|p| self.roots.iter().any(|r| p.starts_with(&r.canonical))),
        }
    }
}

/// The folders directly inside `dir`: no links, no hidden folders.
fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tuna-board-scan-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn run(dir: &Path) {
        std::fs::create_dir_all(dir.join("checkpoints")).unwrap();
        std::fs::write(dir.join("config.toml"), "seed = 0\n").unwrap();
        std::fs::write(dir.join("metrics.jsonl"), "").unwrap();
    }

    #[test]
    fn finds_runs_and_studies_but_follows_no_link() {
        let d = scratch("walk");
        run(&d.join("a"));
        run(&d.join("sweep/b"));
        run(&d.join(".hidden/c"));
        std::fs::create_dir_all(d.join("study/trials")).unwrap();
        std::fs::write(d.join("study/space.toml"), "").unwrap();
        std::fs::write(d.join("study/study.db"), "").unwrap();
        run(&d.join("study/trials/0000"));
        let outside = scratch("walk-outside");
        run(&outside.join("secret"));
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, d.join("link")).unwrap();
        let roots = Roots::new(std::slice::from_ref(&d)).unwrap();
        let found = roots.walk();
        let ids: Vec<&str> = found.runs.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(ids, ["a", "study/trials/0000", "sweep/b"]);
        assert_eq!(found.studies[0].0, "study");
        assert!(roots.check_file(&d.join("a/metrics.jsonl")));
        assert!(!roots.check_file(&outside.join("secret/metrics.jsonl")));
        assert!(!roots.check_file(&d.join("a/../../etc/passwd")));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", d.join("a/signals.jsonl")).unwrap();
            assert!(!roots.check_file(&d.join("a/signals.jsonl")));
        }
    }

    #[test]
    fn several_folders_prefix_ids_and_a_run_folder_can_be_given_itself() {
        let d = scratch("several");
        run(&d.join("x/r1"));
        run(&d.join("y"));
        let roots = Roots::new(&[d.join("x"), d.join("y")]).unwrap();
        let ids: Vec<String> = roots.walk().runs.into_iter().map(|(i, _)| i).collect();
        assert_eq!(ids, ["x/r1", "y"]);
        let e = Roots::new(&[d.join("missing")]).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
