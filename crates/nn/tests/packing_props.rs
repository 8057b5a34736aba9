//! Properties of padded batches over random shapes and lengths: a recurrent layer or a
//! pooling layer on a padded batch with lengths gives, for every sample, what it gives on
//! that sample alone without padding (what packing means), zero outputs at padded steps,
//! and inferred shapes equal to the shapes forward produces.

use proptest::prelude::*;
use tuna_autograd::{Tape, Var};
use tuna_fixtures::seeded_tensor;
use tuna_nn::{
    BuildContext, ForwardContext, Gru, GruConfig, LayerConfig, Lstm, LstmConfig, Module, PoolMode,
    Rnn, RnnConfig, SequencePool, SequencePoolConfig,
};
use tuna_tensor::{DType, Tensor};

fn close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-12, "{what}[{i}]: {x} vs {y}");
    }
}

/// A batch-first recurrent layer of the given kind: `(output, h_n)` of a batch with lengths.
type Run = dyn for<'t> Fn(Var<'t>, Option<&[usize]>) -> (Var<'t>, Var<'t>);

fn layer(kind: usize, bidirectional: bool, num_layers: usize) -> Box<Run> {
    let mut ctx = BuildContext::new(kind as u64);
    ctx.dtype = DType::F64;
    match kind {
        0 => {
            let mut s = LstmConfig::new(3, 4);
            (s.batch_first, s.bidirectional, s.num_layers) = (true, bidirectional, num_layers);
            let m = Lstm::new(&s, &mut ctx).unwrap();
            Box::new(move |x, l| {
                let (o, (h, _)) = m.forward_with_state_lengths(x, None, l);
                (o, h)
            })
        }
        1 => {
            let mut s = GruConfig::new(3, 4);
            (s.batch_first, s.bidirectional, s.num_layers) = (true, bidirectional, num_layers);
            let m = Gru::new(&s, &mut ctx).unwrap();
            Box::new(move |x, l| m.forward_with_state_lengths(x, None, l))
        }
        _ => {
            let mut s = RnnConfig::new(3, 4);
            (s.batch_first, s.bidirectional, s.num_layers) = (true, bidirectional, num_layers);
            let m = Rnn::new(&s, &mut ctx).unwrap();
            Box::new(move |x, l| m.forward_with_state_lengths(x, None, l))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_padded_batch_is_each_sample_alone(
        kind in 0usize..3,
        bidirectional in any::<bool>(),
        num_layers in 1usize..3,
        lengths in prop::collection::vec(1usize..6, 1..5),
        extra in 0usize..2,
        seed in 0u64..1000,
    ) {
        let run = layer(kind, bidirectional, num_layers);
        let (n, l) = (lengths.len(), lengths.iter().max().unwrap() + extra);
        let x = seeded_tensor(&[n, l, 3], seed, -1.0, 1.0);
        let tape = Tape::new();
        let (out, h) = run(tape.constant(x.clone()), Some(&lengths));
        let f = out.size(2);
        let (out, h) = (out.value(), h.value());
        for (i, &len) in lengths.iter().enumerate() {
            let alone = x.narrow(0, i, 1).narrow(1, 0, len);
            let (o1, h1) = run(tape.constant(alone), None);
            let got = out.narrow(0, i, 1);
            close(&got.narrow(1, 0, len).to_vec_f64(), &o1.value().to_vec_f64(), "output");
            if len < l {
                let pad = got.narrow(1, len, l - len).to_vec_f64();
                prop_assert!(pad.iter().all(|&v| v == 0.0), "padded outputs are zero");
            }
            close(&h.narrow(1, i, 1).to_vec_f64(), &h1.value().to_vec_f64(), "h_n");
        }
        prop_assert_eq!(f, 4 * if bidirectional { 2 } else { 1 });
    }

    #[test]
    fn pooling_a_padded_batch_is_pooling_each_sample_alone(
        mode in 0usize..4,
        bidirectional in any::<bool>(),
        lengths in prop::collection::vec(1usize..6, 1..5),
        half in 1usize..3,
        seed in 0u64..1000,
    ) {
        let mode = [PoolMode::Mean, PoolMode::Max, PoolMode::First, PoolMode::Last][mode];
        let spec = SequencePoolConfig { mode, bidirectional };
        let pool = SequencePool::new(mode, bidirectional);
        let (n, l, f) = (lengths.len(), *lengths.iter().max().unwrap(), 2 * half);
        let x = seeded_tensor(&[n, l, f], seed, -1.0, 1.0);
        let tape = Tape::new();
        let y = pool.forward_with(tape.constant(x.clone()), &ForwardContext::with_lengths(lengths.clone()));
        prop_assert_eq!(y.shape().to_vec(), spec.output_shape("0", &[n, l, f]).unwrap());
        for (i, &len) in lengths.iter().enumerate() {
            let alone: Tensor = x.narrow(0, i, 1).narrow(1, 0, len);
            let one = pool.forward(tape.constant(alone)).value().to_vec_f64();
            close(&y.value().narrow(0, i, 1).to_vec_f64(), &one, "pooled");
        }
    }
}
