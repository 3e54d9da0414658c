"""tinyvdm: video diffusion and the generative models before it, from scratch.

The package the course chapters import (``notebooks/``). Nothing here reads the environment
at import time: the run profile and the device are looked up when asked for.
"""

from tinyvdm.profile import Profile, autocast, get_device, get_profile, pick, seed_everything

__all__ = ["Profile", "autocast", "get_device", "get_profile", "pick", "seed_everything"]
__version__ = "0.1.0"
