"""Words for staff on the hub's pages: a script's title ("Daily check-in", not "daily-checkin")
and a device's name (not its id). Registered as Jinja filters by :func:`install`."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jinja2 import Environment, pass_context


@cache
def _builtin_titles() -> dict[str, str]:
    try:
        from assistant.dialogue.script import builtin_scripts, load_script

        return {name: load_script(name).title or name for name in builtin_scripts()}
    except Exception:  # noqa: BLE001 - a hub without the dialogue's files still shows a title
        return {}


def script_title(name: str | None) -> str:
    """The built-in script's own title, else its name in words: "my_own-script" -> "My own
    script"."""
    if not name:
        return ""
    titles = _builtin_titles()
    known = titles.get(name) or titles.get(re.sub(r"[_ ]+", "-", name.strip().lower()))
    if known:
        return known
    words = re.sub(r"[-_]+", " ", name).strip()
    return words[:1].upper() + words[1:]


@pass_context
def device_name(context: Any, device_id: str | None) -> str:
    """The name the device was enrolled with; its short id only if the hub does not know it."""
    if not device_id:
        return ""
    from assistant.hub import db

    request = context.get("request")
    hub = getattr(getattr(getattr(request, "app", None), "state", None), "hub", None)
    if hub is not None:
        with hub.tx() as s:
            row = s.get(db.Device, device_id)
            if row is not None:
                return str(row.name)
    return f"device {device_id[:8]}"


@pass_context
def actor_name(context: Any, actor: str | None) -> str:
    """An audit row's actor: a device ("device:<id>") by its name, staff as they are."""
    if actor and actor.startswith("device:"):
        return f"device {device_name(context, actor.split(':', 1)[1])}".replace(
            "device device ", "device "
        )
    return actor or ""


def install(env: Environment) -> None:
    env.filters["script_title"] = script_title
    env.filters["device_name"] = device_name
    env.filters["actor_name"] = actor_name
