"""Locking a device's plaintext records the first time it starts with encryption.

The record store is copied into a new SQLCipher file with ``sqlcipher_export``, checked, fsynced
and swapped in with one atomic rename; the clips are sealed one by one. A crash (or a kill at
any of the fault points below) loses nothing: until the rename the plaintext file is the store
and the half-made copy is thrown away and made again; after it, the locked file is the store and
the old plaintext is wiped. A clip's ``.wav`` is wiped only after its ``.sealed`` file is on
disk and opens to the same sha256.

"Wiped" means overwritten with zeros in place, fsynced, then deleted. On an SD card that is a
best effort, not a guarantee: the card's controller writes the zeros wherever it likes (wear
levelling), so the old blocks may stay readable with the right tools until the card reuses
them. Earlier versions of pages that lived in the old WAL file were freed without being
overwritten. ``fstrim`` (if the card supports discard) asks the card to drop freed blocks.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

from assistant.errors import RecordError
from assistant.faults import fault_point
from assistant.records import sql
from assistant.records.keys import RestKey

log = logging.getLogger("assistant.records.store")

ENCRYPTING = ".encrypting"
OLD = ".plaintext-old"
_CHUNK = 1 << 16


def is_plaintext(path: Path) -> bool:
    """True when *path* is an ordinary (unlocked) SQLite file."""
    try:
        with path.open("rb") as f:
            return f.read(16) == sql.SQLITE_MAGIC
    except OSError:
        return False


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fsync_file(path)


def wipe(path: Path) -> None:
    """Overwrite *path* with zeros, fsync, delete, fsync its folder (best effort on flash)."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as f:
            done = 0
            zeros = bytes(_CHUNK)
            while done < size:
                n = min(_CHUNK, size - done)
                f.write(zeros[:n])
                done += n
                if done == n:
                    f.flush()
                    fault_point("encrypt_mid_wipe")
            f.flush()
            os.fsync(f.fileno())
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def opens_with(path: Path, key: RestKey) -> bool:
    """True when *path* is a SQLCipher file that *key* opens and that passes a quick check."""
    try:
        conn = sql.connect(path, isolation_level=None)
    except sql.Error:
        return False
    try:
        conn.execute(f'PRAGMA key = "{key.sqlcipher_key()}"')
        return [r[0] for r in conn.execute("PRAGMA quick_check")] == ["ok"]
    except sql.Error:
        return False
    finally:
        conn.close()


def finish_leftovers(path: Path, key: RestKey) -> None:
    """Tidy what an interrupted conversion left, keeping whichever file is the store."""
    tmp = path.with_name(path.name + ENCRYPTING)
    old = path.with_name(path.name + OLD)
    if old.exists():
        if path.exists() and os.path.samefile(path, old):
            old.unlink()  # cut off before the swap: the plaintext is still the store
            fsync_dir(path.parent)
        elif path.exists() and not is_plaintext(path) and opens_with(path, key):
            log.info("Finishing the wipe of the old plaintext records file %s.", old)
            wipe(old)  # cut off after the swap: the locked file is the store
        elif not path.exists():  # never happens with the steps below; keep the data anyway
            os.replace(old, path)
            fsync_dir(path.parent)
    if tmp.exists():
        tmp.unlink()
        fsync_dir(path.parent)


