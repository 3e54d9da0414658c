"""``keep_token``: temperature and top-k reshape every token but one, whose probability stays the model's."""

import math

import pytest
import torch

from tinyvdm.models.autoregressive import ARTransformer, sample_logits, sampling_distribution

GRID = (2, 3, 3)  # t h w: 18 tokens

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def reference(row: list[float], temperature: float, top_k: int | None, keep: int) -> list[float]:
    """The keep-token distribution of one row of logits, written out with plain Python floats."""
    total = sum(math.exp(v) for v in row)
    p_keep = math.exp(row[keep]) / total
    others = sorted((v for i, v in enumerate(row) if i != keep), reverse=True)
    kth = others[top_k - 1] if top_k else -math.inf
    weights = [0.0 if i == keep or v < kth else math.exp(v / temperature) for i, v in enumerate(row)]
    norm = sum(weights)
    return [p_keep if i == keep else (1 - p_keep) * w / norm for i, w in enumerate(weights)]


@pytest.mark.parametrize("temperature, top_k, keep", [(0.5, None, 0), (0.3, 3, 2), (2.0, 4, 5), (1.0, 1, 0)])
def test_the_kept_token_keeps_the_models_probability_and_the_rest_are_reshaped(temperature, top_k, keep):
    logits = torch.randn(4, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    probs = sampling_distribution(logits, temperature, top_k, keep_token=keep)
    expected = torch.tensor([reference(row, temperature, top_k, keep) for row in logits.tolist()], dtype=torch.float64)
    assert torch.allclose(probs.double(), expected, atol=1e-6)
    assert torch.allclose(probs[:, keep].double(), torch.softmax(logits, 1)[:, keep], atol=1e-6)
    assert torch.allclose(probs.sum(1), torch.ones(4))


def test_at_temperature_one_without_top_k_keeping_changes_nothing():
    logits = torch.randn(3, 9, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(sampling_distribution(logits, keep_token=4), sampling_distribution(logits), atol=1e-6)


def test_a_cold_draw_keeps_the_kept_tokens_frequency_but_not_a_plain_cold_draw():
    # Token 0 ("background") at 0.6, three "object" tokens sharing the rest unevenly.
    logits = torch.log(torch.tensor([[0.6, 0.2, 0.15, 0.05]])).expand(20000, -1)
    kept = sample_logits(logits, 0.2, generator=torch.Generator().manual_seed(2), keep_token=0)
    plain = sample_logits(logits, 0.2, generator=torch.Generator().manual_seed(2))
    assert abs((kept == 0).float().mean().item() - 0.6) < 0.02  # the model's own share
    assert (plain == 0).float().mean().item() > 0.95  # a plain cold draw takes the largest almost always
    # Among the others, the cold draw favours the most likely one: 0.2^5 : 0.15^5 : 0.05^5.
    share = (kept == 1).float().sum() / (kept != 0).float().sum()
    assert abs(share.item() - 0.2 ** 5 / (0.2 ** 5 + 0.15 ** 5 + 0.05 ** 5)) < 0.02


def test_generate_with_keep_token_is_the_same_with_and_without_cache_and_off_by_default():
    torch.manual_seed(0)
    model = ARTransformer.from_name("tiny").eval()
    samples = [model.generate(3, GRID, 0.5, None, torch.Generator().manual_seed(3), use_cache=use_cache,
                              later_temperature=0.7, keep_token=0) for use_cache in (True, False)]
    assert torch.equal(samples[0], samples[1])
    default = model.generate(3, GRID, 0.5, None, torch.Generator().manual_seed(3))
    off = model.generate(3, GRID, 0.5, None, torch.Generator().manual_seed(3), keep_token=None)
    assert torch.equal(default, off)
    # At temperature 1 keeping a token is the plain distribution (equal up to rounding: the same draws here).
    plain = model.generate(3, GRID, 1.0, None, torch.Generator().manual_seed(5))
    kept = model.generate(3, GRID, 1.0, None, torch.Generator().manual_seed(5), keep_token=0)
    assert (plain == kept).float().mean() > 0.9


def test_bad_keep_token_settings_are_refused():
    logits = torch.randn(2, 5)
    with pytest.raises(ValueError, match="keep_token must be None or an int in"):
        sampling_distribution(logits, keep_token=5)
    with pytest.raises(ValueError, match="top_k must be at most 4 with keep_token"):
        sampling_distribution(logits, top_k=5, keep_token=0)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        sample_logits(logits, 0, keep_token=0)
    torch.manual_seed(0)
    model = ARTransformer.from_name("tiny")
    with pytest.raises(ValueError, match="keep_token must be None or an int in"):
        model.generate(1, GRID, keep_token=32)
    with pytest.raises(ValueError, match="keep_token needs temperatures > 0"):
        model.generate(1, GRID, later_temperature=0, keep_token=0)
    with pytest.raises(ValueError, match="keep_token needs temperatures > 0"):
        model.generate(1, GRID, temperature=0, keep_token=0)
