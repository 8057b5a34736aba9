//! Seeded random numbers: [`Generator`] (PyTorch's `torch.Generator`) and the tensor
//! constructors that draw from it (`rand`, `uniform`, `randn`, `normal`, `bernoulli`,
//! `randint`, `randperm`).
//!
//! # Determinism
//!
//! A generator is a ChaCha8 stream cipher keyed by its seed. Every constructor draws its
//! elements **sequentially, in row-major order**, on the calling thread, so the same seed
//! gives bit-identical tensors on every run, platform and thread count
//! ([`set_num_threads`](crate::set_num_threads) has no effect here). `f32` tensors are drawn
//! as `f32` directly (24 random bits per uniform), `f64` tensors as `f64` (53 bits). The
//! values are Tuna's own and do not reproduce PyTorch's Mersenne-Twister streams.
//!
//! Independent streams for workers, layers or data loaders come from [`Generator::split`]
//! (a pure function of the seed and a stream id) or [`Generator::fork`] (which advances the
//! parent).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::dtype::{DType, FloatElement};
use crate::error::{or_panic, Result, TensorError};
use crate::tensor::Tensor;
use crate::with_float;

/// Word position (in a ChaCha stream) where [`Generator::split`] reads derived keys: 2^67
/// words, far beyond anything a generator draws, so derived keys never overlap the parent's
/// own output.
const SPLIT_WORD_POS: u128 = 1 << 67;

/// A seeded, reproducible random number generator (PyTorch's `torch.Generator` with
/// `manual_seed`), backed by `rand_chacha::ChaCha8Rng`.
///
/// ```
/// use tuna_tensor::{DType, Generator, Tensor};
/// let mut g = Generator::new(42);
/// let a = Tensor::randn(&[2, 3], DType::F32, &mut g);
/// let b = Tensor::randn(&[2, 3], DType::F32, &mut Generator::new(42));
/// assert_eq!(a, b);
/// ```
#[derive(Clone, Debug)]
pub struct Generator {
    rng: ChaCha8Rng,
}

impl Generator {
    /// A generator seeded with `seed` (`torch.Generator().manual_seed(seed)`).
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// A generator for independent stream `stream`, derived deterministically from this
    /// generator's seed: the result depends only on the seed and `stream`, not on how much
    /// has been drawn, and distinct streams (and splits of splits) give unrelated sequences.
    pub fn split(&self, stream: u64) -> Generator {
        let mut kdf = ChaCha8Rng::from_seed(self.rng.get_seed());
        kdf.set_stream(stream);
        kdf.set_word_pos(SPLIT_WORD_POS);
        let mut key = [0u8; 32];
        kdf.fill_bytes(&mut key);
        Generator {
            rng: ChaCha8Rng::from_seed(key),
        }
    }

    /// A new generator keyed by the next 256 bits of this one (which therefore advances):
    /// deterministic given the seed and the draws made so far.
    pub fn fork(&mut self) -> Generator {
        let mut key = [0u8; 32];
        self.rng.fill_bytes(&mut key);
        Generator {
            rng: ChaCha8Rng::from_seed(key),
        }
    }

    /// The generator's complete state (key, stream and position: 56 bytes), for checkpoints.
    /// [`Generator::from_state`] continues exactly where this generator stands.
    pub fn state(&self) -> [u8; 56] {
        let mut out = [0u8; 56];
        out[..32].copy_from_slice(&self.rng.get_seed());
        out[32..40].copy_from_slice(&self.rng.get_stream().to_le_bytes());
        out[40..].copy_from_slice(&self.rng.get_word_pos().to_le_bytes());
        out
    }

    /// A generator restored from [`Generator::state`].
    pub fn from_state(state: &[u8; 56]) -> Generator {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&state[..32]);
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(u64::from_le_bytes(
            state[32..40].try_into().expect("8 bytes"),
        ));
        rng.set_word_pos(u128::from_le_bytes(
            state[40..].try_into().expect("16 bytes"),
        ));
        Generator { rng }
    }

    /// The underlying `rand` generator, for sampling anything the tensor constructors do not
    /// cover.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// A uniform `u64`.
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// A random permutation of `0..n`, by Fisher-Yates with exact (unbiased) index draws
    /// (`torch.randperm(n).tolist()`).
    pub fn randperm(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.rng.random_range(0..=i as u64) as usize;
            p.swap(i, j);
        }
        p
    }
}

/// A float tensor of `shape` whose elements are `f()`, drawn in row-major order.
fn draw<T: FloatElement>(shape: &[usize], mut f: impl FnMut() -> T) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| f()).collect::<Vec<T>>(), shape)
}

