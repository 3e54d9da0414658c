"""Networks, one family per module. Samplers and training loops live elsewhere."""

from tinyvdm.models.vae import (
    VAE_CONFIGS,
    DiagonalGaussian,
    VAEConfig,
    VideoVAE,
    active_units,
    bits_per_dim,
    estimate_latent_scale,
    kl_weight,
    posterior_means,
    vae_loss,
)
from tinyvdm.models.vqvae import (
    VQVAE,
    VQVAE_CONFIGS,
    QuantizerOutput,
    VectorQuantizer,
    VQVAEConfig,
    perplexity,
    vqvae_loss,
)

__all__ = [
    "VAE_CONFIGS", "VQVAE", "VQVAE_CONFIGS", "DiagonalGaussian", "QuantizerOutput", "VAEConfig", "VQVAEConfig",
    "VectorQuantizer", "VideoVAE", "active_units", "bits_per_dim", "estimate_latent_scale", "kl_weight",
    "perplexity", "posterior_means", "vae_loss", "vqvae_loss",
]
