//! Differentiable padding on [`Var`] (`torch.nn.functional.pad`).

use tuna_tensor::{PadMode, Result};

use crate::op::Op;
use crate::tape::Var;

impl<'t> Var<'t> {
    /// Pads the trailing dims (`F.pad(input, pad, mode, value)`): `pad` holds `(before, after)`
    /// pairs starting from the last dim. The gradient of a reflect, replicate or circular pad
    /// sums every border copy back into the element it copies.
    ///
    /// # Panics
    /// Where [`Var::try_pad`] returns an error (the message names both).
    #[track_caller]
    pub fn pad(self, pad: &[usize], mode: PadMode) -> Var<'t> {
        crate::or_panic(self.try_pad(pad, mode))
    }

    /// Fallible [`Var::pad`].
    ///
    /// # Errors
    /// If the padding does not fit the input.
    pub fn try_pad(self, pad: &[usize], mode: PadMode) -> Result<Var<'t>> {
        let v = self.tape.nodes.borrow()[self.id].value.try_pad(pad, mode)?;
        let op = Op::Pad {
            arg: self.id,
            pad: pad.to_vec(),
            mode,
        };
        Ok(Var::record(self.tape, v, op, &[self.id]))
    }
}

#[cfg(test)]
mod tests {
    use tuna_tensor::{PadMode, Tensor};

    use crate::gradcheck::gradcheck;

    fn input(shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        Tensor::from_vec(
            (0..n)
                .map(|i| ((i * 7919) % 13) as f64 / 6.5 - 1.0)
                .collect::<Vec<f64>>(),
            shape,
        )
    }

    #[test]
    fn pad_gradients_match_finite_differences_in_every_mode() {
        for mode in [
            PadMode::Constant(0.0),
            PadMode::Constant(1.5),
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            for (shape, pad) in [
                (vec![5usize], vec![2usize, 3]),
                (vec![2, 3, 4], vec![1, 2, 2, 0]),
                (vec![1, 2, 3, 4], vec![3, 1, 2, 2]),
            ] {
                let pad_ok = match mode {
                    PadMode::Reflect => pad.chunks(2).enumerate().all(|(k, p)| {
                        p[0] < shape[shape.len() - 1 - k] && p[1] < shape[shape.len() - 1 - k]
                    }),
                    _ => true,
                };
                if !pad_ok {
                    continue;
                }
                gradcheck(|_, v| v[0].pad(&pad, mode), &[input(&shape)])
                    .unwrap_or_else(|e| panic!("{mode:?} {shape:?} {pad:?}: {e}"));
            }
        }
    }

    #[test]
    fn pad_of_a_transposed_input() {
        gradcheck(
            |_, v| v[0].t().pad(&[1, 1, 1, 0], PadMode::Reflect),
            &[input(&[3, 4])],
        )
        .unwrap();
    }
}