fn float_dtype(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(TensorError::DType {
            op,
            expected: "a floating-point dtype (f32 or f64)",
            got: dtype,
        })
    }
}

impl Tensor {
    /// Uniform samples in `[0, 1)` (`torch.rand(shape, dtype=dtype, generator=gen)`).
    ///
    /// # Panics
    /// If `dtype` is not a float type.
    #[track_caller]
    pub fn rand(shape: &[usize], dtype: DType, gen: &mut Generator) -> Tensor {
        or_panic(Self::try_rand(shape, dtype, gen))
    }

    /// Fallible [`Tensor::rand`].
    ///
    /// # Errors
    /// If `dtype` is not a float type.
    pub fn try_rand(shape: &[usize], dtype: DType, gen: &mut Generator) -> Result<Tensor> {
        with_float!(dtype, "rand", T => draw::<T>(shape, || gen.rng.random::<T>()))
    }

    /// Uniform samples in `[low, high)` (`torch.empty(shape).uniform_(low, high)`). Draws that
    /// round up to `high` are redrawn, so `high` never appears (unless `low == high`).
    ///
    /// # Panics
    /// If `dtype` is not a float type or the bounds are invalid.
    #[track_caller]
    pub fn uniform(
        shape: &[usize],
        low: f64,
        high: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Tensor {
        or_panic(Self::try_uniform(shape, low, high, dtype, gen))
    }

    /// Fallible [`Tensor::uniform`].
    ///
    /// # Errors
    /// If `dtype` is not a float type, a bound is not finite, or `low > high`.
    pub fn try_uniform(
        shape: &[usize],
        low: f64,
        high: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor> {
        const OP: &str = "uniform";
        float_dtype(OP, dtype)?;
        if !(low.is_finite() && high.is_finite() && low <= high) {
            return Err(TensorError::invalid(
                OP,
                format!("expects finite bounds with low <= high, got low={low}, high={high}"),
            ));
        }
        with_float!(dtype, OP, T => {
            let (lo, hi) = (T::of(low), T::of(high));
            let span = hi - lo;
            draw::<T>(shape, || loop {
                let v = lo + span * gen.rng.random::<T>();
                if v < hi || lo >= hi {
                    break v;
                }
            })
        })
    }

    /// Standard normal samples (`torch.randn(shape, dtype=dtype, generator=gen)`), by the
    /// Ziggurat method of `rand_distr::StandardNormal`.
    ///
    /// # Panics
    /// If `dtype` is not a float type.
    #[track_caller]
    pub fn randn(shape: &[usize], dtype: DType, gen: &mut Generator) -> Tensor {
        or_panic(Self::try_randn(shape, dtype, gen))
    }

    /// Fallible [`Tensor::randn`].
    ///
    /// # Errors
    /// If `dtype` is not a float type.
    pub fn try_randn(shape: &[usize], dtype: DType, gen: &mut Generator) -> Result<Tensor> {
        with_float!(dtype, "randn", T => draw::<T>(shape, || StandardNormal.sample(&mut gen.rng)))
    }

    /// Normal samples `mean + std * z` (`torch.normal(mean, std, shape)` /
    /// `tensor.normal_(mean, std)`).
    ///
    /// # Panics
    /// If `dtype` is not a float type or `std` is negative or not finite.
    #[track_caller]
    pub fn normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Tensor {
        or_panic(Self::try_normal(shape, mean, std, dtype, gen))
    }

    /// Fallible [`Tensor::normal`].
    ///
    /// # Errors
    /// If `dtype` is not a float type, `mean` is not finite, or `std` is negative or not
    /// finite.
    pub fn try_normal(
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor> {
        const OP: &str = "normal";
        float_dtype(OP, dtype)?;
        if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
            return Err(TensorError::invalid(
                OP,
                format!("expects a finite mean and std >= 0, got mean={mean}, std={std}"),
            ));
        }
        with_float!(dtype, OP, T => {
            let (m, s) = (T::of(mean), T::of(std));
            draw::<T>(shape, || {
                let z: T = StandardNormal.sample(&mut gen.rng);
                m + s * z
            })
        })
    }

    /// Independent 0/1 samples that are 1 with probability `p`, in a float dtype
    /// (`torch.bernoulli(torch.full(shape, p))`): each element is `u < p` for a uniform `u`
    /// drawn in the dtype.
    ///
    /// # Panics
    /// If `dtype` is not a float type or `p` is outside `[0, 1]`.
    #[track_caller]
    pub fn bernoulli(shape: &[usize], p: f64, dtype: DType, gen: &mut Generator) -> Tensor {
        or_panic(Self::try_bernoulli(shape, p, dtype, gen))
    }

    /// Fallible [`Tensor::bernoulli`].
    ///
    /// # Errors
    /// If `dtype` is not a float type or `p` is outside `[0, 1]`.
    pub fn try_bernoulli(
        shape: &[usize],
        p: f64,
        dtype: DType,
        gen: &mut Generator,
    ) -> Result<Tensor> {
        const OP: &str = "bernoulli";
        float_dtype(OP, dtype)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(TensorError::invalid(
                OP,
                format!("expects 0 <= p <= 1, got p={p}"),
            ));
        }
        with_float!(dtype, OP, T => {
            let pt = T::of(p);
            let (zero, one) = (T::of(0.0), T::of(1.0));
            draw::<T>(shape, || if gen.rng.random::<T>() < pt { one } else { zero })
        })
    }

    /// Uniform integers in `[low, high)` as an `i64` tensor
    /// (`torch.randint(low, high, shape, generator=gen)`).
    ///
    /// # Panics
    /// If `low >= high`.
    #[track_caller]
    pub fn randint(low: i64, high: i64, shape: &[usize], gen: &mut Generator) -> Tensor {
        or_panic(Self::try_randint(low, high, shape, gen))
    }

    /// Fallible [`Tensor::randint`].
    ///
    /// # Errors
    /// If `low >= high`.
    pub fn try_randint(
        low: i64,
        high: i64,
        shape: &[usize],
        gen: &mut Generator,
    ) -> Result<Tensor> {
        if low >= high {
            return Err(TensorError::invalid(
                "randint",
                format!("expects low < high, got low={low}, high={high}"),
            ));
        }
        let n = shape.iter().product();
        let v: Vec<i64> = (0..n).map(|_| gen.rng.random_range(low..high)).collect();
        Tensor::try_from_vec(v, shape)
    }

    /// A random permutation of `0..n` as an `i64` tensor (`torch.randperm(n, generator=gen)`).
    pub fn randperm(n: usize, gen: &mut Generator) -> Tensor {
        let p: Vec<i64> = gen.randperm(n).into_iter().map(|i| i as i64).collect();
        Tensor::from_vec(p, &[n])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn state_round_trip_continues_the_stream() {
        let mut g = Generator::new(7).split(3);
        let _ = Tensor::rand(&[13], DType::F32, &mut g);
        let saved = g.state();
        let expected = Tensor::randn(&[9], DType::F64, &mut g).to_vec::<f64>();
        let mut restored = Generator::from_state(&saved);
        assert_eq!(
            Tensor::randn(&[9], DType::F64, &mut restored).to_vec::<f64>(),
            expected
        );
    }

    use super::*;

    fn mean_std(v: &[f64]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, var.sqrt())
    }

    #[test]
    fn same_seed_same_values() {
        for dtype in [DType::F32, DType::F64] {
            let a = Tensor::randn(&[3, 5], dtype, &mut Generator::new(7));
            let b = Tensor::randn(&[3, 5], dtype, &mut Generator::new(7));
            let c = Tensor::randn(&[3, 5], dtype, &mut Generator::new(8));
            assert_eq!(a, b);
            assert_ne!(a, c);
        }
        let mut g = Generator::new(1);
        let x = Tensor::rand(&[4], DType::F32, &mut g);
        let y = Tensor::rand(&[4], DType::F32, &mut g);
        assert_ne!(x, y, "a generator advances");
        // independent of the thread count
        let before = Tensor::rand(&[1000], DType::F64, &mut Generator::new(3));
        crate::set_num_threads(1);
        let after = Tensor::rand(&[1000], DType::F64, &mut Generator::new(3));
        crate::set_num_threads(0);
        assert_eq!(before, after);
    }

    #[test]
    fn pinned_stream() {
        // Guards against silent changes of the generator or the sampling algorithm, which
        // would change every seeded experiment.
        assert_eq!(Generator::new(0).next_u64(), 13080132717333068652);
        let u = Tensor::rand(&[2], DType::F32, &mut Generator::new(0)).to_vec::<f32>();
        assert_eq!(u, vec![0.6546971, 0.7090754]);
        let z = Tensor::randn(&[2], DType::F64, &mut Generator::new(0)).to_vec::<f64>();
        assert_eq!(z, vec![0.6999607946268154, -0.14406163542784764]);
        let r = Tensor::randint(0, 1_000_000, &[3], &mut Generator::new(0)).to_vec::<i64>();
        assert_eq!(r, vec![709075, 465921, 699143]);
        assert_eq!(Generator::new(0).randperm(6), vec![3, 1, 0, 5, 2, 4]);
    }

    #[test]
    fn split_and_fork() {
        let g = Generator::new(5);
        let mut used = g.clone();
        Tensor::rand(&[100], DType::F32, &mut used);
        // split depends only on the seed and the stream id
        let a = Tensor::rand(&[8], DType::F32, &mut g.split(1));
        let b = Tensor::rand(&[8], DType::F32, &mut used.split(1));
        let c = Tensor::rand(&[8], DType::F32, &mut g.split(2));
        let parent = Tensor::rand(&[8], DType::F32, &mut g.clone());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, parent);
        assert_ne!(
            Tensor::rand(&[8], DType::F32, &mut g.split(1).split(1)),
            a,
            "nested splits differ"
        );
        let mut p1 = Generator::new(9);
        let mut p2 = Generator::new(9);
        let f1 = Tensor::rand(&[8], DType::F64, &mut p1.fork());
        let f2 = Tensor::rand(&[8], DType::F64, &mut p2.fork());
        assert_eq!(f1, f2);
        assert_ne!(p1.fork().next_u64(), Generator::new(9).fork().next_u64());
    }

