"""Personal words: a person's own way of saying yes, no, next, help and repeat.

Many of the people this device is for speak in ways a general recogniser was never trained on
(dysarthria, slow or unclear speech, a strong accent, a hum instead of a word). A person (with
their supporter) teaches the device a few examples of each short answer; this module compares
a new short answer with *that person's* examples and says which word it is, or that it is
none of them.

It recognises the WORDS of a person who is already identified (by name or by button, as
everywhere on this device). It is never used, and must never be used, to find out *who* is
speaking: examples are only ever compared with the examples of the person whose turn it is.

How (chosen from measurements in ``bench/bench_stt.py --taught``; ``docs/personal-words.md``):

* **Features.** The utterance is cut to its speech (an energy detector against the clip's own
  noise floor), then 13 MFCCs from a 26-band mel filterbank (25 ms windows, 10 ms hop), plus
  their first differences, normalised per utterance (mean and variance), all with numpy.
* **Comparison.** Dynamic time warping between the utterance and every example of the person
  (all examples at once, one numpy pass per frame of the utterance), the path cost divided by
  the two lengths. A word's distance is that of its nearest example.
* **Decision.** Accept the nearest word only when it is clearly near (an absolute bound from
  the person's own examples: how far apart two examples of the same word were, leave-one-out)
  and clearly nearer than every other word (a margin: the second-nearest word at least
  :data:`SURE_MARGIN` times as far). Otherwise no answer: never a guess.
* **Fusion** with the general recogniser (:func:`fuse`): the matcher alone when it is sure;
  both agreeing; the general recogniser alone when the matcher has no candidate, but for a
  word the person has taught only when its own text is that answer (not a second look); any
  conflict is rejected. :attr:`Decision.decided_by` says which.
* **A busy background** (talk or a cafe around the answer, or steady noise not far under
  it: :data:`BUSY_DB`) makes both recognisers unreliable. There the matcher's sure word is
  not taken alone: the general recogniser is waited for and a conflict is no answer
  (:attr:`Match.alone`). Nor is the general recogniser alone taken for a word the person has
  examples of while the matcher is between two of their words (far from every example, it
  decides as for anyone untaught).
* **Features in a busy background.** MFCCs hear the talk as much as the word. When the
  general recogniser is Whisper (and each word decided has 3 examples), the answer and the
  examples are compared there by the frames of Whisper's own encoder as well
  (:class:`Embedder`; the encoder was trained on speech in noise): the speech span and 50 ms
  either side, each frame scaled to unit length. The two views must agree (:func:`_both`):
  different candidates are no candidate; sure needs both near the same word. In quiet the
  MFCCs alone: they were better there (a band-limited microphone, sounds for yes and no) and
  need no model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, get_args

import numpy as np

from assistant.words import ShortAnswer

log = logging.getLogger(__name__)

RATE: Final = 16_000
WORDS: Final[tuple[ShortAnswer, ...]] = get_args(ShortAnswer)

MIN_EXAMPLES: Final = 2
"""A word with fewer examples than this is not decided by the matcher (the general recogniser
decides it, and ``assistant people words`` says so); its examples still count as competitors."""

MIN_EXAMPLES_BUSY: Final = 3
"""In a busy background the answer is compared by an :class:`Embedder` too only when each word
the matcher decides has at least this many examples (otherwise by MFCCs alone, as in quiet).
Measured at k = 2: by the encoder alone, a "no" in babble was sure as "help" while Whisper
heard nothing; by both views, 93.4% right over the 23 test speakers (MFCCs alone 90.8%), but
on 8 new speakers in talk 2 of 80 non-answers taken (MFCCs alone 1 of 80), under the 98%
target."""

MIN_SEPARATION: Final = 0.8
"""A word is decided by the matcher only when its examples are at least this much further from
the person's other words than from each other (nearest other-word distance over the
leave-one-out spread). Measured: 1.07 to 2.2 for every test speaker but one, 0.2 for speech in
loud babble (taught there too), where the matcher cannot tell the words apart and the general
recogniser is left to decide."""

MAX_EXAMPLES: Final = 10
"""At most this many examples are kept per word (confirmed answers may add to them)."""

MAX_CONFIRMED: Final = 4
"""Of them, at most this many confirmed answers (``source="confirmed"``): a new one replaces
the oldest; a taught example is never dropped to make room for one."""

MAX_EXAMPLE_S: Final = 4.0
"""A teaching example longer than this (after its quiet ends are cut) is refused."""

SURE_MARGIN: Final = 1.15
"""The second-nearest word must be at least this many times as far as the nearest."""

CANDIDATE_MARGIN: Final = 1.08
"""A weaker margin for a *candidate*: not enough alone, enough to agree with the general
recogniser (or to conflict with it)."""

ABS_FACTOR: Final = 1.2
"""The absolute bound is this many times the largest leave-one-out distance between two
examples of the same word (the person's own spread). Measured over 23 test speakers at k = 2,
3 and 5: 1.2 keeps every right answer 1.35 had and takes fewer non-answers (k=3: 1 of 233
taken, against 3); 1.1 loses right answers."""

CANDIDATE_ABS_FACTOR: Final = 1.6

DEFAULT_WITHIN: Final = 0.55
"""The same-word spread assumed for a word with a single example (no leave-one-out possible):
the median measured in the benchmark."""

# ----------------------------------------------------------------------------- features

DEFAULT_WITHIN_ENCODED: Final = 0.38
""":data:`DEFAULT_WITHIN` for the encoder's frames (:class:`Embedder`): scaled by the ratio of
the median same-word spreads measured over the 23 test speakers at k = 3 (0.23 against 0.34)."""

EDGE_S: Final = 0.05
"""The encoder is given the speech span and this much either side (measured: without it, 2
answers in talk were swapped)."""

_N_FFT: Final = 512
_WIN: Final = 400  # 25 ms
_HOP: Final = 160  # 10 ms
_N_MELS: Final = 26
_N_MFCC: Final = 13


def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    mels = np.linspace(hz_to_mel(np.array(60.0)), hz_to_mel(np.array(7600.0)), _N_MELS + 2)
    bins = np.floor((_N_FFT + 1) * mel_to_hz(mels) / RATE).astype(int)
    fb = np.zeros((_N_MELS, _N_FFT // 2 + 1))
    for i in range(_N_MELS):
        lo, mid, hi = bins[i], bins[i + 1], bins[i + 2]
        if mid > lo:
            fb[i, lo:mid] = (np.arange(lo, mid) - lo) / (mid - lo)
        if hi > mid:
            fb[i, mid:hi] = (hi - np.arange(mid, hi)) / (hi - mid)
    return fb


_FB: Final = _mel_filterbank()
_WINDOW: Final = np.hamming(_WIN)
_DCT: Final = np.cos(
    np.pi / _N_MELS * (np.arange(_N_MELS)[None, :] + 0.5) * np.arange(_N_MFCC)[:, None]
)


def _frames(x: np.ndarray) -> np.ndarray:
    n = 1 + max(0, (len(x) - _WIN) // _HOP)
    idx = np.arange(_WIN)[None, :] + _HOP * np.arange(n)[:, None]
    return x[idx]


MIN_PEAK: Final = 300.0
"""A clip whose loudest 25 ms frame has an RMS under this (int16 units) holds no speech."""


def _frame_db(x: np.ndarray) -> np.ndarray:
    fr = _frames(x)
    rms = np.sqrt(np.mean((fr - fr.mean(axis=1, keepdims=True)) ** 2, axis=1)) + 1e-3
    out: np.ndarray = 20 * np.log10(rms)
    return out


SPAN_DB: Final = 35.0
"""The utterance bar is at most this far below its loudest part (15 and 20 were measured: no
better in babble, worse for hums)."""
MAX_GAP_S: Final = 0.25
"""Quiet inside one utterance up to this long is kept (a pause between "mm" and "hm")."""


def speech_span(pcm: np.ndarray) -> tuple[int, int] | None:
    """The first and last sample of the clip's main utterance, or None when nothing in it
    stands out of its own background (:func:`speech_span_busy`)."""
    return speech_span_busy(pcm)[0]


def speech_span_busy(pcm: np.ndarray) -> tuple[tuple[int, int] | None, bool]:
    """The first and last sample of the clip's main utterance (None when nothing in it stands
    out of its own background), and whether the background is busy (talk, a cafe:
    :data:`BUSY_DB`).

    Frame energies (smoothed over 50 ms) against the clip's noise floor (its quietest tenth);
    the utterance is the run of loud frames around the loudest one, pauses up to
    :data:`MAX_GAP_S` bridged, so talk far before or after it is left out.
    """
    x = np.asarray(pcm, dtype=np.float64)
    if len(x) < _WIN:
        return None, False
    db = _frame_db(x)
    peak_raw = float(db.max())
    if peak_raw < 20 * np.log10(MIN_PEAK):
        return None, False
    # edge-padded: zero-padded, the first and last 20 ms of every clip looked 13 to 26 dB
    # quieter, and the two-level fit (_in_busy_background) took them for the outside of the
    # word, so a clip in babble passed for a quiet background (23 of the babble test
    # speaker's 50 clips)
    smooth = np.convolve(np.pad(db, 2, mode="edge"), np.ones(5) / 5, mode="valid")
    peak = float(smooth.max())
    floor = float(np.percentile(smooth, 10))
    if peak - floor < 10.0:  # nothing stands out of the background: noise, not a word
        return None, False
    bar = max(floor + 0.45 * (peak - floor), peak - SPAN_DB)
    loud = smooth > bar
    centre = int(np.argmax(smooth))
    gap = int(MAX_GAP_S * RATE / _HOP)
    first = last = centre
    quiet = 0
    for j in range(centre + 1, len(loud)):
        if loud[j]:
            last, quiet = j, 0
        else:
            quiet += 1
            if quiet > gap:
                break
    quiet = 0
    for j in range(centre - 1, -1, -1):
        if loud[j]:
            first, quiet = j, 0
        else:
            quiet += 1
            if quiet > gap:
                break
    first, last, busy = _in_busy_background(smooth, first, last)
    first = max(0, first - 3)
    last = min(len(db) - 1, last + 3)
    return (first * _HOP, min(len(x), last * _HOP + _WIN)), busy


BUSY_DB: Final = 20.0
"""A clip whose utterance stands less than this far (mean dB) above the rest of it has a busy
background (talk, a cafe) and the utterance is narrowed (:func:`_in_busy_background`). Clean
and room-noise clips stand 30 dB or more above; babble and a cafe at 8 to 12 dB stand under 12
(12, 15, 20, 25 and 30 were measured: the same results). Steady noise 10 to 12 dB under the
word is busy too; there the matcher waits for the general recogniser (:attr:`Match.alone`)."""

_FIT_MAX_FRAMES: Final = 400
"""Over 4 s of sound (longer than any example: :data:`MAX_EXAMPLE_S`) the energy span stands:
the fit's cost grows with the square of the length (about 6 ms of processor time at 400
frames on this machine, under load)."""


def _in_busy_background(smooth: np.ndarray, first: int, last: int) -> tuple[int, int, bool]:
    """Frames *first*..*last* (the energy span), narrowed to the utterance when the background
    is busy; and whether it is.

    In talk or a cafe, the background's own loud moments are bridged into the energy span,
    which then runs over most of the clip. The utterance is then the one run of frames that
    best splits the clip into two levels (inside and outside, least squares over the smoothed
    frame energies), kept where it overlaps the energy span. Measured (``bench_stt.py
    --taught``, k=3, the matcher alone): the three speakers in talk or a cafe 13 of 75 right
    before, 25 after, every other speaker unchanged (fused, with the bound and the text under
    Whisper's bar: 20 before, 34 after).
    """
    n = len(smooth)
    if n > _FIT_MAX_FRAMES or n < 8:
        return first, last, False
    x = smooth.astype(np.float64)
    s1 = np.concatenate([[0.0], np.cumsum(x)])
    s2 = np.concatenate([[0.0], np.cumsum(x * x)])
    a = np.arange(n)[:, None]
    b = np.arange(1, n + 1)[None, :]
    n_in = np.maximum(b - a, 1)
    n_out = np.maximum(n - n_in, 1)
    sum_in = s1[b] - s1[a]
    sum_out = s1[n] - sum_in
    sse = (s2[b] - s2[a]) - sum_in**2 / n_in + (s2[n] - (s2[b] - s2[a])) - sum_out**2 / n_out
    mean_in, mean_out = sum_in / n_in, sum_out / n_out
    ok = (b > a + 4) & (b - a < n) & (mean_in > mean_out)
    if not ok.any():
        return first, last, False
    i, j = np.unravel_index(int(np.argmin(np.where(ok, sse, np.inf))), sse.shape)
    if mean_in[i, j] - mean_out[i, j] >= BUSY_DB:  # a quiet background: the span stands
        return first, last, False
    lo, hi = max(first, int(i)), min(last, int(j) + 1)  # the fit: frames i to j, and one of slack
    if hi - lo < 10:  # no real overlap (100 ms): the energy span stands
        return first, last, True
    return lo, hi, True


def _mel_power(pcm: np.ndarray) -> np.ndarray:
    x = np.asarray(pcm, dtype=np.float64) / 32768.0
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1])
    fr = _frames(x) * _WINDOW
    power = np.abs(np.fft.rfft(fr, _N_FFT)) ** 2
    out: np.ndarray = power @ _FB.T
    return out


def mfcc(pcm: np.ndarray, noise: np.ndarray | None = None) -> np.ndarray:
    """MFCCs (frames x 13) of the whole of *pcm* (16 kHz); *noise* (a mel power spectrum) is
    subtracted first (spectral subtraction, floored at a tenth of it)."""
    mel = _mel_power(pcm)
    if noise is not None:
        mel = np.maximum(mel - noise, 0.1 * noise)
    logmel = np.log(mel + 1e-8)
    out: np.ndarray = logmel @ _DCT.T
    return out


def features(pcm: np.ndarray) -> np.ndarray | None:
    """The matcher's features of an utterance (frames x 26, float32), or None without speech.

    (Spectral subtraction of the background, estimated from the quietest frames, was measured
    and left out: it cost accuracy on clean and reverberant speech and did not rescue babble.)
    """
    return _span_features(pcm, speech_span(pcm))


def _span_features(pcm: np.ndarray, span: tuple[int, int] | None) -> np.ndarray | None:
    if span is None:
        return None
    seg = np.asarray(pcm[span[0] : span[1]])
    c = mfcc(seg)
    if len(c) < 3:
        return None
    d = np.gradient(c, axis=0)
    f = np.hstack([c, d])
    f = (f - f.mean(axis=0)) / (f.std(axis=0) + 1e-6)
    return f.astype(np.float32)


def _segment(pcm: np.ndarray, span: tuple[int, int] | None) -> np.ndarray | None:
    """The speech span with :data:`EDGE_S` either side: what an :class:`Embedder` is given."""
    if span is None:
        return None
    edge = int(EDGE_S * RATE)
    return np.asarray(pcm[max(0, span[0] - edge) : span[1] + edge])


class Embedder(Protocol):
    """Frames of a speech model's encoder for a speech segment, used in a busy background
    (:class:`assistant.stt.whisper.WhisperEncoder` is the real one)."""

    name: str

    def frames(self, segment: np.ndarray) -> np.ndarray | None:
        """Encoder frames (frames x d, float32, each scaled to length sqrt(d)) of a 16 kHz
        int16 segment (the speech span and :data:`EDGE_S` either side), or None when it is too
        short."""
        ...


# ----------------------------------------------------------------------------- comparison


def dtw_distances(
    query: np.ndarray, templates: Sequence[np.ndarray], abandon: float | None = None
) -> np.ndarray:
    """DTW distance from *query* (n x d) to each template (m_t x d), all in one pass.

    Steps: (1,1), (1,0) (one template frame held over two query frames) and (1,2) (a template
    frame skipped), so a template may be at most about twice as long as the query (longer: the
    roles are swapped, on the same frame costs transposed), and the recursion runs row by row
    over the query for every template together. Frame cost: Euclidean distance over sqrt(d).
    The path cost is divided by n + m_t.

    *abandon*: a template whose distance is sure to be over this (every cell of a row of its
    accumulated cost, over n + m_t, is: costs are never negative) is dropped from the rest of
    the recursion and given that lower bound instead of its distance (early abandoning; the
    matcher passes a bound beyond which no decision changes: :meth:`PersonalWords.nearest`).
    """
    if not templates:
        return np.zeros(0)
    cost, lens = _costs(query, templates)
    out = _constrained(cost, lens, abandon)
    long = ~np.isfinite(out)
    for i in map(int, np.flatnonzero(long)):  # a template over twice the query's length
        c = np.ascontiguousarray(cost[i, :, : lens[i]].T)[None]
        out[i] = _constrained(c, np.array([len(query)]), abandon)[0]
    return out


def dtw_distances_reference(query: np.ndarray, templates: Sequence[np.ndarray]) -> np.ndarray:
    """The first implementation of :func:`dtw_distances` (einsum frame costs, recomputed when
    the roles are swapped, no abandoning), kept for the benchmark (``--taught``: before and
    after in one run) and a test that the two agree."""
    if not templates:
        return np.zeros(0)
    cost, lens = _costs(query, templates, einsum=True)
    out = _constrained(cost, lens)
    long = ~np.isfinite(out)
    for i in map(int, np.flatnonzero(long)):
        c, ln = _costs(templates[i], [query], einsum=True)
        out[i] = _constrained(c, ln)[0]
    return out


def _costs(
    query: np.ndarray, templates: Sequence[np.ndarray], einsum: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    n, d = query.shape
    lens = np.array([len(t) for t in templates])
    m = int(lens.max())
    stack = np.zeros((len(templates), m, d), dtype=np.float32)
    for i, t in enumerate(templates):
        stack[i, : len(t)] = t
    # cost[t, i, j] = |q_i - t_j| / sqrt(d), from one matrix product
    q2 = (query**2).sum(axis=1)
    t2 = (stack**2).sum(axis=2)
    if einsum:
        cross = np.einsum("nd,tmd->tnm", query, stack)
        cost = np.sqrt(np.maximum(q2[None, :, None] + t2[:, None, :] - 2 * cross, 0.0))
        return cost / np.sqrt(d), lens
    # one batched BLAS product (several times quicker than einsum here), then in place
    q = np.ascontiguousarray(query, dtype=np.float32) * np.float32(-2.0 / d)
    cost = np.matmul(q[None], stack.transpose(0, 2, 1))  # -2 q.t / d, (t, n, m)
    cost += (q2 / d).astype(np.float32)[None, :, None]
    cost += (t2 / d).astype(np.float32)[:, None, :]
    np.maximum(cost, 0.0, out=cost)
    np.sqrt(cost, out=cost)
    return cost, lens


def _constrained(cost: np.ndarray, lens: np.ndarray, abandon: float | None = None) -> np.ndarray:
    t, n, m = cost.shape
    inf = np.float32(np.inf)
    acc = np.full((t, m), inf, dtype=np.float32)
    acc[:, 0] = cost[:, 0, 0]
    live = np.arange(t)  # the templates still in the recursion
    out = np.full(t, np.inf)
    norm = (n + lens).astype(np.float32)
    limit = None
    if abandon is not None:  # never one that cannot be reached (its roles are swapped later)
        limit = np.where(lens - 1 <= 2 * (n - 1), np.float32(abandon) * norm, np.inf)
    best = np.empty_like(acc)
    for i in range(1, n):
        c = cost[live, i, :] if len(live) < t else cost[:, i, :]
        np.copyto(best, acc)  # (i-1, j)
        np.minimum(best[:, 1:], acc[:, :-1], out=best[:, 1:])  # (i-1, j-1)
        np.minimum(best[:, 2:], acc[:, :-2] + c[:, 1:-1], out=best[:, 2:])  # (i-1, j-2)
        np.add(best, c, out=acc)
        if limit is not None and i % 8 == 0:
            low = acc.min(axis=1)
            gone = low > limit[live]
            if gone.any():
                out[live[gone]] = low[gone] / norm[live[gone]]  # a lower bound: far enough
                keep = ~gone
                live, acc = live[keep], acc[keep]
                best = np.empty_like(acc)
                if not len(live):
                    return out
    end = acc[np.arange(len(live)), lens[live] - 1]
    out[live] = end / (n + lens[live])
    # a template never reached (over twice the query's length) stays inf; one abandoned holds
    # its lower bound
    return out


def dtw_sym_distances(query: np.ndarray, templates: Sequence[np.ndarray]) -> np.ndarray:
    """Symmetric DTW distance from *query* (n x d) to each template (m_t x d), all at once.

    Steps (1,1) at twice the frame cost, (1,0) and (0,1) at once; the path cost divided by
    n + m_t. Frame cost: Euclidean distance over sqrt(d). The recursion runs row by row over
    the query for every template together; within a row, runs of (0,1) steps are a cumulative
    minimum (``D[j] = S[j] + min_{j'<=j}(B[j'] - S[j'])``, S the row's cumulative cost).
    """
    if not templates:
        return np.zeros(0)
    n, d = query.shape
    lens = np.array([len(t) for t in templates])
    m = int(lens.max())
    stack = np.zeros((len(templates), m, d), dtype=np.float32)
    for i, t in enumerate(templates):
        stack[i, : len(t)] = t
    q2 = (query**2).sum(axis=1)
    t2 = (stack**2).sum(axis=2)
    cross = np.einsum("nd,tmd->tnm", query, stack)
    cost = np.sqrt(np.maximum(q2[None, :, None] + t2[:, None, :] - 2 * cross, 0.0)) / np.sqrt(d)
    cost = cost.astype(np.float64)
    # first row: only (0,1) steps from (0,0)
    acc = np.cumsum(cost[:, 0, :], axis=1)
    for i in range(1, n):
        c = cost[:, i, :]
        b = acc + c  # (1,0)
        b[:, 1:] = np.minimum(b[:, 1:], acc[:, :-1] + 2 * c[:, 1:])  # (1,1)
        b[:, 0] = acc[:, 0] + c[:, 0]
        s = np.cumsum(c, axis=1)
        acc = s + np.minimum.accumulate(b - s, axis=1)
    end = acc[np.arange(len(templates)), lens - 1]
    out: np.ndarray = end / (n + lens)
    return out


def mean_distances(query: np.ndarray, templates: Sequence[np.ndarray]) -> np.ndarray:
    """The cheap alternative measured against DTW: each utterance resampled to 24 frames
    (a fixed-length time-normalised template), Euclidean distance per frame."""
    q = _resample_frames(query)
    return np.array(
        [float(np.linalg.norm(q - _resample_frames(t), axis=1).mean()) for t in templates]
    )


def _resample_frames(f: np.ndarray, n: int = 24) -> np.ndarray:
    pos = np.linspace(0, len(f) - 1, n)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(f) - 1)
    w = (pos - lo)[:, None]
    out: np.ndarray = (1 - w) * f[lo] + w * f[hi]
    return out / np.sqrt(f.shape[1])


Method = Literal["dtw", "dtw-ref", "dtw-sym", "fixed"]

# ----------------------------------------------------------------------------- the matcher


@dataclass(frozen=True)
class Match:
    """What the matcher made of one utterance."""

    answer: ShortAnswer | None
    """The word, only when the matcher is sure (near, and clearly nearer than the others)."""
    candidate: ShortAnswer | None
    """The nearest word when it passes the weaker bars (enough to agree, or conflict, with the
    general recogniser); None when the utterance is far from every example."""
    distances: dict[str, float] = field(default_factory=dict)
    """Nearest-example distance per taught word."""
    margin: float = 0.0
    """Second-nearest distance over nearest (1.0 when only one word is taught)."""
    speech: bool = True
    """False when the utterance held no speech at all (then nothing else is set)."""
    compute_s: float = 0.0
    """Processor seconds this decision took (``time.process_time``)."""
    why: str = ""
    taught: tuple[str, ...] = ()
    """The words the matcher decides for this person (enough examples): the general
    recogniser alone is never taken for one of these."""
    busy: bool = False
    """The utterance's background was busy (talk, a cafe: :data:`BUSY_DB`)."""
    compared_by: str = "mfcc"
    """The features compared: ``mfcc``, or ``mfcc + `` the :class:`Embedder`'s name in a busy
    background (both compared: :func:`_both`)."""
    encoded_distances: dict[str, float] = field(default_factory=dict)
    """Nearest-example distance per word by the embedder's frames (busy background only)."""

    @property
    def alone(self) -> bool:
        """The matcher decides without the general recogniser: sure, and not in a busy
        background (there the general recogniser is waited for, and a conflict is no answer)."""
        return self.answer is not None and not self.busy


@dataclass
class PersonalWords:
    """One person's taught examples (features), calibrated, ready to match."""

    examples: dict[ShortAnswer, list[np.ndarray]] = field(default_factory=dict)
    method: Method = "dtw"
    sure_margin: float = SURE_MARGIN
    candidate_margin: float = CANDIDATE_MARGIN
    abs_factor: float = ABS_FACTOR
    bounds: dict[ShortAnswer, float] = field(default_factory=dict)
    """The absolute bound per word (calibrated by :meth:`calibrate`)."""
    separation: dict[ShortAnswer, float] = field(default_factory=dict)
    """Per word: nearest other-word distance over the same-word spread (:data:`MIN_SEPARATION`)."""
    default_within: float = DEFAULT_WITHIN
    segments: dict[ShortAnswer, list[np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Each example's speech span and :data:`EDGE_S` either side, for :attr:`embedder`."""
    embedder: Embedder | None = field(default=None, repr=False, compare=False)
    """Compares in a busy background (:meth:`use_embedder`); None: MFCCs there too."""
    _encoded: PersonalWords | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_audio(
        cls,
        clips: Mapping[ShortAnswer, Iterable[np.ndarray]],
        method: Method = "dtw",
        embedder: Embedder | None = None,
    ) -> PersonalWords:
        """From 16 kHz int16 clips per word (a clip with no speech is left out)."""
        pw = cls(method=method)
        for word, pcms in clips.items():
            for pcm in pcms:
                pw.add(word, pcm)
        pw.calibrate()
        if embedder is not None:
            pw.embedder = embedder
            pw._warm()  # the examples encoded now, not on the first busy answer
        return pw

    def add(self, word: ShortAnswer, pcm: np.ndarray) -> bool:
        """Keep one example of *word* (16 kHz int16); False when it holds no speech.
        :meth:`calibrate` is to be called after the last."""
        span, _busy = speech_span_busy(pcm)
        f = _span_features(pcm, span)
        seg = _segment(pcm, span)
        if f is None or seg is None:
            return False
        self.examples.setdefault(word, []).append(f)
        self.segments.setdefault(word, []).append(seg)
        with self._lock:
            self._encoded = None
        return True

    def use_embedder(self, embedder: Embedder | None, warm: bool = True) -> None:
        """Compare by *embedder*'s frames in a busy background (None: by MFCCs there too).
        *warm*: the examples are encoded now on a thread of their own, while the person
        answers, so a busy answer does not wait for them (:meth:`encoded` waits if it is still
        going); otherwise on the first busy answer."""
        with self._lock:
            if embedder is self.embedder:
                return
            self.embedder, self._encoded = embedder, None
        if warm and embedder is not None and self.enough_for_busy():
            threading.Thread(target=self._warm, name="personal-words-encode", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.encoded()
        except Exception as exc:  # said again, and MFCCs compared, on a busy answer
            log.warning("The examples could not be encoded: %s", exc)

    def encoded(self) -> PersonalWords | None:
        """The same examples as :attr:`embedder`'s frames, calibrated (made on first use and
        kept); None without an embedder or segments."""
        with self._lock:
            e = self.embedder
            if e is None or not self.segments:
                return None
            if self._encoded is None:
                pw = PersonalWords(
                    method=self.method, sure_margin=self.sure_margin,
                    candidate_margin=self.candidate_margin, abs_factor=self.abs_factor,
                    default_within=DEFAULT_WITHIN_ENCODED,
                )  # fmt: skip
                for word, segs in self.segments.items():
                    for seg in segs:
                        f = e.frames(seg)
                        if f is not None:
                            pw.examples.setdefault(word, []).append(f)
                pw.calibrate()
                self._encoded = pw
            return self._encoded

    def counts(self) -> dict[ShortAnswer, int]:
        return {w: len(self.examples.get(w, [])) for w in WORDS if self.examples.get(w)}

    def usable(self) -> list[ShortAnswer]:
        """The words the matcher may decide: at least :data:`MIN_EXAMPLES` examples, told apart
        from the person's other words (:data:`MIN_SEPARATION`)."""
        return [w for w in self.counts() if self.why_not(w) is None]

    def why_not(self, word: ShortAnswer) -> str | None:
        """Why the matcher does not decide *word* (a plain phrase), or None when it does."""
        n = self.counts().get(word, 0)
        if n < MIN_EXAMPLES:
            return f"{n} example{'s' if n != 1 else ''}, at least {MIN_EXAMPLES} are needed"
        if self.separation.get(word, np.inf) < MIN_SEPARATION:
            return "its examples are too like those of their other words to tell apart"
        return None

    def _distances(
        self, query: np.ndarray, templates: Sequence[np.ndarray], abandon: float | None = None
    ) -> np.ndarray:
        if self.method == "fixed":
            return mean_distances(query, templates)
        if self.method == "dtw-sym":
            return dtw_sym_distances(query, templates)
        if self.method == "dtw-ref":
            return dtw_distances_reference(query, templates)
        return dtw_distances(query, templates, abandon)

    def abandon_bound(self) -> float:
        """A distance beyond which no decision of :meth:`_decide` changes: over every word's
        candidate bound times the sure margin. A word whose every example is further than this
        is neither the nearest (it would be far from every word) nor close enough second to
        narrow the margin below :attr:`sure_margin`; so :func:`dtw_distances` may stop
        following such an example (it is given a lower bound instead, and margins shown may
        be lower bounds too)."""
        bounds = [self.bounds.get(w, self.default_within * self.abs_factor) for w in self.examples]
        top = max(bounds, default=self.default_within * self.abs_factor)
        return float(top * CANDIDATE_ABS_FACTOR / self.abs_factor * self.sure_margin * 1.01)

    def calibrate(self) -> None:
        """Absolute bounds from the person's own spread: for each word, the largest distance
        from one of its examples to the nearest other example of it (leave-one-out)."""
        self.bounds = {}
        self.separation = {}
        for word, exs in self.examples.items():
            if len(exs) < 2:
                self.bounds[word] = self.default_within * self.abs_factor
                continue
            loo = []
            for i, e in enumerate(exs):
                others = [x for j, x in enumerate(exs) if j != i]
                loo.append(float(self._distances(e, others).min()))
            self.bounds[word] = max(loo) * self.abs_factor
            rivals = [x for w, xs in self.examples.items() if w != word for x in xs]
            if rivals:
                between = min(float(self._distances(e, rivals).min()) for e in exs)
                self.separation[word] = between / max(max(loo), 1e-6)

    def nearest(self, feats: np.ndarray) -> dict[ShortAnswer, float]:
        words = [w for w in WORDS if self.examples.get(w)]
        flat = [e for w in words for e in self.examples[w]]
        dist = self._distances(feats, flat, self.abandon_bound())
        out: dict[ShortAnswer, float] = {}
        i = 0
        for w in words:
            k = len(self.examples[w])
            out[w] = float(dist[i : i + k].min())
            i += k
        return out

    def match(self, pcm: np.ndarray, allowed: Sequence[ShortAnswer] | None = None) -> Match:
        """Which of the person's words *pcm* is, if the matcher is sure (:class:`Match`)."""
        t0 = time.process_time()
        span, busy = speech_span_busy(pcm)
        feats = _span_features(pcm, span)
        taught = tuple(self.usable())
        if feats is None:
            return Match(None, None, speech=False, compute_s=time.process_time() - t0,
                         why="no speech", taught=taught)  # fmt: skip
        dist = self.nearest(feats)
        m = self._decide(dist, allowed)
        by, setup, by_encoder = "mfcc", 0.0, None
        e = self.embedder
        if busy and e is not None and self.enough_for_busy(taught):
            words, q, setup = self._in_busy(e, pcm, span)
            if words is not None and q is not None:
                by_encoder = words.nearest(q)
                m = _both(m, words._decide(by_encoder, allowed))
                by = f"mfcc + {e.name}"
        return Match(
            m[0], m[1], {k: round(v, 4) for k, v in dist.items()}, m[2],
            compute_s=time.process_time() - t0 - setup, why=m[3], taught=taught, busy=busy,
            compared_by=by,
            encoded_distances={k: round(v, 4) for k, v in (by_encoder or {}).items()},
        )  # fmt: skip

    def enough_for_busy(self, taught: Sequence[ShortAnswer] | None = None) -> bool:
        """Every word the matcher decides has :data:`MIN_EXAMPLES_BUSY` examples: in a busy
        background the answer may be compared by the :attr:`embedder`."""
        words = self.usable() if taught is None else taught
        return bool(words) and all(len(self.examples[w]) >= MIN_EXAMPLES_BUSY for w in words)

    def _in_busy(
        self, e: Embedder, pcm: np.ndarray, span: tuple[int, int] | None
    ) -> tuple[PersonalWords | None, np.ndarray | None, float]:
        """The examples and the utterance as *e*'s frames (None when it fails: the MFCCs
        decide, and the turn is never lost over it), and the processor time spent encoding the
        examples (and loading the model) if that was not done before: once, not part of a
        decision."""
        seg = _segment(pcm, span)
        t0 = time.process_time()
        setup = 0.0
        try:
            enc = self.encoded()
            setup = time.process_time() - t0
            q = None if enc is None or seg is None else e.frames(seg)
        except Exception as exc:  # a damaged model: compare as without it
            log.warning("The %s could not encode the answer: %s", e.name, exc)
            return None, None, setup
        if enc is None or not enc.examples:
            return None, None, setup
        return enc, q, setup

    def _decide(
        self, dist: Mapping[ShortAnswer, float], allowed: Sequence[ShortAnswer] | None
    ) -> tuple[ShortAnswer | None, ShortAnswer | None, float, str]:
        if not dist:
            return None, None, 0.0, "nothing taught"
        order = sorted(dist, key=lambda w: dist[w])
        best = order[0]
        d1 = dist[best]
        d2 = dist[order[1]] if len(order) > 1 else np.inf
        margin = float(d2 / d1) if d1 > 0 else float("inf")
        shown_margin = round(min(margin, 99.0), 3)
        bound = self.bounds.get(best, self.default_within * self.abs_factor)
        usable = best in self.usable()
        open_ = allowed is None or best in allowed
        cand_bound = bound * CANDIDATE_ABS_FACTOR / self.abs_factor
        candidate = best if d1 <= cand_bound and margin >= self.candidate_margin else None
        if candidate is None:
            why = FAR if d1 > cand_bound else "between two words"
            return None, None, shown_margin, why
        if not open_:
            return None, candidate, shown_margin, f"nearest is {best}, not allowed here"
        if not usable:
            return (
                None,
                candidate,
                shown_margin,
                f"{best} is not decided alone: " + (self.why_not(best) or ""),
            )
        if d1 <= bound and margin >= self.sure_margin:
            return best, best, shown_margin, "sure"
        return None, candidate, shown_margin, "not sure"


_Decided = tuple[ShortAnswer | None, ShortAnswer | None, float, str]


def _both(mfcc: _Decided, encoder: _Decided) -> _Decided:
    """In a busy background: the MFCCs' and the encoder's decisions together. Their candidates
    must not differ (else none); sure when both have the same candidate and one is sure."""
    a1, c1, m1, why1 = mfcc
    a2, c2, m2, why2 = encoder
    margin = min(m1, m2)
    if c1 is not None and c2 is not None:
        if c1 != c2:
            return None, None, margin, f"between two words (MFCCs {c1}, encoder {c2})"
        answer = a2 or a1
        return answer, c1, margin, "sure" if answer else why2
    if c1 is not None or c2 is not None:
        return None, c1 or c2, margin, f"only {'MFCCs' if c1 else 'the encoder'} near a word"
    return None, None, margin, FAR if why1 == FAR and why2 == FAR else "between two words"


# ----------------------------------------------------------------------------- fusion

FAR: Final = "far from every taught word"
""":attr:`Match.why` when the utterance is far from every example (no candidate)."""

DecidedBy = Literal["personal", "both", "general", "none"]


@dataclass(frozen=True)
class Decision:
    answer: ShortAnswer | None
    decided_by: DecidedBy
    """``personal``: the person's words alone (sure); ``both``: the two agreed; ``general``: the
    general recogniser alone (the matcher had no candidate); ``none``: no answer."""
    why: str = ""


def fuse(
    match: Match | None,
    general: ShortAnswer | None,
    plain: bool = True,
    below_bar: ShortAnswer | None = None,
) -> Decision:
    """One short answer from the matcher and the general recogniser's answer (None = it
    rejected). Never a guess: a conflict is no answer.

    *plain*: the general recogniser's own text is a whole phrase of that answer ("Yes,
    please."), not an answer found by a second look at the audio ("uh, holes." scored as
    "yes"). For a word the person has taught, the general recogniser alone is taken only when
    plain: the person said another way of it ("yes please" where they taught "yes").

    *below_bar*: when the general recogniser rejected, the answer its own text names all the
    same (its confidence under its bar). It counts only to agree with the matcher's candidate,
    never alone: two weak signals that agree (measured over 23 test speakers: 3 more right in
    a cafe and in babble, no swap, no non-answer taken)."""
    if match is None:
        return Decision(general, "general" if general else "none", "no personal words")
    if not match.speech:
        return Decision(None, "none", "no speech")
    if match.answer is not None:
        if general is not None and general != match.answer:
            return Decision(None, "none", f"conflict: {match.answer} against {general}")
        return Decision(match.answer, "both" if general == match.answer else "personal", "sure")
    if match.candidate is not None:
        if general == match.candidate:
            return Decision(general, "both", "agree")
        if general is not None:
            return Decision(None, "none", f"conflict: {match.candidate} against {general}")
        if below_bar == match.candidate:
            return Decision(below_bar, "both", "agree, the general recogniser below its bar")
        return Decision(None, "none", f"{match.why}; the general recogniser heard nothing sure")
    if general is not None and match.busy and general in match.distances and match.why != FAR:
        # measured (bench_stt --taught, 23 speakers, k=3): in a busy background Whisper alone
        # took 7 answers for words the person has examples of: 4 right, 2 swapped, a knock, all
        # with the matcher between two words. Far from every example (taught in quiet, said in
        # a cafe), the matcher has no view, and Whisper alone decides as for anyone untaught.
        return Decision(None, "none", f"{match.why}; {general} alone, in a busy background")
    if general is not None and general in match.taught and not plain:
        # measured (bench_stt --taught): every non-answer Whisper took for a taught person, and
        # its one swap, came from its second look ("uh, holes.", "Thank you.", "It's
        # healthy." as "yes"); its plain "Yeah." and "No" were right
        return Decision(None, "none", f"{match.why}; {general} was only a second look")
    if general is not None:
        return Decision(general, "general", f"{match.why}; {general} is not taught")
    return Decision(None, "none", match.why)


# ----------------------------------------------------------------------------- teaching

CLIP_LEVEL: Final = 32_000
"""A sample at or beyond this (int16) is at the top of the range: the sound was clipped."""

CLIP_SHARE: Final = 0.02
"""An example is refused as clipped when more than this share of its utterance's samples are
at the top of the range. Measured (``bench/taught_voices.py``): 37 of 1,150 test examples had
0.2% to 1.9% of their sound at the top (a loud take, a cheap microphone's overdrive) and the
matcher, taught with them, was right on every test answer of those speakers; the bar was 0.1%
of the whole clip, and refused them all. A take too close to the microphone clips far more
(a third of the sound, or more)."""


def example_problem(pcm: np.ndarray) -> str | None:
    """Why a teaching example cannot be kept, in a plain sentence, or None when it is fine:
    silent, clipped, or too long."""
    x = np.asarray(pcm)
    span = speech_span(x)
    if span is None:
        return "Nothing could be heard in it: it is silent, or only background noise."
    seg = x[span[0] : span[1]]
    if np.count_nonzero(np.abs(seg.astype(np.int32)) >= CLIP_LEVEL) > max(3, CLIP_SHARE * len(seg)):
        return (
            "It is too loud: the sound was cut off at the top. Record it again a little "
            "further from the microphone."
        )
    db = _frame_db(x.astype(np.float64))
    floor = float(np.percentile(db, 10))
    loud = np.flatnonzero(db > max(floor + 0.45 * (float(db.max()) - floor), db.max() - 35.0))
    secs = (loud[-1] - loud[0]) * _HOP / RATE  # all of its sound, pauses included
    if secs > MAX_EXAMPLE_S:
        return (
            f"It is too long ({secs:.1f} seconds of sound): one word or sound is wanted, "
            f"at most {MAX_EXAMPLE_S:.0f} seconds."
        )
    return None


SAME_RECORDING: Final = 0.03
"""DTW distance (over MFCCs) under which two examples are one recording saved twice. One
espeak-ng "yes" saved again at 48 kHz, 32 bits, was 0.0014 from itself; the same synthetic
word with different faint noise (40 dB under it) 0.11; two takes at other speeds 0.2 to 0.3.
Over the benchmark's 42 speakers (10,905 pairs of their examples within 2 frames of each
other's length), the closest two were 0.12 apart."""


def same_sound(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two examples are the same recording: one file copied, or saved again with
    another header, sample rate or sample size (their features then differ by rounding)."""
    fa, fb = features(a), features(b)
    if fa is None or fb is None or abs(len(fa) - len(fb)) > 2:
        return False
    if fa.shape == fb.shape and np.abs(fa - fb).max() < 1e-3:
        return True
    return bool(dtw_distances(fa, [fb])[0] < SAME_RECORDING)
