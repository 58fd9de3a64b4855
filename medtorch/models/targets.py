"""Networks named by ``_target_``: check a class's signature, build it, rebuild it from a model spec.

``model._target_`` is the import path of any ``torch.nn.Module`` class (or a function returning
one); the other keys of ``model`` are its constructor arguments, except ``name`` (a short label
for run directories and reports). medtorch passes what it knows by name: ``n_features`` (the
width of the preprocessed input) and ``n_outputs`` (the number of classes). A class whose
signature cannot take them, or that needs an argument the config does not give, is refused
when the config is validated, before anything is written, naming the missing parameters.

Construction goes through Hydra's ``instantiate`` so that arguments may themselves be objects
with a ``_target_`` (a backbone, a norm layer). Weights are loaded separately, weights only.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Mapping

from medtorch.errors import MedtorchError

# keys of the model config that are medtorch's, not constructor arguments
RESERVED = ("_target_", "name")
# settings of the converged fit behind model=logistic (medtorch/models/transparent.py): how the
# weights are found, not arguments of the linear layer that holds them
FIT_SETTINGS = {"logistic": ("c_grid", "tol", "max_iter")}
# what medtorch passes to every network, by name
PROVIDED = ("n_features", "n_outputs")
# configs written before the _target_ form (model specs of older runs): name -> import path
SHIPPED = {
    "mlp": "medtorch.models.networks.MLP",
    "logistic": "medtorch.models.networks.Logistic",
    "linear": "medtorch.models.networks.Logistic",
    "attention": "medtorch.models.networks.FeatureTokenTransformer",
}


def with_target(model_cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The model config as a plain dict with a ``_target_`` (filled in from ``name`` for older runs)."""
    cfg = _plain(model_cfg)
    if not cfg.get("_target_") and cfg.get("name") in SHIPPED:
        cfg["_target_"] = SHIPPED[cfg["name"]]
    return cfg


def locate(path: Any, where: str = "model._target_") -> Callable[..., Any]:
    """Import ``package.module.Class`` (nested attributes allowed); one clear error when it cannot."""
    if not isinstance(path, str) or "." not in path or not path.strip():
        raise MedtorchError(f"{where} must be the import path of a network class, such as "
                            f"'my_package.nets.MyNet'; got {path!r}.")
    parts = path.split(".")
    error: Exception | None = None
    for i in range(len(parts) - 1, 0, -1):  # the longest importable module prefix, then attributes
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError as e:
            error = e
            if e.name and not ".".join(parts[:i]).startswith(e.name):
                break  # the module exists but one of its own imports is missing: report that
            continue
        except Exception as e:  # the module exists but fails while importing
            raise MedtorchError(f"{where}: importing {'.'.join(parts[:i])!r} for {path!r} failed "
                                f"({type(e).__name__}: {e}).") from None
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise MedtorchError(f"{where}: module {'.'.join(parts[:i])!r} has no {'.'.join(parts[i:])!r} "
                                f"(looking for {path!r}); check the spelling of the class name.") from None
        if not callable(obj):
            raise MedtorchError(f"{where}: {path!r} is a {type(obj).__name__}, not a class or function.")
        return obj
    raise MedtorchError(f"{where}: cannot import {path!r} ({type(error).__name__}: {error}). Install the package "
                        "that defines it, or add its directory to PYTHONPATH, in the environment that runs medtorch.")


def signature_problems(target: Callable[..., Any], args: Mapping[str, Any], where: str = "model") -> list[str]:
    """Why ``target(n_features=..., n_outputs=..., **args)`` cannot be called, one line per problem."""
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check before calling it
        return []
    params = sig.parameters
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    name = getattr(target, "__qualname__", repr(target))
    problems = []
    cannot_take = [p for p in PROVIDED if p not in named and not open_kwargs]
    if cannot_take:
        problems.append(f"{where}._target_ {name}{sig} cannot take {', '.join(cannot_take)}: medtorch passes "
                        f"n_features (input width) and n_outputs (number of classes) by name; add them to its "
                        f"__init__ (or wrap the network in a class that does)")
    unknown = [k for k in args if k not in named and not open_kwargs]
    if unknown:
        problems.append(f"{where}: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a parameter of "
                        f"{name}{sig}; remove {'it' if len(unknown) == 1 else 'them'} or correct the spelling")
    missing = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and p.default is p.empty and n not in PROVIDED and n not in args]
    if missing:
        problems.append(f"{where}: {name} needs {', '.join(missing)}, which the config does not give; "
                        f"add {' '.join(f'+{where}.{m}=VALUE' for m in missing)}")
    return problems


def network_problems(model_cfg: Mapping[str, Any]) -> list[str]:
    """Every problem with the ``model`` config's target and arguments (empty when it can be built)."""
    cfg = with_target(model_cfg)
    try:
        target = locate(cfg.get("_target_"))
    except MedtorchError as e:
        return [str(e)]
    return signature_problems(target, arguments(cfg))


def arguments(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments of a model config (everything but medtorch's own keys)."""
    fit = FIT_SETTINGS.get(cfg.get("name"), ())
    return {k: v for k, v in cfg.items() if k not in RESERVED and k not in fit}


def build_target(cfg: Mapping[str, Any], n_features: int, n_outputs: int):
    """Check, then construct ``cfg['_target_'](n_features=..., n_outputs=..., **arguments)``."""
    from hydra.utils import instantiate
    from torch import nn

    target = locate(cfg.get("_target_"))
    problems = signature_problems(target, arguments(cfg))
    if problems:
        raise MedtorchError("cannot build the network:\n  - " + "\n  - ".join(problems))
    node = {"_target_": cfg["_target_"], **arguments(cfg)}
    try:
        net = instantiate(node, n_features=int(n_features), n_outputs=int(n_outputs), _convert_="all")
    except Exception as e:  # Hydra wraps the constructor's own error; show the cause
        cause = e.__cause__ or e
        raise MedtorchError(f"model: building {cfg['_target_']} failed ({type(cause).__name__}: {cause}).") from None
    if not isinstance(net, nn.Module):
        raise MedtorchError(f"model._target_ {cfg['_target_']} returned a {type(net).__name__}, not a torch.nn.Module.")
    return net


def _plain(cfg: Mapping[str, Any]) -> dict[str, Any]:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return dict(cfg)
