"""ARConfig(previous_frame=True): the token one frame earlier, embedded and added to each position."""

import pytest
import torch
import torch.nn.functional as F

from tinyvdm.models.autoregressive import ARConfig, ARTransformer, KVCache, previous_frame_sources

GRID = (3, 2, 3)  # t h w: 18 tokens, 6 per frame

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: see tests/conftest.py


def model(previous_frame=True, seed=0, grid=GRID, vocab=32, window=1) -> ARTransformer:
    torch.manual_seed(seed)
    config = ARConfig(vocab_size=vocab, max_tokens=grid[0] * grid[1] * grid[2], dim=32, heads=2, layers=2,
                      grid_shape=grid, previous_frame=previous_frame, previous_frame_window=window)
    return ARTransformer(config).eval()


def random_grids(b=2, seed=0, vocab=32) -> torch.Tensor:
    return torch.randint(vocab, (b, *GRID), generator=torch.Generator().manual_seed(seed))



def assert_causal_and_cache_exact(net, inputs, cut):
    """One token at a time through a KV cache gives the full pass's logits, and changing the
    inputs from position ``cut`` on leaves the logits before ``cut`` alone."""
    full = net(inputs)
    cache = KVCache(net.config, batch=inputs.shape[0])
    steps = torch.cat([net(inputs[:, i:i + 1], cache) for i in range(inputs.shape[1])], dim=1)
    assert torch.allclose(steps, full, atol=1e-5)
    changed = inputs.clone()
    changed[:, cut:] = (changed[:, cut:] + 1) % net.config.vocab_size
    assert torch.allclose(net(changed)[:, :cut], full[:, :cut], atol=1e-6)

def test_previous_frame_tokens_are_the_grid_one_frame_back():
    net = model()
    grids = random_grids()
    inputs, targets = net.inputs_and_targets(grids)
    previous = net.previous_frame_tokens(inputs, 0)
    assert previous.shape == (2, 18, 1)
    previous = previous.reshape(2, *GRID)
    # Independent reference: frame f's places hold frame f - 1's tokens; frame 0 holds "none" (= vocab).
    assert (previous[:, 0] == 32).all()
    assert torch.equal(previous[:, 1:], grids[:, :-1])
    # From a later start, the same values.
    assert torch.equal(net.previous_frame_tokens(inputs, 7)[..., 0], previous.flatten(1)[:, 7:])


def test_a_window_holds_the_previous_frames_neighbours():
    net = model(window=3)
    grids = random_grids()
    inputs, _ = net.inputs_and_targets(grids)
    window = net.previous_frame_tokens(inputs, 0).reshape(2, *GRID, 3, 3)  # (b, t, h, w, dy, dx)
    # Reference: pad each frame with "none" and read the 3 x 3 patch around every place.
    padded = torch.nn.functional.pad(grids, (1, 1, 1, 1), value=32)  # (b, t, h + 2, w + 2)
    for f in range(GRID[0]):
        for y in range(GRID[1]):
            for x in range(GRID[2]):
                expected = torch.full((2, 3, 3), 32) if f == 0 else padded[:, f - 1, y:y + 3, x:x + 3]
                assert torch.equal(window[:, f, y, x], expected), (f, y, x)
    assert_causal_and_cache_exact(net, inputs, 9)  # with the window too
    assert net.num_parameters() - model(False).num_parameters() == 9 * 33 * 32


def test_cached_logits_and_samples_equal_the_uncached_ones():
    net = model()
    inputs, _ = net.inputs_and_targets(random_grids())
    full = net(inputs)
    cache = KVCache(net.config, batch=2)
    steps = [net(inputs[:, :5], cache)] + [net(inputs[:, i:i + 1], cache) for i in range(5, inputs.shape[1])]
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    for temperature, top_k in ((1.0, None), (0.7, 5)):
        cached = net.generate(3, GRID, temperature, top_k, torch.Generator().manual_seed(4))
        uncached = net.generate(3, GRID, temperature, top_k, torch.Generator().manual_seed(4), use_cache=False)
        assert torch.equal(cached, uncached)


def test_causal_and_the_previous_frame_reaches_the_next_frame():
    net = model()
    inputs, _ = net.inputs_and_targets(random_grids())
    base = net(inputs)
    for j in (1, 6, 11):
        changed = inputs.clone()
        changed[:, j:] = (changed[:, j:] + 1) % 32
        after = net(changed)
        assert torch.allclose(base[:, :j], after[:, :j], atol=1e-6)
        assert not torch.allclose(base[:, j:], after[:, j:], atol=1e-4)
    # A one-layer view of the same: without attention (zeroed output projections) position i
    # sees only its own input and the previous frame's token, so changing grid token j moves
    # exactly the logits at j + 1 (its own input) and j + F (one frame on).
    frame = GRID[1] * GRID[2]
    with torch.no_grad():
        for block in net.blocks:
            block.attention.out.weight.zero_()
            block.attention.out.bias.zero_()
    base = net(inputs)
    changed = inputs.clone()
    changed[:, 3] = (changed[:, 3] + 1) % 32  # grid token 2
    moved = (net(changed) - base).abs().amax(dim=(0, 2)) > 1e-6
    assert moved.nonzero().flatten().tolist() == [3, 2 + frame]


