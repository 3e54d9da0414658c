"""The trade-off plot of chapter 04: sharpness, diversity and likelihood of several generators, side by side.

One panel per axis, one bar per model. A row without a number (a GAN has no likelihood to
report; nobody knows the real clips' own) gets no bar and the words "n/a" in its place.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

AXES = (
    ("sharpness", "sharpness\n(gradient energy / real clips')", "higher is sharper; 1 = like real clips"),
    ("diversity", "diversity\n(pairwise distance / real clips')", "0 = every sample the same clip"),
    ("bits_per_dim", "likelihood\n(negative ELBO, bits per dim)", "lower is better"),
)


def tradeoff_plot(results: dict[str, dict[str, float | None]]) -> Figure:
    """``{model: {"sharpness": float, "diversity": float, "bits_per_dim": float | None}}`` -> a figure."""
    if not isinstance(results, dict) or not results:
        raise ValueError(f"results must be a non-empty dict of model name -> metrics, got {results!r}")
    for name, row in results.items():
        if not isinstance(row, dict) or set(row) != {key for key, _, _ in AXES}:
            raise ValueError(f"results[{name!r}] must have exactly the keys {[k for k, _, _ in AXES]}, got {row!r}")
        for key, value in row.items():
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"results[{name!r}][{key!r}] must be a finite number or None, got {value!r}")
    names = list(results)
    fig, axes = plt.subplots(1, len(AXES), figsize=(4.2 * len(AXES), 0.6 + 0.55 * len(names) + 1))
    for ax, (key, title, note) in zip(axes, AXES):
        for i, name in enumerate(names):
            value = results[name][key]
            if value is None:
                ax.text(0.02, i, "n/a", va="center", transform=ax.get_yaxis_transform(),
                        color="grey", style="italic")
            else:
                ax.barh(i, value, color=f"C{i}")
                ax.text(value, i, f" {value:.2f}", va="center", fontsize=8)
        if key != "bits_per_dim":
            ax.axvline(1.0, color="grey", ls=":", lw=1)
        ax.set_yticks(range(len(names)), names if ax is axes[0] else [""] * len(names))
        ax.set_ylim(len(names) - 0.5, -0.5)  # first model on top, room for every row
        ax.set(title=title, xlabel=note)
        ax.margins(x=0.25)
    fig.tight_layout()
    return fig
