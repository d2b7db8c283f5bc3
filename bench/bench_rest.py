"""Data at rest benchmark: what locking the records costs on the device.

    python bench/bench_rest.py [--saves 200] [--clips 50] [--opens 20] [--out FILE]

Real record stores in a temporary folder, plaintext (``key="plaintext"``) against locked
(SQLCipher store, sealed clips, the key from a key file):

* ``save``: one ``save_session`` of a growing session (one more answer each time, WAL,
  ``synchronous=FULL``: one fsync'd commit), per save; wall and processor time.
* ``clip_keep`` / ``clip_read``: keeping a 10 s answer clip (16 kHz mono, 320 KB: read, seal,
  write, fsync, rename, commit) and reading it back (open and sha256 check).
* ``seal`` / ``open``: SecretBox alone on the 10 s clip, no disk.
* ``store_open``: opening the store (key resolution, PRAGMA key, quick_check, migrations
  checked, clip sweep), with 300 sessions in it.
* ``convert``: locking a plaintext store of 300 sessions and 30 clips on first start.

Prints a table and writes JSON (default ``bench/results/rest.json``). Quote the processor
seconds too: the machine is shared.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import struct
import sys
import tempfile
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, machine, print_table, write_json  # noqa: E402


def _wav(path: Path, seconds: float, seed: int) -> Path:
    n = int(16000 * seconds)
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(seed + k / (7 + seed % 5)))) for k in range(n)
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames)
    return path


def _timed(fn: Callable[[], Any], n: int) -> dict[str, float]:
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {
        "wall_ms": statistics.median(walls) * 1000,
        "wall_p95_ms": sorted(walls)[int(0.95 * (len(walls) - 1))] * 1000,
        "cpu_ms": statistics.median(cpus) * 1000,
        "n": n,
    }


def _store(folder: Path, locked: bool) -> Any:
    from assistant.records.store import RecordStore

    return RecordStore(folder, min_free_mb=0, key=None if locked else "plaintext")


def _sessions(store: Any, n: int) -> None:
    from assistant.records.model import Answer, Consent, SessionRecord

    sam = store.add_person(f"Sam {os.urandom(3).hex()}", consent=Consent(audio=True))
    for i in range(n):
        answers = [
            Answer(person_id=sam.id, step_id=f"s{j}", question="How was today?", transcript="ok")
            for j in range(6)
        ]
        rec = SessionRecord(script="daily-checkin", people=[sam], answers=answers)
        store.save_session(rec)
        if i % 10 == 0:
            store.finish_session(rec.id)


def _one_mode(locked: bool, saves: int, clips: int, opens: int, clip10: Path) -> dict[str, Any]:
    """The figures for one mode (plaintext or locked), keyed ``<figure>_<mode>``."""
    from assistant.records.model import Answer, Consent, SessionRecord

    res: dict[str, Any] = {}
    mode = "locked" if locked else "plaintext"
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        os.environ["ASSISTANT_KEY_FILE"] = str(Path(tmp) / "stick.key")
        store = _store(data, locked)
        sam = store.add_person("Sam", consent=Consent(audio=True))
        rec = SessionRecord(script="coproduction", people=[sam])

        def save() -> None:
            rec.answers.append(
                Answer(person_id=sam.id, step_id="why", question="Why?", transcript="friends")
            )
            store.save_session(rec)

        res[f"save_{mode}"] = _timed(save, saves)
        shas: list[str] = []

        def keep() -> None:
            a = Answer(person_id=sam.id, step_id="c", question="Say", transcript="hello")
            rec.answers.append(a)
            store.save_session(rec)
            src = Path(tmp) / f"turn{len(shas)}.wav"  # new bytes each time, not timed
            src.write_bytes(clip10.read_bytes()[:-2] + os.urandom(2))
            w0, c0 = time.perf_counter(), time.process_time()
            sha = store.keep_audio(rec.id, a.id, src)
            keep_times.append((time.perf_counter() - w0, time.process_time() - c0))
            assert sha
            shas.append(sha)

        keep_times: list[tuple[float, float]] = []
        for _ in range(clips):
            keep()
        res[f"clip_keep_{mode}"] = {
            "wall_ms": statistics.median(t[0] for t in keep_times) * 1000,
            "cpu_ms": statistics.median(t[1] for t in keep_times) * 1000,
            "n": clips,
        }
        it = iter(shas * 2)
        res[f"clip_read_{mode}"] = _timed(lambda: store.clip_bytes(next(it)), clips)
        _sessions(store, 300)
        store.close()
        res[f"store_open_{mode}"] = _timed(lambda: _store(data, locked).close(), opens)
        res[f"db_bytes_{mode}"] = (data / "records.sqlite").stat().st_size
    return res


def bench(saves: int, clips: int, opens: int) -> dict[str, Any]:
    from assistant.records.model import Answer, Consent, SessionRecord

    os.environ.pop("CREDENTIALS_DIRECTORY", None)
    out: dict[str, Any] = {"machine": machine()}
    clip10 = Path(tempfile.mkdtemp()) / "ten.wav"
    _wav(clip10, 10.0, 3)
    for locked in (False, True):
        out.update(_one_mode(locked, saves, clips, opens, clip10))
    from assistant.records.keys import RestKey

    key = RestKey("file", "bench", os.urandom(32))
    raw = clip10.read_bytes()
    sealed = key.seal("clips", raw)
    out["seal_10s_clip"] = _timed(lambda: key.seal("clips", raw), 50)
    out["open_10s_clip"] = _timed(lambda: key.open("clips", sealed, "bench"), 50)
    # first start with encryption: lock a plaintext store of 300 sessions and 30 clips
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        os.environ["ASSISTANT_KEY_FILE"] = str(Path(tmp) / "stick.key")
        store = _store(data, False)
        _sessions(store, 300)
        sam = store.add_person("Clip Person", consent=Consent(audio=True))
        rec = SessionRecord(script="coproduction", people=[sam])
        for i in range(30):
            a = Answer(person_id=sam.id, step_id="c", question="Say", transcript="hi")
            rec.answers.append(a)
            store.save_session(rec)
            src = Path(tmp) / f"c{i}.wav"
            src.write_bytes(clip10.read_bytes()[:-2] + os.urandom(2))
            store.keep_audio(rec.id, a.id, src)
        store.close()
        w0, c0 = time.perf_counter(), time.process_time()
        _store(data, True).close()
        out["convert_300_sessions_30_clips"] = {
            "wall_ms": (time.perf_counter() - w0) * 1000,
            "cpu_ms": (time.process_time() - c0) * 1000,
            "n": 1,
        }
    os.environ.pop("ASSISTANT_KEY_FILE", None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--saves", type=int, default=200)
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--opens", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS / "rest.json")
    args = ap.parse_args()
    result = bench(args.saves, args.clips, args.opens)
    rows = []
    for name in ("save", "clip_keep", "clip_read", "store_open"):
        p, locked = result[f"{name}_plaintext"], result[f"{name}_locked"]
        rows.append(
            [
                name,
                f"{p['wall_ms']:.2f}",
                f"{p['cpu_ms']:.2f}",
                f"{locked['wall_ms']:.2f}",
                f"{locked['cpu_ms']:.2f}",
            ]
        )
    for name in ("seal_10s_clip", "open_10s_clip", "convert_300_sessions_30_clips"):
        r = result[name]
        rows.append([name, "-", "-", f"{r['wall_ms']:.2f}", f"{r['cpu_ms']:.2f}"])
    print_table(
        rows,
        ["median per call", "plain wall ms", "plain cpu ms", "locked wall ms", "locked cpu ms"],
    )
    print(f"machine: {result['machine']}")
    print(f"JSON: {write_json(args.out, result)}")


if __name__ == "__main__":
    main()
