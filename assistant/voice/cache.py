"""The prompt cache: a prompt is synthesised once, kept on disk, and starts at once next time.

:class:`CachedVoice` wraps any :class:`~assistant.voice.base.Voice`. An entry is keyed by the
text and the voice's identity (its ``cache_key`` when it has one: the voice file's name, size and
modification time, the rate and the volume; otherwise its name and sample rate). Entries are
files in ``cache_dir``; writes are atomic (temporary file, fsync, rename), so a power cut leaves
either the old state or the new entry. Each entry carries a checksum: a damaged entry is ignored,
deleted and rebuilt. The folder is bounded by ``max_bytes``: the entries used least recently (by
modification time, touched on every hit) are deleted first. ``max_bytes=0`` turns caching off.

On a miss the inner voice's chunks are passed on as they come (streaming is kept) and the entry is
written only once the whole prompt has been synthesised; a prompt cut short (barge-in) is not
kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from assistant.voice.base import Voice

log = logging.getLogger(__name__)

_MAGIC = b"ASTPCM1\n"
_SUFFIX = ".pcm"


def voice_identity(voice: Voice) -> str:
    """What distinguishes this voice's audio: its ``cache_key`` (by default name and rate)."""
    return voice.cache_key


def _encode(key: str, sample_rate: int, chunks: list[np.ndarray]) -> bytes:
    body = b"".join(np.ascontiguousarray(c, dtype="<i2").tobytes() for c in chunks)
    header = json.dumps(
        {
            "key": key,
            "rate": sample_rate,
            "chunks": [int(len(c)) for c in chunks],
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    ).encode()
    return _MAGIC + struct.pack("<I", len(header)) + header + body


def _decode(data: bytes, key: str) -> tuple[int, list[np.ndarray]]:
    """Chunks from an entry; ValueError if it is damaged or belongs to another key."""
    if not data.startswith(_MAGIC) or len(data) < len(_MAGIC) + 4:
        raise ValueError("bad magic")
    (n,) = struct.unpack_from("<I", data, len(_MAGIC))
    start = len(_MAGIC) + 4
    header = json.loads(data[start : start + n])
    body = data[start + n :]
    if header.get("key") != key:
        raise ValueError("key mismatch")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise ValueError("checksum mismatch")
    lengths = [int(x) for x in header["chunks"]]
    if sum(lengths) * 2 != len(body):
        raise ValueError("length mismatch")
    pcm = np.frombuffer(body, dtype="<i2").astype(np.int16)
    chunks, offset = [], 0
    for length in lengths:
        chunks.append(pcm[offset : offset + length].copy())
        offset += length
    return int(header["rate"]), chunks


class CachedVoice(Voice):
    """A :class:`~assistant.voice.base.Voice` that remembers what it has said, on disk."""

    def __init__(self, voice: Voice, cache_dir: Path, max_bytes: int = 200 * 1024 * 1024) -> None:
        if max_bytes < 0:
            raise ValueError("The prompt cache size cannot be negative.")
        self.voice = voice
        self.cache_dir = Path(cache_dir).expanduser()
        self.max_bytes = max_bytes
        self.name = voice.name
        self.sample_rate = voice.sample_rate
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()

    @property
    def cache_key(self) -> str:
        return voice_identity(self.voice)

    def describe(self) -> str:
        """The voice behind the cache."""
        return self.voice.describe()

    def at_rate(self, words_per_minute: float | None) -> CachedVoice:
        """The voice behind at another rate, through the same cache folder (its rate is part of
        every entry's key, so the rates never mix)."""
        inner = self.voice.at_rate(words_per_minute)
        if inner is self.voice:
            return self
        return CachedVoice(inner, self.cache_dir, self.max_bytes)

    def key(self, text: str) -> str:
        return f"{voice_identity(self.voice)}|text={text}"

    def path_for(self, text: str) -> Path:
        digest = hashlib.sha256(self.key(text).encode()).hexdigest()
        return self.cache_dir / f"{digest}{_SUFFIX}"

    # -- reading ------------------------------------------------------------------------------

    def lookup(self, text: str) -> list[np.ndarray] | None:
        """The cached chunks for *text*, or None (a damaged entry is deleted and None returned)."""
        if self.max_bytes == 0:
            return None
        path = self.path_for(text)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("Cannot read prompt cache entry %s: %s", path, exc)
            return None
        try:
            rate, chunks = _decode(data, self.key(text))
            if rate != self.sample_rate:
                raise ValueError("sample rate mismatch")
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            log.warning("Ignoring a damaged prompt cache entry %s (%s)", path.name, exc)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # mark as recently used for the LRU bound
        return chunks

    def __contains__(self, text: str) -> bool:
        return self.lookup(text) is not None

    # -- writing ------------------------------------------------------------------------------

    def _store(self, text: str, chunks: list[np.ndarray]) -> None:
        data = _encode(self.key(text), self.sample_rate, chunks)
        if len(data) > self.max_bytes:
            return  # larger than the whole cache: never kept
        path = self.path_for(text)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=_SUFFIX, dir=self.cache_dir)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:  # full disk, read-only folder: speak anyway, just don't keep it
            log.warning("Could not keep a prompt in the cache %s: %s", self.cache_dir, exc)
            return
        self._evict(keep=path)

    def _evict(self, keep: Path | None = None) -> None:
        with self._lock:
            entries = []
            total = 0
            for entry in os.scandir(self.cache_dir):
                if not entry.name.endswith(_SUFFIX) or entry.name.startswith(".tmp-"):
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                entries.append((st.st_mtime_ns, st.st_size, Path(entry.path)))
                total += st.st_size
            entries.sort()
            for _mtime, size, path in entries:
                if total <= self.max_bytes:
                    break
                if keep is not None and path == keep:
                    continue
                with contextlib.suppress(OSError):
                    path.unlink()
                    total -= size

    def size_bytes(self) -> int:
        """Total size of the cache entries on disk."""
        if not self.cache_dir.is_dir():
            return 0
        return sum(
            e.stat().st_size
            for e in os.scandir(self.cache_dir)
            if e.name.endswith(_SUFFIX) and not e.name.startswith(".tmp-")
        )

    # -- the Voice protocol --------------------------------------------------------------------

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Cached chunks at once if there are any; else the inner voice's, kept when complete."""
        cached = self.lookup(text)
        if cached is not None:
            self.hits += 1
            yield from cached
            return
        self.misses += 1
        chunks: list[np.ndarray] = []
        for chunk in self.voice.synthesize(text):
            chunks.append(chunk)
            yield chunk
        if self.max_bytes > 0 and chunks:
            self._store(text, chunks)

    def warm(self, texts: Iterable[str]) -> int:
        """Synthesise and keep each text not cached yet (a script's fixed prompts); how many."""
        made = 0
        for text in dict.fromkeys(t for t in texts if t and t.strip()):
            if self.lookup(text) is None:
                for _ in self.synthesize(text):
                    pass
                made += 1
        return made
