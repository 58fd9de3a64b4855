"""medtorch: train deep-learning models for regulated medicines work, with an evidence trail."""

__version__ = "0.1.0"

from medtorch.errors import MedtorchError  # noqa: E402  (re-exported, light import)

__all__ = ["MedtorchError", "__version__"]
