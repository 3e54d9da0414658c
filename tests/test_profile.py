import pytest
import torch

from tinyvdm import autocast, get_device, get_profile, pick, seed_everything


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("TINYVDM_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    assert pick(smoke=1, cpu=2, gpu=3) == 1
    monkeypatch.setenv("TINYVDM_PROFILE", "CPU")
    assert get_profile().name == "cpu"
    assert pick(smoke=1, cpu=2) == 2
    monkeypatch.setenv("TINYVDM_PROFILE", "gpu")
    assert pick(smoke=1, cpu=2) == 2  # gpu falls back to cpu's value
    assert pick(smoke=1, cpu=2, gpu=3) == 3


def test_default_profile_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("TINYVDM_PROFILE", raising=False)
    monkeypatch.delenv("TINYVDM_DEVICE", raising=False)
    expected = "gpu" if torch.cuda.is_available() else "cpu"
    assert get_profile().name == expected


def test_bad_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("TINYVDM_PROFILE", "laptop")
    with pytest.raises(ValueError, match="smoke.*cpu.*gpu.*laptop"):
        get_profile()


def test_device(monkeypatch):
    monkeypatch.delenv("TINYVDM_DEVICE", raising=False)
    device = get_device()
    assert device.type in ("cuda", "mps", "cpu")
    assert get_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


def test_seed_everything_repeats():
    seed_everything(3)
    a = torch.randn(4)
    g = seed_everything(3)
    assert torch.equal(a, torch.randn(4))
    assert torch.equal(torch.randn(2, generator=g), torch.randn(2, generator=torch.Generator().manual_seed(3)))
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


def test_autocast_is_bf16_only_where_asked():
    layer = torch.nn.Linear(4, 4)
    with autocast("cpu"):
        assert layer(torch.randn(2, 4)).dtype == torch.float32
    with autocast("cpu", enabled=True):
        assert layer(torch.randn(2, 4)).dtype == torch.bfloat16
