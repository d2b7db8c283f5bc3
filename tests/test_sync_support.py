"""Shared builders for the sync and hub tests (no tests here).

A device is a data folder with a real :class:`RecordStore`; a hub is a home folder with a key
pair (fast Argon2id settings) and SQLite or a throw-away PostgreSQL database; a running hub is
uvicorn in a thread (fast) or in a subprocess (to be killed with SIGKILL).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.records.model import Answer, CheckIn, Consent, Flag, Job, Person, SessionRecord
from assistant.records.store import RecordStore
from assistant.sync.device import Enrolment

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "correct horse battery staple"
ADMIN = "Morgan"
ADMIN_PASSWORD = "a long staff password"


# -- the device ----------------------------------------------------------------------------------


def make_wav(path: Path, seconds: float = 0.3, rate: int = 16000, seed: int | None = None) -> Path:
    """A short noisy WAV; every call gives different bytes unless *seed* repeats."""
    rnd = random.Random(seed)
    n = int(seconds * rate)
    frames = struct.pack(f"<{n}h", *(rnd.randint(-4000, 4000) for _ in range(n)))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def new_store(data_dir: Path) -> RecordStore:
    return RecordStore(data_dir, min_free_mb=0)


def person(store: RecordStore, name: str) -> Person:
    found = store.find_person(name)
    if found is not None:
        return found
    return store.add_person(name, consent=Consent(audio=True, method="button"))


def add_session(
    store: RecordStore,
    tmp: Path,
    *,
    who: str = "Sam",
    clips: int = 2,
    flag: bool = False,
    seconds: float = 0.3,
    started: datetime | None = None,
) -> SessionRecord:
    """A finished daily check-in for *who*, with *clips* kept voice answers."""
    p = person(store, who)
    started = started or datetime.now(UTC) - timedelta(minutes=random.randint(1, 10000))
    job = Job(person_id=p.id, what="Water the tomatoes", when="Tuesday", support="a_little_help")
    answers = [
        Answer(
            person_id=p.id,
            step_id=f"note{i}",
            question="What went well today?",
            transcript=f"i watered the tomatos {i}",
            confidence=0.62,
            confirmed_by="button",
        )
        for i in range(clips)
    ]
    answers.append(
        Answer(
            person_id=p.id,
            step_id="mood",
            question="How are you feeling today?",
            kind="scale",
            value="not_good" if flag else "good",
            confirmed_by="button",
        )
    )
    record = SessionRecord(
        script="daily_checkin",
        started_at=started,
        ended_at=started + timedelta(minutes=5),
        place="The garden project",
        facilitator="Jo",
        people=[Person(id=p.id, name=p.name)],
        answers=answers,
        jobs=[job],
        checkins=[
            CheckIn(person_id=p.id, mood="not_good" if flag else "good", jobs={job.id: "done"})
        ],
        flags=[Flag(person_id=p.id, kind="mood_not_good", reason=f"{who} said they feel not good.")]
        if flag
        else [],
        celebrations=[answers[0].id] if clips else [],
    )
    store.save_session(record)
    for answer in answers[:clips]:
        wav = make_wav(tmp / f"{uuid.uuid4().hex}.wav", seconds=seconds)
        assert store.keep_audio(record.id, answer.id, wav)
    store.finish_session(record.id)
    return store.get_session(record.id)


# -- the hub -------------------------------------------------------------------------------------


def make_hub_home(home: Path) -> Path:
    from assistant.hub.keys import create_keys

    create_keys(home, PASSPHRASE, kdf="minimum")
    return home


def open_hub(home: Path, db_url: str | None, **kw: Any) -> Any:
    from assistant.hub.service import Hub

    if not (home / "hub.key").exists():
        make_hub_home(home)
    return Hub(home, db_url, passphrase=PASSPHRASE, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadHub:
    """uvicorn serving a hub in a thread of this process, on 127.0.0.1."""

    def __init__(self, hub: object, port: int | None = None) -> None:
        import uvicorn

        from assistant.hub.app import create_app

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(hub),  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadHub:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


class ProcessHub:
    """``assistant hub serve`` in a subprocess, so it can be killed with SIGKILL."""

    def __init__(
        self,
        home: Path,
        db_url: str | None,
        port: int | None = None,
        *,
        args: list[str] | None = None,
        **env: str,
    ) -> None:
        self.home = home
        self.db_url = db_url
        self.args = list(args or [])
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_env = env
        self.restarts = 0

    def start(self) -> ProcessHub:
        args = [sys.executable, "-m", "assistant", "hub", "serve", "--home", str(self.home)]
        args += ["--port", str(self.port)]
        if self.db_url:
            args += ["--db", self.db_url]
        args += self.args
        env = {**os.environ, "ASSISTANT_HUB_PASSPHRASE": PASSPHRASE, **self.extra_env}
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"the hub stopped at start: {err[-2000:]}")
            try:
                if httpx.get(f"{self.url}/login", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start in time")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def enrol_device(
    hub: Any, url: str, data_dir: Path, store: RecordStore, name: str = "pi"
) -> Enrolment:
    from assistant.sync.client import enrol

    code = hub.new_code("test")
    return enrol(url, code, data_dir, device_id=store.device_id(), name=name)


# -- PostgreSQL ----------------------------------------------------------------------------------

PG_ROLE = "assistant_test"
PG_PASSWORD = "assistant_test_pw"


def _psql(sql: str) -> subprocess.CompletedProcess[str]:
    runner = (
        ["runuser", "-u", "postgres", "--"]
        if os.geteuid() == 0
        else ["sudo", "-n", "-u", "postgres"]
    )
    return subprocess.run(
        [*runner, "psql", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )


_pg_state: dict[str, str | None] = {}


def postgres_available() -> str | None:
    """None when a PostgreSQL server is ready for tests, else why not."""
    if "why" in _pg_state:
        return _pg_state["why"]
    why: str | None = None
    if shutil.which("psql") is None or shutil.which("pg_isready") is None:
        why = "PostgreSQL is not installed"
    elif subprocess.run(["pg_isready", "-q"], timeout=10).returncode != 0:
        why = "the PostgreSQL server is not running (script/start-services starts it)"
    else:
        r = _psql(
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{PG_ROLE}') THEN "
            f"CREATE ROLE {PG_ROLE} LOGIN CREATEDB PASSWORD '{PG_PASSWORD}'; END IF; END$$;"
        )
        if r.returncode != 0:
            why = f"cannot make a PostgreSQL role: {r.stderr.strip()[:200]}"
    _pg_state["why"] = why
    return why


def pg_create_db() -> str:
    name = f"hubtest_{uuid.uuid4().hex[:12]}"
    r = _psql(f"CREATE DATABASE {name} OWNER {PG_ROLE}")
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return name


def pg_drop_db(name: str) -> None:
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://{PG_ROLE}:{PG_PASSWORD}@127.0.0.1:5432/{name}"


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the hub home) or a fresh PostgreSQL database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    why = postgres_available()
    if why:
        pytest.skip(why)
    name = pg_create_db()
    try:
        yield pg_url(name)
    finally:
        pg_drop_db(name)


@dataclass
class HubContents:
    sessions: list[str]
    clips: set[str]
    per: dict[str, int]


def hub_contents(hub: Any) -> HubContents:
    """Sessions (id -> count) and clips on the hub, read straight from its database."""
    from sqlalchemy import func, select

    from assistant.hub import db

    with hub.tx() as s:
        ids = list(s.scalars(select(db.Session.id)))
        clips = set(s.scalars(select(db.Blob.sha256)))
        rows = s.execute(select(db.Session.id, func.count()).group_by(db.Session.id)).all()
    return HubContents(ids, clips, {str(r[0]): int(r[1]) for r in rows})


def device_config(
    path: Path, data_dir: Path, *, max_attempts: int = 4, timeout_s: float = 5
) -> Path:
    """A config file pointing the ``assistant`` command at *data_dir*."""
    path.write_text(
        f'[records]\ndata_dir = "{data_dir}"\nmin_free_mb = 0\n\n'
        f"[sync]\nmax_attempts = {max_attempts}\ntimeout_s = {timeout_s}\n"
    )
    return path


def run_cli(config: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """``python -m assistant --config CONFIG ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", "--config", str(config), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
