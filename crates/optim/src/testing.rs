//! Test helpers shared by the per-optimizer unit tests.

use tuna_autograd::Param;
use tuna_tensor::Tensor;

use crate::config::OptimizerConfig;

/// JSON and TOML round trips through `Box<dyn OptimizerConfig>` give back the same config.
pub(crate) fn roundtrip<C>(cfg: &C)
where
    C: OptimizerConfig + Clone + std::fmt::Debug + 'static,
{
    let boxed: Box<dyn OptimizerConfig> = Box::new(cfg.clone());
    let json = serde_json::to_string(&boxed).unwrap();
    let back: Box<dyn OptimizerConfig> = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrap {
        optimizer: Box<dyn OptimizerConfig>,
    }
    let text = toml::to_string(&Wrap { optimizer: boxed }).unwrap();
    let back: Wrap = toml::from_str(&text).unwrap();
    assert_eq!(
        serde_json::to_string(&back.optimizer).unwrap(),
        json,
        "{text}"
    );
}

/// Minimizes `p^2` (gradient `2p`) from `p = 1` in f64 for `steps` steps; returns `p`.
pub(crate) fn quadratic_run(cfg: &dyn OptimizerConfig, steps: usize) -> f64 {
    let p = Param::new(Tensor::from_vec(vec![1.0f64], &[1]));
    let mut opt = cfg.build(vec![("x".into(), p.clone())], &[]).unwrap();
    for _ in 0..steps {
        let v = p.value().item();
        p.set_grad(Some(Tensor::from_vec(vec![2.0 * v], &[1])));
        opt.step().unwrap();
    }
    p.value().item()
}
