"""Fast tests of the recogniser layer: the fake engine, engine choice, the CLI's errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import ConfigError, EngineFallback, ModelCorrupt, ModelMissing
from assistant.stt import select
from assistant.stt.base import Recognizer, RecognizerStream
from assistant.stt.common import as_pcm16, decide_short
from assistant.stt.fake import FakeRecognizer, speech_pcm, text_in_pcm
from assistant.stt.vosk import VoskRecognizer, check_vosk_folder, parse_result
from assistant.stt.whisper import WhisperRecognizer


def test_fake_follows_the_protocol_and_its_script() -> None:
    rec = FakeRecognizer(["yes", ("no", 0.3), "See you next time.", "I want to grow carrots"])
    assert isinstance(rec, Recognizer)
    assert isinstance(rec.start(), RecognizerStream)
    pcm = np.zeros(1600, dtype=np.int16)
    assert rec.transcribe(pcm, allowed=["yes", "no"]).answer == "yes"
    low = rec.transcribe(pcm, allowed=["yes", "no"])
    assert low.text == "no" and low.answer is None  # below the minimum confidence
    assert rec.transcribe(pcm, allowed=["next"]).answer is None  # a sentence is not "next"
    free = rec.transcribe(pcm)
    assert free.text == "I want to grow carrots" and free.answer is None
    assert [t.text for t in rec.heard][-1] == "I want to grow carrots"


def test_fake_decodes_text_carried_in_audio_streamed_in_blocks() -> None:
    pcm = np.concatenate([speech_pcm("next please"), speech_pcm("go on")])
    assert text_in_pcm(pcm) == "next please go on"
    rec = FakeRecognizer()
    stream = rec.start(allowed=["next"])
    for i in range(0, len(pcm), 512):
        assert stream.accept(pcm[i : i + 512]) is None
    tr = stream.result()
    assert tr.text == "next please go on" and tr.answer is None
    assert rec.transcribe(speech_pcm("Go on."), allowed=["next", "yes"]).answer == "next"
    silent = rec.transcribe(np.zeros(16000, dtype=np.int16), allowed=["yes"])
    assert silent.empty and silent.answer is None and silent.confidence == 0.0
    assert text_in_pcm(speech_pcm("네, 좋아요")) == "네, 좋아요"


def test_decide_short_needs_one_allowed_answer_and_confidence() -> None:
    def answer(text: str, conf: float = 0.9) -> str | None:
        return decide_short(
            text, conf, engine="x", allowed=["yes", "no", "next"], min_confidence=0.6
        ).answer

    assert answer("Yes.") == "yes"
    assert answer("yes", 0.59) is None
    assert answer("See you next time.") is None
    assert answer("help") is None  # not allowed here
    assert answer("") is None


def test_as_pcm16_accepts_float_and_2d() -> None:
    assert as_pcm16(np.array([0.5, -1.0], dtype=np.float32)).tolist() == [16384, -32767]
    assert as_pcm16(np.zeros((4, 1), dtype=np.int16)).shape == (4,)


def test_vosk_result_parsing() -> None:
    text, words = parse_result(
        '{"result": [{"conf": 0.9, "end": 0.8, "start": 0.3, "word": "yes"},'
        ' {"conf": 0.4, "end": 1.2, "start": 0.9, "word": "please"}], "text": "yes please"}'
    )
    assert text == "yes please"
    assert [w.word for w in words] == ["yes", "please"]
    assert words[1].confidence == pytest.approx(0.4) and words[0].start_s == pytest.approx(0.3)
    assert parse_result('{"text": ""}') == ("", ())


def _fake_vosk_folder(path: Path) -> Path:
    for name in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst"):
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text("not a model")
    return path


def _settings(tmp_path: Path, **stt: str) -> Settings:
    s = Settings()
    s.records.data_dir = tmp_path / "data"
    for key, value in stt.items():
        setattr(s.stt, key, value)
    return s


def test_vosk_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match="does not exist"):
        check_vosk_folder(tmp_path / "nothing")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "README").write_text("hello")
    with pytest.raises(ModelCorrupt, match="is not a Vosk model"):
        check_vosk_folder(tmp_path / "junk")
    check_vosk_folder(_fake_vosk_folder(tmp_path / "shape-only"))


def test_without_vosk_the_embedded_engines_are_chosen_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Start from an empty process-wide engine table: earlier tests may have loaded a model.
    monkeypatch.setattr(select, "_instances", {})
    s = _settings(tmp_path)
    with pytest.warns(EngineFallback, match="vosk-model-small-en-us-0.15"):
        engines = select.choose_engines(s)
    short_name = select.EMBEDDED_DEFAULTS["short"]
    assert engines.short.name.startswith(short_name)
    assert "assistant models download vosk-model-small-en-us-0.15" in engines.short_reason
    assert engines.free.name.startswith(select.EMBEDDED_DEFAULTS["free"])
    # lazy and shared: nothing loaded, one instance per engine in the process
    again = select.build_engine(select.EMBEDDED_DEFAULTS["free"], s)
    assert again is engines.free
    if isinstance(engines.free, WhisperRecognizer):
        assert engines.free._model is None


def test_an_english_vosk_model_serves_both_roles_lazily(tmp_path: Path) -> None:
    folder = _fake_vosk_folder(tmp_path / "data" / "models" / "vosk-model-small-en-us-0.15")
    s = _settings(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFallback)
        engines = select.choose_engines(s)
    assert isinstance(engines.short, VoskRecognizer)
    assert engines.short is engines.free  # one model for both roles
    assert str(folder) in engines.short_reason
    with pytest.raises(ModelCorrupt, match="damaged"):  # only now is it loaded
        engines.short.load()


def test_a_non_english_vosk_model_is_not_used_for_auto(tmp_path: Path) -> None:
    folder = _fake_vosk_folder(tmp_path / "model")
    (folder / "README").write_text("Small Korean for Vosk")
    s = _settings(tmp_path, vosk_model=str(folder))
    with pytest.warns(EngineFallback, match="does not look English"):
        engines = select.choose_engines(s)
    assert not isinstance(engines.short, VoskRecognizer)


def test_explicit_engines_are_honoured_or_fail_clearly(tmp_path: Path) -> None:
    s = _settings(tmp_path, short_engine="pocketsphinx", free_engine="whisper")
    engines = select.choose_engines(s)
    assert engines.short.name.startswith("pocketsphinx") and "config" in engines.short_reason
    assert engines.free.name.startswith("whisper")
    with pytest.raises(ModelMissing, match="does not exist"):
        select.choose_engines(_settings(tmp_path, short_engine="vosk"))
    with pytest.raises(ConfigError, match="Unknown speech engine 'kaldi'"):
        select.choose_engines(s, short="kaldi")


def test_the_environment_overrides_the_configured_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_STT_SHORT", "pocketsphinx")
    engines = select.choose_engines(
        _settings(tmp_path, short_engine="whisper", free_engine="whisper")
    )
    assert engines.short.name.startswith("pocketsphinx")
    assert engines.free.name.startswith("whisper")  # the other role is the config's


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "does not exist"), (b"", "is empty"), (b"hello, not audio", "not a WAV")],
)
def test_listen_bad_files_give_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, expected: str
) -> None:
    path = tmp_path / "in.wav"
    if content is not None:
        path.write_bytes(content)
    code, out, err = _run(capsys, "listen", "--file", str(path))
    assert code == 2
    assert expected in err
    lines = [line for line in err.splitlines() if line.startswith("assistant:")]
    assert len(lines) == 1 and "Traceback" not in err


def test_listen_silent_wav_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import wave

    path = tmp_path / "quiet.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * 16000)
    code, _, err = _run(capsys, "listen", "--file", str(path))
    assert code == 2 and "only silence" in err and "Traceback" not in err


def test_listen_model_errors_via_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import wave

    wav = tmp_path / "a.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(speech_pcm("yes").tobytes())
    missing = tmp_path / "no-such-model"
    config = tmp_path / "c.toml"
    config.write_text(f'[stt]\nvosk_model = "{missing}"\n')
    code, _, err = _run(capsys, "-c", str(config), "listen", "-f", str(wav), "--engine", "vosk")
    assert code == 2 and f"The Vosk model folder {missing} does not exist." in err
    junk = tmp_path / "junk-en-us"
    junk.mkdir()
    (junk / "x.bin").write_bytes(b"\x00junk")
    config.write_text(f'[stt]\nvosk_model = "{junk}"\n')
    code, _, err = _run(capsys, "-c", str(config), "listen", "-f", str(wav), "--engine", "vosk")
    assert code == 2 and "is not a Vosk model" in err and "Traceback" not in err
    code, _, err = _run(capsys, "listen", "-f", str(wav), "--role", "middle")
    assert code == 2 and "--role must be short or free" in err
