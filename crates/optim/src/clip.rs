//! Gradient clipping (`torch.nn.utils.clip_grad_norm_`, `clip_grad_value_`).
