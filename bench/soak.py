"""Endurance: many sessions in one process, with memory, open files and threads sampled.

    python bench/soak.py [--sessions N] [--quick] [--no-tracemalloc] [--out FILE] [--plot FILE]

Each session is a real :class:`~assistant.dialogue.engine.Engine` run by the real
:class:`~assistant.dialogue.shell.SessionShell` on a virtual clock (``run_scenario``), with fake
speech (FakeVoice behind a real on-disk :class:`~assistant.voice.cache.CachedVoice`, the scripted
recogniser), a :class:`~assistant.audio.fake.MemorySpeaker`, and one real
:class:`~assistant.records.store.RecordStore` in a temporary folder for the whole run (as on a
device). The sessions cycle through the four built-in scripts; the people are the demo's virtual
group, who now and then also press repeat or help, or stay silent for a while.

After every ``--every`` sessions (after a garbage collection) it samples the resident memory
(psutil), the Python heap (tracemalloc), open file descriptors, threads, and the files left in
the turn-audio folder and the prompt cache. Over the second half of the run it fits a straight
line to each and reports the slope per session; with ``--check`` it exits 1 when a slope is over
its bound (:data:`BOUNDS`). ``tracemalloc`` also names the lines whose memory grew most between
the middle and the end. Prints a table, writes JSON and a PNG of the samples.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, machine, plot_series, print_table, slope, write_json  # noqa: E402

SCRIPTS = ("daily-checkin", "my-goals", "review", "coproduction-group", "daily-checkin")
QUICK_SCRIPTS = ("daily-checkin", "my-goals", "review", "daily-checkin", "review")
"""The quick (CI) mode leaves out the long group session (half the run time)."""

BOUNDS: dict[str, float] = {
    "rss_bytes": 128 * 1024,
    "heap_bytes": 16 * 1024,
    "fds": 0.02,
    "threads": 0.01,
    "cache_files": 0.5,
    "turn_files": 0.5,
}
"""Largest allowed growth per session over the second half of the run (a leak of one file
descriptor every 50 sessions, or 128 KiB of resident memory a session, fails). Resident memory
is noisy over the quick run's 50 sampled sessions (SQLite's page cache and the allocator fill up
in steps: 10 to 78 KiB a session on the same code, three runs): the Python heap's bound is the
tight one, and one kept turn of audio (5 s at 16 kHz is 160 KiB) a session is still caught."""

QUICK_SESSIONS = 100
MAX_DECISIONS = 400
"""A session that needs more turns than this is stuck in a loop: the soak fails it."""


class Soaker:
    """Builds and runs the sessions; keeps the store, cache and folders for the whole run."""

    def __init__(self, root: Path, seed: int = 1, scripts: tuple[str, ...] = SCRIPTS) -> None:
        from assistant.config import Settings
        from assistant.dialogue.simulate import ScriptedRecognizer, SpeechKit
        from assistant.records.store import RecordStore
        from assistant.voice.cache import CachedVoice
        from assistant.voice.fake import FakeVoice

        self.root = root
        self.scripts = scripts
        self.settings = Settings()
        self.store = RecordStore(root / "records")
        self.turns_dir = root / "turns"
        self.cache_dir = root / "prompts"
        self.fakes = (FakeVoice(), FakeVoice())
        voice = CachedVoice(self.fakes[0], self.cache_dir, max_bytes=8 << 20)
        rec = ScriptedRecognizer()
        self.voice = voice
        self.kit = SpeechKit(
            voice=voice, speech_voice=self.fakes[1], recognisers={"short": rec, "free": rec},
            reasons=["soak: fake voice (cached on disk), scripted recogniser"],
        )  # fmt: skip
        self.rng = random.Random(seed)
        self.sessions = 0
        self.prompts = 0
        self.answers = 0
        self.unfinished = 0

    def scenario(self, n: int) -> Any:
        from assistant.dialogue.demo import PEOPLE
        from assistant.dialogue.scenario import JobEntry, RosterEntry, Scenario

        script = self.scripts[n % len(self.scripts)]
        if script == "coproduction-group":
            roster = [RosterEntry(name=p.name, consent=p.consent) for p in PEOPLE]
            return Scenario(script=script, roster=roster, facilitator="Jo", seed=n, turns=[])
        person = PEOPLE[n % len(PEOPLE)]
        jobs = [JobEntry(person=person.name, what=w) for w in ("wash up", "water the plants")]
        return Scenario(
            script=script,
            roster=[RosterEntry(name=person.name, consent=person.consent)],
            seed=n,
            turns=[],
            jobs=jobs[: n % 3],
            next_meeting="Tuesday at two" if n % 2 else None,
        )

    def run_one(self) -> None:
        from assistant.dialogue.demo import PEOPLE
        from assistant.dialogue.shell import StoreSink
        from assistant.dialogue.simulate import run_scenario

        n = self.sessions
        result = run_scenario(
            self.scenario(n),
            self.settings,
            self.kit,
            sink=StoreSink(self.store),
            audio_dir=self.turns_dir,
            people=RestlessGroup(PEOPLE, random.Random(n)),
        )
        for fake in self.fakes:
            fake.calls.clear()  # the fake's own log of what it said (a test aid) is not kept
        self.sessions += 1
        self.prompts += result.prompts
        self.answers += len(result.record.answers)
        if not result.finished or result.failures:
            self.unfinished += 1

    def close(self) -> None:
        self.store.close()


class RestlessGroup:
    """The demo's virtual people, who sometimes press repeat or help, or stay quiet for a while,
    before doing what the demo's people would do."""

    def __init__(self, people: Any, rng: random.Random) -> None:
        from assistant.dialogue.demo import VirtualGroup

        self.group = VirtualGroup(people)
        self.rng = rng
        self.decisions = 0

    def decide(self, listen: Any, said: str, name_of: Any) -> Any:
        from assistant.dialogue import prompts as P
        from assistant.dialogue.scenario import Turn
        from assistant.errors import ScenarioError

        self.decisions += 1
        if self.decisions > MAX_DECISIONS:
            raise ScenarioError(f"a soak session took more than {MAX_DECISIONS} turns")
        if said == P.BREAK:  # help twice in a row: a break; they come back (green)
            return Turn(press="yes")
        roll = self.rng.random()
        if listen is not None and roll < 0.04:
            return Turn(press="repeat")
        if listen is not None and roll < 0.06:
            return Turn(press="help")
        if roll < 0.09:
            return Turn(silence=4.0)
        return self.group.decide(listen, said, name_of)