    #[test]
    fn ranges_and_moments() {
        let mut g = Generator::new(1234);
        let n = 100_000;
        let u = Tensor::rand(&[n], DType::F32, &mut g).to_vec_f64();
        assert!(u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let (m, s) = mean_std(&u);
        assert!(
            (m - 0.5).abs() < 0.01 && (s - (1.0f64 / 12.0).sqrt()).abs() < 0.01,
            "{m} {s}"
        );

        let w = Tensor::uniform(&[n], -2.0, 3.0, DType::F64, &mut g).to_vec_f64();
        assert!(w.iter().all(|&x| (-2.0..3.0).contains(&x)));
        let (m, _) = mean_std(&w);
        assert!((m - 0.5).abs() < 0.05, "{m}");

        for dtype in [DType::F32, DType::F64] {
            let z = Tensor::randn(&[n], dtype, &mut g).to_vec_f64();
            let (m, s) = mean_std(&z);
            assert!(m.abs() < 0.02 && (s - 1.0).abs() < 0.02, "{dtype}: {m} {s}");
            let y = Tensor::normal(&[n], 3.0, 0.5, dtype, &mut g).to_vec_f64();
            let (m, s) = mean_std(&y);
            assert!(
                (m - 3.0).abs() < 0.01 && (s - 0.5).abs() < 0.01,
                "{dtype}: {m} {s}"
            );
            let b = Tensor::bernoulli(&[n], 0.3, dtype, &mut g).to_vec_f64();
            assert!(b.iter().all(|&x| x == 0.0 || x == 1.0));
            let (m, _) = mean_std(&b);
            assert!((m - 0.3).abs() < 0.01, "{m}");
        }
        assert_eq!(
            Tensor::bernoulli(&[50], 1.0, DType::F32, &mut g).to_vec_f64(),
            vec![1.0; 50]
        );
        assert_eq!(
            Tensor::bernoulli(&[50], 0.0, DType::F32, &mut g).to_vec_f64(),
            vec![0.0; 50]
        );
        assert_eq!(
            Tensor::uniform(&[3], 2.0, 2.0, DType::F32, &mut g).to_vec_f64(),
            vec![2.0; 3]
        );

        let r = Tensor::randint(-3, 4, &[n], &mut g);
        assert_eq!(r.dtype(), DType::I64);
        let r = r.to_vec::<i64>();
        assert!(r.iter().all(|&x| (-3..4).contains(&x)));
        for k in -3..4 {
            let c = r.iter().filter(|&&x| x == k).count() as f64 / n as f64;
            assert!((c - 1.0 / 7.0).abs() < 0.01, "{k}: {c}");
        }
    }

    #[test]
    fn randperm_is_a_permutation() {
        let mut g = Generator::new(11);
        for n in [0, 1, 2, 10, 1000] {
            let mut p = g.randperm(n);
            p.sort_unstable();
            assert_eq!(p, (0..n).collect::<Vec<_>>());
        }
        let t = Tensor::randperm(20, &mut g);
        assert_eq!(t.dtype(), DType::I64);
        let mut v = t.to_vec::<i64>();
        assert_ne!(v, (0..20).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn invalid_arguments() {
        let mut g = Generator::new(0);
        assert!(Tensor::try_rand(&[2], DType::I64, &mut g).is_err());
        assert!(Tensor::try_randn(&[2], DType::Bool, &mut g).is_err());
        assert!(Tensor::try_uniform(&[2], 1.0, 0.0, DType::F32, &mut g).is_err());
        assert!(Tensor::try_normal(&[2], 0.0, -1.0, DType::F32, &mut g).is_err());
        assert!(Tensor::try_bernoulli(&[2], 1.5, DType::F32, &mut g).is_err());
        assert!(Tensor::try_randint(3, 3, &[2], &mut g).is_err());
    }
}
