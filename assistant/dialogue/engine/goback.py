"""Going back one question: copies of the record at the start of each question, and how to
return to one. Pure: records in, records out (the :class:`SessionLog` keeps the one in use)."""

from __future__ import annotations

from assistant.core.record import Answer, SessionRecord


def standing(record: SessionRecord) -> list[Answer]:
    """Every answer not taken back by going back one question."""
    return [a for a in record.answers if not a.withdrawn]


def stands(a: Answer) -> bool:
    """An answer that can stand: not one the person said was wrong, and something was given
    (a pass, a value, words, or their recording)."""
    return not a.rejected and bool(
        a.passed or a.value is not None or a.transcript.strip() or a.audio_clip
    )


class Checkpoints:
    """(answers standing, a copy of the record) at the start of each question that came after
    a new answer: where going back one question returns to."""

    def __init__(self) -> None:
        self._saved: list[tuple[int, SessionRecord]] = []

    def take(self, record: SessionRecord) -> None:
        """Remember *record* as it is before a question, if an answer came since the last
        time and the latest answer stands (else this is the same question still: a try not
        caught, or one the person said was wrong)."""
        now = standing(record)
        if self._saved and self._saved[-1][0] >= len(now):
            return
        if now and not stands(now[-1]):
            return
        self._saved.append((len(now), record.model_copy(deep=True)))

    def back(self, record: SessionRecord) -> tuple[SessionRecord, list[Answer]] | None:
        """*record* as it was before its latest answer (or answers, if one question gave
        several) and everything made from it (ideas, jobs, statuses, goals, celebrations).
        The answers undone are kept, marked taken back (and rejected), so staff see what
        happened; so are flags raised since, except one raised by an answer taken back. None
        if there is no question to go back to (nothing changes); else the record and the
        answers undone."""
        n = len(standing(record))
        keep = len(self._saved)
        while keep and self._saved[keep - 1][0] >= n:
            keep -= 1
        if not keep:
            return None
        del self._saved[keep:]
        earlier = self._saved[-1][1]
        had = {a.id for a in earlier.answers}
        undone = [a for a in record.answers if a.id not in had]
        undone_ids = {a.id for a in undone}
        had_flags = {f.id for f in earlier.flags}
        flags = [f for f in record.flags if f.id not in had_flags and f.answer_id not in undone_ids]
        restored = earlier.model_copy(deep=True)
        for a in undone:
            copy = a.model_copy(deep=True)
            copy.withdrawn = True
            copy.rejected = True
            copy.confirmed_by = "not_confirmed"
            restored.answers.append(copy)
        restored.flags.extend(f.model_copy(deep=True) for f in flags)
        return restored, [a for a in undone if not a.withdrawn]
