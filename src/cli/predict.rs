//! `tuna predict RUN INPUT [--out FILE] [--format csv|jsonl]`: the run's model on new inputs
//! (any file the run's data plugin reads; labels not needed), preprocessed with the run's own
//! `preprocessing.json`, streamed: one output row per input row.

use std::io::Write;
use std::path::PathBuf;

use tuna::train::predict::{Prediction, Predictor, Weights};

use super::output::errln;
use super::CliError;

/// Arguments of `tuna predict`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  tuna predict runs/iris new-flowers.csv                 # CSV on stdout
  tuna predict runs/iris new-flowers.csv --out pred.jsonl
  tuna predict runs/names-gru names.txt --format jsonl   # one text per line
  tuna predict runs/mnist-cnn digits-idx3-ubyte.gz

Each output row holds the input row's id (an id column, a line, or the row number), the
predicted class and the probability of every class — or, for regression, the predicted
values in the original units. The input is read and predicted a batch at a time, so a file
larger than memory works.")]
pub struct Args {
    /// The run folder.
    pub run: PathBuf,
    /// The inputs: a file in a format the run's data section reads (CSV with or without the
    /// label column, IDX images, text lines, JSON lines ...).
    pub input: PathBuf,
    /// Write here instead of stdout. An existing file is replaced only if it holds earlier
    /// predictions (Tuna never overwrites a file it did not write).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `csv` or `jsonl`. Default: from --out's extension, else csv.
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,
    /// Which weights: the final model.safetensors, or a checkpoint.
    #[arg(long, default_value = "final", value_parser = ["final", "best", "last"])]
    pub weights: String,
    /// Rows predicted at a time.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
}

/// Writes predictions as CSV or JSON lines.
struct Writer {
    out: Box<dyn Write>,
    jsonl: bool,
    header_done: bool,
    classes: Option<Vec<String>>,
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl Writer {
    fn header(&mut self, first: &Prediction) -> std::io::Result<()> {
        let mut cols = vec!["id".to_string()];
        match (&self.classes, &first.values) {
            (Some(names), _) => {
                cols.push("prediction".into());
                cols.extend(names.iter().map(|n| format!("p_{n}")));
            }
            (None, Some(v)) => cols.extend((0..v.len()).map(|i| format!("value_{i}"))),
            _ => {}
        }
        let line: Vec<String> = cols.iter().map(|c| csv_field(c)).collect();
        writeln!(self.out, "{}", line.join(","))
    }

    fn row(&mut self, p: &Prediction) -> std::io::Result<()> {
        if self.jsonl {
            let mut v = serde_json::to_value(p).unwrap_or_default();
            if let (Some(names), Some(probs)) = (&self.classes, &p.probabilities) {
                let map: serde_json::Map<String, serde_json::Value> = names
                    .iter()
                    .cloned()
                    .zip(probs.iter().map(|&x| serde_json::Value::from(x)))
                    .collect();
                v["probabilities"] = serde_json::Value::Object(map);
            }
            return writeln!(self.out, "{v}");
        }
        if !self.header_done {
            self.header(p)?;
            self.header_done = true;
        }
        let mut cells = vec![csv_field(&p.id)];
        if let Some(l) = &p.label {
            cells.push(csv_field(l));
        }
        let nums = p.probabilities.as_ref().or(p.values.as_ref());
        cells.extend(nums.into_iter().flatten().map(|x| format!("{x}")));
        writeln!(self.out, "{}", cells.join(","))
    }
}

fn io_err(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        CliError::BrokenPipe
    } else {
        CliError::Message(format!("writing predictions: {e}"))
    }
}

/// Refuses to replace an existing file that does not hold predictions.
fn check_replaceable(path: &std::path::Path) -> Result<(), CliError> {
    let Ok(mut f) = std::fs::File::open(path) else {
        return Ok(());
    };
    let mut head = [0u8; 8];
    let n = std::io::Read::read(&mut f, &mut head).unwrap_or(0);
    let ours = n == 0 || head[..n].starts_with(b"id,") || head[..n].starts_with(b"{\"id\"");
    if ours {
        Ok(())
    } else {
        Err(CliError::Message(format!(
            "{}: exists and does not hold predictions written by tuna predict; remove it or \
             choose another --out",
            path.display()
        )))
    }
}

/// Runs `tuna predict`.
pub fn run(args: &Args) -> Result<(), CliError> {
    tuna::link_all();
    let weights = match args.weights.as_str() {
        "best" => Weights::Best,
        "last" => Weights::Last,
        _ => Weights::Final,
    };
    let predictor = Predictor::open(&args.run, weights)?;
    let ext = args
        .out
        .as_ref()
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_lowercase());
    let jsonl = match (&args.format, ext.as_deref()) {
        (Some(f), _) => f == "jsonl",
        (None, Some("jsonl" | "json")) => true,
        _ => false,
    };
    if let Some(p) = &args.out {
        check_replaceable(p)?;
    }
    let out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut w = Writer {
        out,
        jsonl,
        header_done: false,
        classes: predictor.class_names().map(<[String]>::to_vec),
    };
    let mut n = 0usize;
    for batch in predictor.predict_file(&args.input, args.batch_size)? {
        for p in batch? {
            w.row(&p).map_err(io_err)?;
            n += 1;
        }
    }
    w.out.flush().map_err(io_err)?;
    if let Some(p) = &args.out {
        errln!("wrote {n} predictions to {}", p.display());
    }
    Ok(())
}
