//! Losses in five minutes: load one by name from a config, call it with two or three inputs,
//! backpropagate, and register your own loss so configs can name it.
//!
//! Run with `cargo run --release -p tuna-loss --example losses`.

// ANCHOR: config
use tuna_autograd::{Tape, Var};
use tuna_loss::{CrossEntropyLoss, Loss, LossError, Reduction};
use tuna_tensor::Tensor;

fn from_config() -> Result<(), Box<dyn std::error::Error>> {
    tuna_loss::link(); // the `tuna` umbrella's `link_all()` does this for you
    let loss: Box<dyn Loss> = toml::from_str(
        r#"
        type = "CrossEntropyLoss"
        label_smoothing = 0.1
        weight = [1.0, 2.0, 1.0]   # per-class weights: a plain list
        "#,
    )?;
    loss.validate()?; // config errors surface before any data is seen

    let tape = Tape::new();
    let logits = tape.var(Tensor::from_vec(
        vec![2.0f32, 0.5, -1.0, 0.1, 0.2, 3.0],
        &[2, 3],
    ));
    let classes = tape.constant(Tensor::from_vec(vec![0i64, 2], &[2])); // i64 class indices
    let out = loss.forward(logits, classes)?;
    out.backward();
    println!("cross entropy = {:.4}", out.item());
    println!(
        "d loss / d logits = {:?}",
        logits.grad().unwrap().to_vec::<f32>()
    );

    // the same loss built in code; a config is just its serialized form
    let same = CrossEntropyLoss {
        label_smoothing: 0.1,
        weight: Some(tuna_loss::TensorArg::from_vec(vec![1.0, 2.0, 1.0])),
        ..Default::default()
    };
    println!("as JSON: {}", serde_json::to_string(&same as &dyn Loss)?);
    Ok(())
}
// ANCHOR_END: config

// ANCHOR: three_inputs
fn three_inputs() -> Result<(), LossError> {
    let triplet: Box<dyn Loss> = Box::new(tuna_loss::TripletMarginLoss {
        margin: 0.5,
        reduction: Reduction::None,
        ..Default::default()
    });
    let tape = Tape::new();
    let emb = |v: Vec<f32>| tape.var(Tensor::from_vec(v, &[2, 2]));
    let anchor = emb(vec![0.0, 1.0, 1.0, 0.0]);
    let positive = emb(vec![0.1, 0.9, 0.0, 1.0]);
    let negative = emb(vec![0.0, 1.2, 1.0, 0.1]);
    // by PyTorch's forward() argument names ...
    let per_triplet = triplet.forward_named(&[
        ("anchor", anchor),
        ("positive", positive),
        ("negative", negative),
    ])?;
    // ... or positionally, in `input_names()` order
    let again = triplet.forward_args(&[anchor, positive, negative])?;
    assert_eq!(
        per_triplet.value().to_vec::<f32>(),
        again.value().to_vec::<f32>()
    );
    println!(
        "{:?} -> {:?}",
        triplet.input_names(),
        per_triplet.value().to_vec::<f32>()
    );
    Ok(())
}
// ANCHOR_END: three_inputs

// ANCHOR: custom
/// log-cosh regression loss: smooth like MSE near 0, linear like L1 far away.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
struct LogCoshLoss {
    reduction: Reduction,
}

#[typetag::serde(name = "LogCoshLoss")]
impl Loss for LogCoshLoss {
    fn input_names(&self) -> &'static [&'static str] {
        &["input", "target"]
    }
    fn validate(&self) -> Result<(), LossError> {
        Ok(())
    }
    fn forward_named<'t>(&self, args: &[(&str, Var<'t>)]) -> Result<Var<'t>, LossError> {
        let get = |name: &'static str| {
            args.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| *v)
                .ok_or(LossError::MissingInput {
                    loss: "LogCoshLoss",
                    input: name,
                    expected: "input, target".into(),
                })
        };
        let d = get("input")?.sub(get("target")?);
        // log(cosh d) = d + softplus(-2d) - log 2, stable for large |d|
        let l = d
            .add(d.mul_scalar(-2.0).softplus(1.0, 20.0))
            .add_scalar(-std::f64::consts::LN_2);
        Ok(match self.reduction {
            Reduction::Sum => l.sum(),
            Reduction::None => l,
            _ => l.mean(),
        })
    }
}

fn custom() -> Result<(), Box<dyn std::error::Error>> {
    let loss: Box<dyn Loss> = serde_json::from_str(r#"{"type": "LogCoshLoss"}"#)?;
    let tape = Tape::new();
    let x = tape.var(Tensor::from_vec(vec![0.0f64, 3.0], &[2]));
    let y = tape.constant(Tensor::from_vec(vec![0.0f64, 0.0], &[2]));
    println!("log-cosh = {:.4}", loss.forward(x, y)?.item());
    Ok(())
}
// ANCHOR_END: custom

fn main() -> Result<(), Box<dyn std::error::Error>> {
    from_config()?;
    three_inputs()?;
    custom()?;
    Ok(())
}
