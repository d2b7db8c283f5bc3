"""Fast voice tests (no model): the prompt cache, the fake voice, earcons, voice resolution errors,
and ``assistant say`` to a (fake) speaker."""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.audio.base import Speaker
from assistant.errors import AudioError, ModelCorrupt, ModelMissing
from assistant.voice.base import Voice
from assistant.voice.cache import CachedVoice
from assistant.voice.earcons import EARCONS, generate, load_earcon
from assistant.voice.fake import FakeVoice, split_sentences
from assistant.voice.piper import DEFAULT_VOICE, PiperVoice, resolve_voice

REPO = Path(__file__).resolve().parent.parent
PROMPT = "Hello Sam. Press the green button for yes. Press the red button for no."


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# -- fake voice ------------------------------------------------------------------------------


def test_fake_voice_is_a_voice_and_deterministic() -> None:
    voice = FakeVoice()
    assert isinstance(voice, Voice)
    first = list(voice.synthesize(PROMPT))
    assert len(first) == 3  # one chunk per sentence
    assert all(c.dtype == np.int16 and np.abs(c).max() > 1000 for c in first)
    assert _same(first, list(voice.synthesize(PROMPT)))
    assert not _same(first, list(voice.synthesize("Something else entirely. Yes.")))
    assert split_sentences("One. Two?  Three!") == ["One.", "Two?", "Three!"]
    # timed to its rate: 14 words at 150 words a minute is 5.6 s
    assert sum(len(c) for c in first) / voice.sample_rate == pytest.approx(14 * 60 / 150, rel=0.02)


# -- the prompt cache ------------------------------------------------------------------------


def test_cache_hit_is_identical_and_does_not_call_the_voice(tmp_path: Path) -> None:
    inner = FakeVoice()
    cached = CachedVoice(inner, tmp_path, max_bytes=10_000_000)
    assert isinstance(cached, Voice) and cached.sample_rate == inner.sample_rate
    first = list(cached.synthesize(PROMPT))
    assert inner.calls == [PROMPT] and cached.misses == 1
    again = list(cached.synthesize(PROMPT))
    assert inner.calls == [PROMPT] and cached.hits == 1
    assert _same(first, again)  # chunk boundaries kept too
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_cache_survives_a_restart(tmp_path: Path) -> None:
    first = list(CachedVoice(FakeVoice(), tmp_path, 10_000_000).synthesize(PROMPT))
    fresh_inner = FakeVoice()
    fresh = CachedVoice(fresh_inner, tmp_path, 10_000_000)
    assert _same(list(fresh.synthesize(PROMPT)), first)
    assert fresh_inner.calls == []


def test_cache_key_includes_rate_and_volume(tmp_path: Path) -> None:
    list(CachedVoice(FakeVoice(), tmp_path, 10_000_000).synthesize(PROMPT))
    for other in (FakeVoice(words_per_minute=120), FakeVoice(volume=0.5)):
        list(CachedVoice(other, tmp_path, 10_000_000).synthesize(PROMPT))
        assert other.calls == [PROMPT]
    assert len(list(tmp_path.glob("*.pcm"))) == 3


