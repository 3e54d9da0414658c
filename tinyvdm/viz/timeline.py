"""The timeline of generative routes to video: GAN, VAE, autoregressive, diffusion and DiT.

Taught in chapter 01 (the generative landscape). FAQ Q3 names four routes (GAN, autoregressive,
diffusion, DiT) and shows them as a picture; here the picture is drawn from a table, so each
entry has a year and a reference that can be checked, and the VAE, which the FAQ leaves out
although every latent video model rests on one, gets its own lane. DiT is drawn as a lane of its
own to match the FAQ, though it is a *backbone* for diffusion (a transformer in place of the
UNet), not a different way to generate; :func:`timeline_figure` marks that with a bracket.

Each milestone is either a ``"method"`` (the paper that introduced a route, usually on images)
or a ``"video"`` model. Years are those of the first public paper or announcement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

ROUTES = ("GAN", "VAE", "autoregressive", "diffusion", "DiT")
KINDS = ("method", "video")
# Label heights around a lane (in lanes), cycled: four levels keep neighbours in time apart.
LABEL_OFFSETS = (0.13, -0.17, 0.33, -0.37)
ROUTE_COLOURS = {"GAN": "C3", "VAE": "C2", "autoregressive": "C1", "diffusion": "C0", "DiT": "C4"}


@dataclass(frozen=True)
class Milestone:
    """One entry: ``year`` (a float allows a month, 2024.1 is early 2024), ``route``, ``name``, ``kind``."""

    year: float
    route: str
    name: str
    kind: str = "video"

    def __post_init__(self):
        if isinstance(self.year, bool) or not isinstance(self.year, (int, float)) or not 1990 <= self.year <= 2100:
            raise ValueError(f"year must be a number in 1990..2100, got {self.year!r}")
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {ROUTES}, got {self.route!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


MILESTONES = (
    Milestone(2014.4, "GAN", "GAN (Goodfellow et al.)", "method"),
    Milestone(2016.7, "GAN", "VGAN (Vondrick et al.)"),
    Milestone(2017.7, "GAN", "MoCoGAN (Tulyakov et al.)"),
    Milestone(2019.5, "GAN", "DVD-GAN (Clark et al.)"),
    Milestone(2021.9, "GAN", "StyleGAN-V (Skorokhodov et al.)"),
    Milestone(2013.9, "VAE", "VAE (Kingma & Welling)", "method"),
    Milestone(2017.8, "VAE", "SV2P (Babaeizadeh et al.)"),
    Milestone(2018.2, "VAE", "SVG (Denton & Fergus)"),
    Milestone(2021.9, "VAE", "latent VAE of LDM (Rombach et al.)", "method"),
    Milestone(2016.1, "autoregressive", "PixelRNN / PixelCNN (van den Oord et al.)", "method"),
    Milestone(2016.8, "autoregressive", "Video Pixel Networks (Kalchbrenner et al.)"),
    Milestone(2021.3, "autoregressive", "VideoGPT (Yan et al.)"),
    Milestone(2022.4, "autoregressive", "CogVideo (Hong et al.)"),
    Milestone(2022.8, "autoregressive", "Phenaki (Villegas et al.)"),
    Milestone(2023.9, "autoregressive", "VideoPoet (Kondratyuk et al.)"),
    Milestone(2015.2, "diffusion", "diffusion (Sohl-Dickstein et al.)", "method"),
    Milestone(2020.5, "diffusion", "DDPM (Ho et al.)", "method"),
    Milestone(2022.3, "diffusion", "Video Diffusion Models (Ho et al.)"),
    Milestone(2022.8, "diffusion", "Make-A-Video, Imagen Video"),
    Milestone(2023.3, "diffusion", "Video LDM (Blattmann et al.)"),
    Milestone(2023.9, "diffusion", "Stable Video Diffusion"),
    Milestone(2022.9, "DiT", "DiT (Peebles & Xie)", "method"),
    Milestone(2024.0, "DiT", "Latte (Ma et al.)"),
    Milestone(2024.15, "DiT", "Sora (OpenAI)"),
    Milestone(2024.6, "DiT", "CogVideoX"),
    Milestone(2024.9, "DiT", "HunyuanVideo"),
    Milestone(2025.15, "DiT", "Wan 2.1"),
)


def milestones_by_route(milestones: Sequence[Milestone] = MILESTONES) -> dict[str, list[Milestone]]:
    """``{route: [milestones sorted by year]}`` for every route in :data:`ROUTES` (empty lists kept)."""
    table: dict[str, list[Milestone]] = {route: [] for route in ROUTES}
    for milestone in milestones:
        if not isinstance(milestone, Milestone):
            raise TypeError(f"milestones must be Milestone objects, got {type(milestone).__name__}")
        table[milestone.route].append(milestone)
    return {route: sorted(items, key=lambda m: m.year) for route, items in table.items()}


def timeline_figure(milestones: Sequence[Milestone] = MILESTONES, figsize: tuple[float, float] = (14, 6.5)) -> Figure:
    """One lane per route, a marker per milestone (hollow: a method, filled: a video model).

    Labels cycle through four heights around their lane so that neighbours in time do not overlap. The
    figure's axes carry one marker artist per milestone, in :func:`milestones_by_route` order.
    """
    table = milestones_by_route(milestones)
    if not any(table.values()):
        raise ValueError("milestones must hold at least one Milestone, got none")
    years = [m.year for items in table.values() for m in items]
    fig, ax = plt.subplots(figsize=figsize)
    for lane, route in enumerate(ROUTES):
        y = len(ROUTES) - 1 - lane  # the first route on top
        colour = ROUTE_COLOURS[route]
        ax.axhline(y, color=colour, lw=1, alpha=0.3, zorder=0)
        for i, milestone in enumerate(table[route]):
            filled = milestone.kind == "video"
            ax.plot(milestone.year, y, "o", ms=8, color=colour, markerfacecolor=colour if filled else "white",
                    markeredgewidth=1.5, zorder=2)
            offset = LABEL_OFFSETS[i % len(LABEL_OFFSETS)]
            ax.text(milestone.year, y + offset, milestone.name, fontsize=6.5, ha="center",
                    va="bottom" if offset > 0 else "top", color="black")
    # DiT is a backbone inside diffusion, not another way to generate: bracket the two lanes.
    diffusion_y, dit_y = len(ROUTES) - 1 - ROUTES.index("diffusion"), len(ROUTES) - 1 - ROUTES.index("DiT")
    left = min(years) - 0.9
    ax.plot([left + 0.3, left, left, left + 0.3], [diffusion_y, diffusion_y, dit_y, dit_y], color="grey", lw=1)
    ax.text(left - 0.1, (diffusion_y + dit_y) / 2, "same route:\nDiT = diffusion\nwith a transformer",
            fontsize=7, ha="right", va="center", color="grey")
    ax.set_yticks(range(len(ROUTES)), list(reversed(ROUTES)))
    ax.set_xlim(left - 2.2, max(years) + 1.0)
    ax.set_ylim(-0.8, len(ROUTES) - 0.4)
    ax.set_xlabel("year of the first paper or announcement")
    ax.set_title("routes to generated video (hollow: the method, filled: video models)", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