def test_off_is_the_old_model_and_zero_embedding_changes_nothing():
    old, new = model(previous_frame=False), model(previous_frame=True)
    assert not hasattr(old, "previous_frame_embedding")
    assert new.num_parameters() - old.num_parameters() == 33 * 32  # (vocab + none) x dim
    # The default config is unchanged, and a model built without the field is the same model.
    assert ARConfig().previous_frame is False
    torch.manual_seed(0)
    plain = ARTransformer(ARConfig(vocab_size=32, max_tokens=18, dim=32, heads=2, layers=2, grid_shape=GRID)).eval()
    for (name, a), (_, b) in zip(old.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), name
    # With its extra table at zero, the new model computes exactly what the old one does.
    state = dict(old.state_dict())
    state["previous_frame_embedding.weight"] = torch.zeros(33, 32)
    new.load_state_dict(state)
    inputs, _ = old.inputs_and_targets(random_grids())
    assert torch.equal(new(inputs), old(inputs))


def test_copying_the_previous_frame_is_learned_fast():
    # Clips whose frames all repeat a random first frame: later frames are free given the
    # previous one. With the option the model gets there in a few dozen steps; without it, not.
    def later_frame_loss(previous_frame):
        net = model(previous_frame, grid=(3, 2, 2), vocab=16).train()
        generator = torch.Generator().manual_seed(0)
        optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
        for _ in range(60):
            first = torch.randint(16, (32, 1, 2, 2), generator=generator)
            grids = first.expand(32, 3, 2, 2).contiguous()
            inputs, targets = net.inputs_and_targets(grids)
            loss = F.cross_entropy(net(inputs).transpose(1, 2), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        net.eval()
        grids = torch.randint(16, (64, 1, 2, 2), generator=generator).expand(64, 3, 2, 2).contiguous()
        inputs, targets = net.inputs_and_targets(grids)
        with torch.no_grad():
            per_token = F.cross_entropy(net(inputs).transpose(1, 2), targets, reduction="none")
        return per_token[:, 4:].mean().item()

    with_option, without = later_frame_loss(True), later_frame_loss(False)
    assert with_option < 0.1, with_option
    assert with_option < 0.5 * without, (with_option, without)


def test_bad_config_raises():
    with pytest.raises(ValueError, match="needs grid_shape"):
        ARConfig(max_tokens=18, previous_frame=True)
    with pytest.raises(ValueError, match="previous_frame must be a bool"):
        ARConfig(max_tokens=18, grid_shape=GRID, previous_frame=1)
    for window in (0, 2, -1, 1.0):
        with pytest.raises(ValueError, match="previous_frame_window must be a positive odd int"):
            ARConfig(max_tokens=18, grid_shape=GRID, previous_frame=True, previous_frame_window=window)
    with pytest.raises(ValueError, match="needs previous_frame=True"):
        ARConfig(max_tokens=18, grid_shape=GRID, previous_frame_window=3)
    with pytest.raises(ValueError, match="below the frame"):
        ARConfig(max_tokens=18, grid_shape=GRID, previous_frame=True, previous_frame_window=5)  # h = 2


def test_later_temperature_cools_only_the_frames_after_the_first():
    net = model()
    frame = GRID[1] * GRID[2]
    plain = net.generate(4, GRID, 1.0, None, torch.Generator().manual_seed(3))
    same = net.generate(4, GRID, 1.0, None, torch.Generator().manual_seed(3), later_temperature=1.0)
    assert torch.equal(plain, same)
    greedy_later = net.generate(4, GRID, 1.0, None, torch.Generator().manual_seed(3), later_temperature=0)
    # The first frame is drawn as before; every later token is the argmax given its prefix.
    assert torch.equal(greedy_later[:, 0], plain[:, 0])
    inputs, targets = net.inputs_and_targets(greedy_later)
    with torch.no_grad():
        best = net(inputs).argmax(dim=2)
    assert torch.equal(best[:, frame:], targets[:, frame:])
    uncached = net.generate(4, GRID, 1.0, None, torch.Generator().manual_seed(3), use_cache=False,
                            later_temperature=0)
    assert torch.equal(uncached, greedy_later)
    with pytest.raises(ValueError, match="later_temperature"):
        net.generate(1, GRID, later_temperature=-1.0)


def coded(seed=0) -> ARTransformer:
    torch.manual_seed(seed)
    config = ARConfig(vocab_size=32, max_tokens=18, dim=32, heads=2, layers=2, grid_shape=GRID,
                      previous_frame=True, previous_frame_window=3, code_dim=4)
    return ARTransformer(config).eval()


def test_code_vectors_tie_codes_that_look_alike():
    net = coded()
    codes = torch.randn(32, 4, generator=torch.Generator().manual_seed(1)) * 7.0
    codes[1] = codes[0]  # two codes with the same vector
    net.set_code_vectors(codes)
    assert torch.allclose(net.code_vectors[:32].pow(2).mean(), torch.tensor(1.0))  # unit RMS
    assert (net.code_vectors[32] == 0).all()  # BOS has none
    inputs, _ = net.inputs_and_targets(random_grids())
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.zero_()
    logits = net(inputs)
    # With the per-code head silenced, the logits are (W h) . e_k: equal vectors, equal logits,
    # and they are exactly that product.
    assert torch.equal(logits[..., 0], logits[..., 1])
    assert not torch.allclose(logits[..., 0], logits[..., 2])
    # Cached sampling still equals the uncached one.
    cached = net.generate(2, GRID, 1.0, None, torch.Generator().manual_seed(2))
    assert torch.equal(cached, net.generate(2, GRID, 1.0, None, torch.Generator().manual_seed(2), use_cache=False))


def test_code_vectors_at_zero_weights_change_nothing():
    net, plain = coded(), model(window=3)
    state = dict(plain.state_dict(), code_vectors=torch.zeros(33, 4))
    state.update({"code_in.weight": torch.zeros(32, 4), "code_out.weight": torch.zeros(4, 32)})
    net.load_state_dict(state)
    net.set_code_vectors(torch.randn(32, 4))
    inputs, _ = plain.inputs_and_targets(random_grids())
    assert torch.allclose(net(inputs), plain(inputs), atol=1e-6)
    with pytest.raises(ValueError, match="needs a model built with code_dim"):
        plain.set_code_vectors(torch.randn(32, 4))
    with pytest.raises(ValueError, match="codebook must be floating of shape"):
        net.set_code_vectors(torch.randn(32, 5))
    with pytest.raises(ValueError, match="code_dim must be None or a positive int"):
        ARConfig(code_dim=0)


def test_flop_formula_counts_the_code_vector_matmuls():
    from tinyvdm.models.autoregressive import counted_sampling_flops, sampling_flops

    net = coded()
    for use_cache in (True, False):
        assert counted_sampling_flops(net, 12, use_cache) == sampling_flops(net.config, 12, use_cache, attention=False)
    plain = model(window=3)
    extra = sampling_flops(net.config, 12) - sampling_flops(plain.config, 12)
    assert extra == 12 * 2 * 4 * (2 * 32 + 32)


def test_two_frames_back_hold_both_windows():
    torch.manual_seed(0)
    config = ARConfig(vocab_size=32, max_tokens=18, dim=32, heads=2, layers=2, grid_shape=GRID,
                      previous_frame=True, previous_frame_window=3, previous_frames=2)
    net = ARTransformer(config).eval()
    grids = random_grids()
    inputs, _ = net.inputs_and_targets(grids)
    window = net.previous_frame_tokens(inputs, 0).reshape(2, *GRID, 2, 3, 3)  # (b, t, h, w, back, dy, dx)
    padded = torch.nn.functional.pad(grids, (1, 1, 1, 1), value=32)
    none = torch.full((2, 3, 3), 32)
    for f in range(GRID[0]):
        for y in range(GRID[1]):
            for x in range(GRID[2]):
                for back in (1, 2):
                    expected = none if f < back else padded[:, f - back, y:y + 3, x:x + 3]
                    assert torch.equal(window[:, f, y, x, back - 1], expected), (f, y, x, back)
    assert_causal_and_cache_exact(net, inputs, 13)
    for back in (0, 3):  # 3 frames back in a 3-frame grid reaches nothing
        with pytest.raises(ValueError, match="previous_frames"):
            ARConfig(max_tokens=18, grid_shape=GRID, previous_frame=True, previous_frames=back)
    with pytest.raises(ValueError, match="previous_frames"):
        ARConfig(max_tokens=18, grid_shape=GRID, previous_frames=2)


def test_sources_need_the_option():
    with pytest.raises(ValueError, match="previous_frame=True"):
        previous_frame_sources(ARConfig(max_tokens=18, grid_shape=GRID))
