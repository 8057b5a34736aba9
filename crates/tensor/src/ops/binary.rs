//! Elementwise functions of two (or three) tensors with NumPy broadcasting: arithmetic,
//! comparisons, `where`.

use crate::dtype::{DType, Element, FloatElement};
use crate::error::{or_panic, Result, TensorError};
use crate::layout as tuna_layout;
use crate::layout::broadcast_shapes;
use crate::strided::{walk, walk_runs};
use crate::tensor::Tensor;
use crate::{with_dtype, with_float};
#[allow(unused_imports)]
use num_traits::{Float, FloatConst, One, Zero};

/// The dtype two operands are computed in (PyTorch type promotion restricted to our dtypes):
/// f64 beats f32 beats i64 beats bool.
pub fn promote(a: DType, b: DType) -> DType {
    fn rank(d: DType) -> u8 {
        match d {
            DType::Bool => 0,
            DType::I64 => 1,
            DType::F32 => 2,
            DType::F64 => 3,
        }
    }
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

/// When `small` broadcasts against `big` as a table over one middle block of dims (its other
/// dims are 1 and there is at least one trailing 1, e.g. `[1, C, 1, 1]` or `[C, 1, 1]` against
/// `[N, C, H, W]`): the block's size and the size of the trailing dims.
fn channel_block(small: &[usize], big: &[usize]) -> Option<(usize, usize)> {
    let pad = big.len().checked_sub(small.len())?;
    let at = |d: usize| if d < pad { 1 } else { small[d - pad] };
    let kept: Vec<usize> = (0..big.len()).filter(|&d| at(d) != 1).collect();
    let (&first, &last) = (kept.first()?, kept.last()?);
    if last + 1 == big.len() || (first..=last).any(|d| at(d) != big[d]) {
        return None;
    }
    let mid = big[first..=last].iter().product();
    let inner = big[last + 1..].iter().product::<usize>();
    (inner > 0).then_some((mid, inner))
}

/// Applies `f` to broadcast pairs of elements of `a` and `b` (both of type `T`).
pub(crate) fn zip_map<T: Element, U: Element>(
    op: &'static str,
    a: &Tensor,
    b: &Tensor,
    f: impl Fn(T, T) -> U + Sync,
) -> Result<Tensor> {
    let da = a.typed::<T>(op);
    let db = b.typed::<T>(op);
    if a.shape() == b.shape() {
        if let (Some(ra), Some(rb)) = (a.layout().contiguous_range(), b.layout().contiguous_range())
        {
            let out: Vec<U> = crate::threading::zip_slices(&da[ra], &db[rb], f);
            return Ok(Tensor::from_vec(out, a.shape()));
        }
    }
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    if b.numel() == 1 && shape.as_slice() == a.shape() {
        if let Some(ra) = a.layout().contiguous_range() {
            let y = db[b.layout().offset()];
            let out: Vec<U> = crate::pool::collect(ra.len(), da[ra].iter().map(|&x| f(x, y)));
            return Ok(Tensor::from_vec(out, &shape));
        }
    }
    if a.numel() == 1 && shape.as_slice() == b.shape() {
        if let Some(rb) = b.layout().contiguous_range() {
            let x = da[a.layout().offset()];
            let out: Vec<U> = crate::pool::collect(rb.len(), db[rb].iter().map(|&y| f(x, y)));
            return Ok(Tensor::from_vec(out, &shape));
        }
    }
    // one operand repeated along the leading dims of the other (a bias row, a per-row
    // table): row-by-row loops instead of the strided walk
    let trailing = |small: &Tensor, big: &Tensor| {
        let s = small.shape();
        let lead = s.iter().take_while(|&&d| d == 1).count();
        small.numel() > 0 && shape.as_slice() == big.shape() && big.shape().ends_with(&s[lead..])
    };
    if let (Some(ra), Some(rb)) = (a.layout().contiguous_range(), b.layout().contiguous_range()) {
        let n: usize = shape.iter().product();
        if trailing(b, a) {
            let rowb = &db[rb];
            let mut out: Vec<U> = crate::pool::take(n);
            for r in da[ra].chunks_exact(rowb.len()) {
                out.extend(r.iter().zip(rowb).map(|(&x, &y)| f(x, y)));
            }
            return Ok(Tensor::from_vec(out, &shape));
        }
        if trailing(a, b) {
            let rowa = &da[ra];
            let mut out: Vec<U> = crate::pool::take(n);
            for r in db[rb].chunks_exact(rowa.len()) {
                out.extend(rowa.iter().zip(r).map(|(&x, &y)| f(x, y)));
            }
            return Ok(Tensor::from_vec(out, &shape));
        }
        // a per-channel table against an image batch ([1, C, 1, 1] with [N, C, H, W])
        if let Some((mid, inner)) = channel_block(b.shape(), a.shape()).filter(|_| n > 0) {
            let table = &db[rb];
            let mut out: Vec<U> = crate::pool::take(n);
            for block in da[ra].chunks_exact(mid * inner) {
                for (run, &y) in block.chunks_exact(inner).zip(table) {
                    out.extend(run.iter().map(|&x| f(x, y)));
                }
            }
            return Ok(Tensor::from_vec(out, &shape));
        }
        if let Some((mid, inner)) = channel_block(a.shape(), b.shape()).filter(|_| n > 0) {
            let table = &da[ra];
            let mut out: Vec<U> = crate::pool::take(n);
            for block in db[rb].chunks_exact(mid * inner) {
                for (run, &x) in block.chunks_exact(inner).zip(table) {
                    out.extend(run.iter().map(|&y| f(x, y)));
                }
            }
            return Ok(Tensor::from_vec(out, &shape));
        }
    }
    let la = a.layout().expand(&shape)?;
    let lb = b.layout().expand(&shape)?;
    let mut out = crate::pool::take(shape.iter().product());
    walk_runs(
        &shape,
        [la.strides(), lb.strides()],
        [la.offset(), lb.offset()],
        |[i, j], len, step| match step {
            [1, 1] => out.extend(
                da[i..i + len]
                    .iter()
                    .zip(&db[j..j + len])
                    .map(|(&x, &y)| f(x, y)),
            ),
            [1, 0] => out.extend(da[i..i + len].iter().map(|&x| f(x, db[j]))),
            [0, 1] => out.extend(db[j..j + len].iter().map(|&y| f(da[i], y))),
            [sa, sb] => out.extend((0..len).map(|k| f(da[i + k * sa], db[j + k * sb]))),
        },
    );
    Ok(Tensor::from_vec(out, &shape))
}

fn float_pair(op: &'static str, a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor, DType)> {
    let d = promote(a.dtype(), b.dtype());
    if !d.is_float() {
        return Err(TensorError::DType {
            op,
            expected: "floating-point operands (f32 or f64)",
            got: d,
        });
    }
    Ok((a.to_dtype(d), b.to_dtype(d), d))
}

macro_rules! float_binary_ops {
    ($($(#[$doc:meta])* $name:ident, $try_name:ident => |$x:ident, $y:ident| $e:expr;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                ///
                /// # Panics
                /// If the shapes do not broadcast or an operand is not a float tensor.
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    or_panic(self.$try_name(other))
                }

                #[doc = concat!("Fallible [`Tensor::", stringify!($name), "`].")]
                ///
                /// # Errors
                /// If the shapes do not broadcast or an operand is not a float tensor.
                pub fn $try_name(&self, other: &Tensor) -> Result<Tensor> {
                    let op = stringify!($name);
                    let (a, b, d) = float_pair(op, self, other)?;
                    with_float!(d, op, T => zip_map::<T, T>(op, &a, &b, |$x: T, $y: T| $e)?)
                }
            )*
        }
    };
}

