import math

import pytest
import torch
from torch.utils.data import TensorDataset

from tinyvdm.models.autoregressive import (
    AR_CONFIGS,
    ARConfig,
    ARTransformer,
    KVCache,
    ar_loss,
    bits_per_token,
    sample_logits,
    sampling_flops,
    time_generation,
)
from tinyvdm.train import TrainConfig, Trainer

GRID = (2, 3, 3)  # t h w: 18 tokens


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def tiny(**overrides) -> ARTransformer:
    torch.manual_seed(0)
    return ARTransformer.from_name("tiny", **overrides).eval()


def random_grids(b=2, shape=GRID, vocab=32, seed=0) -> torch.Tensor:
    return torch.randint(vocab, (b, *shape), generator=torch.Generator().manual_seed(seed))


def test_named_sizes_and_shapes():
    assert set(AR_CONFIGS) == {"tiny", "small"}
    model = tiny()
    assert model.config.bos == model.config.vocab_size == 32
    grids = random_grids()
    inputs, targets = model.inputs_and_targets(grids)
    assert inputs.shape == targets.shape == (2, 18)
    assert (inputs[:, 0] == 32).all() and torch.equal(inputs[:, 1:], targets[:, :-1])
    assert torch.equal(targets[0, :9], grids[0, 0].flatten())  # (t h w) order: frame 0 first
    assert model(inputs).shape == (2, 18, 32)
    with torch.no_grad():
        loss = model.loss(grids)
    assert loss.ndim == 0
    # An untrained model is close to uniform: about log(vocab) nats.
    assert abs(float(loss) - math.log(32)) < 0.3
    sample = model.generate(3, GRID, generator=torch.Generator().manual_seed(0))
    assert sample.shape == (3, *GRID) and sample.dtype == torch.long
    assert sample.min() >= 0 and sample.max() < 32
    small = ARTransformer.from_name("small")
    assert small.config.max_tokens == 8 * 8 * 8 and small.config.vocab_size == 512


def test_causality():
    model = tiny()
    inputs, _ = model.inputs_and_targets(random_grids())
    base = model(inputs)
    j = 7
    changed = inputs.clone()
    changed[:, j] = (changed[:, j] + 1) % 32
    after = model(changed)
    assert torch.allclose(base[:, :j], after[:, :j], atol=1e-6)
    assert not torch.allclose(base[:, j:], after[:, j:], atol=1e-4)


def test_cached_logits_match_the_full_pass_position_by_position():
    model = tiny()
    inputs, _ = model.inputs_and_targets(random_grids())
    full = model(inputs)  # (b, n, vocab)
    cache = KVCache(model.config, batch=2)
    steps = [model(inputs[:, i:i + 1], cache) for i in range(inputs.shape[1])]
    assert cache.length == inputs.shape[1]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    # A prefix of several tokens at once, then one at a time (the mask offsets by the past).
    cache = KVCache(model.config, batch=2)
    prefix = model(inputs[:, :5], cache)
    rest = model(inputs[:, 5:11], cache)
    last = model(inputs[:, 11:12], cache)
    assert torch.allclose(torch.cat([prefix, rest, last], dim=1), full[:, :12], atol=1e-5)


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.8, 5)])
def test_generate_with_and_without_cache_gives_identical_tokens(temperature, top_k):
    model = tiny()
    samples = [model.generate(2, GRID, temperature=temperature, top_k=top_k,
                              generator=torch.Generator().manual_seed(3), use_cache=use_cache)
               for use_cache in (True, False)]
    assert torch.equal(samples[0], samples[1])
    again = model.generate(2, GRID, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(3))
    assert torch.equal(again, samples[0])
    other = model.generate(2, GRID, temperature=temperature, top_k=top_k, generator=torch.Generator().manual_seed(4))
    assert not torch.equal(other, samples[0])


def test_the_cached_path_runs_one_new_token_per_step():
    model = tiny()
    seen = []
    handle = model.register_forward_hook(lambda module, args, output: seen.append(args[0].shape[1]))
    try:
        model.generate(1, GRID, use_cache=True)
        cached, seen[:] = list(seen), []
        model.generate(1, GRID, use_cache=False)
        uncached = list(seen)
    finally:
        handle.remove()
    n = math.prod(GRID)
    assert cached == [1] * n
    assert uncached == list(range(1, n + 1))
    assert sum(uncached) == n * (n + 1) // 2
    config = model.config
    assert sampling_flops(config, n, use_cache=True) < sampling_flops(config, n, use_cache=False)
    # One token: the cache saves nothing.
    assert sampling_flops(config, 1, use_cache=True) == sampling_flops(config, 1, use_cache=False)


