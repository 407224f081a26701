"""Compose conf/ plus overrides into params.yaml with DVC's own Hydra composer.

tether does not compose a second way: the bytes it writes are the bytes
``dvc exp run`` writes. It does check the composition first, so that a bad override,
an unknown key or a value that depends on the clock or the environment fails with a
message naming it, and params.yaml is never left half-written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.backends import dvc
from tether.errors import ConfigError, UsageError
from tether.pipeline import atomic

# Resolvers whose value changes between runs or machines. A params.yaml built with
# them cannot be composed again to the same bytes.
UNREPRODUCIBLE = re.compile(r"\$\{\s*(now|oc\.env|env)\s*:")
NOT_IN_STRUCT = re.compile(r"Could not override '([^']+)'")


@dataclass(frozen=True)
class Composition:
    """params.yaml as conf/ plus ``overrides`` compose it."""

    overrides: tuple[str, ...]
    content: bytes


def hydra_settings(root: Path) -> dvc.HydraSettings:
    settings = dvc.hydra_settings(root)
    if not settings.enabled:
        raise ConfigError(
            "Hydra composition is not enabled for this DVC repo",
            "Run `dvc config hydra.enabled true` and commit .dvc/config.",
        )
    if (
        settings.config_dir is not None
        and not (settings.config_dir / f"{settings.config_name}.yaml").is_file()
    ):
        raise ConfigError(
            f"no {settings.config_name}.yaml in {settings.config_dir}",
            "Create the Hydra config root there, or set `dvc config hydra.config_dir`.",
        )
    return settings


def _walk(node: Any, prefix: str = ""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{prefix}[{i}]")
    else:
        yield prefix, node


def validate(settings: dvc.HydraSettings, overrides: Sequence[str]) -> None:
    """Compose once without resolving and refuse what cannot be reproduced.

    Raises UsageError naming the override or key at fault.
    """
    # Hydra and OmegaConf are imported in the functions that use them (start-up speed).
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    for override in overrides:
        if UNREPRODUCIBLE.search(override):
            raise UsageError(
                f"override {override!r} depends on the time or environment",
                "Give the value itself, so the composition can be redone exactly.",
            )
    cfg = _compose_unresolved(settings, overrides)
    container = OmegaConf.to_container(cfg, resolve=False)
    for key, value in _walk(container):
        if isinstance(value, str) and UNREPRODUCIBLE.search(value):
            raise ConfigError(
                f"config key {key!r} = {value!r} depends on the time or environment",
                "Replace the interpolation with a fixed value in conf/.",
            )
    try:
        OmegaConf.resolve(cfg)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config interpolation failed: {exc}") from None


def _compose_unresolved(settings: dvc.HydraSettings, overrides: Sequence[str]) -> Any:
    """Hydra's composition of conf/ with ``overrides``; each way it can fail becomes
    an error naming what to change."""
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.errors import (
        ConfigCompositionException,
        HydraException,
        MissingConfigException,
        OverrideParseException,
    )
    from omegaconf.errors import OmegaConfBaseException

    init = (
        initialize_config_dir(str(settings.config_dir), version_base=None)
        if settings.config_dir
        else initialize_config_module(str(settings.config_module), version_base=None)
    )
    try:
        with init:
            return compose(config_name=settings.config_name, overrides=list(overrides))
    except OverrideParseException as exc:
        raise UsageError(
            f"malformed override: {exc}",
            "Overrides use Hydra's grammar: key=value, group=option, +new_key=value, ~key.",
        ) from None
    except MissingConfigException as exc:
        text = str(exc).split("Config search path")[0].strip()
        raise UsageError(f"no such config: {text}") from None
    except ConfigCompositionException as exc:
        raise _not_in_conf(settings, overrides, exc) from None
    except ValueError as exc:
        # Hydra raises a bare ValueError for a group override that is not a name,
        # such as `model=5` or `model=null`.
        raise UsageError(
            f"invalid override: {exc}",
            "Choose a config group option by name, e.g. `model=random_forest`.",
        ) from None
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"composing conf/ failed: {exc}") from None


def _not_in_conf(
    settings: dvc.HydraSettings, overrides: Sequence[str], exc: Exception
) -> UsageError:
    found = NOT_IN_STRUCT.search(str(exc))
    if found is None:
        return UsageError(str(exc))
    key = found.group(1)
    close = _close_keys(settings, overrides, key)
    hint = f"Did you mean {' or '.join(close)}? " if close else ""
    return UsageError(
        f"conf/ has no key {key!r}",
        hint + f"To add a new key on purpose, write `+{key}=...`.",
    )


def _close_keys(settings: dvc.HydraSettings, overrides: Sequence[str], key: str) -> list[str]:
    """Existing keys spelled like the unknown ``key``, for "did you mean": the first
    part of it that conf/ lacks is replaced by the names close to it at that level
    (``modle.params.C`` -> ``model.params.C``, ``model.params.c`` -> ``model.params.C``)."""

    from hydra import compose, initialize_config_dir, initialize_config_module

    others = [o for o in overrides if not o.lstrip("+~").startswith(key)]
    init = (
        initialize_config_dir(str(settings.config_dir), version_base=None)
        if settings.config_dir
        else initialize_config_module(str(settings.config_module), version_base=None)
    )
    try:
        with init:
            node = compose(config_name=settings.config_name, overrides=others)
    except Exception:  # only a hint: never let it mask the real error
        return []
    return [".".join(found) for found in _spelled_like(node, key.split("."))][:2]


def _spelled_like(node: Any, parts: list[str]) -> list[list[str]]:
    """Paths of existing keys that match ``parts`` once each part conf/ lacks is
    replaced by a name close to it at its level (case aside)."""
    import difflib

    from omegaconf import OmegaConf

    if not parts:
        return [[]]
    if not OmegaConf.is_dict(node):
        return []
    names = [str(k) for k in node]
    if parts[0] in names:
        candidates = [parts[0]]
    else:
        lowered = {name.lower(): name for name in names}
        candidates = [lowered[c] for c in difflib.get_close_matches(parts[0].lower(), lowered, n=2)]
    return [[name, *rest] for name in candidates for rest in _spelled_like(node[name], parts[1:])]


def compose(root: Path, overrides: Sequence[str], checked: bool = False) -> Composition:
    """Compose conf/ with ``overrides`` and return the params.yaml bytes.

    ``checked``: ``validate`` passed for these overrides already (``tether tune``
    checks every trial's before the sweep starts), so the composition is not
    checked a second time: a Hydra composition costs about 70 ms, per trial.
    """
    settings = hydra_settings(root)
    if not checked:
        validate(settings, overrides)
    target = root / dvc.PARAMS_FILE
    temp = atomic.temp_path_beside(target.with_suffix(".yaml"))
    try:
        # DVC picks the serialiser from the suffix: keep ``.yaml`` last.
        named = temp.with_name(temp.name.removesuffix(".tmp") + ".yaml")
        temp.rename(named)
        temp = named
        dvc.compose_to(temp, settings, overrides)
        return Composition(tuple(overrides), temp.read_bytes())
    finally:
        temp.unlink(missing_ok=True)
