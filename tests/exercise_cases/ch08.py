"""Right and wrong answers to the exercises of chapter 08 (read by tests/test_exercises.py)."""

import math

import torch


def frame_mask_right(pattern, frames):
    ones = torch.ones(frames, frames, dtype=torch.bool)
    if pattern == "spatial":
        return torch.eye(frames, dtype=torch.bool)
    if pattern in ("temporal", "full"):
        return ones
    causal = ones.tril()
    if pattern == "causal":
        return causal
    mask = causal & ~causal.tril(diagonal=-2)
    mask[:, 0] = True
    return mask


def frame_mask_sparse_without_own(pattern, frames):  # Tune-A-Video's rule, not the library's
    mask = frame_mask_right(pattern, frames)
    if pattern == "sparse-causal":
        mask = mask & ~torch.eye(frames, dtype=torch.bool)
        mask[0, 0] = True
        mask[:, 0] = True
    return mask


def frame_mask_causal_upper(pattern, frames):  # reads the future instead of the past
    mask = frame_mask_right(pattern, frames)
    return mask.T.contiguous() if pattern in ("causal", "sparse-causal") else mask


def frame_mask_temporal_is_spatial(pattern, frames):  # the FAQ's mix-up: "temporal" = within a frame
    if pattern == "temporal":
        return torch.eye(frames, dtype=torch.bool)
    return frame_mask_right(pattern, frames)


def frame_mask_float(pattern, frames):  # right values, wrong type
    return frame_mask_right(pattern, frames).float()


def masked_attention_right(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v


def attention_mask_ignored(q, k, v, mask):
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1) @ v


def attention_zero_after_softmax(q, k, v, mask):  # zeroes forbidden weights but does not renormalise
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(dim=-1) * mask
    return weights @ v


def attention_no_scale(q, k, v, mask):
    return (q @ k.transpose(-2, -1)).masked_fill(~mask, float("-inf")).softmax(dim=-1) @ v


def attention_softmax_over_queries(q, k, v, mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~mask, float("-inf")).softmax(dim=-2).nan_to_num() @ v


RIGHT = {
    "08.frame_mask": frame_mask_right,
    "08.masked_attention": masked_attention_right,
}
WRONG = {
    "08.frame_mask": [frame_mask_sparse_without_own, frame_mask_causal_upper, frame_mask_temporal_is_spatial,
                      frame_mask_float],
    "08.masked_attention": [attention_mask_ignored, attention_zero_after_softmax, attention_no_scale,
                            attention_softmax_over_queries],
}
