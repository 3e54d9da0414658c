"""Right and wrong answers to the exercises of chapter 05 (read by tests/test_exercises.py)."""

import math

import torch


def quantize_right(z, codebook):
    distances = (z[:, None, :] - codebook[None, :, :]).pow(2).sum(-1)  # (n, k)
    indices = distances.argmin(dim=1)
    codes = codebook[indices]
    return z + (codes - z).detach(), indices


def quantize_dot_product(z, codebook):  # the most similar direction, not the nearest code
    indices = (z @ codebook.t()).argmax(dim=1)
    codes = codebook[indices]
    return z + (codes - z).detach(), indices


def quantize_no_straight_through(z, codebook):  # the codes themselves: no gradient reaches z
    indices = torch.cdist(z, codebook).argmin(dim=1)
    return codebook[indices], indices


def quantize_detached_wrong_side(z, codebook):  # z.detach() + (codes - z): gradient -1 instead of +1
    indices = torch.cdist(z, codebook).argmin(dim=1)
    codes = codebook[indices]
    return z.detach() + (codes - z), indices


def quantize_farthest(z, codebook):  # argmax of the distance
    indices = torch.cdist(z, codebook).argmax(dim=1)
    codes = codebook[indices]
    return z + (codes - z).detach(), indices


def quantize_identity(z, codebook):  # forgets to replace z at all
    indices = torch.cdist(z, codebook).argmin(dim=1)
    return z, indices


def sampling_distribution_right(logits, temperature, top_k):
    scaled = logits / temperature
    if top_k is not None:
        kth = scaled.topk(top_k, dim=1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    return scaled.softmax(dim=1)


def sampling_distribution_times_temperature(logits, temperature, top_k):  # multiplies instead of dividing
    return sampling_distribution_right(logits * temperature * temperature, temperature, top_k)


def sampling_distribution_no_renormalising(logits, temperature, top_k):  # zeroes the tail after the softmax
    probs = (logits / temperature).softmax(dim=1)
    if top_k is not None:
        kth = probs.topk(top_k, dim=1).values[:, -1:]
        probs = probs.masked_fill(probs < kth, 0.0)
    return probs


def sampling_distribution_off_by_one(logits, temperature, top_k):  # keeps one logit too many
    if top_k is None or top_k == logits.shape[1]:
        return sampling_distribution_right(logits, temperature, top_k)
    return sampling_distribution_right(logits, temperature, top_k + 1)


def sampling_distribution_wrong_axis(logits, temperature, top_k):  # softmax down the batch
    scaled = logits / temperature
    if top_k is not None:
        kth = scaled.topk(top_k, dim=1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    return scaled.softmax(dim=0).nan_to_num(0.0)


def cached_attention_right(q, past_k, past_v, k, v):
    keys, values = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (b, heads, 1, m + 1)
    return scores.softmax(dim=-1) @ values


def cached_attention_forgets_new_token(q, past_k, past_v, k, v):  # only the cache (and fails at m = 0)
    if past_k.shape[2] == 0:
        return torch.zeros_like(q)
    scores = q @ past_k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.softmax(dim=-1) @ past_v


def cached_attention_unscaled(q, past_k, past_v, k, v):  # no 1 / sqrt(e)
    keys, values = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    return (q @ keys.transpose(-2, -1)).softmax(dim=-1) @ values


def cached_attention_new_token_only(q, past_k, past_v, k, v):  # ignores the past: returns v
    return v.clone()


def cached_attention_sqrt_of_length(q, past_k, past_v, k, v):  # scales by the number of keys
    keys, values = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    scores = q @ keys.transpose(-2, -1) / math.sqrt(keys.shape[2] + 1)
    return scores.softmax(dim=-1) @ values


RIGHT = {
    "05.quantize": quantize_right,
    "05.sampling_distribution": sampling_distribution_right,
    "05.cached_attention": cached_attention_right,
}
WRONG = {
    "05.quantize": [quantize_dot_product, quantize_no_straight_through, quantize_detached_wrong_side,
                    quantize_farthest, quantize_identity],
    "05.sampling_distribution": [sampling_distribution_times_temperature, sampling_distribution_no_renormalising,
                                 sampling_distribution_off_by_one, sampling_distribution_wrong_axis],
    "05.cached_attention": [cached_attention_forgets_new_token, cached_attention_unscaled,
                            cached_attention_new_token_only, cached_attention_sqrt_of_length],
}
