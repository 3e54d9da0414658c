"""Networks, one family per module. Samplers and training loops live elsewhere."""

from tinyvdm.models.autoregressive import AR_CONFIGS, ARConfig, ARTransformer, KVCache, ar_loss
from tinyvdm.models.dit import CONDITIONINGS, DIT_CONFIGS, DiT, DiTBlock, DiTConfig
from tinyvdm.models.gan import (
    GAN_CONFIGS,
    GANConfig,
    VideoDiscriminator,
    VideoGenerator,
    discriminator_loss,
    adversarial_step,
    gan_step,
    generator_loss,
    r1_penalty,
)
from tinyvdm.models.uvit import UVIT_CONFIGS, UViT, UViTConfig
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
from tinyvdm.models.vit import VIT_CONFIGS, ViT, ViTConfig
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
    "CONDITIONINGS", "DIT_CONFIGS", "DiT", "DiTBlock", "DiTConfig",
    "UVIT_CONFIGS", "UViT", "UViTConfig", "VIT_CONFIGS", "ViT", "ViTConfig",
    "AR_CONFIGS", "ARConfig", "ARTransformer", "KVCache", "ar_loss",
    "GAN_CONFIGS", "GANConfig", "VideoDiscriminator", "VideoGenerator", "adversarial_step", "discriminator_loss",
    "gan_step",
    "generator_loss", "r1_penalty",
    "VAE_CONFIGS", "VQVAE", "VQVAE_CONFIGS", "DiagonalGaussian", "QuantizerOutput", "VAEConfig", "VQVAEConfig",
    "VectorQuantizer", "VideoVAE", "active_units", "bits_per_dim", "estimate_latent_scale", "kl_weight",
    "perplexity", "posterior_means", "vae_loss", "vqvae_loss",
]