float_binary_ops! {
    /// `a + b` with broadcasting (`torch.add`).
    add, try_add => |x, y| x + y;
    /// `a - b` with broadcasting (`torch.sub`).
    sub, try_sub => |x, y| x - y;
    /// `a * b` with broadcasting (`torch.mul`).
    mul, try_mul => |x, y| x * y;
    /// `a / b` with broadcasting (`torch.div`, true division).
    div, try_div => |x, y| x / y;
    /// `a ^ b` with broadcasting (`torch.pow`).
    pow, try_pow => |x, y| x.powf(y);
    /// Elementwise maximum; NaN propagates (`torch.maximum`).
    maximum, try_maximum => |x, y| if x.is_nan() || x > y { x } else { y };
    /// Elementwise minimum; NaN propagates (`torch.minimum`).
    minimum, try_minimum => |x, y| if x.is_nan() || x < y { x } else { y };
    /// Four-quadrant arctangent of `a / b` (`torch.atan2`).
    atan2, try_atan2 => |x, y| x.atan2(y);
}

macro_rules! compare_ops {
    ($($(#[$doc:meta])* $name:ident => $cmp:tt;)*) => {
        impl Tensor {
            $(
                $(#[$doc])*
                /// Returns a bool tensor.
                ///
                /// # Panics
                /// If the shapes do not broadcast.
                #[track_caller]
                pub fn $name(&self, other: &Tensor) -> Tensor {
                    let d = promote(self.dtype(), other.dtype());
                    let (a, b) = (self.to_dtype(d), other.to_dtype(d));
                    or_panic(with_dtype!(d, T => zip_map::<T, bool>(stringify!($name), &a, &b, |x: T, y: T| x $cmp y)))
                }
            )*
        }
    };
}

compare_ops! {
    /// Elementwise `a == b` (`torch.eq`).
    eq => ==;
    /// Elementwise `a != b` (`torch.ne`).
    ne => !=;
    /// Elementwise `a < b` (`torch.lt`).
    lt => <;
    /// Elementwise `a <= b` (`torch.le`).
    le => <=;
    /// Elementwise `a > b` (`torch.gt`).
    gt => >;
    /// Elementwise `a >= b` (`torch.ge`).
    ge => >=;
}

impl Tensor {
    /// Elementwise comparison with a scalar: `a > s` as a bool tensor (`tensor > s`).
    pub fn gt_scalar(&self, s: f64) -> Tensor {
        self.gt(&Tensor::scalar_of(s, self.dtype()))
    }

    /// Elementwise comparison with a scalar: `a < s` as a bool tensor (`tensor < s`).
    pub fn lt_scalar(&self, s: f64) -> Tensor {
        self.lt(&Tensor::scalar_of(s, self.dtype()))
    }

    /// Elementwise logical and of two bool tensors (`torch.logical_and`).
    ///
    /// # Panics
    /// If the shapes do not broadcast or an operand is not bool.
    #[track_caller]
    pub fn logical_and(&self, other: &Tensor) -> Tensor {
        or_panic(zip_map::<bool, bool>("logical_and", self, other, |x, y| {
            x && y
        }))
    }

    /// Elementwise logical or of two bool tensors (`torch.logical_or`).
    ///
    /// # Panics
    /// If the shapes do not broadcast or an operand is not bool.
    #[track_caller]
    pub fn logical_or(&self, other: &Tensor) -> Tensor {
        or_panic(zip_map::<bool, bool>("logical_or", self, other, |x, y| {
            x || y
        }))
    }

    /// Elementwise logical not of a bool tensor (`torch.logical_not`).
    ///
    /// # Panics
    /// If the tensor is not bool.
    #[track_caller]
    pub fn logical_not(&self) -> Tensor {
        let d = self.contiguous_data::<bool>();
        Tensor::from_vec(d.iter().map(|&x| !x).collect(), self.shape())
    }

    /// `x` where `condition` is true, else `y`, all three broadcast together
    /// (`torch.where(condition, x, y)`). `self` is the bool condition.
    ///
    /// # Panics
    /// If the shapes do not broadcast, the condition is not bool, or `x`/`y` dtypes differ.
    #[track_caller]
    pub fn where_cond(&self, x: &Tensor, y: &Tensor) -> Tensor {
        or_panic(self.try_where_cond(x, y))
    }

    /// Fallible [`Tensor::where_cond`].
    ///
    /// # Errors
    /// If the shapes do not broadcast, the condition is not bool, or `x`/`y` dtypes differ.
    pub fn try_where_cond(&self, x: &Tensor, y: &Tensor) -> Result<Tensor> {
        if self.dtype() != DType::Bool {
            return Err(TensorError::DType {
                op: "where",
                expected: "a bool condition",
                got: self.dtype(),
            });
        }
        let d = promote(x.dtype(), y.dtype());
        let (x, y) = (x.to_dtype(d), y.to_dtype(d));
        let shape = broadcast_shapes("where", self.shape(), x.shape())?;
        let shape = broadcast_shapes("where", &shape, y.shape())?;
        let (lc, lx, ly) = (
            self.layout().expand(&shape)?,
            x.layout().expand(&shape)?,
            y.layout().expand(&shape)?,
        );
        let c = self.typed::<bool>("where");
        Ok(with_dtype!(d, T => {
            let (dx, dy) = (x.typed::<T>("where"), y.typed::<T>("where"));
            // fast paths: contiguous condition with contiguous or scalar branches
            if let Some(rc) = lc.contiguous_range() {
                let pick = |l: &tuna_layout::Layout, data: &[T]| -> Option<std::result::Result<std::ops::Range<usize>, T>> {
                    if l.strides().iter().all(|&s| s == 0) {
                        Some(Err(data[l.offset()]))
                    } else {
                        l.contiguous_range().map(Ok)
                    }
                };
                if let (Some(px), Some(py)) = (pick(&lx, dx), pick(&ly, dy)) {
                    let cs = &c[rc];
                    let out: Vec<T> = match (px, py) {
                        (Ok(rx), Ok(ry)) => cs.iter().zip(&dx[rx]).zip(&dy[ry]).map(|((&k, &a), &b)| if k { a } else { b }).collect(),
                        (Err(a), Ok(ry)) => cs.iter().zip(&dy[ry]).map(|(&k, &b)| if k { a } else { b }).collect(),
                        (Ok(rx), Err(b)) => cs.iter().zip(&dx[rx]).map(|(&k, &a)| if k { a } else { b }).collect(),
                        (Err(a), Err(b)) => cs.iter().map(|&k| if k { a } else { b }).collect(),
                    };
                    return Ok(Tensor::from_vec(out, &shape));
                }
            }
            let mut out: Vec<T> = Vec::with_capacity(shape.iter().product());
            walk(
                &shape,
                [lc.strides(), lx.strides(), ly.strides()],
                [lc.offset(), lx.offset(), ly.offset()],
                |[i, j, k]| out.push(if c[i] { dx[j] } else { dy[k] }),
            );
            Tensor::from_vec(out, &shape)
        }))
    }

    /// Replaces elements where `mask` is true by `value` (`tensor.masked_fill(mask, value)`);
    /// the mask broadcasts to this tensor's shape.
    ///
    /// # Panics
    /// If the mask is not bool or does not broadcast to this shape.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: f64) -> Tensor {
        or_panic(self.try_masked_fill(mask, value))
    }

    /// Fallible [`Tensor::masked_fill`].
    ///
    /// # Errors
    /// If the mask is not bool or does not broadcast to this tensor's shape.
    pub fn try_masked_fill(&self, mask: &Tensor, value: f64) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            return Err(TensorError::DType {
                op: "masked_fill",
                expected: "a bool mask",
                got: mask.dtype(),
            });
        }
        let mask = mask
            .try_expand(self.shape())
            .map_err(|_| TensorError::ShapeMismatch {
                op: "masked_fill",
                lhs: mask.shape().to_vec(),
                rhs: self.shape().to_vec(),
                expected: "a mask that broadcasts to the input".into(),
            })?;
        mask.try_where_cond(&Tensor::scalar_of(value, self.dtype()), self)
    }

    /// Applies `f(a, b)` elementwise with broadcasting to two float tensors, computing in f64
    /// and storing in the promoted dtype. For one-off formulas; named ops are faster. On large
    /// tensors `f` runs on the calling thread's kernel threads, hence `Sync`.
    ///
    /// # Panics
    /// If the shapes do not broadcast or an operand is not float.
    #[track_caller]
    pub fn zip_f64(&self, other: &Tensor, f: impl Fn(f64, f64) -> f64 + Sync) -> Tensor {
        let (a, b, d) = or_panic(float_pair("zip_f64", self, other));
        or_panic(
            with_float!(d, "zip_f64", T => or_panic(zip_map::<T, T>("zip_f64", &a, &b, |x: T, y: T| T::of(f(x.to_f64(), y.to_f64())))) ),
        )
    }
}