def test_cache_evicts_least_recently_used_beyond_its_bound(tmp_path: Path) -> None:
    inner = FakeVoice()
    probe = CachedVoice(inner, tmp_path / "probe", 10_000_000)
    list(probe.synthesize("Word one two."))
    entry = probe.size_bytes()  # every prompt below has the same length
    cached = CachedVoice(inner, tmp_path / "c", max_bytes=int(entry * 2.5))
    texts = ["Alpha beta gamma.", "Delta epsilon zeta.", "Eta theta iota.", "Kappa lambda mu."]
    for i, text in enumerate(texts[:2]):
        list(cached.synthesize(text))
        os.utime(cached.path_for(text), ns=(i * 10**9, i * 10**9))  # clear order
    assert cached.lookup(texts[0]) is not None  # a hit makes "alpha" the most recent
    list(cached.synthesize(texts[2]))  # over the bound: the least recent ("delta") goes
    assert cached.size_bytes() <= cached.max_bytes
    assert cached.path_for(texts[0]).exists() and cached.path_for(texts[2]).exists()
    assert not cached.path_for(texts[1]).exists()
    # a prompt bigger than the whole cache is spoken but not kept
    tiny = CachedVoice(inner, tmp_path / "tiny", max_bytes=100)
    assert list(tiny.synthesize(texts[3])) and tiny.size_bytes() == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_corrupt_entry_is_ignored_and_rebuilt(tmp_path: Path, damage: str) -> None:
    inner = FakeVoice()
    cached = CachedVoice(inner, tmp_path, 10_000_000)
    good = list(cached.synthesize(PROMPT))
    path = cached.path_for(PROMPT)
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[-10] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(b"not a cache entry")
    path.write_bytes(bytes(data))
    assert cached.lookup(PROMPT) is None and not path.exists()
    assert _same(list(cached.synthesize(PROMPT)), good)
    assert len(inner.calls) == 2  # rebuilt from the voice
    assert cached.lookup(PROMPT) is not None  # and kept again


def test_cache_streams_on_a_miss_and_keeps_only_whole_prompts(tmp_path: Path) -> None:
    inner = FakeVoice()
    cached = CachedVoice(inner, tmp_path, 10_000_000)
    stream: Iterator[np.ndarray] = cached.synthesize(PROMPT)
    next(stream)
    stream.close()  # barge-in after the first sentence
    assert cached.lookup(PROMPT) is None  # a part of a prompt is never kept
    assert cached.warm([PROMPT, "Yes.", PROMPT, " "]) == 2
    assert cached.warm([PROMPT, "Yes."]) == 0
    calls = len(inner.calls)
    assert list(cached.synthesize("Yes.")) and len(inner.calls) == calls


def test_cache_of_size_zero_is_off(tmp_path: Path) -> None:
    inner = FakeVoice()
    cached = CachedVoice(inner, tmp_path / "off", max_bytes=0)
    list(cached.synthesize(PROMPT))
    list(cached.synthesize(PROMPT))
    assert len(inner.calls) == 2 and not (tmp_path / "off").exists()


def test_cache_in_an_unwritable_place_still_speaks(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    cached = CachedVoice(FakeVoice(), blocker / "cache", 10_000_000)
    assert len(list(cached.synthesize(PROMPT))) == 3


# -- earcons ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EARCONS)
def test_earcons_are_small_gentle_and_match_their_generator(name: str) -> None:
    path = REPO / "assistant" / "sounds" / f"{name}.wav"
    assert path.stat().st_size < 50_000
    pcm, rate = load_earcon(name)
    assert rate == 16_000 and pcm.dtype == np.int16
    assert 0.2 < len(pcm) / rate < 1.2
    peak = np.abs(pcm).max()
    assert 3000 < peak < 0.5 * 32767  # audible, never harsh
    edge = int(0.003 * rate)
    assert np.abs(pcm[:edge]).max() < peak * 0.3 and np.abs(pcm[-edge:]).max() < peak * 0.3
    assert np.array_equal(pcm, generate(name))  # the committed file is what the script makes


def test_unknown_earcon() -> None:
    with pytest.raises(AudioError, match="no earcon called 'boing'.*listening"):
        load_earcon("boing")


# -- finding voices --------------------------------------------------------------------------


def test_resolve_voice_by_name_path_and_default(tmp_path: Path) -> None:
    default = resolve_voice(DEFAULT_VOICE, tmp_path)
    assert default.source == "bundled" and default.model.is_file() and default.config.is_file()
    (tmp_path / "en_GB-test.onnx").write_bytes(b"x")
    (tmp_path / "en_GB-test.onnx.json").write_text("{}")
    by_name = resolve_voice("en_GB-test", tmp_path)
    assert by_name.model == tmp_path / "en_GB-test.onnx" and by_name.source == "models folder"
    by_path = resolve_voice(str(tmp_path / "en_GB-test.onnx"))
    assert by_path.source == "path" and by_path.name == "en_GB-test"
    # a voice of the default's name in the models folder wins over the bundled one
    (tmp_path / f"{DEFAULT_VOICE}.onnx").write_bytes(b"x")
    (tmp_path / f"{DEFAULT_VOICE}.onnx.json").write_text("{}")
    assert resolve_voice(DEFAULT_VOICE, tmp_path).source == "models folder"


def test_missing_voice_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=f"'en_GB-nobody'.*{tmp_path}/en_GB-nobody.onnx"):
        resolve_voice("en_GB-nobody", tmp_path)
    with pytest.raises(ModelMissing, match="no Piper voice file at"):
        resolve_voice(str(tmp_path / "gone.onnx"))
    (tmp_path / "lonely.onnx").write_bytes(b"x")
    with pytest.raises(ModelMissing, match="lonely.onnx.json"):
        resolve_voice(str(tmp_path / "lonely.onnx"))