def test_time_generation_reports_both_paths():
    rows = time_generation(tiny(), [(1, 2, 2), (1, 3, 3)])
    assert [row["tokens"] for row in rows] == [4, 9]
    assert all(row["same_tokens"] and row["cached_s"] > 0 and row["uncached_s"] > 0 for row in rows)


def test_top_k_samples_never_fall_outside_the_top_k():
    model = tiny()
    k = 3
    grids = model.generate(4, GRID, temperature=2.0, top_k=k, generator=torch.Generator().manual_seed(0))
    inputs, targets = model.inputs_and_targets(grids)
    logits = model(inputs)  # the logits each token was drawn from
    top = torch.topk(logits, k, dim=-1).indices  # (b, n, k)
    assert (top == targets[..., None]).any(dim=-1).all()
    # sample_logits alone, many draws from one row.
    row = torch.randn(1, 20, generator=torch.Generator().manual_seed(1)).expand(500, 20)
    drawn = sample_logits(row, top_k=4, generator=torch.Generator().manual_seed(2))
    assert set(drawn.tolist()) <= set(torch.topk(row[0], 4).indices.tolist())
    assert len(set(drawn.tolist())) == 4


def test_tiny_temperature_is_argmax():
    model = tiny()
    greedy = model.generate(2, GRID, temperature=0)
    cold = model.generate(2, GRID, temperature=1e-5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(greedy, cold)
    inputs, targets = model.inputs_and_targets(greedy)
    assert torch.equal(model(inputs).argmax(dim=-1), targets)
    logits = torch.tensor([[0.1, 0.3, 0.2]]).expand(100, 3)
    assert (sample_logits(logits, temperature=1e-4) == 1).all()


def test_ar_loss_for_the_trainer_reports_bits_per_token():
    model = tiny()
    grids = random_grids()
    loss, logs = ar_loss(model, {"tokens": grids})
    assert torch.equal(loss, model.loss(grids))
    assert logs["bits_per_token"] == pytest.approx(float(loss.detach()) / math.log(2))
    assert bits_per_token(math.log(2)) == pytest.approx(1.0)
    assert torch.equal(ar_loss(model, grids)[0], loss)


def test_trainer_runs_ar_loss():
    data = TensorDataset(random_grids(b=8))
    config = TrainConfig(steps=2, batch_size=4, progress=False, device="cpu")
    trainer = Trainer(tiny(), ar_loss, data, config).fit()
    assert all("bits_per_token" in record for record in trainer.history)


def test_one_batch_overfit():
    torch.manual_seed(0)
    model = ARTransformer(ARConfig(vocab_size=16, max_tokens=32, dim=32, heads=2, layers=2)).train()
    grids = random_grids(b=2, shape=(2, 4, 4), vocab=16, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = model.loss(grids)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # The first token follows BOS in both grids, so the best possible loss is about
    # log(2) / 32 = 0.022 nats when the two grids start differently; everything else is memorised.
    assert float(model.loss(grids).detach()) < 0.1
    model.eval()
    first = model.generate(1, (2, 4, 4), temperature=0)
    assert any(torch.equal(first[0], g) for g in grids)


def test_bad_inputs_raise_naming_the_constraint():
    model = tiny()
    with pytest.raises(ValueError, match=r"\(b, t, h, w\)"):
        model.loss(torch.zeros(2, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\(b, t, h, w\)"):
        model.loss(torch.zeros(2, 2, 3, 3))  # float tokens
    with pytest.raises(ValueError, match=r"in \[0, 32\)"):
        model.loss(torch.full((1, *GRID), 32, dtype=torch.long))  # BOS is not a grid token
    with pytest.raises(ValueError, match=r"in \[0, 32\)"):
        model.loss(torch.full((1, *GRID), -1, dtype=torch.long))
    with pytest.raises(ValueError, match="max_tokens=128"):
        model.loss(torch.zeros(1, 9, 4, 4, dtype=torch.long))  # 144 tokens
    with pytest.raises(ValueError, match="max_tokens=128"):
        model.generate(1, (9, 4, 4))
    with pytest.raises(ValueError, match=r"\(b, n\)"):
        model(torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"in \[0, 32\]"):
        model(torch.full((1, 4), 33, dtype=torch.long))
    with pytest.raises(ValueError, match="max_tokens"):
        model(torch.zeros(1, 129, dtype=torch.long))
    with pytest.raises(ValueError, match="top_k"):
        model.generate(1, GRID, top_k=0)
    with pytest.raises(ValueError, match="temperature"):
        model.generate(1, GRID, temperature=-1.0)
    with pytest.raises(ValueError, match="grid_shape"):
        model.generate(1, (2, 3))
    with pytest.raises(ValueError, match="divisible by heads"):
        ARConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="unknown AR transformer size"):
        ARTransformer.from_name("huge")


def test_sampling_distribution_is_what_sample_logits_draws_from():
    from tinyvdm.models.autoregressive import sampling_distribution

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    probs = sampling_distribution(logits, temperature=0.5, top_k=2)
    # softmax of (4, 2) over the two kept codes, zero elsewhere.
    expected = torch.tensor([[math.exp(4), math.exp(2), 0, 0]]) / (math.exp(4) + math.exp(2))
    assert torch.allclose(probs, expected, atol=1e-6)
    assert torch.allclose(sampling_distribution(logits), logits.softmax(1))
    # Many draws from sample_logits follow the distribution.
    row = torch.randn(1, 6, generator=torch.Generator().manual_seed(0)).expand(20000, 6)
    drawn = sample_logits(row, temperature=0.7, top_k=4, generator=torch.Generator().manual_seed(1))
    frequencies = torch.bincount(drawn, minlength=6).float() / len(drawn)
    assert torch.allclose(frequencies, sampling_distribution(row[:1], 0.7, 4)[0], atol=0.015)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        sampling_distribution(logits, temperature=0)
    with pytest.raises(ValueError, match=r"top_k must be None or an int in \[1, 4\]"):
        sampling_distribution(logits, top_k=5)


def test_counted_flops_match_the_formula_and_grow_as_expected():
    from tinyvdm.models.autoregressive import counted_sampling_flops

    model = tiny()
    for n in (1, 5, 20):
        for use_cache in (True, False):
            # The CPU counter does not see inside fused attention: it counts the weight matmuls.
            assert counted_sampling_flops(model, n, use_cache) == sampling_flops(model.config, n, use_cache,
                                                                                 attention=False)
    c = model.config
    per_token = c.layers * 2 * (4 + 2 * c.mlp_ratio) * c.dim ** 2 + 2 * c.dim * c.vocab_size
    assert sampling_flops(c, 10, True, attention=False) == 10 * per_token  # linear
    assert sampling_flops(c, 10, False, attention=False) == 55 * per_token  # n (n + 1) / 2
    assert sampling_flops(c, 10, True) - sampling_flops(c, 10, True, attention=False) == c.layers * 4 * c.dim * 55
    with pytest.raises(ValueError, match="num_tokens"):
        counted_sampling_flops(model, c.max_tokens + 1)


def test_frame_repeat_rate():
    from tinyvdm.models.autoregressive import frame_repeat_rate

    still = torch.zeros(2, 4, 3, 3, dtype=torch.long)
    assert frame_repeat_rate(still) == 1.0
    moving = still.clone()
    moving[:, 1::2, 0, 0] = 1  # one token of nine flips every frame
    assert frame_repeat_rate(moving) == pytest.approx(8 / 9)
    # Independent uniform tokens over 4 codes repeat a quarter of the time.
    noise = torch.randint(4, (64, 8, 8, 8), generator=torch.Generator().manual_seed(0))
    assert abs(frame_repeat_rate(noise) - 0.25) < 0.02
    with pytest.raises(ValueError, match="t >= 2"):
        frame_repeat_rate(still[:, :1])


def test_axial_positions_add_frame_row_and_column_vectors():
    model = tiny(max_tokens=18, grid_shape=GRID)
    t, h, w = GRID
    table = model.positions(0, model.config.max_tokens)
    # Independent reference: loop over the grid in (t h w) order.
    expected = torch.stack([model.position_embedding[(i * h + j) * w + k] + model.time_embedding[i]
                            + model.row_embedding[j] + model.column_embedding[k]
                            for i in range(t) for j in range(h) for k in range(w)])
    assert torch.allclose(table, expected)
    assert torch.allclose(model.positions(5, 3), expected[5:8])
    # The cache still changes nothing about what is drawn.
    a = model.generate(2, GRID, generator=torch.Generator().manual_seed(1), use_cache=True)
    b = model.generate(2, GRID, generator=torch.Generator().manual_seed(1), use_cache=False)
    assert torch.equal(a, b)
    assert tiny().positions(0, 4).shape == (4, model.config.dim)  # off: the plain table
    with pytest.raises(ValueError, match="grid_shape"):
        tiny(max_tokens=18, grid_shape=(2, 2, 2))  # t h w must equal max_tokens
