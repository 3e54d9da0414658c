"""DiT: the diffusion transformer, with its four ways of feeding in the condition.

Taught in chapter 11 (DiT), following Peebles & Xie 2023, "Scalable Diffusion Models with
Transformers", extended to video with space-time patches (as Latte, Ma et al. 2024, does). A noisy
clip ``(b, t, c, h, w)`` is cut into patches of ``p x p`` pixels and ``pt`` frames, embedded, given a
fixed sin-cos position code, run through ``depth`` blocks and a final layer that maps each token
back to its patch; :func:`~tinyvdm.nn.patch.unpatchify` reassembles the clip.

The condition is the diffusion step (its sinusoidal code through an MLP) plus, optionally, a class
label (a learned table with a null class). The paper's four block designs (its section 3.2,
Figure 3) are ``conditioning``:

- ``"adaln_zero"`` (default): each block's LayerNorms lose their own scale and shift; an MLP of the
  condition vector ``c`` = step + class embedding regresses a shift, a scale and a *gate* per
  sublayer: ``x + gate * sublayer(norm(x) * (1 + scale) + shift)``. The regression is
  zero-initialised, so every gate starts at 0 and each block is the identity; the final layer is
  zero-initialised too, so the untrained model predicts 0. The paper's best (its Figure 5);
- ``"adaln"``: the same shift and scale, no gate, ordinary initialisation;
- ``"in_context"``: the step and class embeddings become two extra tokens, read by plain
  transformer blocks (as U-ViT does); here they are copied in front of every frame's tokens (see
  :mod:`tinyvdm.nn.transformer`) and dropped after the last block;
- ``"cross_attention"``: after self-attention, each block's tokens attend to the sequence of the
  two condition embeddings (a cross-attention layer per block, the most expensive design).

``attention`` picks the space-time pattern of the self-attention: ``factorised`` (spatial then
temporal in each block, each sublayer with its own modulation), ``full``, or ``spatial`` /
``causal`` / ``sparse-causal``. :meth:`DiT.gflops` counts the forward FLOPs that the paper plots its
FID against: halving the patch size quadruples the tokens, and so roughly the FLOPs.

The denoiser interface is the project's (see :mod:`tinyvdm.models.unet`):
``model(x (b, t, c, h, w), timestep (b,), cond (b,) int64 | None)`` -> shaped like ``x``; label
``num_classes`` and ``cond=None`` mean the null class.

``final_conv=True`` (off by default; not in the paper) adds U-ViT's last layer: a 3x3 convolution on
each frame after unpatchify, which lets every output pixel see its neighbours across patch seams.
Chapter 11 measures what it does to the samples of a short CPU run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

from tinyvdm.nn.attention import VideoAttention
from tinyvdm.nn.embeddings import TimestepEmbedder
from tinyvdm.nn.frame_mix import FrameMix
from tinyvdm.nn.patch import PatchEmbed, SpaceTimePositionEmbedding, unpatchify
from tinyvdm.nn.transformer import (
    CrossAttention,
    LabelEmbedder,
    attention_patterns,
    check_denoiser_inputs,
    check_local_mlp,
    check_transformer_config,
    feed_forward,
    forward_flops,
    join_frame_tokens,
    split_frame_tokens,
    token_grid,
)

CONDITIONINGS = ("adaln_zero", "adaln", "in_context", "cross_attention")
ADAPTIVE = ("adaln_zero", "adaln")


def per_sample(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``v`` ``(b, d)`` viewed as ``(b, 1, ..., 1, d)``, to broadcast over the tokens of ``x`` ``(b, ..., d)``."""
    return v.reshape(v.shape[0], *(1,) * (x.ndim - 2), v.shape[-1])


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x * (1 + scale) + shift``, ``shift`` and ``scale`` ``(b, d)`` broadcast over ``x`` ``(b, ..., d)``."""
    return torch.addcmul(per_sample(shift, x), x, 1 + per_sample(scale, x))


@dataclass
class DiTConfig:
    """Sizes and switches of :class:`DiT`; toy-sized defaults (see ``DIT_CONFIGS``).

    ``patch_size`` ``p``, ``tubelet`` ``pt``; ``attention``: one of ``MODEL_ATTENTIONS`` of
    :mod:`tinyvdm.nn.transformer`; ``conditioning``: one of ``CONDITIONINGS`` (module docstring).
    ``position``: ``"sincos"`` (DiT's fixed code, any clip size) or ``"learned"`` (tables sized by
    ``frames`` and ``image_size``, which are otherwise unused). ``num_classes`` (``None`` or 0: no
    class) adds a class embedding with one extra row, the null class. ``frequency_dim``: width of
    the step's sinusoidal code (DiT's 256). ``final_conv``: a 3x3 convolution on each output frame
    (U-ViT's last layer; off by default, so the plain DiT is unchanged). ``frame_mix=True`` (off by
    default; not in the paper) follows every block with a :class:`~tinyvdm.nn.frame_mix.FrameMix`
    layer, a dense map over all ``frames / tubelet`` token frames at each position; the model then
    takes clips of exactly ``frames`` frames, which must be a multiple of ``tubelet``.
    ``local_mlp=True`` (off by default; not in the paper) gives every block's MLP a depthwise 3x3
    convolution over each frame's token grid (:class:`~tinyvdm.nn.transformer.LocalMLP`), reaching
    ``local_frames`` neighbouring frames, with one 3-D kernel or (``local_factorised=True``) a
    temporal then a spatial one.
    """

    in_channels: int = 3
    out_channels: int | None = None  # None: same as in_channels
    patch_size: int = 4
    tubelet: int = 1
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    attention: str = "factorised"
    conditioning: str = "adaln_zero"
    position: str = "sincos"
    num_classes: int | None = None
    frequency_dim: int = 256
    final_conv: bool = False  # U-ViT's 3x3 convolution on each output frame (module docstring)
    frame_mix: bool = False  # a dense frame-mixing layer after every block (see the docstring)
    local_mlp: bool = False  # a depthwise 3x3 convolution in every block's MLP (LocalMLP; not in the paper)
    local_frames: int = 1  # its extent in time (1: each frame on its own)
    local_factorised: bool = False  # that kernel as a per-channel kernel across frames, then 3x3 per frame
    image_size: int = 32
    frames: int = 16
    dropout: float = 0.0
    backend: str = "auto"

    def __post_init__(self):
        # Any clip size works with the sin-cos code, so the grid need not divide (divisible=False);
        # the input check at forward time names the constraint for the clip actually given.
        check_transformer_config(self, ("in_channels", "patch_size", "tubelet", "dim", "depth", "heads",
                                        "frequency_dim", "image_size", "frames"), divisible=False)
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {self.conditioning!r}")
        if not isinstance(self.frame_mix, bool):
            raise ValueError(f"frame_mix must be a bool, got {self.frame_mix!r}")
        check_local_mlp(self)
        if self.local_mlp and self.conditioning == "in_context":
            raise ValueError("local_mlp convolves each frame's token grid; in_context conditioning adds tokens "
                             "that belong to no grid position, so the two do not combine")
        if self.frame_mix and self.frames % self.tubelet:
            raise ValueError(f"frame_mix needs frames={self.frames} divisible by tubelet={self.tubelet}")

    @property
    def max_grid(self) -> tuple[int, int, int]:
        """The largest token grid ``(t', h', w')`` of a learned position code."""
        return token_grid(self)


def _mini(patch_size: int) -> DiTConfig:
    # Half the tiny width and depth: the cheapest point of chapter 11's GFLOPs curve on a CPU.
    return DiTConfig(dim=32, depth=2, heads=2, patch_size=patch_size)


def _tiny(patch_size: int) -> DiTConfig:
    return DiTConfig(dim=64, depth=4, heads=4, patch_size=patch_size)


def _small(patch_size: int) -> DiTConfig:
    # DiT-S's heads' width (32) and two thirds of its depth at a third of its width (384): about the
    # parameters of the UNet "small" of chapter 07, for a fair comparison.
    return DiTConfig(dim=128, depth=8, heads=4, patch_size=patch_size)


def _base(patch_size: int) -> DiTConfig:
    # DiT-B's 12 blocks and head width (64) at a quarter of its width (768): about the UNet "base".
    return DiTConfig(dim=192, depth=12, heads=3, patch_size=patch_size)


# Named sizes, "size/patch" as the paper names them (factorised attention, adaLN-Zero, 3 channels,
# no classes). Parameters barely depend on the patch (only the patch embedding and the final layer
# see it); forward GFLOPs on (1, 8, 3, 32, 32), 2 per multiply-add, grow 4.3-5.2x from patch 4 to
# patch 2 (4x the tokens; attention grows faster): tiny 0.45M (0.31 / 1.6 GFLOPs at patch 4 / 2)
# for the tests, S 3.4M (2.3 / 10.8) for the CPU chapter, B 11.3M (7.6 / 34) for a GPU. Patch 8 (4 x 4
# tokens per 32-pixel frame) and the "mini" size (0.07M) are the cheap points of chapter 11's
# quality-against-GFLOPs curve: mini/8 0.013, mini/4 0.05, tiny/8 0.08 GFLOPs.
DIT_CONFIGS = {
    "mini/8": partial(_mini, 8), "mini/4": partial(_mini, 4), "tiny/8": partial(_tiny, 8),
    "tiny/4": partial(_tiny, 4), "tiny/2": partial(_tiny, 2),
    "S/4": partial(_small, 4), "S/2": partial(_small, 2),
    "B/4": partial(_base, 4), "B/2": partial(_base, 2),
}


class DiTBlock(nn.Module):
    """One DiT block: self-attention sublayer(s), a cross-attention sublayer (``cross_attention`` only), an MLP.

    ``x`` ``(b, t, h, w, d)``, the condition vector ``c`` ``(b, d)`` (adaptive variants) and the
    condition tokens ``context`` ``(b, k, d)`` (``cross_attention``) -> ``(b, t, h, w, d)``. For
    ``in_context`` the caller has already put the condition tokens into ``x``.
    """

    def __init__(self, dim: int, heads: int, attention: str = "factorised", conditioning: str = "adaln_zero",
                 mlp_ratio: float = 4.0, dropout: float = 0.0, backend: str = "auto", local_mlp: bool = False,
                 local_frames: int = 1, local_factorised: bool = False):
        super().__init__()
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        self.patterns = attention_patterns(attention)
        self.conditioning = conditioning
        adaptive = conditioning in ADAPTIVE
        # The adaptive variants regress the norms' scale and shift from c, so the norms learn none.
        self.attention_norms = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6, elementwise_affine=not adaptive)
                                             for _ in self.patterns)
        self.attentions = nn.ModuleList(VideoAttention(dim, heads, pattern, backend) for pattern in self.patterns)
        if conditioning == "cross_attention":
            self.cross_norm = nn.LayerNorm(dim, eps=1e-6)
            self.cross_attention = CrossAttention(dim, heads, backend=backend)
        else:
            self.cross_norm = self.cross_attention = None
        self.mlp_norm = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=not adaptive)
        self.mlp = feed_forward(dim, int(mlp_ratio * dim), dropout, local_mlp, local_frames, local_factorised)
        # Per modulated sublayer (each attention and the MLP): shift, scale, and for adaLN-Zero a gate.
        self.per_sublayer = {"adaln_zero": 3, "adaln": 2}.get(conditioning, 0)
        sublayers = len(self.patterns) + 1
        self.modulation = (nn.Sequential(nn.SiLU(), nn.Linear(dim, self.per_sublayer * sublayers * dim))
                           if adaptive else None)
        self.initialize_weights()

    def initialize_weights(self):
        # adaLN-Zero: a zero regression makes every shift, scale and gate 0 for any c, so each
        # sublayer adds gate * (...) = 0 and the block starts as the identity (DiT section 3.2,
        # after Goyal et al.'s zero-initialised final BatchNorm scale in each ResNet block). The
        # gradient still reaches the regression through the sublayer outputs, so it wakes up.
        if self.conditioning == "adaln_zero":
            nn.init.zeros_(self.modulation[-1].weight)
            nn.init.zeros_(self.modulation[-1].bias)

    def modulations(self, c: torch.Tensor | None) -> list[tuple[torch.Tensor, ...]] | None:
        """``(shift, scale[, gate])`` ``(b, d)`` each, per sublayer in order; ``None`` for the token variants."""
        if self.modulation is None:
            return None
        if not isinstance(c, torch.Tensor) or c.ndim != 2:
            raise ValueError(f"the {self.conditioning} block needs c of shape (b, d), got "
                             f"{tuple(c.shape) if isinstance(c, torch.Tensor) else type(c).__name__}")
        params = self.modulation(c).chunk(self.per_sublayer * (len(self.patterns) + 1), dim=1)  # each (b, d)
        return [params[i:i + self.per_sublayer] for i in range(0, len(params), self.per_sublayer)]

    def sublayer(self, x: torch.Tensor, norm: nn.Module, layer: nn.Module, modulation, *args) -> torch.Tensor:
        """``x + [gate *] layer(modulate(norm(x)), *args)``, the one residual step every sublayer takes."""
        hidden = norm(x)
        if modulation is not None:
            hidden = modulate(hidden, modulation[0], modulation[1])
        out = layer(hidden, *args)
        if modulation is not None and len(modulation) == 3:
            out = out * per_sample(modulation[2], out)
        return x + out

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None,
                context: torch.Tensor | None = None) -> torch.Tensor:
        modulations = self.modulations(c)
        for i, (norm, attention) in enumerate(zip(self.attention_norms, self.attentions)):
            x = self.sublayer(x, norm, attention, modulations[i] if modulations else None)
        if self.cross_attention is not None:
            if context is None:
                raise ValueError("the cross_attention block needs context, condition tokens of shape (b, k, d)")
            x = self.sublayer(x, self.cross_norm, self.cross_attention, None, context)
        return self.sublayer(x, self.mlp_norm, self.mlp, modulations[-1] if modulations else None)


