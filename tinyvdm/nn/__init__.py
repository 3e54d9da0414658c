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

__all__ = [
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