def encrypt_store(path: Path, key: RestKey) -> None:
    """Turn the plaintext store at *path* into a SQLCipher one locked with *key*."""
    tmp = path.with_name(path.name + ENCRYPTING)
    old = path.with_name(path.name + OLD)
    finish_leftovers(path, key)
    if not is_plaintext(path):
        return
    log.info("Locking the records database %s (first start with encryption).", path)
    src = sql.connect(path, isolation_level=None, timeout=10.0)
    try:
        if [r[0] for r in src.execute("PRAGMA quick_check")] != ["ok"]:
            raise sql.DatabaseError[1]("the plaintext records database failed its check")
        try:  # folds the WAL in and removes it; refused while another program has it open
            src.execute("PRAGMA journal_mode=DELETE")
        except sql.OperationalError as exc:
            raise RecordError(
                f"The records database {path} is in use by another program, so it was not "
                "locked yet; stop the assistant service and start again. Nothing was changed."
            ) from exc
        version = int(src.execute("PRAGMA user_version").fetchone()[0])
        src.execute("ATTACH DATABASE ? AS locked KEY " + f'"{key.sqlcipher_key()}"', (str(tmp),))
        src.execute("SELECT sqlcipher_export('locked')")
        src.execute(f"PRAGMA locked.user_version = {version:d}")
        tables = [
            r[0]
            for r in src.execute(
                "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            a, b = src.execute(
                f'SELECT (SELECT count(*) FROM main."{table}"), '
                f'(SELECT count(*) FROM locked."{table}")'
            ).fetchone()
            if a != b:
                raise RecordError(
                    f"Locking the records database {path} copied {b} of {a} rows of {table}; "
                    "the plaintext file was kept as it was."
                )
        src.execute("DETACH DATABASE locked")
    except sql.DatabaseError as exc:
        src.close()
        tmp.unlink(missing_ok=True)
        if isinstance(exc, sql.OperationalError) and "full" in str(exc):
            raise RecordError(
                f"The disk is too full to lock the records database {path}; it was kept as it was."
            ) from exc
        raise RecordError(
            f"The records database {path} could not be locked ({exc}); it was left untouched."
        ) from exc
    except BaseException:
        src.close()
        tmp.unlink(missing_ok=True)
        raise
    src.close()
    os.chmod(tmp, 0o600)
    fsync_file(tmp)
    fsync_dir(path.parent)
    fault_point("encrypt_after_export")
    if not opens_with(tmp, key):
        tmp.unlink(missing_ok=True)
        raise RecordError(
            f"The locked copy of {path} did not pass its check; the plaintext file was kept."
        )
    os.link(path, old)  # keeps the old bytes reachable, to wipe them after the swap
    fsync_dir(path.parent)
    fault_point("encrypt_after_link")
    os.replace(tmp, path)
    fsync_dir(path.parent)
    fault_point("encrypt_after_swap")
    for side in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + side).unlink()
    wipe(old)


def seal_plain_clips(clips_dir: Path, key: RestKey) -> int:
    """Seal every ``<sha256>.wav`` in *clips_dir* into ``<sha256>.sealed``; return how many.

    The ``.wav`` is wiped only once the sealed file is on disk and opens to the same sha256; a
    ``.wav`` whose bytes do not match its name is left alone (not ours, or damaged).
    """
    sealed = 0
    for wav in sorted(clips_dir.glob("*.wav")):
        sha = wav.stem
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            continue
        target = clips_dir / f"{sha}.sealed"
        if target.exists() and _sealed_ok(target, sha, key):
            wipe(wav)  # sealed before, cut off before the wipe finished
            continue
        data = wav.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha:
            log.warning("The audio clip %s does not match its name; it was left alone.", wav)
            continue
        tmp = clips_dir / f".incoming-{sha}.part"
        with open(tmp, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(key.seal("clips", data))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(clips_dir)
        fault_point("seal_clip_after_write")
        wipe(wav)
        sealed += 1
    return sealed


def _sealed_ok(path: Path, sha: str, key: RestKey) -> bool:
    try:
        data = key.open("clips", path.read_bytes(), str(path))
    except (OSError, RecordError):
        return False
    return hashlib.sha256(data).hexdigest() == sha


def connect_raw(data_dir: Path, key: RestKey | None = None) -> sql.Connection:
    """A bare connection to the store in *data_dir*, unlocked with its key (for tests, tools)."""
    from assistant.records.keys import resolve

    key = key or resolve(data_dir)
    conn = sql.connect(data_dir / "records.sqlite", isolation_level=None)
    conn.execute(f'PRAGMA key = "{key.sqlcipher_key()}"')
    return conn
