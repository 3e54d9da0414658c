"""Building blocks shared by the model families in ``tinyvdm.models``."""

from tinyvdm.nn.embeddings import TimestepEmbedder, timestep_embedding

__all__ = ["TimestepEmbedder", "timestep_embedding"]
