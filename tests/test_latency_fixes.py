"""Latency fixes of docs/performance.md in the Whisper engine: an encoder window fitted to the
audio (an option: it loses accuracy, so not the default) and partial results from a short-role
stream, so a yes/no turn ends early."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.audio.fake import ArrayMicrophone
from assistant.audio.turn import record_turn
from assistant.stt.whisper import FULL_WINDOW, MIN_WINDOW, WhisperRecognizer, encoder_window
from assistant.words import SHORT_ANSWERS, ShortAnswer

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

R = 16_000
ALL: list[ShortAnswer] = list(SHORT_ANSWERS)


# -- the encoder window --------------------------------------------------------------------


def test_encoder_window_fits_the_audio_within_bounds() -> None:
    assert encoder_window(150) == MIN_WINDOW  # a 1.5 s answer: the smallest window
    assert encoder_window(1950) == 2100  # rounded up to a whole second, plus one second
    assert encoder_window(2000) == 2100
    assert encoder_window(2950) == FULL_WINDOW  # never more than Whisper's 30 s
    assert encoder_window(150, minimum=FULL_WINDOW) == FULL_WINDOW
    assert encoder_window(150, minimum=1000) == 1000


# -- Whisper: the fitted window and partial results ----------------------------------------


@pytest.fixture(scope="module")
def whisper() -> WhisperRecognizer:
    rec = WhisperRecognizer(min_confidence=0.5)
    rec.load()
    return rec


class _EncodeSpy:
    """Wraps the model's encode to note the window (mel frames) of every encoding."""

    def __init__(self, rec: WhisperRecognizer) -> None:
        self.model = rec._get_model()
        self.inner = self.model.encode
        self.windows: list[int] = []

    def __call__(self, features: np.ndarray) -> Any:
        self.windows.append(int(features.shape[-1]))
        return self.inner(features)

    def __enter__(self) -> _EncodeSpy:
        self.model.encode = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.model.encode = self.inner


@pytest.mark.slow
def test_windows_fit_the_audio_and_answers_are_still_heard(whisper: WhisperRecognizer) -> None:
    fitted = WhisperRecognizer(min_confidence=0.5, short_window=MIN_WINDOW, free_window=MIN_WINDOW)
    fitted._model = whisper._get_model()  # one model for both
    for said in ("yes", "no", "next"):
        pcm = ss.pad(ss.speak(said))
        with _EncodeSpy(whisper) as spy:
            tr = fitted.transcribe(pcm, ALL)
        assert tr.answer == said, f"{said!r} heard as {tr.text!r}"
        assert spy.windows == [MIN_WINDOW] and MIN_WINDOW < FULL_WINDOW  # 15 s, not 30 s
    sentence = "I want to grow vegetables in the garden."
    with _EncodeSpy(whisper) as spy:
        free = fitted.transcribe(ss.pad(ss.speak(sentence)))
        whole = whisper.transcribe(ss.pad(ss.speak(sentence)))
    assert spy.windows == [MIN_WINDOW, FULL_WINDOW]  # the default keeps Whisper's 30 s
    assert "vegetables in the garden" in free.text.lower()
    assert "vegetables in the garden" in whole.text.lower()


def _feed(stream: Any, pcm: np.ndarray, block: int = 480) -> list[tuple[float, str]]:
    """Feed *pcm* in 30 ms blocks; the partials with the audio time they came at."""
    partials = []
    for i in range(0, len(pcm), block):
        text = stream.accept(pcm[i : i + block])
        stream.settle()  # as in real time: a decoding ends while the next audio comes in
        if text is not None:
            partials.append(((i + block) / R, text))
    return partials


