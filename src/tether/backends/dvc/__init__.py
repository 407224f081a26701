"""The one door to DVC. Nothing else in tether imports ``dvc``.

Importing ``dvc.repo`` costs about 0.4 s, so every import of DVC happens inside the
function that needs it: commands that never touch a DVC repo object (``--help``,
diffs read straight from git) never pay for it.

- ``repo``: the Repo object and what tether asks of it (stages, paths, status, lock);
- ``config``: Hydra's settings, the remotes, a temporary worktree's config.local;
- ``stages``: running stages (interpreter, output, failures), checkout, experiments;
- ``cache``: the local cache read without a Repo object, and rehashed;
- ``transfer``: objects between the cache and a remote, every byte hashed.

Callers write ``from tether.backends import dvc`` and ``dvc.NAME``; the names are
gathered here.
"""

from __future__ import annotations

from tether.backends.dvc.cache import (
    CorruptObject,
    cache_dir,
    cached_closure,
    cached_file,
    corrupted_in_cache,
)
from tether.backends.dvc.config import (
    HydraSettings,
    compose_to,
    configure_clean_worktree,
    default_remote,
    hydra_settings,
    remote_settings,
    share_cache,
)
from tether.backends.dvc.repo import (
    LOCK_FILE,
    PARAMS_FILE,
    PIPELINE_FILE,
    DvcLocked,
    TrackedOutput,
    dvc_error_types,
    exception_chain,
    ignore_checker,
    log_level,
    open_repo,
    pipeline_stages,
    preload,
    quiet_git_hints,
    raise_if_locked,
    require_dvc,
    stage_label,
    stage_status,
    tracked_outputs,
    versioned_paths,
)
from tether.backends.dvc.stages import (
    apply_experiment,
    checkout,
    interpreter_first_on_path,
    reproduce_forced,
    reproduce_stage,
    restore_outputs,
)
from tether.backends.dvc.transfer import (
    ObjectCopy,
    ObjectUpload,
    cache_store,
    copy_verified,
    object_location,
    push_outputs,
    remote_store,
    replace_object,
    store_object,
    upload_verified,
)

__all__ = [
    "LOCK_FILE",
    "PARAMS_FILE",
    "PIPELINE_FILE",
    "CorruptObject",
    "DvcLocked",
    "HydraSettings",
    "ObjectCopy",
    "ObjectUpload",
    "TrackedOutput",
    "apply_experiment",
    "cache_dir",
    "cache_store",
    "cached_closure",
    "cached_file",
    "checkout",
    "compose_to",
    "configure_clean_worktree",
    "copy_verified",
    "corrupted_in_cache",
    "default_remote",
    "dvc_error_types",
    "exception_chain",
    "hydra_settings",
    "ignore_checker",
    "interpreter_first_on_path",
    "log_level",
    "object_location",
    "open_repo",
    "pipeline_stages",
    "preload",
    "push_outputs",
    "quiet_git_hints",
    "raise_if_locked",
    "remote_settings",
    "remote_store",
    "replace_object",
    "reproduce_forced",
    "reproduce_stage",
    "require_dvc",
    "restore_outputs",
    "share_cache",
    "stage_label",
    "stage_status",
    "store_object",
    "tracked_outputs",
    "upload_verified",
    "versioned_paths",
]
