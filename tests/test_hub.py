"""Model download into the shared cache, on local files only (no hub traffic in tests).

A Hugging Face cache laid out by hand stands in for a finished download; the hub itself is
either switched off (offline) or an address where nothing listens, which is what a compute
node without internet sees.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rlvr_boundary import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
NOWHERE = "http://127.0.0.1:9"  # the discard port: connection refused at once


def fake_cache(cache_dir: Path, hf_id: str, files: dict[str, bytes], commit: str = COMMIT) -> None:
    """What snapshot_download leaves behind: blobs by hash, a snapshot of symlinks, refs/main."""
    repo = cache_dir / hub.HUB_SUBDIR / ("models--" + hf_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "blobs").mkdir(exist_ok=True)
    for name, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        (repo / "blobs" / digest).write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(Path(*[".."] * (len(Path(name).parts) + 1), "blobs", digest))


WEIGHTS = {"config.json": b'{"model_type": "qwen2"}', "model.safetensors": b"\0" * 64, "tokenizer/vocab.json": b"{}"}


def test_publishes_plain_files_and_records_the_commit(tmp_path: Path) -> None:
    fake_cache(tmp_path, "org/tiny", WEIGHTS)
    dest = hub.download_model("org/tiny", "main", tmp_path, tmp_path / "tiny", offline=True)
    assert dest == tmp_path / "tiny"
    for name, data in WEIGHTS.items():
        assert (dest / name).read_bytes() == data and not (dest / name).is_symlink()
        assert (dest / name).stat().st_nlink == 2  # a hard link into the cache: no second copy
    manifest = json.loads((dest / hub.MANIFEST).read_text())
    assert manifest == {"hf_id": "org/tiny", "revision": "main", "commit": COMMIT, "files": sorted(WEIGHTS)}
    assert hub.resolved_commit(dest) == COMMIT
    assert sorted(p.name for p in tmp_path.iterdir()) == [hub.HUB_SUBDIR, "tiny"]  # no staging left


def test_two_config_entries_of_one_checkpoint_share_the_download(tmp_path: Path) -> None:
    fake_cache(tmp_path, "org/big", WEIGHTS)
    first = hub.download_model("org/big", COMMIT, tmp_path, tmp_path / "big-prompt-a", offline=True)
    second = hub.download_model("org/big", COMMIT, tmp_path, tmp_path / "big-prompt-b", offline=True)
    assert (first / "model.safetensors").stat().st_ino == (second / "model.safetensors").stat().st_ino


def test_republishing_replaces_the_folder_whole(tmp_path: Path) -> None:
    fake_cache(tmp_path, "org/tiny", WEIGHTS)
    dest = tmp_path / "tiny"
    dest.mkdir()
    (dest / "stale.bin").write_bytes(b"old")
    hub.download_model("org/tiny", "main", tmp_path, dest, offline=True)
    assert not (dest / "stale.bin").exists() and (dest / "config.json").exists()


def test_unreachable_hub_without_the_model_says_where_to_download(tmp_path: Path) -> None:
    with pytest.raises(hub.HubError, match="could not be reached: download it on a machine with internet"):
        hub.download_model("org/absent", "main", tmp_path, tmp_path / "absent", endpoint=NOWHERE)
    assert not (tmp_path / "absent").exists()


def test_unreachable_hub_falls_back_to_the_cached_snapshot(tmp_path: Path) -> None:
    fake_cache(tmp_path, "org/tiny", WEIGHTS)
    dest = hub.download_model("org/tiny", "main", tmp_path, tmp_path / "tiny", endpoint=NOWHERE)
    assert hub.resolved_commit(dest) == COMMIT


def test_offline_with_a_commit_not_in_the_cache_fails(tmp_path: Path) -> None:
    fake_cache(tmp_path, "org/tiny", WEIGHTS)
    with pytest.raises(hub.HubError, match="offline mode"):
        hub.download_model("org/tiny", "f" * 40, tmp_path, tmp_path / "tiny", offline=True)


def test_destination_must_sit_in_the_cache_folder(tmp_path: Path) -> None:
    with pytest.raises(hub.HubError, match="direct child"):
        hub.download_model("org/tiny", "main", tmp_path / "cache", tmp_path / "elsewhere", offline=True)


def test_cli_prints_the_commit_or_the_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake_cache(tmp_path, "org/tiny", WEIGHTS)
    argv = ["--hf-id", "org/tiny", "--revision", "main", "--cache-dir", str(tmp_path), "--offline"]
    assert hub.main([*argv, "--dest", str(tmp_path / "tiny")]) == 0
    assert f"commit {COMMIT}" in capsys.readouterr().out
    assert hub.main(["--hf-id", "org/none", "--revision", "main", "--cache-dir", str(tmp_path), "--offline"]) == 1
    assert "download-model: org/none@main is not in" in capsys.readouterr().err


def test_published_dir_is_the_download_rules_output_for_hub_models_only() -> None:
    config = {
        "model_cache": "/shared/models",
        "models": {"big": {"hf_id": "org/big", "revision": "main"}, "local": {"path": "data/m"}},
    }
    assert hub.published_dir(config, "big") == "/shared/models/big"
    assert hub.published_dir(config, "local") is None
    assert hub.published_dir({**config, "model_cache": None}, "big") is None