impl std::ops::Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        Tensor::neg(self)
    }
}

macro_rules! operator_impls {
    ($($trait:ident, $method:ident, $fn:ident, $scalar_fn:expr;)*) => {
        $(
            impl std::ops::$trait<&Tensor> for &Tensor {
                type Output = Tensor;
                #[track_caller]
                fn $method(self, rhs: &Tensor) -> Tensor {
                    Tensor::$fn(self, rhs)
                }
            }
            impl std::ops::$trait<Tensor> for Tensor {
                type Output = Tensor;
                #[track_caller]
                fn $method(self, rhs: Tensor) -> Tensor {
                    Tensor::$fn(&self, &rhs)
                }
            }
            impl std::ops::$trait<f64> for &Tensor {
                type Output = Tensor;
                #[track_caller]
                fn $method(self, rhs: f64) -> Tensor {
                    let f: fn(&Tensor, f64) -> Tensor = $scalar_fn;
                    f(self, rhs)
                }
            }
        )*
    };
}

operator_impls! {
    Add, add, add, |t, s| t.add_scalar(s);
    Sub, sub, sub, |t, s| t.add_scalar(-s);
    Mul, mul, mul, |t, s| t.mul_scalar(s);
    Div, div, div, |t, s| t.mul_scalar(1.0 / s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_per_channel_table_broadcasts_like_its_expanded_copy() {
        let mut g = crate::Generator::new(3);
        for (big, small) in [
            (vec![2usize, 3, 4, 5], vec![1usize, 3, 1, 1]),
            (vec![2, 3, 4, 5], vec![3, 1, 1]),
            (vec![4, 6, 7], vec![1, 6, 1]),
            (vec![2, 3, 4, 5], vec![1, 3, 4, 1]),
        ] {
            let x = Tensor::randn(&big, DType::F64, &mut g);
            let t = Tensor::randn(&small, DType::F64, &mut g);
            let full = t.expand(&big).copy_contiguous();
            assert!(channel_block(&small, &big).is_some(), "{small:?}");
            // subtraction is not symmetric: both operand orders
            assert_eq!(x.sub(&t).to_vec::<f64>(), x.sub(&full).to_vec::<f64>());
            assert_eq!(t.sub(&x).to_vec::<f64>(), full.sub(&x).to_vec::<f64>());
        }
        assert_eq!(channel_block(&[1, 3, 1, 5], &[2, 3, 4, 5]), None);
        assert_eq!(channel_block(&[1, 1, 1, 5], &[2, 3, 4, 5]), None);
    }

    #[test]
    fn expanded_and_strided_operands_give_their_contiguous_copies_bits() {
        let mut g = crate::Generator::new(5);
        // a sum's gradient expanded over the sequence against a per-token mask, a transposed
        // matrix against a row, a column against a transposed matrix
        let grad = Tensor::randn(&[3, 1, 6], DType::F32, &mut g).expand(&[3, 4, 6]);
        let mask = Tensor::randn(&[3, 4, 1], DType::F32, &mut g);
        let m = Tensor::randn(&[5, 7], DType::F32, &mut g).t();
        let row = Tensor::randn(&[5], DType::F32, &mut g);
        let col = Tensor::randn(&[7, 1], DType::F32, &mut g);
        for (a, b) in [
            (&grad, &mask),
            (&mask, &grad),
            (&m, &row),
            (&col, &m),
            (&m, &m),
        ] {
            let (ca, cb) = (a.copy_contiguous(), b.copy_contiguous());
            assert_eq!(a.div(b).to_vec::<f32>(), ca.div(&cb).to_vec::<f32>());
            assert_eq!(a.sub(b).to_vec::<f32>(), ca.sub(&cb).to_vec::<f32>());
        }
    }

    #[test]
    fn broadcasting_add_and_promotion() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3, 1]);
        let b = Tensor::from_vec(vec![10.0f64, 20.0], &[2]);
        let c = a.add(&b);
        assert_eq!(c.dtype(), DType::F64);
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.to_vec::<f64>(), vec![11.0, 21.0, 12.0, 22.0, 13.0, 23.0]);
    }

    #[test]
    fn where_and_masked_fill() {
        let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0], &[3]);
        let m = x.gt_scalar(0.0);
        assert_eq!(m.to_vec::<bool>(), vec![true, false, true]);
        assert_eq!(x.masked_fill(&m, 0.0).to_vec::<f32>(), vec![0.0, -2.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast together")]
    fn shape_error_names_op_and_shapes() {
        let _ = Tensor::zeros(&[2, 3], DType::F32).add(&Tensor::zeros(&[4], DType::F32));
    }
}
