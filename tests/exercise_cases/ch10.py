"""Right and wrong answers to the exercises of chapter 10 (read by tests/test_exercises.py)."""

import torch
import torch.nn.functional as F
from einops import rearrange, repeat


def join_frame_tokens_right(grid, extra):
    b, t, h, w, d = grid.shape
    copies = extra[:, None].expand(b, t, extra.shape[1], d)
    return torch.cat([copies, grid.reshape(b, t, h * w, d)], dim=2).unsqueeze(2)


def join_frame_tokens_extra_last(grid, extra):  # the extra tokens after the patches
    copies = repeat(extra, "b k d -> b t k d", t=grid.shape[1])
    return torch.cat([rearrange(grid, "b t h w d -> b t (h w) d"), copies], dim=2)[:, :, None]


def join_frame_tokens_columns_first(grid, extra):  # patches read column by column
    copies = repeat(extra, "b k d -> b t k d", t=grid.shape[1])
    return torch.cat([copies, rearrange(grid, "b t h w d -> b t (w h) d")], dim=2)[:, :, None]


def join_frame_tokens_once(grid, extra):  # one copy in front of the whole clip, not one per frame
    pixels = rearrange(grid, "b t h w d -> b 1 1 (t h w) d")
    return torch.cat([extra[:, None, None], pixels], dim=3)


def join_frame_tokens_reversed_extra(grid, extra):  # the class token before the step token
    copies = repeat(extra.flip(1), "b k d -> b t k d", t=grid.shape[1])
    return torch.cat([copies, rearrange(grid, "b t h w d -> b t (h w) d")], dim=2)[:, :, None]


def long_skip_join_right(x, skip, weight, bias):
    return torch.cat([x, skip], dim=-1) @ weight.T + bias


def long_skip_join_swapped(x, skip, weight, bias):  # skip first: the weights meet the wrong halves
    return F.linear(torch.cat([skip, x], dim=-1), weight, bias)


def long_skip_join_no_bias(x, skip, weight, bias):
    return F.linear(torch.cat([x, skip], dim=-1), weight)


def long_skip_join_residual(x, skip, weight, bias):  # U-ViT's join replaces x, it is not added to it
    return x + F.linear(torch.cat([x, skip], dim=-1), weight, bias)


def long_skip_join_sum(x, skip, weight, bias):  # add the paths, then apply each half of the weight
    d = x.shape[-1]
    return F.linear(x + skip, weight[:, :d] + weight[:, d:], bias) / 2


def attention_pairs_right(attention, frames, tokens_per_frame):
    t, m = frames, tokens_per_frame
    if attention == "spatial":
        return t * m * m
    if attention == "full":
        return (t * m) ** 2
    if attention == "causal":
        return t * (t + 1) // 2 * m * m
    if attention == "sparse-causal":  # own frame, the previous one, frame 0 (counted once)
        allowed = sum(len({0, max(f - 1, 0), f}) for f in range(t))
        return allowed * m * m
    return t * m * m + m * t * t  # factorised: a spatial layer, then a temporal one


def attention_pairs_no_temporal(attention, frames, tokens_per_frame):  # factorised counted as spatial only
    if attention == "factorised":
        return frames * tokens_per_frame**2
    return attention_pairs_right(attention, frames, tokens_per_frame)


def attention_pairs_causal_strict(attention, frames, tokens_per_frame):  # a frame may not read itself
    if attention == "causal":
        return frames * (frames - 1) // 2 * tokens_per_frame**2
    return attention_pairs_right(attention, frames, tokens_per_frame)


def attention_pairs_tokens_not_pairs(attention, frames, tokens_per_frame):  # counts keys per query, not pairs
    return attention_pairs_right(attention, frames, tokens_per_frame) // (frames * tokens_per_frame)


def attention_pairs_sparse_three(attention, frames, tokens_per_frame):  # always three frames, even at the start
    if attention == "sparse-causal":
        return 3 * frames * tokens_per_frame**2
    return attention_pairs_right(attention, frames, tokens_per_frame)


RIGHT = {
    "10.join_frame_tokens": join_frame_tokens_right,
    "10.long_skip_join": long_skip_join_right,
    "10.attention_pairs": attention_pairs_right,
}
WRONG = {
    "10.join_frame_tokens": [join_frame_tokens_extra_last, join_frame_tokens_columns_first, join_frame_tokens_once,
                             join_frame_tokens_reversed_extra],
    "10.long_skip_join": [long_skip_join_swapped, long_skip_join_no_bias, long_skip_join_residual,
                          long_skip_join_sum],
    "10.attention_pairs": [attention_pairs_no_temporal, attention_pairs_causal_strict,
                           attention_pairs_tokens_not_pairs, attention_pairs_sparse_three],
}
