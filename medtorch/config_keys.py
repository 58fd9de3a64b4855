"""Every key of a composed config must be a setting the schema (or a target's signature) knows.

Hydra's structured configs refuse an unknown key on the command line, but a leading ``+``
(``+model.dropuot=0.3``, which Hydra's own error message suggests) adds the key with the
schema's struct flag lifted, and the run would train with the setting silently ignored.
``key_problems`` walks the composed config beside its dataclass schema and reports every key
the schema does not declare, whatever the prefix that put it there. A node with a
``_target_`` (a user's network or callback, built with ``hydra.utils.instantiate``) is
checked against the target's call signature instead (``target_problems``), as torchtune
binds each component's arguments before anything runs. Dictionaries the schema declares as
free-form (``eda.reference``, ``spec.limits``, ...) keep whatever keys they are given.

Written here because neither Hydra nor OmegaConf offers a check of the finished composition.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from typing import Any, Iterable

from omegaconf import DictConfig, ListConfig, OmegaConf

# keys Hydra's instantiate reads itself; never passed to the target
INSTANTIATE_KEYS = ("_target_", "_partial_", "_recursive_", "_convert_", "_args_")


# top-level nodes without a schema whose _target_ is checked where medtorch builds it, with the
# arguments it supplies: a user's network (medtorch.models.targets.network_problems: n_features,
# n_outputs, and `name`), loggers, callbacks and schedulers (medtorch.extensions: save_dir, the optimizer)
DELEGATED = ("model", "logger", "callbacks", "scheduler")


def _suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def target_problems(node: DictConfig, where: str, supplied: Iterable[str] = ()) -> list[str]:
    """The keys of a ``_target_`` node checked against the target's signature: unknown keys, and
    required parameters missing (unless the framework passes them: ``supplied``, or ``_partial_``)."""
    from hydra.utils import get_object

    target = node.get("_target_")
    try:
        obj = get_object(str(target))
        sig = inspect.signature(obj)
    except Exception as e:  # an import error of any kind, or a target with no signature
        return [f"{where}._target_={target!r} cannot be checked: {type(e).__name__}: {e}. "
                "Give an importable class or function (package.module.Name)."]
    params = {n: p for n, p in sig.parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY)}
    open_kwargs = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    named = {n for n, p in params.items() if p.kind != p.VAR_KEYWORD}
    keys = [str(k) for k in node.keys() if k not in INSTANTIATE_KEYS]
    problems = []
    if not open_kwargs:
        for k in keys:
            if k not in named:
                problems.append(f"{where}.{k} is not a parameter of {target} (its parameters: "
                                f"{', '.join(sorted(named)) or 'none'}).{_suggest(k, named)}")
    if not node.get("_partial_", False):
        missing = [n for n in named if params[n].default is inspect.Parameter.empty
                   and n not in keys and n not in set(supplied)]
        problems += [f"{where}.{n} is required by {target} but not set" for n in missing]
    for k in keys:  # nested targets (a callback's own components)
        problems += _walk_untyped(node[k], f"{where}.{k}")
    return problems


def _walk_untyped(value: Any, where: str) -> list[str]:
    """Inside a node no schema describes: only ``_target_`` nodes can be checked."""
    if isinstance(value, DictConfig):
        if "_target_" in value:
            return target_problems(value, where)
        return [p for k in value.keys() for p in _walk_untyped(value[k], f"{where}.{k}")]
    if isinstance(value, ListConfig):
        return [p for i, v in enumerate(value) for p in _walk_untyped(v, f"{where}[{i}]")]
    return []


def _schema_of(node: DictConfig, hint: Any, fallback: dict[str, Any], key: str) -> type | None:
    if dataclasses.is_dataclass(hint):
        return hint
    t = OmegaConf.get_type(node)
    if dataclasses.is_dataclass(t):
        return t
    fb = fallback.get(key)
    return fb(node) if callable(fb) and not dataclasses.is_dataclass(fb) else fb


def _is_free_form(hint: Any) -> bool:
    """A field declared as a dict (or list) of plain values: its keys are the user's."""
    origin = typing.get_origin(hint)
    if origin is typing.Union:
        return any(_is_free_form(a) for a in typing.get_args(hint))
    return origin in (dict, list) or hint in (dict, list)


def schema_problems(node: DictConfig, schema: type, where: str = "", fallback: dict[str, Any] | None = None) -> list[str]:
    """Keys of ``node`` that ``schema`` (a dataclass) does not declare, recursively, all at once."""
    hints = typing.get_type_hints(schema)
    if "_target_" in node and "_target_" not in hints:  # a schema that declares _target_ (a shipped network) checks keys
        return target_problems(node, where.rstrip("."))
    fields = [f.name for f in dataclasses.fields(schema)]
    problems = []
    for key in node.keys():
        key = str(key)
        name = f"{where}{key}"
        if key not in hints:
            kind = f"'{node.get('name')}' ({schema.__name__})" if "name" in hints and node.get("name") else schema.__name__
            problems.append(f"{name} is not a setting of {where.rstrip('.') or 'the config'} {kind}; it would be "
                            f"ignored.{_suggest(key, fields)} Known: {', '.join(fields)}.")
            continue
        value = node._get_node(key)
        if not isinstance(value, DictConfig) or value._is_none() or value._is_missing():
            if isinstance(value, ListConfig) and not _is_free_form(hints[key]):
                problems += _walk_untyped(node[key], name)
            continue
        hint = hints[key]
        if _is_free_form(hint):
            continue
        sub = _schema_of(value, hint, fallback or {}, key)
        if sub is None and name in DELEGATED:
            continue  # checked against its target's signature with what medtorch passes (see DELEGATED)
        problems += schema_problems(value, sub, f"{name}.") if sub else _walk_untyped(value, name)
    return problems


def key_problems(cfg: DictConfig) -> list[str]:
    """Every key of a composed medtorch config checked against ``MedtorchConfig`` (see the module doc)."""
    # the schema modules themselves, not the medtorch.config package: the package's validate imports this module
    from medtorch.config.schema import MedtorchConfig
    from medtorch.config.schema_data import DataConfig
    from medtorch.config.schema_model import AttentionConfig, LinearConfig, LogisticConfig, MLPConfig

    models = {"mlp": MLPConfig, "logistic": LogisticConfig, "attention": AttentionConfig, "linear": LinearConfig}
    fallback = {"data": DataConfig, "model": lambda node: models.get(str(node.get("name")))}
    return schema_problems(cfg, MedtorchConfig, "", fallback)
