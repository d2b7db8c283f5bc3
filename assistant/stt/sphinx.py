"""pocketsphinx 5 with the en-US model its wheel carries (no download).

Short role: a JSGF grammar of every short-answer phrase *plus* a loop of common "garbage" words,
so that speech which is not an answer has somewhere to go instead of being forced onto the
nearest answer; the result must be exactly one allowed phrase, with the decoder's posterior
probability at or above the minimum confidence. Free role: the wheel's general English
language model.

One decoder per role is loaded per recogniser (lazily) and shared; one utterance is decoded at
a time, so starting a new stream ends one still open (that one then returns an empty
transcript).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelCorrupt, ModelMissing
from assistant.stt.base import RecognizerStream, Transcript
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

_GARBAGE = "the a i you it is to and of in have see time like want get some my we with"
GARBAGE_WORDS: tuple[str, ...] = tuple(_GARBAGE.split())
"""Common words a sentence that is not an answer will match instead of an answer."""


SEARCH_LIMITS: dict[str, float | int] = {"beam": 1e-30, "wbeam": 1e-20, "maxhmmpf": 1500}
"""Tighter than pocketsphinx's defaults (1e-48, 7e-29, 30000): with the garbage loop, 2 s of
loud noise took over a second to decode (20 s under load); with these, about 0.1 s."""


def embedded_model_path() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path())


class SphinxRecognizer(StreamTranscribe):
    """Recogniser on a pocketsphinx acoustic model folder (the wheel's en-US by default)."""

    engine = "pocketsphinx"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        min_confidence: float = 0.4,
        table: PhraseTable = SHORT_ANSWERS,
        garbage: bool = True,
    ) -> None:
        self.model_dir = Path(model_dir).expanduser() if model_dir else None
        self.name = "pocketsphinx:en-us"
        self.min_confidence = min_confidence
        self.table = table
        self.garbage = garbage
        self._decoders: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._searches: set[str] = set()
        self._active: SphinxStream | None = None

    def load(self) -> None:
        self._get_decoder("short")
        self._get_decoder("free")

    def _get_decoder(self, role: str = "short") -> Any:
        """One decoder per role: the grammar one searches narrowly (:data:`SEARCH_LIMITS`),
        the language-model one with pocketsphinx's own wider defaults (narrow beams doubled
        its word error rate)."""
        with self._lock:
            if role not in self._decoders:
                root = self.model_dir or embedded_model_path()
                hmm = root / "en-us" / "en-us"
                dic = root / "en-us" / "cmudict-en-us.dict"
                lm = root / "en-us" / "en-us.lm.bin"
                if not root.exists():
                    raise ModelMissing(f"The pocketsphinx model folder {root} does not exist.")
                if not (hmm / "mdef").is_file() or not dic.is_file() or not lm.is_file():
                    raise ModelCorrupt(f"{root} is not a pocketsphinx en-us model folder.")
                from pocketsphinx import Decoder

                try:
                    limits = SEARCH_LIMITS if role == "short" else {}
                    self._decoders[role] = Decoder(
                        hmm=str(hmm),
                        dict=str(dic),
                        lm=str(lm),
                        loglevel="FATAL",
                        bestpath=True,
                        **limits,
                    )
                except Exception as exc:
                    raise ModelCorrupt(
                        f"The pocketsphinx model in {root} is damaged and cannot be loaded."
                    ) from exc
                log.info("loaded pocketsphinx model %s (%s)", root, role)
            return self._decoders[role]

    def _known(self, phrase: str) -> bool:
        decoder = self._get_decoder()
        return all(decoder.lookup_word(w) is not None for w in phrase.split())

    def _grammar_search(self, extra: Sequence[str] = ()) -> str:
        wanted = [*grammar_phrases(None, self.table), *extra]
        phrases = sorted({n for p in wanted if (n := normalise(p)) and self._known(n)})
        garbage = [w for w in GARBAGE_WORDS if self._known(w)] if self.garbage else []
        answer_words = {w for p in phrases for w in p.split()}
        garbage = sorted(set(garbage) - answer_words)
        key = hashlib.sha1(("|".join(phrases) + "#" + "|".join(garbage)).encode()).hexdigest()
        name = f"short_{key[:12]}"
        if name not in self._searches:
            rules = " | ".join(phrases)
            body = f"public <utt> = {rules}"
            if garbage:
                body += " | <garbage>+;\n<garbage> = " + " | ".join(garbage)
            jsgf = f"#JSGF V1.0;\ngrammar short;\n{body};\n"
            self._get_decoder().add_jsgf_string(name, jsgf)
            self._searches.add(name)
        return name

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> SphinxStream:
        with self._lock:
            decoder = self._get_decoder("free" if allowed is None else "short")
            search = "_default" if allowed is None else self._grammar_search(phrases)
            if self._active is not None:
                self._active._abandon()
            decoder.activate_search(search)
            decoder.start_utt()
            stream = SphinxStream(self, decoder, allowed)
            self._active = stream
            return stream


class SphinxStream(RecognizerStream):
    def __init__(
        self, owner: SphinxRecognizer, decoder: Any, allowed: Sequence[ShortAnswer] | None
    ) -> None:
        self._owner = owner
        self._decoder = decoder
        self._allowed = list(allowed) if allowed is not None else None
        self._samples = 0
        self._timer = Timer()
        self._open = True

    def _abandon(self) -> None:
        if self._open:
            self._decoder.end_utt()
            self._open = False

    def accept(self, pcm: np.ndarray) -> str | None:
        data = as_pcm16(pcm)
        self._samples += len(data)
        with self._owner._lock:
            if not self._open:
                return None
            decoder = self._decoder
            with self._timer:
                decoder.process_raw(data.tobytes(), False, False)
                hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None and hyp.hypstr else None

    def result(self) -> Transcript:
        owner = self._owner
        text, confidence = "", 0.0
        with owner._lock:
            if self._open:
                decoder = self._decoder
                with self._timer:
                    decoder.end_utt()
                    hyp = decoder.hyp()
                self._open = False
                if owner._active is self:
                    owner._active = None
                if hyp is not None and hyp.hypstr:
                    text, confidence = hyp.hypstr.strip(), float(hyp.prob)
        if self._allowed is None:
            return Transcript(
                text=text,
                confidence=confidence,
                engine=owner.name,
                audio_s=seconds(self._samples),
                compute_s=self._timer.total,
            )
        return decide_short(
            text,
            confidence,
            engine=owner.name,
            allowed=self._allowed,
            min_confidence=owner.min_confidence,
            table=owner.table,
            audio_s=seconds(self._samples),
            compute_s=self._timer.total,
        )
