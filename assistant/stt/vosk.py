"""Vosk (Kaldi) recogniser: the design's engine, for both roles when an English model is there.

The model folder is loaded once (lazily, on first use) and shared by every stream. For the
short role each utterance gets its own grammar: the allowed phrases plus ``[unk]``. Vosk's
phrase list is not a strict restriction (and ``[unk]`` soaks up everything else), so the final
text is checked against the allowed phrases and accepted only when every word's confidence is
at or above the configured minimum.

Recipe::

    rec = VoskRecognizer(Path("~/.local/share/assistant/models/vosk-model-small-en-us-0.15"))
    stream = rec.start(allowed=["yes", "no", "next"])
    for block in microphone_blocks:
        stream.accept(block)
    print(stream.result().answer)
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelCorrupt, ModelMissing
from assistant.stt.base import SAMPLE_RATE, RecognizerStream, Transcript, Word
from assistant.stt.common import (
    PhraseTable,
    StreamTranscribe,
    Timer,
    as_pcm16,
    decide_short,
    seconds,
)
from assistant.words import SHORT_ANSWERS, ShortAnswer, grammar_phrases, normalise

log = logging.getLogger(__name__)

UNK_SYMBOLS = ("[unk]", "<unk>", "<UNK>")
"""How models spell "a word outside the grammar" (English small models: ``[unk]``)."""


def check_vosk_folder(path: Path) -> None:
    """Raise ModelMissing / ModelCorrupt unless *path* looks like a Vosk model folder."""
    if not path.exists():
        raise ModelMissing(f"The Vosk model folder {path} does not exist.")
    if not path.is_dir():
        raise ModelCorrupt(f"{path} is a file, not a Vosk model folder.")
    am = path / "am" / "final.mdl"
    graph = path / "graph"
    has_graph = (graph / "HCLG.fst").is_file() or (
        (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    )
    if not am.is_file() or not has_graph or not (path / "conf" / "mfcc.conf").is_file():
        raise ModelCorrupt(
            f"{path} is not a Vosk model (it needs am/final.mdl, conf/mfcc.conf and a graph)."
        )


class VoskRecognizer(StreamTranscribe):
    """Recogniser on a Vosk model folder; *table* maps answers to phrases in its language."""

    engine = "vosk"

    def __init__(
        self,
        model_path: Path,
        *,
        min_confidence: float = 0.6,
        table: PhraseTable = SHORT_ANSWERS,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.name = f"vosk:{self.model_path.name}"
        self.min_confidence = min_confidence
        self.table = table
        self._model: Any = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------

    def load(self) -> None:
        """Load the model now (otherwise it is loaded on first use)."""
        self._get_model()

    def _get_model(self) -> Any:
        with self._lock:
            if self._model is None:
                check_vosk_folder(self.model_path)
                import vosk

                # Kaldi prints messages at or below this level: 0 info, -1 warnings, -2 errors.
                # Our own one-sentence errors say what went wrong, so keep Kaldi quiet.
                vosk.SetLogLevel(0 if log.isEnabledFor(logging.DEBUG) else -3)
                try:
                    self._model = vosk.Model(str(self.model_path))
                except Exception as exc:  # vosk raises a bare Exception
                    raise ModelCorrupt(
                        f"The Vosk model in {self.model_path} is damaged and cannot be loaded."
                    ) from exc
                log.info("loaded Vosk model %s", self.model_path)
            return self._model

    def _known(self, phrase: str) -> bool:
        model = self._get_model()
        return all(model.vosk_model_find_word(w) >= 0 for w in phrase.split())

    @property
    def unk(self) -> str | None:
        """The model's symbol for an unknown word, if it has one."""
        for symbol in UNK_SYMBOLS:
            if self._known(symbol):
                return symbol
        return None

    # -- recognising ---------------------------------------------------------------------

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> VoskStream:
        if allowed is None:
            return VoskStream(self, None, None)
        wanted = grammar_phrases(allowed, self.table) + [p for p in phrases if p.strip()]
        known = [p for p in dict.fromkeys(_grammar_form(p) for p in wanted) if self._known(p)]
        return VoskStream(self, list(allowed), known)

    def start_phrases(self, phrases: Sequence[str]) -> VoskStream:
        """A stream restricted to *phrases* (plus ``[unk]``), with no answer mapping."""
        forms = dict.fromkeys(_grammar_form(p) for p in phrases)
        return VoskStream(self, [], [p for p in forms if p and self._known(p)])


def _grammar_form(phrase: str) -> str:
    """A phrase as the model's word list spells it: lower case, no punctuation."""
    return normalise(phrase)


def parse_result(raw: str) -> tuple[str, tuple[Word, ...]]:
    """Text and words from one Vosk JSON result (``text`` plus ``result`` with SetWords)."""
    data = json.loads(raw or "{}")
    words = tuple(
        Word(
            word=str(w.get("word", "")),
            confidence=float(w.get("conf", 0.0)),
            start_s=float(w["start"]) if "start" in w else None,
            end_s=float(w["end"]) if "end" in w else None,
        )
        for w in data.get("result", [])
    )
    return str(data.get("text", "")).strip(), words


class VoskStream(RecognizerStream):
    """One utterance on a shared Vosk model."""

    def __init__(
        self,
        owner: VoskRecognizer,
        allowed: list[ShortAnswer] | None,
        phrases: list[str] | None,
    ) -> None:
        import vosk

        self._owner = owner
        self._allowed = allowed
        self._phrases = phrases
        self._timer = Timer()
        self._samples = 0
        self._texts: list[str] = []
        self._words: list[Word] = []
        model = owner._get_model()
        with self._timer:
            if phrases is None:
                self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE)
            else:
                unk = [owner.unk] if owner.unk else []
                grammar = json.dumps(list(phrases) + unk, ensure_ascii=False)
                self._rec = vosk.KaldiRecognizer(model, SAMPLE_RATE, grammar)
            self._rec.SetWords(True)

    def _collect(self, raw: str) -> None:
        text, words = parse_result(raw)
        if text:
            self._texts.append(text)
            self._words.extend(words)

    def accept(self, pcm: np.ndarray) -> str | None:
        data = as_pcm16(pcm)
        self._samples += len(data)
        with self._timer:
            if self._rec.AcceptWaveform(data.tobytes()):
                self._collect(self._rec.Result())
                partial = ""
            else:
                partial = str(json.loads(self._rec.PartialResult()).get("partial", ""))
        so_far = " ".join([*self._texts, partial]).strip()
        return so_far or None

    def result(self) -> Transcript:
        with self._timer:
            self._collect(self._rec.FinalResult())
        words = tuple(self._words)
        text = " ".join(self._texts).strip()
        confidence = min((w.confidence for w in words), default=0.0)
        owner = self._owner
        if self._allowed is None:
            mean = sum(w.confidence for w in words) / len(words) if words else 0.0
            return Transcript(
                text=text,
                confidence=mean,
                engine=owner.name,
                words=words,
                audio_s=seconds(self._samples),
                compute_s=self._timer.total,
            )
        allowed_words = {w for p in self._phrases or [] for w in p.split()}
        if any(w.word not in allowed_words for w in words):
            confidence = 0.0  # [unk] or a word outside the grammar: not an answer
        return decide_short(
            text,
            confidence,
            engine=owner.name,
            allowed=self._allowed,
            min_confidence=owner.min_confidence,
            words=words,
            table=owner.table,
            audio_s=seconds(self._samples),
            compute_s=self._timer.total,
        )
