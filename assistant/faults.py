"""Named fault points: the one way to make the program fail at a chosen step, for tests.

Every step where a crash matters calls :func:`fault_point` with its name (:data:`POINTS` lists
them all: the record store's write boundaries, sync's steps, the hub's commit). Normally nothing
happens (one dict lookup and one environment lookup). A fault is set in one of two ways:

* **From a test, in this process**::

      with faults.injected("save_before_commit", handler):   # handler(name) runs there
          store.save_session(record)

  or :func:`set_fault` / :func:`clear` (a child process the test starts can call them too).
  With no handler the process is killed there (:func:`kill`).

* **From the environment**, for a process the test starts (the device's command line or the
  hub): ``ASSISTANT_FAULT=<point>`` kills the process with SIGKILL when it reaches that point
  (no clean-up runs, like a flat battery).

A name not in :data:`POINTS` is refused (a typo would otherwise test nothing).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator

__all__ = [
    "AT_REST_POINTS",
    "ENV_VAR",
    "HUB_POINTS",
    "POINTS",
    "STORE_POINTS",
    "SYNC_POINTS",
    "clear",
    "fault_point",
    "injected",
    "kill",
    "set_fault",
]

ENV_VAR = "ASSISTANT_FAULT"

STORE_POINTS = (
    "save_before_commit",
    "finish_before_commit",
    "sent_before_commit",
    "clip_mid_write",
    "clip_after_rename",
    "clip_before_commit",
    "name_clip_before_commit",
    "withdraw_before_commit",
    "retention_before_commit",
)
"""The record store's write boundaries (see :mod:`assistant.records.store`)."""

SYNC_POINTS = (
    "after_seal_clip",
    "after_seal_session",
    "after_clip_upload",
    "after_session_ack",
    "after_store_mark_sent",
    "after_export_file",
)
"""The device's sync steps, in the order a push or an export meets them."""

HUB_POINTS = ("hub_after_session_commit",)

AT_REST_POINTS = (
    "encrypt_after_export",
    "encrypt_after_link",
    "encrypt_after_swap",
    "encrypt_mid_wipe",
    "seal_clip_after_write",
)
"""Locking a plaintext device's records the first time (:mod:`assistant.records.encrypt`)."""

POINTS = frozenset(STORE_POINTS + SYNC_POINTS + HUB_POINTS + AT_REST_POINTS)

Handler = Callable[[str], None]

_handlers: dict[str, Handler] = {}


def kill(name: str = "") -> None:
    """Die at once, as a flat battery would: SIGKILL to this process."""
    os.kill(os.getpid(), signal.SIGKILL)


def _known(name: str) -> str:
    if name not in POINTS:
        raise ValueError(f"There is no fault point called {name!r}.")
    return name


def set_fault(name: str, handler: Handler | None = None) -> None:
    """Run *handler* (given the point's name) whenever *name* is reached; None kills."""
    _handlers[_known(name)] = handler or kill


def clear(name: str | None = None) -> None:
    """Remove the fault at *name* (or every fault set by :func:`set_fault`)."""
    if name is None:
        _handlers.clear()
    else:
        _handlers.pop(_known(name), None)


@contextlib.contextmanager
def injected(name: str, handler: Handler | None = None) -> Iterator[None]:
    """A fault at *name* for the length of the ``with`` block."""
    set_fault(name, handler)
    try:
        yield
    finally:
        clear(name)


def fault_point(name: str) -> None:
    """The program has reached the step *name*: fail here if a fault is set for it."""
    handler = _handlers.get(name)
    if handler is not None:
        handler(name)
    elif os.environ.get(ENV_VAR) == name:
        kill(name)
