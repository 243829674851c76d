"""Publishing a finished dataset folder to the Hugging Face Hub.

Only the files the manifest lists as ours are uploaded (shard files, the images they name, the
card, ``config.yaml``, ``manifest.json``): anything else a user keeps in the folder stays local.
The token comes from huggingface_hub's usual places (the ``HF_TOKEN`` environment variable or the
login cache); it is never printed, logged or written. Before anything is sent, the account and
the repository are checked (``whoami``, ``create_repo``), so no network or a bad token fails at
once with nothing changed, locally or remotely. The upload is ``HfApi.upload_folder`` restricted
to our files, which (with ``hf_xet``, a dependency of huggingface_hub) commits large folders in
batches and resumes an interrupted upload when the same command is run again.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from engine.pipeline.manifest import read_manifest
from engine.pipeline.output import owned_files
from engine.schema import ConfigError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class PublishError(RuntimeError):
    """The Hub refused or could not be reached; the message says what to do (never the token)."""


def upload_plan(dataset: str | Path) -> list[tuple[str, int]]:
    """(relative path, bytes) of every file of a finished dataset that a push uploads, sorted.

    Raises ConfigError when ``dataset`` is not a finished dataset folder of this engine."""
    root = Path(dataset)
    if not root.is_dir():
        raise ConfigError(f"dataset: {root} is not a folder; fix: pass the folder a generate run wrote (out=)")
    m = read_manifest(root)
    if m is None:
        raise ConfigError(f"dataset: {root} holds no manifest.json, so it is not a dataset folder; fix: pass the "
                          "folder a generate run wrote (out=)")
    if len(m["shards"]) != m.get("num_shards"):
        raise ConfigError(f"dataset: {root} is unfinished ({len(m['shards'])} of {m.get('num_shards')} shards); "
                          "fix: rerun its generate command to finish it, then push")
    files = sorted({p.relative_to(root).as_posix() for p in owned_files(root, m) if p.is_file()})
    return [(rel, (root / rel).stat().st_size) for rel in files]


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "<token>") if token else text


def push(dataset: str | Path, repo: str, private: bool = False, revision: str | None = None,
         dry_run: bool = False, api: Any = None) -> dict:
    """Upload a finished dataset to the dataset repository ``repo`` (``user/name``).

    Args:
        dataset: the dataset folder. repo: the Hub repository id. private: create it private
            (an existing repository keeps its visibility). revision: a branch to commit to
            (created when missing). dry_run: list what would be uploaded and stop.
        api: an ``huggingface_hub.HfApi`` (default: a new one with the usual token lookup).
    Returns:
        {"repo", "revision", "files", "bytes", "dry_run", "url"}.
    Raises:
        ConfigError on a bad folder or repository id; PublishError when the Hub cannot be reached
        or refuses (bad token, no permission), before any file is sent.
    """
    if not _REPO_ID.match(repo or ""):
        raise ConfigError(f"--repo: {repo!r} is not a repository id; fix: --repo user/name")
    plan = upload_plan(dataset)
    summary = {"repo": repo, "revision": revision or "main", "files": len(plan), "bytes": sum(n for _, n in plan),
               "dry_run": dry_run, "url": None}
    if dry_run:
        summary["upload"] = [{"path": rel, "bytes": n} for rel, n in plan]
        return summary
    from huggingface_hub import HfApi
    from huggingface_hub.utils import get_token

    api = api or HfApi()
    token = get_token()
    try:
        user = api.whoami()
        api.create_repo(repo_id=repo, repo_type="dataset", private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id=repo, repo_type="dataset", branch=revision, exist_ok=True)
    except Exception as e:  # network, authentication, permission: all stop before any upload
        raise PublishError(f"push: the Hub refused or could not be reached ({type(e).__name__}: "
                           f"{_scrub(' '.join(str(e).split())[:300], token)}); nothing was uploaded; fix: check the "
                           "network and HF_ENDPOINT, and log in (`hf auth login`) or set HF_TOKEN to a token "
                           "with write access") from None
    try:
        info = api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=str(Path(dataset)),
                                 revision=revision, allow_patterns=[rel for rel, _ in plan],
                                 commit_message=f"SpatialForge dataset ({len(plan)} files)")
    except Exception as e:
        raise PublishError(f"push: the upload stopped ({type(e).__name__}: "
                           f"{_scrub(' '.join(str(e).split())[:300], token)}); fix: run the same command again "
                           "(an interrupted upload resumes: committed files are skipped)") from None
    summary["url"] = str(getattr(info, "commit_url", None) or f"datasets/{repo}")
    summary["user"] = (user or {}).get("name") if isinstance(user, dict) else None
    return summary
