"""Confirmed short answers add to a taught person's examples (issue 15).

The engine keeps, at the end of a session, the audio of each short answer of a taught person
that stood: decided by the general recogniser (alone or with their words) and not undone, or
decided by their words alone and confirmed at a read-back by button. The store checks the
words consent and the sound as for teaching, and bounds them per word (the oldest confirmed
example goes first; a taught one never)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import speech_samples as ss
from dialogue_driver import Conversation

from assistant.dialogue.events import End, KeepWordExample
from assistant.dialogue.schema import Confirm
from assistant.dialogue.script import Script, load_script
from assistant.records.store import RecordStore
from assistant.records.words_repo import WordProblem
from assistant.stt.personal import MAX_CONFIRMED, MAX_EXAMPLES

VOICE = "espeak:en-gb-x-gbcwmd"


def _script(*steps: object) -> Script:
    base = load_script("teach-my-words")  # a one-person script: who is here, then its steps
    kept = [s for s in base.steps if s.type == "who_is_here"]
    return base.model_copy(update={"steps": [*kept, *steps]})


def _confirms(n: int) -> Script:
    return _script(*(Confirm(id=f"q{i}", type="confirm", text=f"Question {i}?") for i in range(n)))


def _start(script: Script) -> Conversation:
    talk = Conversation(script, people=["Sam"])
    talk.run(["yes"])  # who is here: Sam
    return talk


def test_answers_that_stood_are_kept_at_the_end_and_the_matchers_own_are_not() -> None:
    talk = _start(_confirms(4))
    talk.settle()
    talk.say("yes", decided_by="general")  # the matcher had no candidate: Whisper decided
    talk.settle()
    talk.say("no", decided_by="both")
    talk.settle()
    talk.say("yes", decided_by="personal")  # the matcher alone, never confirmed: not kept
    talk.settle()
    talk.say("yes")  # nothing taught (no decided_by): not a taught person's answer
    talk.settle()
    assert talk.ended
    kept = talk.of(KeepWordExample)
    assert [(k.word, k.source) for k in kept] == [("yes", "confirmed"), ("no", "confirmed")]
    assert [k.audio_path for k in kept] == ["/tmp/answer-1.wav", "/tmp/answer-2.wav"]
    assert all(k.person_id == talk.people[0].id for k in kept)
    # emitted before the end, while the turns' audio is still on the disk
    order = [type(a) for a in talk.actions]
    assert max(i for i, t in enumerate(order) if t is KeepWordExample) < order.index(End)


def test_an_undone_answer_is_not_kept_and_a_confirmed_one_of_the_matcher_is() -> None:
    # No short-answer step reads its answer back today, so the rule is checked on the log:
    # rejected at a read-back or superseded is undone; confirmed by button makes the
    # matcher's own decision stand.
    talk = _start(_confirms(4))
    for by in ("general", "both", "personal", "personal"):
        talk.settle()
        talk.say("yes", decided_by=by)
    log = talk.engine.log
    answers = [a for a in log.record.answers if a.step_id.startswith("q")]
    assert len(answers) == 4
    log.reject(answers[0])  # "no, that's not what I said"
    later = answers[1].model_copy(update={"id": "0" * 32, "supersedes": answers[1].id})
    log.record.answers.append(later)  # answered again: the first one is undone
    log.confirm(answers[2], "button")
    log.confirm(answers[3], "voice")  # a spoken yes may itself be the matcher's: not enough
    assert [k.audio_path for k in log.word_examples()] == ["/tmp/answer-3.wav"]


def say(word: str, i: int) -> np.ndarray:
    speed = (105, 120, 135, 112, 128, 98, 140, 116, 124, 102, 132, 108, 137, 118, 110)[i % 15]
    pcm = ss.pad(ss.speak(word, f"{VOICE}:{speed}"), before=0.3 + 0.05 * (i % 3), after=0.5)
    return ss.mix_noise(pcm, snr_db=30, seed=i)


def test_the_store_bounds_confirmed_examples_and_keeps_the_taught(tmp_path: Path) -> None:
    from assistant.dialogue.shell import StoreSink

    store = RecordStore(tmp_path / "data", min_free_mb=0)
    sam = store.add_person("Sam")
    w = store.words
    sink = StoreSink(store)

    def wav(i: int, pcm: np.ndarray | None = None) -> str:
        return str(ss.write_wav(tmp_path / f"yes{i}.wav", say("yes", i) if pcm is None else pcm))

    # without their words consent nothing is kept, confirmed or not
    assert not sink.keep_words(KeepWordExample(sam.id, "yes", wav(0), source="confirmed"))
    w.set_consent(sam.id, True, by="Kate")
    for i in range(3):
        w.add_example(sam.id, "yes", wav(i))  # taught
    # the same checks as teaching: silent, clipped, a duplicate are refused
    assert not sink.keep_words(
        KeepWordExample(sam.id, "yes", wav(90, ss.silence(1.0)), source="confirmed")
    )
    loud = np.clip(say("yes", 91).astype(np.int32) * 40, -32768, 32767).astype(np.int16)
    assert not sink.keep_words(KeepWordExample(sam.id, "yes", wav(91, loud), source="confirmed"))
    assert not sink.keep_words(KeepWordExample(sam.id, "yes", wav(1), source="confirmed"))
    assert w.counts(sam.id) == {"yes": 3}
    # confirmed ones up to their bound, then each new one replaces the oldest confirmed
    added = []
    for i in range(3, 3 + MAX_CONFIRMED + 2):
        assert sink.keep_words(KeepWordExample(sam.id, "yes", wav(i), source="confirmed"))
        added.append(i)
    rows = w.examples(sam.id, "yes")
    assert [r["source"] for r in rows].count("taught") == 3
    assert [r["source"] for r in rows].count("confirmed") == MAX_CONFIRMED
    assert len(rows) == 3 + MAX_CONFIRMED
    gone = [str(tmp_path / f"yes{i}.wav") for i in added[:2]]
    assert not any(w.path(r["sha256"]).exists() is False for r in rows)
    live = {r["sha256"] for r in rows}
    import hashlib

    assert all(hashlib.sha256(Path(g).read_bytes()).hexdigest() not in live for g in gone)
    # at the bound of all examples, teaching drops the oldest confirmed; never a taught one
    i = 20
    while len(w.examples(sam.id, "yes")) < MAX_EXAMPLES:
        w.add_example(sam.id, "yes", wav(i))
        i += 1
    w.add_example(sam.id, "yes", wav(i))
    rows = w.examples(sam.id, "yes")
    assert len(rows) == MAX_EXAMPLES
    assert [r["source"] for r in rows].count("confirmed") == MAX_CONFIRMED - 1
    # all taught: a confirmed answer is refused, a taught one too, with a plain sentence
    w.forget(sam.id, "yes")
    for j in range(MAX_EXAMPLES):
        w.add_example(sam.id, "yes", wav(40 + j))
    assert not sink.keep_words(KeepWordExample(sam.id, "yes", wav(60), source="confirmed"))
    with pytest.raises(WordProblem, match="the most kept"):
        w.add_example(sam.id, "yes", wav(61))
    store.close()
