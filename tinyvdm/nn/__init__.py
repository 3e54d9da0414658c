"""Building blocks shared by the model families in ``tinyvdm.models``."""

from tinyvdm.nn.attention import (
    AttentionCost,
    VideoAttention,
    attended_pairs,
    attention_cost,
    attention_cost_table,
    attention_mask,
    frame_mask,
    masked_attention,
    position_mask,
    saved_activation_bytes,
    scored_pairs,
    use_sdpa,
)
from tinyvdm.nn.embeddings import TimestepEmbedder, timestep_embedding
from tinyvdm.nn.frame_mix import FrameMix
from tinyvdm.nn.patch import PatchEmbed, SpaceTimePositionEmbedding, patchify, sincos_position_embedding, unpatchify
from tinyvdm.nn.transformer import ATTENTIONS, MODEL_ATTENTIONS, CrossAttention, TransformerBlock

__all__ = [
    "ATTENTIONS",
    "MODEL_ATTENTIONS",
    "CrossAttention",
    "FrameMix",
    "PatchEmbed",
    "SpaceTimePositionEmbedding",
    "TransformerBlock",
    "patchify",
    "sincos_position_embedding",
    "unpatchify",
    "AttentionCost",
    "TimestepEmbedder",
    "VideoAttention",
    "attended_pairs",
    "attention_cost",
    "attention_cost_table",
    "attention_mask",
    "frame_mask",
    "masked_attention",
    "position_mask",
    "saved_activation_bytes",
    "scored_pairs",
    "timestep_embedding",
    "use_sdpa",
]