def _count_calls(monkeypatch: pytest.MonkeyPatch, obj: Any, name: str) -> list[int]:
    """Wrap ``obj.name`` (put back after the test) so that each call adds to the list."""
    calls: list[int] = []
    inner = getattr(obj, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return inner(*args, **kwargs)

    monkeypatch.setattr(obj, name, counted)
    return calls


def _speech_end(pcm: np.ndarray) -> float:
    return ss.sound_bounds(pcm)[1] / R


@pytest.mark.slow
def test_a_short_stream_gives_a_partial_after_speech_and_a_pause(
    whisper: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    yes = ss.speak("yes")
    pcm = np.concatenate([ss.silence(0.3), yes, ss.silence(1.0)])
    stream = whisper.start(ALL)
    partials = _feed(stream, pcm)
    assert len(partials) == 1 and stream.partials == 1
    at, text = partials[0]
    assert text.strip(" .!").lower() == "yes"
    end = 0.3 + _speech_end(yes)
    assert 0.2 <= at - end <= 0.5  # about 0.25 s of quiet after the speech
    decoded = _count_calls(monkeypatch, whisper, "transcribe")
    final = stream.result()
    assert not decoded  # nothing was said after the partial: its decoding is reused
    assert final.answer == "yes" and final.audio_s == pytest.approx(len(pcm) / R)


@pytest.mark.slow
def test_speech_after_a_partial_withdraws_it(whisper: WhisperRecognizer) -> None:
    first, rest = ss.speak("yes", "piper-steady"), ss.speak("I like the bus.", "piper-steady")
    pcm = np.concatenate([ss.silence(0.3), first, ss.silence(0.6), rest, ss.silence(1.0)])
    stream = whisper.start(ALL)
    texts = [t for _, t in _feed(stream, pcm)]
    assert texts[0].strip(" .!").lower() == "yes"
    assert "" in texts[1:]  # the person went on: the "yes" no longer stands
    final = stream.result()
    assert "bus" in final.text.lower()  # the whole answer, decoded again
    assert final.answer is None  # a sentence that starts with "yes" is not the answer "yes"


@pytest.mark.slow
@pytest.mark.parametrize(
    "said", ["Yes, I like the bus.", "No, I want to go out.", "Next week I go to town."]
)
@pytest.mark.parametrize("voice", ["piper-steady", "espeak"])
def test_a_sentence_that_starts_with_an_answer_is_not_that_answer(
    whisper: WhisperRecognizer, said: str, voice: str
) -> None:
    tr = whisper.transcribe(ss.pad(ss.speak(said, voice)), ALL)
    assert tr.answer is None, f"{said!r} ({voice}) taken as {tr.answer!r}: {tr.text!r}"
    assert not whisper.last_detail.get("verified")  # the second look did not take a prefix


@pytest.mark.slow
def test_the_free_role_and_a_disabled_partial_give_no_partials(
    whisper: WhisperRecognizer,
) -> None:
    pcm = np.concatenate([ss.silence(0.3), ss.speak("yes"), ss.silence(1.0)])
    assert _feed(whisper.start(None), pcm) == []
    off = WhisperRecognizer(partial_quiet_s=None)
    off._model = whisper._get_model()
    assert _feed(off.start(ALL), pcm) == []


def _turn(
    whisper: WhisperRecognizer,
    clip: np.ndarray,
    allowed: list[ShortAnswer],
    phrases: tuple[str, ...] = (),
) -> Any:
    mic = ArrayMicrophone(np.concatenate([ss.silence(0.5), clip, ss.silence(3.0)]))
    mic.start()
    return record_turn(
        mic,
        wait_for_speech_s=5,
        trailing_silence_s=0.7,
        max_answer_s=30,
        stream=whisper.start(allowed, phrases=phrases),
        allowed=allowed,
        phrases=phrases,
    )


SCALE = ("I like that", "not sure", "I don't like that")


@pytest.mark.slow
def test_a_phrase_of_the_question_ends_the_turn_early_too(whisper: WhisperRecognizer) -> None:
    turn = _turn(whisper, ss.speak("I like that.", "piper-steady"), ALL, SCALE)
    assert turn.ended_by == "early_stop" and turn.early_answer is None
    assert turn.transcript is not None and turn.transcript.answer is None
    assert turn.transcript.text.strip(" .!").lower() == "i like that"
    other = _turn(whisper, ss.speak("I like the bus.", "piper-steady"), ALL, SCALE)
    assert other.ended_by == "silence"  # not one of the phrases: the whole window


@pytest.mark.slow
@pytest.mark.parametrize("said", ["yes", "no", "next"])
def test_record_turn_ends_early_on_a_whisper_partial(
    whisper: WhisperRecognizer, said: ShortAnswer
) -> None:
    clip = ss.speak(said)
    turn = _turn(whisper, clip, ALL)
    assert turn.ended_by == "early_stop" and turn.early_answer == said
    window = turn.listened_s - (0.5 + _speech_end(clip))
    assert window < 0.55  # sooner than the 0.7 s trailing silence (about 0.3 s)
    assert turn.transcript is not None and turn.transcript.answer == said
    assert turn.timings["finalize_s"] < 0.05  # the partial's decoding was reused


@pytest.mark.slow
def test_a_sentence_with_an_answer_word_does_not_end_early(whisper: WhisperRecognizer) -> None:
    turn = _turn(whisper, ss.speak("See you next time."), ["yes", "no", "next"])
    assert turn.ended_by == "silence" and turn.early_answer is None
    assert turn.transcript is not None and turn.transcript.answer is None


@pytest.mark.slow
def test_an_unsure_partial_names_no_answer(whisper: WhisperRecognizer) -> None:
    strict = WhisperRecognizer(min_confidence=0.99)  # nothing is sure enough
    strict._model = whisper._get_model()
    pcm = np.concatenate([ss.silence(0.3), ss.speak("yes"), ss.silence(1.0)])
    stream = strict.start(ALL)
    partials = _feed(stream, pcm)
    assert stream.partials == 1 and [t for _, t in partials] == [""]  # not "Yes."
    final = stream.result()  # decoded again in full and judged at the bar (1.0 >= 0.99)
    assert final.text.strip(" .!").lower() == "yes" and final.compute_s > 0


# -- decoding ahead, on the worker thread ----------------------------------------------------


class _Recorded:
    """Wraps a recogniser's ``decode_later`` to note the audio each decoding was given."""

    def __init__(self, rec: WhisperRecognizer, hold: Any = None) -> None:
        self.rec = rec
        self.inner = rec.decode_later
        self.lengths: list[int] = []
        self.hold = hold  # a threading.Event the decoding waits for, if given
        self.pool = ThreadPoolExecutor(1)

    def __call__(self, pcm: np.ndarray, allowed: Any, *rest: Any) -> Any:
        self.lengths.append(len(pcm))
        if self.hold is None:
            return self.inner(pcm, allowed, *rest)
        hold, transcribe = self.hold, self.rec.transcribe

        def held() -> Any:
            hold.wait(10)
            return transcribe(pcm, allowed, *rest)

        return self.pool.submit(held)  # a worker of its own that waits for the test

    def __enter__(self) -> _Recorded:
        self.rec.decode_later = self  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.rec.decode_later
        self.pool.shutdown(wait=False)


@pytest.mark.slow
def test_a_short_answer_is_decoded_early_in_the_pause_and_the_partial_comes_after_it(
    whisper: WhisperRecognizer,
) -> None:
    yes = ss.speak("yes", "piper-steady")
    pcm = np.concatenate([ss.silence(0.3), yes, ss.silence(1.0)])
    end = 0.3 + _speech_end(yes)
    with _Recorded(whisper) as rec:
        stream = whisper.start(ALL)
        partials = _feed(stream, pcm)
    assert stream.decodings == 1 and stream.partials == 1
    started = rec.lengths[0] / R - end
    assert 0.0 < started < 0.2  # decoding began within the first frames of quiet ...
    at, text = partials[0]
    assert text.strip(" .!").lower() == "yes"
    assert 0.2 <= at - end <= 0.5  # ... and the partial waited for a real pause
    assert stream.result().answer == "yes"


@pytest.mark.slow
def test_accept_never_waits_for_a_decoding(whisper: WhisperRecognizer) -> None:
    import threading

    hold = threading.Event()
    pcm = np.concatenate([ss.silence(0.3), ss.speak("yes", "piper-steady"), ss.silence(1.0)])
    with _Recorded(whisper, hold) as rec:
        stream = whisper.start(ALL)
        texts = [stream.accept(pcm[i : i + 480]) for i in range(0, len(pcm), 480)]
        assert rec.lengths and texts == [None] * len(texts)  # all the audio in, no partial yet
        hold.set()
        assert stream.settle(10)
        assert stream.accept(ss.silence(0.03)) == "Yes." or stream.partials == 1
    assert stream.result().answer == "yes"


@pytest.mark.slow
def test_an_unsure_early_decoding_is_made_again_with_the_whole_pause(
    whisper: WhisperRecognizer,
) -> None:
    strict = WhisperRecognizer(min_confidence=0.99)
    strict._model = whisper._get_model()
    yes = ss.speak("yes", "piper-steady")
    pcm = np.concatenate([ss.silence(0.3), yes, ss.silence(1.0)])
    end = 0.3 + _speech_end(yes)
    with _Recorded(strict) as rec:
        stream = strict.start(ALL)
        partials = _feed(stream, pcm)
    assert stream.decodings == 2 and [t for _, t in partials] == [""]
    first, second = (n / R - end for n in rec.lengths)
    assert first < 0.2 <= 0.25 <= second  # the second holds the whole pause
    strict.close()


@pytest.mark.slow
def test_a_free_answer_is_decoded_in_its_pause_and_result_uses_it(
    whisper: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = "I want to grow vegetables in the garden."
    pcm = np.concatenate([ss.silence(0.3), ss.speak(said, "piper-steady"), ss.silence(1.5)])
    with _Recorded(whisper) as rec:
        stream = whisper.start(None)
        assert _feed(stream, pcm) == []  # the free role gives no partials
    assert stream.decodings == 1 and len(rec.lengths) == 1
    whole = whisper.transcribe(pcm)
    calls = _count_calls(monkeypatch, whisper, "transcribe")
    final = stream.result()
    assert not calls  # decoded already, in the pause
    assert final.text == whole.text and "vegetables in the garden" in final.text.lower()


@pytest.mark.slow
def test_speech_after_an_early_decoding_sets_it_aside(whisper: WhisperRecognizer) -> None:
    first = ss.trim(ss.speak("yes", "piper-steady"))
    rest = ss.trim(ss.speak("I like the bus.", "piper-steady"))
    # a pause long enough to start a decoding, too short for a partial
    pcm = np.concatenate([ss.silence(0.3), first, ss.silence(0.15), rest, ss.silence(1.0)])
    with _Recorded(whisper) as rec:
        stream = whisper.start(ALL)
        texts = [t for _, t in _feed(stream, pcm)]
    assert len(rec.lengths) >= 2  # one in the short pause, one after the sentence
    assert all(t.strip(" .!").lower() != "yes" for t in texts)  # never ended as "yes"
    final = stream.result()
    assert "bus" in final.text.lower() and final.answer is None


# -- the question's own phrases, and decodings no longer wanted ------------------------------


@pytest.mark.slow
def test_a_phrase_of_the_question_gets_no_second_look(
    whisper: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pcm = ss.pad(ss.speak("I like that", "piper-steady"))
    looks = _count_calls(monkeypatch, whisper, "_verify")
    plain = whisper.transcribe(pcm, ALL)
    assert looks  # not a short answer: the model is asked about each one (about 90 ms)
    looks.clear()
    own = whisper.transcribe(pcm, ALL, ("I don't like it", "I like that", "not sure"))
    assert not looks  # one of the question's own answers, heard well: no second look
    assert own.text == plain.text and own.answer is None and own.confidence >= 0.5
    assert "like that" in own.text.lower()


@pytest.mark.slow
def test_a_decoding_no_longer_wanted_stops_after_the_encoder(
    whisper: WhisperRecognizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    prompts = _count_calls(monkeypatch, whisper, "_prompt")
    pcm = ss.pad(ss.speak("yes", "piper-steady"))
    abandon = threading.Event()
    abandon.set()
    dropped = whisper.transcribe(pcm, ALL, (), abandon)
    assert dropped.text == "" and dropped.answer is None and not prompts  # no decoding
    kept = whisper.transcribe(pcm, ALL, (), threading.Event())
    assert kept.answer == "yes" and prompts


@pytest.mark.slow
def test_speech_after_a_pause_drops_the_decoding_started_in_it(
    whisper: WhisperRecognizer,
) -> None:
    words = [ss.trim(ss.speak(w, "piper-steady")) for w in ("I like", "that")]
    pcm = np.concatenate([ss.silence(0.3), words[0], ss.silence(0.15), words[1], ss.silence(1.0)])
    stream = whisper.start(ALL, phrases=["I like that"])
    started: list[Any] = []
    original = stream._start

    def start(mark: int, quiet: float) -> Any:
        started.append(original(mark, quiet))
        return started[-1]

    stream._start = start  # type: ignore[method-assign]
    for i in range(0, len(pcm), 160):  # faster than real time: the pause's decoding is running
        stream.accept(pcm[i : i + 160])
    stream.settle()
    assert len(started) >= 2  # one in the pause between the words, one after "that"
    assert started[0].abandon.is_set()  # dropped when "that" came
    assert not started[-1].abandon.is_set()
    final = stream.result()
    assert "like that" in final.text.lower()
