"""Right and wrong answers to the exercises of chapter 11 (read by tests/test_exercises.py)."""

import torch
import torch.nn.functional as F
from einops import rearrange


def _broadcast(v, x):
    return v.reshape(v.shape[0], *(1,) * (x.ndim - 2), v.shape[-1])


def adaln_zero_right(x, layer, shift, scale, gate):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + 1e-6)
    hidden = normed * (1 + _broadcast(scale, x)) + _broadcast(shift, x)
    return x + _broadcast(gate, x) * layer(hidden)


def adaln_zero_scale_without_one(x, layer, shift, scale, gate):  # x * scale: zero scale wipes the input
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-6)
    return x + _broadcast(gate, x) * layer(normed * _broadcast(scale, x) + _broadcast(shift, x))


def adaln_zero_gate_on_residual(x, layer, shift, scale, gate):  # gates the whole stream, not the update
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-6)
    return _broadcast(gate, x) * (x + layer(normed * (1 + _broadcast(scale, x)) + _broadcast(shift, x)))


def adaln_zero_no_norm(x, layer, shift, scale, gate):  # modulates the raw stream
    return x + _broadcast(gate, x) * layer(x * (1 + _broadcast(scale, x)) + _broadcast(shift, x))


def adaln_zero_shift_first(x, layer, shift, scale, gate):  # (x + shift) * (1 + scale)
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-6)
    return x + _broadcast(gate, x) * layer((normed + _broadcast(shift, x)) * (1 + _broadcast(scale, x)))


def adaln_zero_modulate_after(x, layer, shift, scale, gate):  # modulates the layer's output instead
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-6)
    return x + _broadcast(gate, x) * (layer(normed) * (1 + _broadcast(scale, x)) + _broadcast(shift, x))


def unpatchify_right(tokens, patch_size, tubelet):
    b, t, h, w, _ = tokens.shape
    p = patch_size
    c = tokens.shape[-1] // (tubelet * p * p)
    boxes = tokens.reshape(b, t, h, w, tubelet, p, p, c).permute(0, 1, 4, 7, 2, 5, 3, 6)  # b t pt c h p w p
    return boxes.reshape(b, t * tubelet, c, h * p, w * p)


def unpatchify_channels_first(tokens, patch_size, tubelet):  # reads each box as (pt c p p)
    return rearrange(tokens, "b t h w (pt c p1 p2) -> b (t pt) c (h p1) (w p2)", pt=tubelet, p1=patch_size,
                     p2=patch_size)


def unpatchify_plain_reshape(tokens, patch_size, tubelet):  # right shape, boxes scattered
    b, t, h, w, _ = tokens.shape
    c = tokens.shape[-1] // (tubelet * patch_size**2)
    return tokens.reshape(b, t * tubelet, c, h * patch_size, w * patch_size)


def unpatchify_grid_transposed(tokens, patch_size, tubelet):  # token (i, j) lands at (j, i)
    return rearrange(tokens, "b t h w (pt p1 p2 c) -> b (t pt) c (w p1) (h p2)", pt=tubelet, p1=patch_size,
                     p2=patch_size)


def unpatchify_inner_transposed(tokens, patch_size, tubelet):  # each box's rows and columns swapped
    return rearrange(tokens, "b t h w (pt p2 p1 c) -> b (t pt) c (h p1) (w p2)", pt=tubelet, p1=patch_size,
                     p2=patch_size)


RIGHT = {
    "11.adaln_zero": adaln_zero_right,
    "11.unpatchify": unpatchify_right,
}
WRONG = {
    "11.adaln_zero": [adaln_zero_scale_without_one, adaln_zero_gate_on_residual, adaln_zero_no_norm,
                      adaln_zero_shift_first, adaln_zero_modulate_after],
    "11.unpatchify": [unpatchify_channels_first, unpatchify_plain_reshape, unpatchify_grid_transposed,
                      unpatchify_inner_transposed],
}
