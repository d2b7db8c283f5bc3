"""Model folders on disk: their checksum record, checking it, and replacing a folder whole.

Below both the models manifest (``assistant.models``) and the Whisper int8 copy
(``assistant.stt.whisper_model``), so neither imports the other for these.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Literal

__all__ = ["RECORD", "Status", "_hashes", "_record_folder", "_replace_dir", "check_record"]

RECORD = ".assistant-sha256"

Status = Literal["ok", "missing", "corrupt", "unchecked"]


def _hashes(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, read once."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    blob = hashlib.sha1(f"blob {size}\0".encode())
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            sha256.update(block)
            blob.update(block)
    return sha256.hexdigest(), blob.hexdigest()


def _record_folder(folder: Path) -> None:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RECORD):
        lines.append(f"{_hashes(path)[0]}  {path.relative_to(folder).as_posix()}")
    (folder / RECORD).write_text("\n".join(lines) + "\n", encoding="utf-8")


def check_record(folder: Path) -> tuple[Status, str]:
    """Every file named in *folder*'s checksum record (which must exist) against its sha256."""
    count = 0
    for line in (folder / RECORD).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        digest, _, rel = line.partition("  ")
        path = folder / rel
        if not path.is_file():
            return "corrupt", f"{rel} is missing from {folder}"
        if _hashes(path)[0] != digest:
            return "corrupt", f"{rel} in {folder} fails its sha256 check"
        count += 1
    return "ok", f"{count} files checked in {folder}"


def _replace_dir(new: Path, dest: Path) -> None:
    """Put folder *new* at *dest* (same file system); an old *dest* goes only once *new* is in."""
    old: Path | None = None
    if dest.exists():
        old = dest.with_name(f".old-{dest.name}-{os.getpid()}")
        os.rename(dest, old)
    try:
        os.rename(new, dest)
    except OSError:
        if old is not None:
            os.rename(old, dest)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
