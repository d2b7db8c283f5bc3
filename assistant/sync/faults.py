"""Fault injection points for the sync tests: the device "dies" at a named step.

Set ``ASSISTANT_SYNC_CRASH_AT`` to a step name (in the device's or the hub's environment)
and the process kills itself with SIGKILL when it reaches that step (no clean-up runs, like a
flat battery). Unset, each point is one dict lookup.
"""

from __future__ import annotations

import os
import signal

STEPS = (
    "after_seal_clip",
    "after_seal_session",
    "after_clip_upload",
    "after_session_ack",
    "after_store_mark_sent",
    "after_export_file",
)
HUB_STEPS = ("hub_after_session_commit",)


def crash_point(step: str) -> None:
    if os.environ.get("ASSISTANT_SYNC_CRASH_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)