class FinalLayer(nn.Module):
    """Norm, then a linear map of each token to its box of pixels: ``(b, t, h, w, d)`` -> ``(b, t, h, w, pt p p c)``.

    The adaptive variants modulate the norm with a shift and scale regressed from ``c`` (no gate:
    the zero-initialised linear map plays its part).
    """

    def __init__(self, dim: int, patch_dim: int, adaptive: bool):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=1e-6, elementwise_affine=not adaptive)
        self.linear = nn.Linear(dim, patch_dim)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim)) if adaptive else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.norm(x)
        if self.modulation is not None:
            shift, scale = self.modulation(c).chunk(2, dim=1)  # 2 x (b, d)
            hidden = modulate(hidden, shift, scale)
        return self.linear(hidden)


class DiT(nn.Module):
    """The DiT denoiser: ``forward(x (b, t, c, h, w), timestep (b,), cond (b,) | None)`` -> like ``x``.

    See the module docstring; build a named size with :meth:`from_name`.
    """

    def __init__(self, config: DiTConfig | None = None):
        super().__init__()
        self.config = config = config or DiTConfig()
        out_channels = config.out_channels or config.in_channels
        self.patch_embed = PatchEmbed(config.in_channels, config.dim, config.patch_size, config.tubelet)
        self.position = SpaceTimePositionEmbedding(config.dim, config.position,
                                                   config.max_grid if config.position == "learned" else None)
        self.time_embed = TimestepEmbedder(config.dim, frequency_dim=config.frequency_dim)
        self.class_embed = LabelEmbedder(config.num_classes, config.dim) if config.num_classes else None
        self.blocks = nn.ModuleList(
            DiTBlock(config.dim, config.heads, config.attention, config.conditioning, config.mlp_ratio,
                     config.dropout, config.backend, config.local_mlp, config.local_frames, config.local_factorised)
            for _ in range(config.depth))
        # One frame-mixing layer after each block (config.frame_mix), or none.
        self.frame_mixes = nn.ModuleList(FrameMix(config.dim, config.frames // config.tubelet)
                                         for _ in range(config.depth if config.frame_mix else 0))
        patch_dim = config.tubelet * config.patch_size**2 * out_channels
        self.final = FinalLayer(config.dim, patch_dim, adaptive=config.conditioning in ADAPTIVE)
        self.final_conv = None
        self.initialize_weights()
        if config.final_conv:
            # Built after the other weights are drawn, so a DiT with and without it starts from the
            # same weights (same seed); PyTorch's default weights, as U-ViT's code keeps them.
            self.final_conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
            nn.init.zeros_(self.final_conv.bias)  # adaLN-Zero still predicts exactly 0 at initialisation

    def initialize_weights(self):
        # DiT's scheme. Xavier-uniform linear layers with zero biases (the patch embedding
        # included: a linear map of the flattened box, like the paper's reshaped conv), N(0, 0.02)
        # for the label table and the step MLP, LayerNorms as the identity.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.class_embed is not None:
            nn.init.normal_(self.class_embed.table.weight, std=0.02)
        nn.init.normal_(self.time_embed.mlp[0].weight, std=0.02)
        nn.init.normal_(self.time_embed.mlp[2].weight, std=0.02)
        self.position.initialize_weights()
        # adaLN-Zero: zero each block's regression (the block does it, see DiTBlock) and the whole
        # final layer, so the untrained model is the identity on the residual stream and predicts
        # exactly 0, the mean of the noise it learns to predict. The other variants keep the
        # random initialisation above: that is what the paper compares against.
        for block in self.blocks:
            block.initialize_weights()
        if self.config.conditioning == "adaln_zero":
            nn.init.zeros_(self.final.modulation[-1].weight)
            nn.init.zeros_(self.final.modulation[-1].bias)
            nn.init.zeros_(self.final.linear.weight)
            nn.init.zeros_(self.final.linear.bias)
        for mix in self.frame_mixes:
            mix.initialize_weights()  # back to zero after the Xavier pass: frame mixing starts as the identity

    @classmethod
    def from_name(cls, name: str, **overrides) -> DiT:
        """A named size from ``DIT_CONFIGS`` (``"tiny/4"``, ``"S/2"``, ...), fields overridden."""
        if name not in DIT_CONFIGS:
            raise ValueError(f"unknown DiT size {name!r}; choose one of {sorted(DIT_CONFIGS)}")
        return cls(replace(DIT_CONFIGS[name](), **overrides))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_forward(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> int:
        """FLOPs of one unconditional forward pass on ``x_shape`` ``(b, t, c, h, w)``, counted on the meta device.

        2 FLOPs per multiply-add: the paper's "Gflops" count multiply-adds, so halve these to compare.
        See :func:`~tinyvdm.nn.transformer.forward_flops` for what is counted.
        """
        return forward_flops(self, x_shape)

    def gflops(self, x_shape: tuple[int, ...] = (1, 8, 3, 32, 32)) -> float:
        """:meth:`flops_per_forward` in billions."""
        return self.flops_per_forward(x_shape) / 1e9

    def forward(self, x: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(b, t, c, h, w)``, ``timestep`` ``(b,)``, ``cond`` ``(b,)`` or None -> ``(b, t, c_out, h, w)``."""
        config = self.config
        check_denoiser_inputs("DiT", x, timestep, cond, config.in_channels, config.patch_size, config.tubelet,
                              config.num_classes)
        b = x.shape[0]
        grid = self.position(self.patch_embed(x))  # (b, t', h', w', d)
        h = grid.shape[2]
        embeddings = [self.time_embed(timestep).to(grid.dtype)]  # (b, d)
        if self.class_embed is not None:
            embeddings.append(self.class_embed(cond, b, x.device).to(grid.dtype))  # (b, d)

        c = context = None
        if config.conditioning in ADAPTIVE:
            c = torch.stack(embeddings).sum(dim=0)  # (b, d): step + class, as in DiT
        else:
            context = torch.stack(embeddings, dim=1)  # (b, k, d)
        tokens = grid
        if config.conditioning == "in_context":
            tokens = join_frame_tokens(grid, context)  # (b, t', 1, k + h' w', d)
        for i, block in enumerate(self.blocks):
            tokens = block(tokens, c, context if config.conditioning == "cross_attention" else None)
            if self.frame_mixes:
                tokens = self.frame_mixes[i](tokens)
        if config.conditioning == "in_context":
            _, tokens = split_frame_tokens(tokens, context.shape[1], h)  # the condition tokens are dropped
        patches = self.final(tokens, c)  # (b, t', h', w', pt p p c_out)
        out = unpatchify(patches, config.patch_size, config.tubelet)  # (b, t, c_out, h, w)
        if self.final_conv is not None:  # each frame on its own, its pixels reading across patch seams
            frames = self.final_conv(out.flatten(0, 1))  # (b t, c_out, h, w)
            out = frames.unflatten(0, out.shape[:2])
        return out
