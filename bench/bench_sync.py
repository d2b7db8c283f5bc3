"""Sync benchmark: sessions per second accepted by the hub, and a day's sync from one device.

    python bench/bench_sync.py [--devices 4] [--sessions 25] [--runs 3]
                               [--fleet 200] [--people 5000] [--out FILE]

The hub runs as ``assistant hub serve`` in its own process on 127.0.0.1 (SQLite, and PostgreSQL
when a server is running), exactly as deployed. Devices are real record stores with real WAV
clips; building them is not timed.

* ``hub_sessions_per_s``: several devices push at once (threads, one HTTP client each); each
  session is a daily check-in with 2 clips of 2 s (16 kHz mono, 64 KB each), so every session
  is 3 uploads (2 clips then the record). Sessions stored per second of wall time.
* ``day_sync_s``: one device with a day's records (10 sessions, 3 clips of 5 s each) pushes
  everything: sealing, uploading, acknowledgements, marking sent. Median of ``--runs``.
* ``scale``: one charity, ``--fleet`` devices and ``--people`` people on one hub: each
  device's first contact, a day's exchange (sessions up, people and jobs down) and what a
  device receives after a week away; per device and in total, processor seconds of the hub
  and the devices, the hub's peak memory (``bench/sync_scale.py``). ``--fleet 0`` skips it.

Prints a table and writes JSON (default ``bench/results/sync.json``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import RESULTS, machine, print_table, write_json  # noqa: E402
from bench.sync_scale import charity_scale  # noqa: E402
from tests.test_sync_support import (  # noqa: E402
    ProcessHub,
    add_session,
    enrol_device,
    hub_contents,
    new_store,
    open_hub,
    pg_create_db,
    pg_drop_db,
    pg_url,
    postgres_available,
)


def hub_throughput(db_url: str | None, devices: int, sessions: int, tmp: Path) -> dict[str, Any]:
    from assistant.sync.client import push

    hub = open_hub(tmp / "hub", db_url)
    server = ProcessHub(hub.home, db_url).start()
    try:
        fleet = []
        for d in range(devices):
            data = tmp / f"dev{d}"
            store = new_store(data)
            for i in range(sessions):
                add_session(store, tmp, who=f"Person {d}-{i % 4}", clips=2, seconds=2.0)
            enrol_device(hub, server.url, data, store, name=f"bench {d}")
            fleet.append((data, store))
        started = time.perf_counter()
        with ThreadPoolExecutor(devices) as pool:
            reports = list(pool.map(lambda dev: push(dev[1], dev[0], timeout_s=60), fleet))
        took = time.perf_counter() - started
    finally:
        server.stop()
    total = devices * sessions
    got = hub_contents(hub)
    hub.close()
    assert sum(len(r.sent) for r in reports) == total and len(got.sessions) == total
    return {
        "devices": devices,
        "sessions": total,
        "clips": len(got.clips),
        "seconds": took,
        "sessions_per_s": total / took,
        "uploads_per_s": (total + len(got.clips)) / took,
    }


def day_sync(db_url: str | None, runs: int, tmp: Path) -> dict[str, Any]:
    from assistant.sync.client import push

    hub = open_hub(tmp / "hub", db_url)
    server = ProcessHub(hub.home, db_url).start()
    times = []
    try:
        for run in range(runs):
            data = tmp / f"day{run}"
            store = new_store(data)
            for _ in range(10):
                add_session(store, tmp, clips=3, seconds=5.0)
            enrol_device(hub, server.url, data, store, name=f"day {run}")
            started = time.perf_counter()
            report = push(store, data)
            times.append(time.perf_counter() - started)
            assert len(report.sent) == 10
    finally:
        server.stop()
        hub.close()
    return {"sessions": 10, "clips": 30, "runs": times, "median_s": statistics.median(times)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=25, help="per device")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fleet", type=int, default=200, help="devices at scale (0: skip)")
    parser.add_argument("--people", type=int, default=5000, help="people at scale")
    parser.add_argument("--out", type=Path, default=RESULTS / "sync.json")
    args = parser.parse_args()

    backends: list[tuple[str, str | None]] = [("sqlite", None)]
    why = postgres_available()
    pg_name = None
    if why is None:
        pg_name = pg_create_db()
        backends.append(("postgresql", pg_url(pg_name)))
    else:
        print(f"PostgreSQL skipped: {why}")
    results: dict[str, Any] = {"machine": machine(), "backends": {}}
    try:
        for name, url in backends:
            with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
                if url and pg_name:  # a fresh database for each part
                    pg_drop_db(pg_name)
                    pg_name = pg_create_db()
                    url = pg_url(pg_name)
                load = hub_throughput(url, args.devices, args.sessions, Path(a))
                if url and pg_name:
                    pg_drop_db(pg_name)
                    pg_name = pg_create_db()
                    url = pg_url(pg_name)
                day = day_sync(url, args.runs, Path(b))
            results["backends"][name] = {"hub": load, "day": day}
            if args.fleet:
                with tempfile.TemporaryDirectory() as c:
                    if url and pg_name:
                        pg_drop_db(pg_name)
                        pg_name = pg_create_db()
                        url = pg_url(pg_name)
                    scale = charity_scale(url, args.fleet, args.people, Path(c))
                results["backends"][name]["scale"] = scale
    finally:
        if pg_name:
            pg_drop_db(pg_name)
    rows = []
    for name, r in results["backends"].items():
        rows.append(
            [
                name,
                f"{r['hub']['sessions']} ({r['hub']['devices']} devices)",
                f"{r['hub']['sessions_per_s']:.1f}",
                f"{r['hub']['uploads_per_s']:.1f}",
                f"{r['day']['median_s']:.2f}",
            ]
        )
    print_table(
        rows,
        ["hub db", "sessions pushed", "sessions/s", "uploads/s", "day's sync s (10 sessions)"],
    )
    scaled = [(n, r["scale"]) for n, r in results["backends"].items() if "scale" in r]
    if scaled:
        rows = []
        for name, r in scaled:
            for phase in ("first", "day"):
                p = r[phase]
                rows.append(
                    [
                        name,
                        phase,
                        f"{p['median_s'] * 1000:.0f}",
                        f"{p['p95_s'] * 1000:.0f}",
                        f"{p['max_s'] * 1000:.0f}",
                        f"{p['total_s']:.1f}",
                        f"{p['hub_cpu_s']:.1f}",
                        f"{p['devices_cpu_s']:.1f}",
                    ]
                )
        print(
            f"\nOne hub, {scaled[0][1]['devices']} devices, {scaled[0][1]['people']} people "
            f"({scaled[0][1]['people_per_device']:.0f} per device, {scaled[0][1]['jobs']} jobs), "
            "each device in turn:"
        )
        print_table(
            rows,
            [
                "hub db",
                "exchange",
                "median ms",
                "p95 ms",
                "max ms",
                "total s",
                "hub cpu s",
                "devices cpu s",
            ],
        )
        print_table(
            [
                [
                    name,
                    f"{r['week']['events_added']} updates, {r['week']['people']} people",
                    f"{r['week']['update_bytes'] / 1024:.0f}",
                    f"{r['week']['seconds'] * 1000:.0f}",
                    f"{r['hub_memory_mb']['VmHWM']:.0f}",
                ]
                for name, r in scaled
            ],
            ["hub db", "a week away", "update KiB", "exchange ms", "hub peak MB"],
        )
    print(f"wrote {write_json(args.out, results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
