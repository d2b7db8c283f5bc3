"""One charity at scale: many devices and thousands of people on one hub (run by bench_sync.py).

The hub is ``assistant hub serve`` in its own process, as deployed. Every device is real: its
own data folder and record store, enrolled with a one-time code over HTTP, its sessions sealed
and signed, its updates opened and applied in one transaction. The people and their plans are
put straight into the hub's database before timing (``--people`` people, each at one place and
one in five at a second; two jobs each with two status updates), as a year's use would leave
them. What is timed, for every device in turn:

* ``first``: the device's first contact: it receives its people and their jobs (``assistant
  sync``: push, then pull scripts, then pull people and jobs).
* ``day``: a day's exchange: two check-ins about its people (one clip of 1 s each) go up, and
  the people and jobs come down again.
* ``week``: one device away for a week while its people's jobs got seven days of updates from
  the other places: its pull (bytes and time).

Reported per device (median, 95th percentile, slowest), in total, with the processor seconds of
the hub process and of the devices (this process), and the hub's peak memory (VmHWM).
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.test_sync_support import ProcessHub, add_session, enrol_device, new_store, open_hub

JOBS_PER_PERSON = 2
EVENTS_PER_JOB = 2


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_mem_mb(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _per_device(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "median_s": statistics.median(ordered),
        "p95_s": ordered[max(0, int(round(0.95 * len(ordered))) - 1)],
        "max_s": ordered[-1],
        "total_s": sum(ordered),
    }


def _seed(hub: Any, device_ids: list[str], people: int) -> dict[str, list[str]]:
    """People, links, assignments, jobs and events straight into the hub's database. Returns
    device id -> the names of the people it holds."""
    from assistant.hub import db
    from assistant.records.model import Consent, Job

    now = datetime.now(UTC)
    agreed = Consent(audio=True, method="button", at=now - timedelta(days=30)).model_dump_json()
    names: dict[str, list[str]] = {d: [] for d in device_ids}
    with hub.tx() as s:
        for i in range(people):
            home = device_ids[i % len(device_ids)]
            pid, name = str(uuid.uuid4()), f"Person {i:05d}"
            s.add(
                db.Person(id=pid, name=name, last_seen_at=now, device_id=home, consent_json=agreed)
            )
            places = [home]
            if i % 5 == 0:  # one in five belongs to a second place too
                places.append(device_ids[(i + 1) % len(device_ids)])
            for d in places:
                s.add(db.PersonLink(device_id=d, local_id=pid, person_id=pid, local_name=None))
                s.add(db.PersonDevice(person_id=pid, device_id=d, assigned_by="bench"))
                names[d].append(name)
            for j in range(JOBS_PER_PERSON):
                job = Job(person_id=pid, what=f"job {j} of {name}", when="Tuesday")
                s.add(
                    db.HubJob(
                        id=job.id,
                        person_id=pid,
                        device_id=home,
                        session_id=str(uuid.uuid4()),
                        data=job.model_dump_json(exclude={"history"}),
                        status="planned",
                        updated_at=now,
                    )
                )
                for e in range(EVENTS_PER_JOB):
                    s.add(
                        db.HubJobEvent(
                            job_id=job.id,
                            status="planned" if e == 0 else "not_yet",
                            at=(now - timedelta(days=30 - e)).isoformat(),
                            session_id="seed",
                        )
                    )
            if i % 500 == 499:
                s.flush()
    return names


def _week_away(hub: Any, device_id: str) -> int:
    """Seven days of updates, from other places, to every job of the device's people."""
    from sqlalchemy import select

    from assistant.hub import db

    now = datetime.now(UTC)
    added = 0
    with hub.tx() as s:
        people = list(
            s.scalars(
                select(db.PersonDevice.person_id).where(db.PersonDevice.device_id == device_id)
            )
        )
        jobs = list(s.scalars(select(db.HubJob.id).where(db.HubJob.person_id.in_(people))))
        for job_id in jobs:
            for day in range(7):
                s.add(
                    db.HubJobEvent(
                        job_id=job_id,
                        status="done" if day % 2 else "sometimes",
                        at=(now - timedelta(days=7 - day)).isoformat(),
                        session_id="elsewhere",
                    )
                )
                added += 1
    return added


def charity_scale(db_url: str | None, devices: int, people: int, tmp: Path) -> dict[str, Any]:
    from assistant.config import Settings
    from assistant.sync.client import push
    from assistant.sync.scripts import pull_scripts
    from assistant.sync.updates import pull_updates

    hub = open_hub(tmp / "hub", db_url)
    server = ProcessHub(hub.home, db_url).start()
    assert server.proc is not None
    pid = server.proc.pid
    folders: list[Path] = []
    ids: list[str] = []
    try:
        started = time.perf_counter()
        for d in range(devices):
            data = tmp / f"dev{d:03d}"
            store = new_store(data)
            ids.append(enrol_device(hub, server.url, data, store, name=f"place {d}").device_id)
            store.close()
            folders.append(data)
        enrol_s = time.perf_counter() - started
        started = time.perf_counter()
        names = _seed(hub, ids, people)
        seed_s = time.perf_counter() - started

        def settings(data: Path) -> Settings:
            return Settings.model_validate(
                {"records": {"data_dir": str(data), "min_free_mb": 0}, "sync": {"max_attempts": 2}}
            )

        def exchange(data: Path) -> tuple[float, float, Any]:
            store = new_store(data)
            try:
                wall, cpu = time.perf_counter(), time.process_time()
                push(store, data, timeout_s=60)
                pull_scripts(settings(data))
                got = pull_updates(settings(data), store)
                return time.perf_counter() - wall, time.process_time() - cpu, got
            finally:
                store.close()

        phases: dict[str, Any] = {}
        received = []
        for phase in ("first", "day"):
            hub_cpu0, dev_cpu = _proc_cpu_s(pid), 0.0
            times = []
            for d, data in enumerate(folders):
                if phase == "day":  # two check-ins about its people: built, not timed
                    store = new_store(data)
                    for who in names[ids[d]][:2]:
                        add_session(store, tmp, who=who, clips=1, seconds=1.0)
                    store.close()
                wall, cpu, got = exchange(data)
                assert not got.problems, got.problems
                times.append(wall)
                dev_cpu += cpu
                if phase == "first":
                    received.append((got.people_added, got.jobs_received))
            phases[phase] = _per_device(times) | {
                "hub_cpu_s": _proc_cpu_s(pid) - hub_cpu0,
                "devices_cpu_s": dev_cpu,
            }
        assert all(p == len(names[i]) for (p, _j), i in zip(received, ids, strict=True))

        from assistant.hub.people import updates_for

        events = _week_away(hub, ids[0])
        size = len(updates_for(hub, ids[0]))
        wall, cpu, got = exchange(folders[0])
        phases["week"] = {
            "events_added": events,
            "update_bytes": size,
            "people": len(names[ids[0]]),
            "jobs": got.jobs_received,
            "seconds": wall,
            "device_cpu_s": cpu,
        }
        memory = _proc_mem_mb(pid)
    finally:
        server.stop()
        hub.close()
    people_per_device = [len(v) for v in names.values()]
    return {
        "devices": devices,
        "people": people,
        "people_per_device": statistics.mean(people_per_device),
        "jobs": people * JOBS_PER_PERSON,
        "enrol_s": enrol_s,
        "seed_s": seed_s,
        "first_received": {"people": received[0][0], "jobs": received[0][1]},
        **phases,
        "hub_memory_mb": memory,
    }
