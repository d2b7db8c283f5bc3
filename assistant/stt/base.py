"""The base class every speech recogniser (and its stream) derives from, and what they return.

Audio in is always 16 kHz mono int16 (the audio layer resamples). Two roles:

* ``short``: yes / no / next / help / repeat. The caller passes the allowed answers; the engine
  restricts itself to them where it can, and :attr:`Transcript.answer` is set only when the
  result is *confidently* one of them. Otherwise it is None: "Sorry, I didn't catch that".
* ``free``: a person's own words; accuracy matters more than speed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.core.speech import Role, Transcript, Word
from assistant.core.words import ShortAnswer

if TYPE_CHECKING:
    from assistant.stt.personal import Embedder

__all__ = ["SAMPLE_RATE", "Recognizer", "RecognizerStream", "Role", "Transcript", "Word"]

SAMPLE_RATE = 16_000


class RecognizerStream:
    """One utterance being recognised, fed as it is heard.

    Must provide: :meth:`accept`, :meth:`result`.

    May provide (harmless defaults otherwise):

    * :meth:`settle`: wait for work the stream does ahead on another thread (Whisper decodes
      in pauses), for callers that feed audio faster than real time; by default nothing to
      wait for.
    * :meth:`wake_with`: be given a callback to call when such work is done, so a listener
      waiting on the microphone looks at the partial result at once; returns True when the
      stream will use it. By default it will not (False).
    * :attr:`early_silence_s`: the quiet after which ``record_turn`` may end the turn on a
      partial result that is an allowed answer, when the stream asks for its own (a taught
      person's words ask for less while the matcher is sure); None by default: the caller's.
    """

    @property
    def early_silence_s(self) -> float | None:
        """Quiet (seconds) after which a sure partial result may end the turn; None: the
        caller's own (``record_turn``'s ``early_silence_s``)."""
        return None

    def accept(self, pcm: np.ndarray) -> str | None:
        """Feed int16 16 kHz mono audio; returns partial text when the engine has some."""
        raise NotImplementedError

    def result(self) -> Transcript:
        """Finish the utterance and return the final transcript."""
        raise NotImplementedError

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until work in progress is done; False on timeout. Nothing to wait for here."""
        return True

    def wake_with(self, wake: Callable[[], None] | None) -> bool:
        """Call *wake* when work ahead is done; True if this stream will. It will not here."""
        return False


class Recognizer:
    """A speech recogniser: a real member of the family or a fake, all deriving from this.

    Must provide: :attr:`name`, :meth:`start` (one utterance as a :class:`RecognizerStream`)
    and :meth:`transcribe` (a whole utterance at once;
    :class:`~assistant.stt.common.StreamTranscribe` makes it from :meth:`start`).

    May provide: :meth:`load` (load the model now rather than on first use) and :meth:`close`
    (let go of worker threads); both do nothing by default.
    """

    name: str = "recogniser"
    """Engine and model, e.g. ``vosk:vosk-model-small-en-us-0.15``."""

    def start(
        self, allowed: Sequence[ShortAnswer] | None = None, phrases: Sequence[str] = ()
    ) -> RecognizerStream:
        """Begin one utterance; *allowed* given means the short-answer role.

        *phrases* are extra whole-utterance answers for this question (scale points, option
        names: ``Listen.phrases``); an engine with a grammar adds them to it. They never set
        :attr:`Transcript.answer`; the caller matches :attr:`Transcript.text` against them.
        """
        raise NotImplementedError

    def transcribe(
        self,
        pcm: np.ndarray,
        allowed: Sequence[ShortAnswer] | None = None,
        phrases: Sequence[str] = (),
    ) -> Transcript:
        """Recognise a whole utterance at once."""
        raise NotImplementedError

    def load(self) -> None:
        """Load the model now; by default there is nothing to load."""

    def embedder(self) -> Embedder | None:
        """An encoder for comparing a person's taught words in a busy background
        (:class:`~assistant.stt.personal.Embedder`); None by default (MFCCs are compared)."""
        return None

    def close(self) -> None:
        """Let go of threads and models; nothing to do by default."""
