"""``assistant people`` and ``assistant records``: commands, exports and the schema."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest
from test_records_support import GROUP, group_session, make_wav, roster

from assistant.cli import main
from assistant.records.export import CSV_COLUMNS, export_schema, schema_text
from assistant.records.model import SessionRecord
from assistant.records.store import RecordStore

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[records]\ndata_dir = "{tmp_path / "data"}"\nmin_free_mb = 0\n')
    return cfg


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def session(config: Path, tmp_path: Path) -> SessionRecord:
    """A finished group session with audio for those who consented."""
    store = RecordStore(tmp_path / "data", min_free_mb=0)
    people = roster(store)
    rec = group_session(people)
    store.save_session(rec)
    for i, a in enumerate(rec.answers):
        if a.kind == "free":
            store.keep_audio(rec.id, a.id, make_wav(tmp_path / "w.wav", 0.2, 250 + 9 * i))
    store.finish_session(rec.id)
    back = store.get_session(rec.id)
    store.close()
    return back


def test_people_commands(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        config, capsys, "people", "add", "Sam", "--consent", "yes", "--witness", "Kate"
    )
    assert code == 0 and "Added Sam" in out and "witness Kate" in out
    assert run(config, capsys, "people", "add", "Jo")[0] == 0
    code, _, err = run(config, capsys, "people", "add", "sam")
    assert code == 2 and err.strip().count("\n") == 0 and "already someone called Sam" in err
    code, out, _ = run(config, capsys, "people", "list")
    lines = out.strip().splitlines()
    assert lines[0].startswith("Sam") and "voice: yes" in lines[0]
    assert lines[1].startswith("Jo") and "not asked" in lines[1]
    code, out, _ = run(config, capsys, "people", "consent", "jo", "no", "--witness", "Kate")
    assert code == 0 and "Jo: keep their voice: no" in out
    code, out, _ = run(config, capsys, "people", "withdraw", "Sam", "--by", "Kate")
    assert code == 0 and "0 recording(s) deleted" in out
    code, out, _ = run(config, capsys, "people", "list")
    assert "withdrawn" in out.splitlines()[0]
    code, _, err = run(config, capsys, "people", "remove", "Nobody")
    assert code == 2 and "no one called Nobody" in err
    sam_id = out.splitlines()[0].split()[-1]
    code, out, _ = run(config, capsys, "people", "remove", sam_id[:8])
    assert code == 0 and "Sam is off the roster" in out
    code, out, _ = run(config, capsys, "people", "list")
    assert "Sam" not in out
    code, out, _ = run(config, capsys, "people", "list", "--all")
    assert "(off the roster)" in out


def test_records_list_and_show(
    config: Path, capsys: pytest.CaptureFixture[str], session: SessionRecord, tmp_path: Path
) -> None:
    code, out, _ = run(config, capsys, "records", "list")
    assert code == 0 and session.id[:8] in out and "finalised" in out and "26 answers" in out
    code, out, _ = run(config, capsys, "records", "show", session.id[:8])
    assert code == 0
    assert '"to see my friends"' in out and "Priya" in out and "FLAG (asked_for_help)" in out
    assert "audio kept" in out
    assert "not sure" in out and "not_sure" not in out and "dont_like" not in out  # plain words
    assert "don't like" in out
    code, _, err = run(config, capsys, "records", "show", "zz")
    assert code == 2 and "at least 4 characters" in err
    store = RecordStore(tmp_path / "data", min_free_mb=0)
    assert [e["action"] for e in store.access_log()] == ["show"]
    store.close()


def test_json_export_validates_against_the_schema(
    config: Path, capsys: pytest.CaptureFixture[str], session: SessionRecord, tmp_path: Path
) -> None:
    code, schema_out, _ = run(config, capsys, "records", "schema")
    schema = json.loads(schema_out)
    assert schema == export_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    out_file = tmp_path / "export.json"
    code, _, err = run(config, capsys, "records", "export", "--out", str(out_file))
    assert code == 0 and "Wrote 1 session(s)" in err
    doc = json.loads(out_file.read_text())
    jsonschema.validate(
        doc, schema, cls=jsonschema.Draft202012Validator, format_checker=jsonschema.FormatChecker()
    )
    exported = SessionRecord.model_validate(doc["sessions"][0])
    assert exported == session  # nothing lost on the way out
    assert sum(1 for a in exported.answers if a.audio_clip) == 7  # 3 x 2 answers + celebration
    # The schema can fail: a bad record does not validate.
    bad = copy.deepcopy(doc)
    bad["sessions"][0]["answers"][0]["confirmed_by"] = "telepathy"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = copy.deepcopy(doc)
    bad["sessions"][0]["answers"][0]["audio_clip"] = "../../etc/passwd"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = copy.deepcopy(doc)
    del bad["sessions"][0]["answers"][0]["person_id"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_committed_schema_file_is_up_to_date() -> None:
    committed = ROOT / "docs" / "export.schema.json"
    assert committed.read_text() == schema_text(), (
        "regenerate it: assistant records schema --out docs/export.schema.json"
    )


def test_csv_export_one_row_per_answer(
    config: Path, capsys: pytest.CaptureFixture[str], session: SessionRecord
) -> None:
    code, out, _ = run(config, capsys, "records", "export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(session.answers)
    names = {p.id: p.name for p in session.people}
    consenting = {name for name, ok in GROUP if ok}
    for row, answer in zip(rows, session.answers, strict=True):
        assert row["answer_id"] == answer.id
        assert row["person_name"] == (names[answer.person_id] if answer.person_id else "(group)")
        assert row["transcript"] == answer.transcript
        assert row["confirmed_by"] == answer.confirmed_by
        expect_audio = answer.kind == "free" and row["person_name"] in consenting
        assert row["has_audio"] == ("yes" if expect_audio else "no")
    priya = [r for r in rows if r["person_name"] == "Priya"]
    assert {r["transcript"] for r in priya} >= {"I want to learn to cook"}


def test_summary_and_retention_commands(
    config: Path, capsys: pytest.CaptureFixture[str], session: SessionRecord, tmp_path: Path
) -> None:
    target = tmp_path / "sam.html"
    code, out, _ = run(
        config,
        capsys,
        "records",
        "summary",
        session.id[:8],
        "--person",
        "Sam",
        "--out",
        str(target),
    )
    assert code == 0 and target.exists()
    html = target.read_text()
    assert "to see my friends" in html and "<audio" in html
    assert "I want to learn to cook" not in html  # Priya's words are not in Sam's summary
    code, _, _ = run(
        config,
        capsys,
        "records",
        "summary",
        session.id[:8],
        "--person",
        "Sam",
        "--out",
        str(target),
        "--audio-files",
    )
    assert code == 0 and len(list((tmp_path / "sam-audio").glob("*.wav"))) == 3
    assert 'src="sam-audio/' in target.read_text()
    code, _, err = run(
        config,
        capsys,
        "records",
        "summary",
        session.id[:8],
        "--out",
        str(tmp_path / "missing" / "x.html"),
    )
    assert code == 2 and "does not exist" in err
    code, out, _ = run(config, capsys, "records", "retention")
    assert code == 0 and "Deleted 0 recording(s)" in out  # finalised, not sent: kept
    code, out, _ = run(config, capsys, "records", "flags")
    assert "asked_for_help" in out and "Priya" in out
    flag_id = out.split()[0]
    code, _, err = run(config, capsys, "records", "clear-flag", "zzzz", "--by", "Kate")
    assert code != 0 and "no flag with an id starting 'zzzz'" in err
    code, out, _ = run(config, capsys, "records", "clear-flag", flag_id, "--by", "Kate")
    assert code == 0 and f"Flag {flag_id} cleared by Kate. Flags still open: 0." in out
    code, out, _ = run(config, capsys, "records", "clear-flag", flag_id, "--by", "Kate")
    assert code == 0 and "already cleared" in out
    code, out, _ = run(config, capsys, "records", "flags")
    assert out.strip() == "No flags."
    code, out, _ = run(config, capsys, "records", "flags", "--all")
    assert "Priya" in out and "(resolved)" in out  # kept, marked resolved


def test_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    from assistant.records.export import export_csv
    from assistant.records.model import Answer

    store = RecordStore(tmp_path, min_free_mb=0)
    person = store.add_person("=HYPERLINK(1)")
    rec = SessionRecord(
        script="s",
        people=[person],
        answers=[
            Answer(person_id=person.id, step_id="a", question="Q", transcript="=1+2"),
            Answer(person_id=person.id, step_id="b", question="Q", transcript="-5 degrees"),
            Answer(person_id=person.id, step_id="c", question="Q", transcript="1 = 1"),
        ],
    )
    store.save_session(rec)
    rows = list(csv.DictReader(io.StringIO(export_csv(store, [store.get_session(rec.id)]))))
    assert [r["transcript"] for r in rows] == ["'=1+2", "'-5 degrees", "1 = 1"]
    assert rows[0]["person_name"] == "'=HYPERLINK(1)"
    store.close()
