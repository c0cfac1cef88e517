"""Download model weights once, at a pinned revision, into a cache every node can read.

On a cluster, fifty sampling jobs starting together must not each ask the hub for 60 GB
(rate limits, gated-model tokens, compute nodes without internet). So a local Snakemake
rule (``download_model`` in workflow/rules/models.smk) runs this on the login node, once
per model, and sampling jobs load the published folder with the hub offline.

Layout under ``cache_dir``:

- ``.hub/`` is a Hugging Face cache (``snapshot_download(cache_dir=...)``): blobs stored
  once by content, so two config entries of the same checkpoint (Qwen2.5-32B with two
  prompts) share their weights, and an interrupted download resumes.
- ``<dest>/`` (the rule's output, one per config model) holds the snapshot's files as
  hard links into ``.hub`` (plain files, no extra space) plus ``rlvr_model.json`` with
  the hub id, the requested revision and the commit it resolved to. It is built in a
  temporary folder and renamed into place, so a killed download never leaves a folder
  that looks complete.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MANIFEST = "rlvr_model.json"
HUB_SUBDIR = ".hub"
# Files vLLM never reads: original (consolidated) checkpoints and other frameworks' formats.
_IGNORE = ["original/*", "*.pth", "*.pt", "*.gguf", "*.onnx", "*.msgpack", "*.h5", "*.ot", "*.tflite"]
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class HubError(RuntimeError):
    """A download that cannot succeed as asked, with what to do about it in the message."""


def published_dir(config: dict[str, Any], model: str) -> str | None:
    """Where ``download_model`` publishes a config model (``model_cache/<model>``).

    None when there is no ``model_cache`` (jobs load from the hub) or the model is a local
    ``path``. The Snakemake rules import this module for that path alone, hence the hub
    client is imported only when something is downloaded.
    """
    if config.get("model_cache") and "hf_id" in config["models"][model]:
        return f"{config['model_cache']}/{model}"
    return None


def _snapshot(
    hf_id: str, revision: str, hub_cache: Path, *, offline: bool, endpoint: str | None, ignore: list[str]
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            snapshot_download(
                hf_id,
                revision=revision,
                cache_dir=hub_cache,
                local_files_only=offline,
                endpoint=endpoint,
                ignore_patterns=ignore,
            )
        )
    except GatedRepoError as exc:
        raise HubError(
            f"{hf_id} is gated: accept its licence on the model page, then log in "
            f"(`hf auth login`) or set HF_TOKEN on this machine ({exc})"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise HubError(f"{hf_id}: no such model on the hub, or it is private ({exc})") from exc
    except RevisionNotFoundError as exc:
        raise HubError(f"{hf_id}: no revision {revision!r} ({exc})") from exc
    except LocalEntryNotFoundError as exc:
        where = "offline mode" if offline else "the hub could not be reached"
        raise HubError(
            f"{hf_id}@{revision} is not in {hub_cache} and {where}: download it on a "
            f"machine with internet access (the login node) into the same cache"
        ) from exc
    except HfHubHTTPError as exc:
        raise HubError(f"{hf_id}@{revision}: hub request failed: {exc}") from exc


def _link_tree(source: Path, target: Path) -> list[str]:
    """Hard-link every file of ``source`` (following the cache's symlinks) under ``target``."""
    files = []
    for path in sorted(source.rglob("*")):
        if path.is_dir():
            continue
        relative = path.relative_to(source)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        blob = path.resolve()
        try:
            os.link(blob, out)
        except OSError:  # a file system without hard links: pay the space once more
            shutil.copy2(blob, out)
        files.append(relative.as_posix())
    return files


def download_model(
    hf_id: str,
    revision: str,
    cache_dir: str | Path,
    dest: str | Path | None = None,
    *,
    offline: bool = False,
    endpoint: str | None = None,
) -> Path:
    """Publish ``hf_id`` at ``revision`` as a plain folder ``dest`` and return it.

    ``dest`` defaults to ``cache_dir/<org>--<name>`` and must lie directly in ``cache_dir``
    (hard links and the atomic rename need one file system). ``offline`` uses only what
    ``cache_dir`` already holds; ``endpoint`` points at a hub mirror.
    """
    cache_dir = Path(cache_dir).resolve()
    dest = (cache_dir / hf_id.replace("/", "--")) if dest is None else Path(dest).resolve()
    if dest.parent != cache_dir or dest.name == HUB_SUBDIR:
        raise HubError(f"{dest}: the model folder must be a direct child of {cache_dir} (not {HUB_SUBDIR})")
    hub_cache = cache_dir / HUB_SUBDIR
    hub_cache.mkdir(parents=True, exist_ok=True)

    snapshot = _snapshot(hf_id, revision, hub_cache, offline=offline, endpoint=endpoint, ignore=[*_IGNORE, "*.bin"])
    if not any(snapshot.rglob("*.safetensors")):  # an older checkpoint with .bin weights only
        snapshot = _snapshot(hf_id, revision, hub_cache, offline=offline, endpoint=endpoint, ignore=_IGNORE)
    commit = snapshot.name
    if _COMMIT.match(revision) and commit != revision:
        raise HubError(f"{hf_id}: asked for commit {revision} but the cache gave {commit}")

    staging = cache_dir / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        files = _link_tree(snapshot, staging)
        if not files:
            raise HubError(f"{hf_id}@{revision}: the snapshot {snapshot} is empty")
        manifest = {"hf_id": hf_id, "revision": revision, "commit": commit, "files": files}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        if dest.exists():
            retired = cache_dir / f".{dest.name}.old-{os.getpid()}"
            dest.rename(retired)
            staging.rename(dest)
            shutil.rmtree(retired)
        else:
            staging.rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def resolved_commit(model_dir: str | Path) -> str:
    """The commit a published model folder was downloaded at."""
    return json.loads((Path(model_dir) / MANIFEST).read_text())["commit"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlvr_boundary download-model``: one model into the shared cache."""
    parser = argparse.ArgumentParser(prog="rlvr-boundary download-model", description=main.__doc__)
    parser.add_argument("--hf-id", required=True, help="hub id, e.g. Qwen/Qwen2.5-7B")
    parser.add_argument("--revision", required=True, help="commit (pinned) or branch/tag")
    parser.add_argument("--cache-dir", required=True, type=Path, help="config.yaml model_cache")
    parser.add_argument("--dest", type=Path, help="model folder inside --cache-dir (the rule's output)")
    parser.add_argument("--offline", action="store_true", help="use only what the cache holds")
    parser.add_argument("--endpoint", help="hub mirror URL (default: HF_ENDPOINT or huggingface.co)")
    args = parser.parse_args(argv)
    try:
        path = download_model(
            args.hf_id, args.revision, args.cache_dir, args.dest, offline=args.offline, endpoint=args.endpoint
        )
    except HubError as exc:
        print(f"download-model: {exc}", file=sys.stderr)
        return 1
    print(f"{args.hf_id}@{args.revision} = commit {resolved_commit(path)} -> {path}")
    return 0
