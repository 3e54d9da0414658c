import pytest
import torch

from tinyvdm.models.classifier import ClipClassifier, accuracy, fit_classifier


def test_shapes_and_bad_input():
    model = ClipClassifier(num_classes=5, in_channels=3, size=16, width=8)
    assert model(torch.randn(2, 6, 3, 16, 16)).shape == (2, 5)
    with pytest.raises(ValueError, match=r"\(b, t, 3, 16, 16\)"):
        model(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match="num_classes"):
        ClipClassifier(num_classes=1)


def test_without_time_layers_frame_order_is_invisible():
    torch.manual_seed(0)
    video = torch.randn(3, 8, 3, 16, 16)
    reversed_video = video.flip(1)
    bag = ClipClassifier(4, size=16, width=8, temporal=False).eval()
    assert torch.allclose(bag(video), bag(reversed_video), atol=1e-5)
    ordered = ClipClassifier(4, size=16, width=8, temporal=True).eval()
    assert (ordered(video) - ordered(reversed_video)).abs().max() > 1e-4


def test_overfits_one_batch():
    torch.manual_seed(0)
    videos = torch.randn(8, 4, 1, 16, 16)
    labels = torch.arange(8) % 4
    model = ClipClassifier(4, in_channels=1, size=16, width=8)
    result = fit_classifier(model, videos, labels, steps=100, batch_size=8, lr=1e-2)
    assert result.losses[-1] < 0.1 * result.losses[0]
    assert accuracy(model, videos, labels) == 1.0


def test_fit_checks_its_inputs():
    with pytest.raises(ValueError, match="labels"):
        fit_classifier(ClipClassifier(2, size=8), torch.randn(4, 2, 3, 8, 8), torch.zeros(3, dtype=torch.long), steps=1)
