"""medtorch: train deep-learning models for regulated medicines work, with an evidence trail."""

from medtorch.errors import MedtorchError  # re-exported, light import
from medtorch.version import __version__  # re-exported; modules of medtorch import it from medtorch.version

__all__ = ["MedtorchError", "Run", "__version__", "open_run", "train"]


def __getattr__(name: str):
    # medtorch.train / open_run / Run live in medtorch.api, imported on first use so that
    # ``import medtorch`` (and ``medtorch --help``) stays free of torch, Lightning and Hydra
    if name in ("train", "open_run", "Run"):
        from medtorch import api

        return getattr(api, name)
    raise AttributeError(f"module 'medtorch' has no attribute {name!r}")
