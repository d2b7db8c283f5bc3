"""The prompt cache is filled ahead (issue 18): after warming, a session's prompts are all
cache hits, so no prompt is synthesised while a person waits."""

from __future__ import annotations

from pathlib import Path

import pytest
from dialogue_driver import Conversation

from assistant.config import Settings
from assistant.core.events import Say, SetLights
from assistant.dialogue import prompts as P
from assistant.dialogue.script import builtin_scripts, load_script
from assistant.voice.cache import CachedVoice
from assistant.voice.fake import FakeVoice
from assistant.voice.warm import (
    installed_prompts,
    pick,
    script_prompts,
    warm_in_background,
    warm_prompts,
)


def _session_prompts(name: str, seed: int, presses: list[str]) -> list[str]:
    talk = Conversation(name, people=["Sam"], seed=seed)
    for _ in range(400):
        talk.settle()
        if talk.ended or talk.engine.finished:
            break
        lights = [a for a in talk.actions if isinstance(a, SetLights)]
        lit = frozenset(lights[-1].buttons) if lights else frozenset()
        talk.press(pick(presses[talk.clips % len(presses)], lit))
        talk.clips += 1
    assert talk.ended or talk.engine.finished, talk.log[-6:]
    return [a.text for a in talk.actions if isinstance(a, Say)]


@pytest.mark.parametrize(
    "name",
    [
        n if n == "daily-checkin" else pytest.param(n, marks=pytest.mark.slow)
        for n in builtin_scripts()
    ],
)
def test_after_warming_a_sessions_prompts_are_all_cache_hits(tmp_path: Path, name: str) -> None:
    fake = FakeVoice()
    cached = CachedVoice(fake, tmp_path / "prompts")
    people = Conversation(name, people=["Sam"], start=False).people
    made = warm_prompts(cached, script_prompts(load_script(name), people))
    assert made > 0 and len(fake.calls) == made  # each synthesised once
    assert warm_prompts(cached, script_prompts(load_script(name), people)) == 0  # all there
    calls = len(fake.calls)
    newcomers = 0
    # sessions with seeds and ways through that warming did not use
    for seed, presses in ((1000, ["yes"]), (1001, ["no", "yes"]), (1002, ["next", "yes", "no"])):
        for text in _session_prompts(name, seed, presses):
            assert list(cached.synthesize(text)), text
            if P.NEW_PERSON in text.lower():
                # a newcomer is named only when they join ("the new person 3", or the name
                # they say): like a read-back, made when first said; never warmed
                newcomers += 1
                continue
    made_now = [c for c in fake.calls[calls:] if P.NEW_PERSON not in c.lower()]
    assert made_now == [], made_now  # not one synthesis but for newcomers: all cache hits
    assert len(fake.calls) - calls <= newcomers
    assert cached.misses == made + len(fake.calls) - calls and cached.hits > 0


def test_installed_prompts_cover_the_roster_and_warm_in_the_background(tmp_path: Path) -> None:
    from assistant.records.store import RecordStore

    settings = Settings.model_validate({"records": {"data_dir": str(tmp_path / "data")}})
    store = RecordStore(settings.data_dir, min_free_mb=0)
    store.add_person("Priya")
    store.close()
    texts = installed_prompts(settings)
    assert any("Priya" in t for t in texts)
    fake = FakeVoice()
    cached = CachedVoice(fake, tmp_path / "prompts")
    busy = [True, True, False]  # a session is under way at first: warming waits
    thread = warm_in_background(cached, lambda: texts[:5], lambda: busy.pop(0) if busy else False)
    thread.join(30)
    assert not thread.is_alive()
    assert len(fake.calls) == len(set(texts[:5])) and all(t in cached for t in texts[:5])