def press_many(presses: int) -> dict[str, Any]:
    """The buttons part of a long run: gpiozero buttons on a MockFactory, pressed again and
    again (short presses, and holds of next and help), with threads and files counted."""
    import psutil
    from gpiozero.pins.mock import MockFactory, MockPWMPin

    from assistant.buttons import InputStream
    from assistant.buttons.gpio import GpioButtons, button_pins
    from assistant.config import ButtonSettings

    settings = ButtonSettings(hold_time_s=0.15)  # the 0.2 s presses are holds
    factory = MockFactory(pin_class=MockPWMPin)
    stream = InputStream()
    buttons = GpioButtons(settings, stream, pin_factory=factory)
    pins = {name: factory.pin(pin) for name, pin in button_pins(settings).items()}
    proc = psutil.Process()
    names = list(pins)
    before = {"threads": threading.active_count(), "fds": proc.num_fds()}
    delivered = 0
    rows = []
    for n in range(presses):
        pin = pins[names[n % len(names)]]
        with stream.prompt(interruptible=n % 3 == 0):  # every third press is a barge-in
            pin.drive_low()
            time.sleep(0.2 if n % 7 == 0 else 0.01)
            pin.drive_high()
            time.sleep(0.06)  # past the debounce time
        delivered += len(stream.drain())
        if n % max(1, presses // 10) == 0:
            rows.append({"press": n, "threads": threading.active_count(), "fds": proc.num_fds()})
    time.sleep(0.3)
    delivered += len(stream.drain())
    after = {"threads": threading.active_count(), "fds": proc.num_fds()}
    buttons.close()
    factory.close()
    return {
        "presses": presses,
        "delivered": delivered,
        "barge_ins": stream.barge_ins,
        "before": before,
        "after": after,
        "samples": rows,
        "ok": after["threads"] <= before["threads"] + 1 and after["fds"] <= before["fds"] + 1,
    }


def _count(folder: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(folder))
    except FileNotFoundError:
        return 0


def sample(soaker: Soaker, started: float, traced: bool) -> dict[str, float]:
    import psutil

    gc.collect()
    proc = psutil.Process()
    row: dict[str, float] = {
        "session": soaker.sessions,
        "wall_s": round(time.perf_counter() - started, 3),
        "rss_bytes": proc.memory_info().rss,
        "fds": proc.num_fds(),
        "threads": threading.active_count(),
        "os_threads": proc.num_threads(),
        "turn_files": _count(soaker.turns_dir),
        "cache_files": _count(soaker.cache_dir),
        "gc_objects": len(gc.get_objects()),
    }
    row["heap_bytes"] = tracemalloc.get_traced_memory()[0] if traced else 0
    return row


def top_growth(before: Any, after: Any, n: int = 8) -> list[dict[str, Any]]:
    stats = after.compare_to(before, "lineno")
    out = []
    for stat in stats[:n]:
        frame = stat.traceback[0]
        where = f"{os.path.relpath(frame.filename, ROOT)}:{frame.lineno}"
        out.append(
            {"where": where, "size_diff_bytes": stat.size_diff, "count_diff": stat.count_diff}
        )
    return out


def analyse(samples: list[dict[str, float]]) -> dict[str, Any]:
    """Slope per session of each measure over the second half of the samples, and the verdict."""
    half = samples[len(samples) // 2 :]
    xs = [s["session"] for s in half]
    growth: dict[str, Any] = {}
    for key, bound in BOUNDS.items():
        ys = [s[key] for s in half]
        per_session = slope(xs, ys)
        growth[key] = {
            "per_session": per_session,
            "bound_per_session": bound,
            "first": samples[0][key],
            "middle": half[0][key],
            "last": samples[-1][key],
            "ok": per_session <= bound,
        }
    return growth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_SESSIONS} sessions")
    parser.add_argument("--every", type=int, default=0, help="sample every N sessions")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--presses", type=int, default=None, help="button presses (300; quick 30)")
    parser.add_argument("--check", action="store_true", help="exit 1 if anything grows")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument(
        "--disk", dest="tmpfs", action="store_false", help="temporary folder on disk, not tmpfs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    sessions = QUICK_SESSIONS if args.quick else args.sessions
    every = args.every or max(1, sessions // 50)
    name = "soak-quick" if args.quick else "soak"
    out = args.out or RESULTS / f"{name}.json"
    plot = args.plot or out.with_suffix(".png")

    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    traced = not args.no_tracemalloc
    # tmpfs when there is one: the store's fsyncs would otherwise set the pace, not the code
    shm = Path("/dev/shm")
    base = str(shm) if args.tmpfs and shm.is_dir() and os.access(shm, os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="assistant-soak-", dir=base))
    soaker = Soaker(root, scripts=QUICK_SCRIPTS if args.quick else SCRIPTS)
    print(f"Soak: {sessions} sessions in one process, sampled every {every}; folder {root}")
    started = time.perf_counter()
    # Two sessions before the first sample: imports and first-use caches are not growth.
    for _ in range(2):
        soaker.run_one()
    if traced:
        tracemalloc.start(1)
    samples = [sample(soaker, started, traced)]
    middle_snapshot = None
    while soaker.sessions < sessions + 2:
        soaker.run_one()
        if soaker.sessions % every == 0 or soaker.sessions == sessions + 2:
            samples.append(sample(soaker, started, traced))
            if traced and middle_snapshot is None and soaker.sessions >= sessions // 2 + 2:
                middle_snapshot = tracemalloc.take_snapshot()
    wall = time.perf_counter() - started
    growth_lines: list[dict[str, Any]] = []
    if traced and middle_snapshot is not None:
        growth_lines = top_growth(middle_snapshot, tracemalloc.take_snapshot())
        tracemalloc.stop()
    soaker.close()
    presses = press_many(args.presses if args.presses is not None else (30 if args.quick else 300))
    db = root / "records"
    store_bytes = sum(f.stat().st_size for f in db.rglob("*") if f.is_file())
    growth = analyse(samples)
    checked = list(growth)
    ok = all(growth[k]["ok"] for k in checked) and soaker.unfinished == 0 and presses["ok"]
    result: dict[str, Any] = {
        "name": name,
        "sessions": soaker.sessions,
        "scripts": list(dict.fromkeys(soaker.scripts)),
        "prompts": soaker.prompts,
        "answers": soaker.answers,
        "unfinished_sessions": soaker.unfinished,
        "wall_s": wall,
        "sessions_per_s": soaker.sessions / wall if wall else 0.0,
        "tracemalloc": traced,
        "every": every,
        "samples": samples,
        "growth": growth,
        "top_growth_lines": growth_lines,
        "store_bytes_on_disk": store_bytes,
        "buttons": presses,
        "checked": checked,
        "ok": ok,
        "machine": machine(),
    }
    rows = [
        [
            key,
            f"{g['first']:.0f}",
            f"{g['last']:.0f}",
            f"{g['per_session']:.3g}",
            f"{g['bound_per_session']:.3g}",
            "ok" if g["ok"] else "GROWS",
        ]
        for key, g in growth.items()
    ]
    print_table(rows, ["measure", "first", "last", "slope/session", "bound", "verdict"])
    print(
        f"{soaker.sessions} sessions ({soaker.prompts} prompts, {soaker.answers} answers, "
        f"{soaker.unfinished} unfinished) in {wall:.1f} s; records on disk {store_bytes >> 10} KiB"
    )
    print(
        f"buttons: {presses['presses']} presses ({presses['delivered']} delivered, "
        f"{presses['barge_ins']} barge-ins): threads {presses['before']['threads']} -> "
        f"{presses['after']['threads']}, open files {presses['before']['fds']} -> "
        f"{presses['after']['fds']}"
    )
    for line in growth_lines[:5]:
        print(f"  heap growth {line['size_diff_bytes']:>+9} B  {line['where']}")
    write_json(out, result)
    series = {k: [s[k] for s in samples] for k in ("rss_bytes", "heap_bytes", "fds", "threads")}
    series["turn_files"] = [s["turn_files"] for s in samples]
    plot_series(plot, [s["session"] for s in samples], series, title=f"Soak: {name}")
    print(f"Written: {out}\nPlot:    {plot}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    if args.check and not ok:
        print("FAILED: something grows beyond its bound (or a session did not finish)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
