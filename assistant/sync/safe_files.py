"""Reading what a USB stick brings, with care (the hub's import and the device's).

A stick is hostile until proven otherwise: only regular files (no links, FIFOs or devices) of
bounded size are read, checked with lstat and again on the opened file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from assistant.errors import SyncError


def file_kind(path: Path) -> str:
    """'missing', 'link', 'folder', 'file' or 'special' (FIFO, device), by lstat."""
    try:
        st = os.lstat(path)
    except OSError:
        return "missing"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "folder"
    return "file" if stat.S_ISREG(st.st_mode) else "special"


def read_regular(path: Path, cap: int, reader: str = "this hub") -> bytes:
    """The bytes of *path* if it is a regular file (not a link, FIFO or device) of at most *cap*
    bytes; else one plain :class:`SyncError` sentence. Checked with lstat, then again on the
    opened file, so nothing is read from anything else."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise SyncError(f"{path}: cannot be read ({exc.strerror}).") from exc
    if stat.S_ISLNK(st.st_mode):
        raise SyncError(f"{path}: is a link, not a file, so it was not read.")
    if not stat.S_ISREG(st.st_mode):
        raise SyncError(f"{path}: is not a regular file (a device or pipe?), so it was not read.")
    if st.st_size > cap:
        raise SyncError(f"{path}: is larger than {reader} accepts ({cap} bytes).")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise SyncError(f"{path}: cannot be read ({exc.strerror}).") from exc
    try:
        st2 = os.fstat(fd)
        if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
            raise SyncError(f"{path}: changed while it was being read, so it was not read.")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise SyncError(f"{path}: is larger than {reader} accepts ({cap} bytes).")
    return data
