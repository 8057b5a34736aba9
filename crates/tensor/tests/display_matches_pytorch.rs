//! `Display` prints exactly what PyTorch prints. The expected text below was produced by
//! PyTorch 2.15 (`print(t)` for each tensor, default print options) on the same values.

use tuna_tensor::{DType, Tensor};

const PYTORCH_OUTPUT: &str = r#"tensor([[ 1.5000, -2.2500],
        [ 3.0000,  4.1250]])
tensor([1., 2., 3.])
tensor([1.0000e-05, 1.0000e+00, 1.2346e+05])
tensor(3.5000, dtype=torch.float64)
tensor([[0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 4.7000e+01, 4.8000e+01,
         4.9000e+01],
        [5.0000e+01, 5.1000e+01, 5.2000e+01,  ..., 9.7000e+01, 9.8000e+01,
         9.9000e+01],
        [1.0000e+02, 1.0100e+02, 1.0200e+02,  ..., 1.4700e+02, 1.4800e+02,
         1.4900e+02],
        ...,
        [1.8500e+03, 1.8510e+03, 1.8520e+03,  ..., 1.8970e+03, 1.8980e+03,
         1.8990e+03],
        [1.9000e+03, 1.9010e+03, 1.9020e+03,  ..., 1.9470e+03, 1.9480e+03,
         1.9490e+03],
        [1.9500e+03, 1.9510e+03, 1.9520e+03,  ..., 1.9970e+03, 1.9980e+03,
         1.9990e+03]])
tensor([ True, False])
tensor([  1, -20, 300])
tensor([[   nan,    inf],
        [  -inf, 0.5000]])
"#;

#[test]
fn display_is_byte_identical_to_pytorch() {
    let tensors = [
        Tensor::from_vec(vec![1.5f32, -2.25, 3.0, 4.125], &[2, 2]),
        Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]),
        Tensor::from_vec(vec![1e-5f32, 1.0, 123456.0], &[3]),
        Tensor::scalar(3.5f64),
        Tensor::arange(0.0, 2000.0, 1.0, DType::F32).reshape(&[40, 50]),
        Tensor::from_vec(vec![true, false], &[2]),
        Tensor::from_vec(vec![1i64, -20, 300], &[3]),
        Tensor::from_vec(
            vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5],
            &[2, 2],
        ),
    ];
    let ours: String = tensors.iter().map(|t| format!("{t}\n")).collect();
    assert_eq!(ours, PYTORCH_OUTPUT);
}
