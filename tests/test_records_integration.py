"""A record made by the real dialogue engine (the demo, fake speech) through the store, the
export schema and the easy-read summary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
from test_records_support import make_wav

from assistant.cli import main
from assistant.records.easyread import render_summary
from assistant.records.export import export_csv, export_document, export_schema
from assistant.records.model import SessionRecord
from assistant.records.store import RecordStore


@pytest.fixture(scope="module")
def engine_record(tmp_path_factory: pytest.TempPathFactory) -> SessionRecord:
    out = tmp_path_factory.mktemp("demo") / "record.json"
    cfg = out.with_name("config.toml")
    cfg.write_text(f'[records]\ndata_dir = "{out.parent / "data"}"\n')
    try:
        code = main(["--config", str(cfg), "demo", "--fake-speech", "--record-out", str(out)])
    except SystemExit as exc:  # pragma: no cover - depends on the dialogue area
        pytest.skip(f"the demo command is not available: {exc}")
    if code != 0 or not out.exists():
        pytest.skip("the demo command did not write a record")
    return SessionRecord.model_validate_json(out.read_text())


def test_engine_record_through_the_store(engine_record: SessionRecord, tmp_path: Path) -> None:
    store = RecordStore(tmp_path / "data", min_free_mb=0)
    rec = engine_record.model_copy(deep=True)
    # Saved answer by answer, as the shell does, with each free answer's WAV offered.
    answers = list(rec.answers)
    rec.answers = []
    rec.state = "draft"  # the finished record, replayed as the drafts it was while it ran
    kept = 0
    for i, answer in enumerate(answers):
        rec.answers.append(answer)
        store.save_session(rec)
        if answer.kind == "free" and not answer.passed:
            sha = store.keep_audio(rec.id, answer.id, make_wav(tmp_path / "t.wav", 0.1, 200 + i))
            kept += sha is not None
    store.finish_session(rec.id)
    back = store.get_session(rec.id)
    assert [a.id for a in back.answers] == [a.id for a in answers]

    # Consent given in the session reached the roster, and gated the audio.
    consent = {p.id: bool(p.consent and p.consent.audio) for p in engine_record.people}
    for person in engine_record.people:
        in_force = store.get_person(person.id).consent
        assert in_force is not None and in_force.audio == consent[person.id]
    assert any(not ok for ok in consent.values())  # the demo has someone who said no
    # The store kept the clips of those who said yes as they came (it checks each person)...
    assert kept > 0
    # ...and, the demo being a group, deleted them once the session's no was saved: one
    # microphone hears the room, so a no in a group keeps the words only, for everyone.
    assert [a.id for a in back.answers if a.audio_clip] == []

    doc = export_document(store, [back])
    jsonschema.validate(json.loads(json.dumps(doc)), export_schema())
    rows = list(csv.DictReader(io.StringIO(export_csv(store, [back]))))
    assert len(rows) == len(answers)

    html = render_summary(store, back)
    assert "<audio" not in html  # clips in the summary: tests/test_easyread.py
    for person in engine_record.people:
        mine = render_summary(store, back, person_id=person.id)
        if not consent[person.id]:
            assert "<audio" not in mine
        said = [a.transcript for a in back.answers_for(person.id) if a.kind == "free"]
        if any(said):  # the buttons-only person answers by choices: no free words
            assert any(t and t in mine for t in said)
    store.close()
