"""DVC's configuration: Hydra's settings and DVC's own composer, the remotes, and
the ``config.local`` a temporary worktree gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tether.backends.dvc.repo import require_dvc
from tether.errors import ConfigError


@dataclass(frozen=True)
class HydraSettings:
    """The ``[hydra]`` section of DVC's config, with DVC's defaults filled in."""

    enabled: bool
    config_dir: Path | None
    config_module: str | None
    config_name: str
    plugins_path: Path


def hydra_settings(root: Path) -> HydraSettings:
    """How DVC composes params.yaml with Hydra in the repo at ``root``."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        section = Config(dvc_dir=str(root / ".dvc")).get("hydra", {})
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    module = section.get("config_module")
    return HydraSettings(
        enabled=bool(section.get("enabled", False)),
        config_dir=None if module else root.resolve() / section.get("config_dir", "conf"),
        config_module=module,
        config_name=section.get("config_name", "config"),
        plugins_path=root.resolve() / section.get("plugins_path", ""),
    )


def compose_to(path: Path, settings: HydraSettings, overrides: Sequence[str]) -> None:
    """Write the composition to ``path`` with DVC's own composer, so the bytes are
    exactly those ``dvc exp run`` would write to params.yaml."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(
        path,
        str(settings.config_dir) if settings.config_dir else None,
        settings.config_module,
        settings.config_name,
        str(settings.plugins_path),
        list(overrides),
    )


def default_remote(root: Path) -> str | None:
    """The name of the default DVC remote (``core.remote``), None when unset."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    return config.get("core", {}).get("remote") or None


def remote_settings(root: Path, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """The name and merged settings (repo, local, global and system levels) of the
    remote ``name``, or of the default remote; ConfigError when there is none."""
    from dvc.config import Config
    from dvc.config import ConfigError as DvcConfigError

    require_dvc(root)
    try:
        config = Config(dvc_dir=str(root / ".dvc"))
    except DvcConfigError as exc:
        raise ConfigError(f".dvc/config is invalid: {exc}") from None
    chosen = name or config["core"].get("remote")
    remotes = config.get("remote", {})
    if not chosen or chosen not in remotes:
        what = f"no DVC remote named {chosen!r}" if chosen else "no default DVC remote"
        raise ConfigError(
            f"{what} in {root}",
            "Add one with `dvc remote add -d NAME URL` (see `dvc remote list`).",
        )
    # Loaded local paths are absolute already; str() drops DVC's RelPath marker so
    # they are written back absolute, not relative to the worktree's .dvc folder.
    settings = {
        key: str(value) if isinstance(value, str) else value
        for key, value in remotes[chosen].items()
    }
    return chosen, settings


def configure_clean_worktree(
    worktree: Path,
    cache_dir: Path,
    site_cache_dir: Path,
    remote: tuple[str, dict[str, Any]] | None,
) -> None:
    """Give a temporary worktree its own cache and state, and the remote to read.

    Written to the worktree's ``.dvc/config.local`` (never committed, removed with
    the worktree). The remote gets ``verify = true`` so DVC itself re-hashes any
    object it downloads.
    """
    from dvc.config import Config

    config = Config(dvc_dir=str(worktree / ".dvc"), validate=False)
    with config.edit("local") as local:
        local.setdefault("cache", {})["dir"] = str(cache_dir)
        local.setdefault("core", {})["site_cache_dir"] = str(site_cache_dir)
        if remote is not None:
            name, settings = remote
            local["core"]["remote"] = name
            local.setdefault("remote", {})[name] = {**settings, "verify": True}


def share_cache(worktree: Path, cache_dir: Path, site_cache_dir: Path) -> None:
    """Point a temporary worktree at the repository's cache ``cache_dir`` (tune:
    unchanged outputs are checked out from it, new ones are stored in it). Written
    to the worktree's ``.dvc/config.local``, which is never committed; the site
    cache (DVC's index and locks for the worktree's path) goes to ``site_cache_dir``."""
    from dvc.config import Config

    config = Config(dvc_dir=str(worktree / ".dvc"), validate=False)
    with config.edit("local") as local:
        local.setdefault("cache", {})["dir"] = str(cache_dir)
        local.setdefault("core", {})["site_cache_dir"] = str(site_cache_dir)