def test_corrupt_voice_is_one_sentence(tmp_path: Path) -> None:
    real = resolve_voice(DEFAULT_VOICE)
    (tmp_path / "bad.onnx").write_bytes(real.model.read_bytes()[:50_000])
    (tmp_path / "bad.onnx.json").write_bytes(real.config.read_bytes())
    with pytest.raises(ModelCorrupt, match="cannot be loaded; it may be corrupt") as info:
        PiperVoice.load(tmp_path / "bad.onnx")
    assert "\n" not in str(info.value)
    os.symlink(real.model, tmp_path / "badjson.onnx")
    (tmp_path / "badjson.onnx.json").write_text('{"audio": ')
    with pytest.raises(ModelCorrupt, match="not valid JSON"):
        PiperVoice.load(tmp_path / "badjson.onnx")
    (tmp_path / "badjson.onnx.json").write_text('{"audio": {}}')
    with pytest.raises(ModelCorrupt, match="missing a value"):
        PiperVoice.load(tmp_path / "badjson.onnx")


# -- assistant say, to a speaker --------------------------------------------------------------


class RecordingSpeaker(Speaker):
    name = "recording"

    def __init__(self) -> None:
        self.played: list[tuple[np.ndarray, int]] = []
        self.waited = False

    def play(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.played.append((pcm, sample_rate))

    def stop(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> bool:
        self.waited = True
        return True

    @property
    def playing(self) -> bool:
        return False


def test_say_streams_sentences_to_the_speaker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import assistant.audio
    import assistant.voice
    from assistant.cli import main

    speaker = RecordingSpeaker()
    monkeypatch.setattr(assistant.audio, "open_speaker", lambda _s: speaker, raising=False)
    monkeypatch.setattr(assistant.voice, "open_voice", lambda *_a, **_k: FakeVoice())
    assert main(["say", PROMPT]) == 0
    assert len(speaker.played) == 3 and speaker.waited
    assert all(rate == 16_000 for _pcm, rate in speaker.played)
    assert "Voice: fake" in capsys.readouterr().out


def test_say_with_a_missing_voice_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from assistant.cli import main

    code = main(["say", "Hello.", "--voice", str(tmp_path / "nobody.onnx"), "--to-file",
                 str(tmp_path / "out.wav")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "nobody.onnx" in err
    assert not (tmp_path / "out.wav").exists()


def test_wav_written_atomically(tmp_path: Path) -> None:
    from assistant.voice.cli import write_wav_atomic

    voice = FakeVoice()
    out = tmp_path / "out.wav"
    seconds = write_wav_atomic(out, voice.synthesize(PROMPT), voice.sample_rate)
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == 16_000 and wav.getnframes() / 16_000 == seconds
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]

    def broken() -> Iterator[np.ndarray]:
        yield np.zeros(100, np.int16)
        raise RuntimeError("voice died")

    with pytest.raises(RuntimeError):
        write_wav_atomic(out, broken(), 16_000)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # old file kept, no temp left
    with pytest.raises(AudioError, match="does not exist"):
        write_wav_atomic(tmp_path / "no" / "out.wav", voice.synthesize(PROMPT), 16_000)
