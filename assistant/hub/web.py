"""The staff pages: log in, flags first, people and sessions, audio, corrections, exports, audit.

Server-rendered (Jinja2), no scripts or outside assets. Every page of a person or a session, every
clip played, every export and every change is written to the audit log with who and when. Forms
carry a per-login CSRF token and the session cookie is SameSite=strict.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import os
import secrets
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from assistant.errors import SyncError
from assistant.hub import db
from assistant.hub import names as hub_names
from assistant.hub.limits import client_address
from assistant.hub.people import correct_jobs
from assistant.hub.service import ROLES, Hub, can
from assistant.hub.tries import TRY_WINDOW
from assistant.records.model import SessionRecord
from assistant.sync import bundle

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
router = APIRouter()

KIND_WORDS = {
    "mood_not_good": "Said they are not feeling good",
    "asked_for_help": "Asked for help",
    "needs_a_person": "Needs a person",
    "hold_help": "Held the help button",
    "other": "Other",
}
SUPPORT_WORDS = {
    "myself": "By myself",
    "a_little_help": "A little help",
    "a_lot_of_help": "A lot of help",
}
ACCEPT_WORDS = {"yes": "yes", "not_sure": "not sure", "no": "no"}
CELEBRATION_WORDS = {
    "plan_made": "A plan made",
    "goal_agreed": "A goal agreed",
    "job_going_well": "A job going well",
    "job_done": "A job done",
    "goal_done": "A goal done",
    "other": "Celebrated",
}


class NotLoggedIn(Exception):
    pass


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def current_staff(request: Request) -> db.Staff:
    """The logged-in staff member, looked up in the hub's sessions table on every request: a
    log-in that was ended (log-out, disabled, new password or role) is refused at once."""
    found = await run_in_threadpool(_hub(request).session_of, request.session.get("sid"))
    if found is None:
        request.session.pop("sid", None)
        raise NotLoggedIn()
    staff, csrf = found
    request.state.staff = staff
    request.state.csrf = csrf
    return staff


async def staff_name(request: Request) -> str:
    return (await current_staff(request)).name


async def _needs(request: Request, right: str, what: str) -> str:
    staff = await current_staff(request)
    if not can(staff, right):
        raise HTTPException(403, f"Your role ({staff.role}) does not allow you to {what}.")
    return staff.name


def _csrf(request: Request) -> str:
    token = getattr(request.state, "csrf", None)
    if isinstance(token, str):
        return token
    token = request.session.get("csrf")  # before logging in: kept in the signed cookie
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return token


def _check_csrf(request: Request, token: str) -> None:
    expected = getattr(request.state, "csrf", None) or request.session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, token):
        raise HTTPException(
            403, "This form is out of date. Go back, reload the page and try again."
        )


def _render(request: Request, name: str, **context: Any) -> HTMLResponse:
    staff = getattr(request.state, "staff", None)
    context.setdefault("staff", staff.name if staff is not None else None)
    context.setdefault("is_admin", staff is not None and can(staff, "manage"))
    context.setdefault("can_export", staff is not None and can(staff, "export"))
    context.setdefault("can_change", staff is not None and can(staff, "change"))
    context["csrf"] = _csrf(request)
    context["kind_words"] = KIND_WORDS
    context["support_words"] = SUPPORT_WORDS
    context["accept_words"] = ACCEPT_WORDS
    context["celebration_words"] = CELEBRATION_WORDS
    return TEMPLATES.TemplateResponse(request, name, context)


def _local_zone() -> tzinfo:
    """UK time for staff (the charity is in the UK); UTC if the zone data is missing."""
    try:
        return ZoneInfo(os.environ.get("ASSISTANT_HUB_TZ", "Europe/London"))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


_LOCAL = _local_zone()


def _when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_LOCAL).strftime("%a %d %b %Y, %H:%M")


TEMPLATES.env.filters["when"] = _when
hub_names.install(TEMPLATES.env)  # script_title, device_name


# -- log in and out ------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> HTMLResponse:
    return _render(request, "login.html", error=None)


@router.post("/login")
async def login(
    request: Request,
    name: str = Form(...),
    password: str = Form(...),
    csrf: str = Form(""),
) -> Response:
    _check_csrf(request, csrf)
    hub = _hub(request)
    account = name.strip().lower()[:200]
    address = client_address(request)
    if await run_in_threadpool(hub.tries_blocked, "login", account, address):
        await run_in_threadpool(
            hub.audit_once, name.strip()[:200] or "?", "log in blocked", address, TRY_WINDOW
        )
        return _render(
            request,
            "login.html",
            error="Too many wrong tries. Wait 15 minutes, or ask an admin to help.",
        )
    staff = await run_in_threadpool(hub.check_login, name.strip()[:200], password[:1000])
    if staff is None:
        await run_in_threadpool(hub.failed_try, "login", account, address)
        await run_in_threadpool(hub.audit, name.strip()[:200] or "?", "failed log in", address)
        return _render(request, "login.html", error="That name or password is not right.")
    await run_in_threadpool(hub.clear_tries, "login", account)
    token, _csrf_token = await run_in_threadpool(hub.start_session, staff)
    request.session.clear()
    request.session["sid"] = token
    await run_in_threadpool(hub.audit, staff.name, "logged in", address)
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf: str = Form("")) -> Response:
    try:
        staff = await current_staff(request)
    except NotLoggedIn:
        return RedirectResponse("/login", status_code=303)
    _check_csrf(request, csrf)
    await run_in_threadpool(_hub(request).end_session, request.session.get("sid"))
    request.session.clear()
    await run_in_threadpool(_hub(request).audit, staff.name, "logged out", "-")
    return RedirectResponse("/login", status_code=303)


# -- reading -------------------------------------------------------------------------------------


def _record(row: db.Session) -> SessionRecord:
    return SessionRecord.model_validate_json(row.record_json)


def _dashboard(hub: Hub) -> dict[str, Any]:
    with hub.tx() as s:
        open_flags = list(
            s.execute(
                select(db.Flag, db.Person.name)
                .outerjoin(db.Person, db.Person.id == db.Flag.person_id)
                .where(db.Flag.resolved_at.is_(None))
                .order_by(db.Flag.at.desc())
            )
        )
        people = list(s.scalars(select(db.Person).order_by(db.Person.name)))
        sessions = list(
            s.scalars(select(db.Session).order_by(db.Session.started_at.desc()).limit(50))
        )
        flag_counts: dict[str, int] = {}
        for f, _name in open_flags:
            flag_counts[f.session_id] = flag_counts.get(f.session_id, 0) + 1
        open_by_person: dict[str, int] = {}
        for f, _name in open_flags:
            if f.person_id:
                open_by_person[f.person_id] = open_by_person.get(f.person_id, 0) + 1
        rows = []
        for row in sessions:
            names = list(
                s.scalars(
                    select(db.Person.name)
                    .join(db.SessionPerson, db.SessionPerson.person_id == db.Person.id)
                    .where(db.SessionPerson.session_id == row.id)
                )
            )
            rows.append({"row": row, "names": names, "flags": flag_counts.get(row.id, 0)})
    return {
        "flags": open_flags,
        "people": people,
        "sessions": rows,
        "open_by_person": open_by_person,
    }


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> HTMLResponse:
    await staff_name(request)
    data = await run_in_threadpool(_dashboard, _hub(request))
    return _render(request, "home.html", **data)


def _edits(s: Any, session_id: str) -> dict[str, list[db.TranscriptEdit]]:
    out: dict[str, list[db.TranscriptEdit]] = {}
    for e in s.scalars(
        select(db.TranscriptEdit)
        .where(db.TranscriptEdit.session_id == session_id)
        .order_by(db.TranscriptEdit.version)
    ):
        out.setdefault(e.answer_id, []).append(e)
    return out


def _corrected_ideas_and_goals(
    record: SessionRecord, edits: dict[str, list[db.TranscriptEdit]]
) -> None:
    """Show the ideas made from corrected answers, and the goals made from those ideas, in the
    corrected words (the record itself keeps what the device heard)."""
    for idea in record.ideas:
        versions = edits.get(idea.from_answer or "")
        if not versions:
            continue
        before, idea.text = idea.text, versions[-1].text
        for goal in record.goals:
            if goal.from_idea == idea.id and goal.text == before:
                goal.text = idea.text


def _session_view(hub: Hub, session_id: str) -> dict[str, Any] | None:
    with hub.tx() as s:
        row = s.get(db.Session, session_id)
        if row is None:
            return None
        record = _record(row)
        edits = _edits(s, session_id)
        flags = list(
            s.scalars(select(db.Flag).where(db.Flag.session_id == session_id).order_by(db.Flag.at))
        )
        have = set(
            s.scalars(
                select(db.Blob.sha256).where(db.Blob.sha256.in_(bundle.clips_of(record) or ["-"]))
            )
        )
        withdrawn = set(
            s.scalars(
                select(db.DeletedBlob.sha256).where(
                    db.DeletedBlob.sha256.in_(bundle.clips_of(record) or ["-"])
                )
            )
        )
        for job in record.jobs:  # the plan in the words staff corrected
            held = s.get(db.HubJob, job.id)
            if held is not None:
                job.what = json.loads(held.data).get("what") or job.what
        _corrected_ideas_and_goals(record, edits)
    names = {p.id: p.name for p in record.people}
    job_now = {}
    for checkin in sorted(record.checkins, key=lambda c: c.at):
        job_now.update(checkin.jobs)
    return {
        "job_now": job_now,
        "row": row,
        "record": record,
        "names": names,
        "edits": edits,
        "flags": flags,
        "have": have,
        "withdrawn": withdrawn,
        "answer_text": {a.id: a.transcript for a in record.answers},
    }


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
async def session_page(session_id: str, request: Request) -> HTMLResponse:
    who = await staff_name(request)
    hub = _hub(request)
    if not bundle.is_uuid(session_id):
        raise HTTPException(404, "There is no such session.")
    view = await run_in_threadpool(_session_view, hub, session_id)
    if view is None:
        raise HTTPException(404, "There is no such session.")
    await run_in_threadpool(hub.audit, who, "viewed session", session_id)
    return _render(request, "session.html", **view)


def _person_view(hub: Hub, person_id: str) -> dict[str, Any] | None:
    from assistant.hub.people import local_ids

    with hub.tx() as s:
        person = s.get(db.Person, person_id)
        if person is None:
            return None
        ids = local_ids(s, person_id)  # the records name them by each device's own id
        taught = words_line(s, person_id)
        from assistant.hub.changes import conflicts

        lost = conflicts(s, person_id)
        rows = list(
            s.scalars(
                select(db.Session)
                .join(db.SessionPerson, db.SessionPerson.session_id == db.Session.id)
                .where(db.SessionPerson.person_id == person_id)
                .order_by(db.Session.started_at.desc())
            )
        )
        flags = list(
            s.scalars(
                select(db.Flag)
                .where(db.Flag.person_id.in_(ids))
                .order_by(db.Flag.resolved_at.is_not(None), db.Flag.at.desc())
            )
        )
        edits_by_session = {r.id: _edits(s, r.id) for r in rows}
    jobs: dict[str, Any] = {}
    job_now: dict[str, str] = {}
    checkins = []
    answers: list[tuple[db.Session, Any, str]] = []
    goals = []
    for row in reversed(rows):  # oldest first, so later sessions update jobs
        record = _record(row)
        for job in record.jobs:
            if job.person_id in ids or ids & set(job.shared_with):  # theirs, or shared
                jobs[job.id] = job
        for checkin in record.checkins:
            if checkin.person_id in ids:
                checkins.append((row, checkin, {j.id: j.what for j in record.jobs}))
                job_now.update(checkin.jobs)
        for goal in record.goals:
            if goal.person_id is None or goal.person_id in ids:
                goals.append((row, goal))
        edits = edits_by_session[row.id]
        said = []
        for answer in (a for a in record.answers if a.person_id in ids):
            current = edits[answer.id][-1].text if answer.id in edits else answer.transcript
            said.append((row, answer, current))
        answers[:0] = said  # newest session first, each session's answers in order
    checkins.reverse()
    return {
        "person": person,
        "sessions": rows,
        "flags": flags,
        "jobs": list(jobs.values()),
        "job_now": job_now,
        "checkins": checkins,
        "answers": answers,
        "goals": goals,
        "settings": _settings_lines(person),
        "taught": taught,
        "lost_changes": lost,
    }


def words_line(s: Any, person_id: str) -> str | None:
    """What the hub holds of the person's taught words, in one sentence (None: never asked)."""
    from assistant.hub import words

    held = words.for_person(s, person_id)
    if held is None:
        return None
    counts = words.counts(s, person_id)
    from assistant.sync.words import consent_in_force

    if not consent_in_force((c["at"], c["allowed"]) for c in held["consent"])[0]:
        return "They have not agreed (or no longer agree) to keeping examples of their words."
    if not counts:
        return "They agreed to keeping examples of their words; none are taught yet."
    listed = ", ".join(f"{w} {n}" for w, n in sorted(counts.items()))
    return f"Examples kept: {listed}. Every device that holds them uses these."


def _settings_lines(person: db.Person) -> list[str]:
    """The person's own settings as a device last changed them (none: the devices' own)."""
    from assistant.records.model import Person
    from assistant.records.people import settings_lines

    if not person.settings_json:
        return []
    try:
        own = Person.model_validate({"name": person.name, **json.loads(person.settings_json)})
    except ValueError:
        return ["Their own settings could not be read."]
    return settings_lines(own)


@router.get("/people/{person_id}", response_class=HTMLResponse)
async def person_page(person_id: str, request: Request) -> HTMLResponse:
    who = await staff_name(request)
    hub = _hub(request)
    view = await run_in_threadpool(_person_view, hub, person_id[:36])
    if view is None:
        raise HTTPException(404, "There is no such person.")
    await run_in_threadpool(hub.audit, who, "viewed person", person_id[:36], view["person"].name)
    manage = await run_in_threadpool(_person_manage, hub, person_id[:36])
    message = request.session.pop("people_message", None)
    return _render(request, "person.html", **view, **manage, message=message)


@router.get("/audio/{sha256}")
async def audio(sha256: str, request: Request) -> Response:
    who = await staff_name(request)
    hub = _hub(request)
    if not bundle.is_sha256(sha256):
        raise HTTPException(404, "There is no such clip.")
    have = await run_in_threadpool(hub.has_blob, sha256)
    path = hub.blob_path(sha256)
    if not have or not path.is_file():
        raise HTTPException(404, "There is no such clip.")
    await run_in_threadpool(hub.audit, who, "played audio", sha256)
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


# -- changing ------------------------------------------------------------------------------------


def _correct(hub: Hub, who: str, session_id: str, answer_id: str, text: str) -> bool:
    with hub.tx() as s:
        row = s.get(db.Session, session_id)
        if row is None:
            return False
        record = _record(row)
        answer = next((a for a in record.answers if a.id == answer_id), None)
        if answer is None:
            return False
        previous = list(
            s.scalars(
                select(db.TranscriptEdit)
                .where(db.TranscriptEdit.answer_id == answer_id)
                .order_by(db.TranscriptEdit.version)
            )
        )
        before = previous[-1].text if previous else answer.transcript
        if before == text:
            return True
        s.add(
            db.TranscriptEdit(
                session_id=session_id,
                answer_id=answer_id,
                version=len(previous) + 1,
                text=text,
                staff=who,
            )
        )
        s.add(
            db.Audit(
                actor=who,
                action="corrected transcript",
                target=f"{session_id}/{answer_id}",
                detail=f"{before!r} -> {text!r}"[:2000],
            )
        )
        correct_jobs(s, session_id, answer_id, before, text)
    return True


@router.post("/sessions/{session_id}/answers/{answer_id}/transcript")
async def correct_transcript(
    session_id: str,
    answer_id: str,
    request: Request,
    text: str = Form(...),
    csrf: str = Form(""),
) -> Response:
    who = await _needs(request, "change", "correct transcripts")
    _check_csrf(request, csrf)
    text = text.strip()
    if not text or len(text) > 5000:
        raise HTTPException(400, "A corrected transcript must be 1 to 5000 characters.")
    ok = await run_in_threadpool(_correct, _hub(request), who, session_id, answer_id, text)
    if not ok:
        raise HTTPException(404, "There is no such answer.")
    return RedirectResponse(f"/sessions/{session_id}#answer-{answer_id}", status_code=303)


def _resolve(hub: Hub, who: str, flag_id: str) -> str | None:
    with hub.tx() as s:
        flag = s.get(db.Flag, flag_id)
        if flag is None:
            return None
        if flag.resolved_at is None:
            flag.resolved_at = datetime.now(UTC)
            flag.resolved_by = who
            s.add(db.Audit(actor=who, action="resolved flag", target=flag_id, detail=flag.reason))
        return flag.session_id


@router.post("/flags/{flag_id}/resolve")
async def resolve_flag(flag_id: str, request: Request, csrf: str = Form("")) -> Response:
    who = await _needs(request, "change", "resolve flags")
    _check_csrf(request, csrf)
    session_id = await run_in_threadpool(_resolve, _hub(request), who, flag_id[:36])
    if session_id is None:
        raise HTTPException(404, "There is no such flag.")
    return RedirectResponse("/", status_code=303)


# -- export and audit ----------------------------------------------------------------------------


def _all_sessions(hub: Hub) -> list[tuple[SessionRecord, dict[str, list[db.TranscriptEdit]], str]]:
    with hub.tx() as s:
        rows = list(s.scalars(select(db.Session).order_by(db.Session.started_at)))
        return [(_record(r), _edits(s, r.id), r.device_id) for r in rows]


def _cell(value: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @ at the start)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@router.get("/export.csv")
async def export_csv(request: Request) -> Response:
    who = await _needs(request, "export", "export records")
    hub = _hub(request)
    data = await run_in_threadpool(_all_sessions, hub)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "session_id", "started_at", "script", "place", "person", "question", "transcript",
            "original_transcript", "corrected_by", "value", "confirmed_by", "confidence",
            "audio_sha256",
        ]
    )  # fmt: skip
    for record, edits, _device in data:
        names = {p.id: p.name for p in record.people}
        for a in record.answers:
            last = edits.get(a.id, [])
            writer.writerow(
                [
                    _cell(str(v))
                    for v in [
                        record.id,
                        record.started_at.isoformat(),
                        record.script,
                        record.place or "",
                        names.get(a.person_id or "", "group"),
                        a.question,
                        last[-1].text if last else a.transcript,
                        a.transcript,
                        last[-1].staff if last else "",
                        a.value or "",
                        a.confirmed_by,
                        "" if a.confidence is None else f"{a.confidence:.2f}",
                        a.audio_clip or "",
                    ]
                ]
            )
    await run_in_threadpool(hub.audit, who, "exported", "all sessions", "csv")
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="sessions.csv"'},
    )


@router.get("/export.json")
async def export_json(request: Request) -> Response:
    who = await _needs(request, "export", "export records")
    hub = _hub(request)
    data = await run_in_threadpool(_all_sessions, hub)
    doc = []
    for record, edits, device in data:
        item = record.model_dump(mode="json")
        item["device_id"] = device
        item["corrections"] = [
            {
                "answer_id": e.answer_id,
                "version": e.version,
                "text": e.text,
                "by": e.staff,
                "at": e.at.isoformat(),
            }
            for es in edits.values()
            for e in es
        ]
        doc.append(item)
    await run_in_threadpool(hub.audit, who, "exported", "all sessions", "json")
    return Response(
        json.dumps({"sessions": doc}, indent=1),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="sessions.json"'},
    )


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request) -> HTMLResponse:
    who = await _needs(request, "manage", "read the audit log")
    hub = _hub(request)

    def rows() -> list[db.Audit]:
        with hub.tx() as s:
            return list(s.scalars(select(db.Audit).order_by(db.Audit.id.desc()).limit(500)))

    await run_in_threadpool(hub.audit, who, "viewed audit log", "-")
    return _render(request, "audit.html", rows=await run_in_threadpool(rows))


# -- devices (admins) ----------------------------------------------------------------------------


async def _admin(request: Request) -> str:
    return await _needs(request, "manage", "manage the hub")


@router.get("/devices", response_class=HTMLResponse)
async def devices_page(request: Request) -> HTMLResponse:
    await _admin(request)
    hub = _hub(request)
    code = request.session.pop("new_code", None)
    rows = await run_in_threadpool(hub.devices)
    return _render(
        request, "devices.html", devices=rows, code=code, hub_url=str(request.base_url).rstrip("/")
    )


@router.post("/devices/code")
async def make_code(request: Request, csrf: str = Form("")) -> Response:
    who = await _admin(request)
    _check_csrf(request, csrf)
    request.session["new_code"] = await run_in_threadpool(_hub(request).new_code, who)
    return RedirectResponse("/devices", status_code=303)


@router.post("/devices/{device_id}/revoke")
async def revoke_device(device_id: str, request: Request, csrf: str = Form("")) -> Response:
    who = await _admin(request)
    _check_csrf(request, csrf)
    if not bundle.is_uuid(device_id):
        raise HTTPException(404, "There is no such device.")
    await run_in_threadpool(_hub(request).revoke, device_id, who)
    return RedirectResponse("/devices", status_code=303)


# -- staff (admins) ------------------------------------------------------------------------------


@router.get("/staff", response_class=HTMLResponse)
async def staff_page(request: Request) -> HTMLResponse:
    await _admin(request)
    hub = _hub(request)
    rows = await run_in_threadpool(hub.staff_list)
    message = request.session.pop("staff_message", None)
    return _render(request, "staff.html", members=rows, roles=ROLES, message=message)


async def _staff_change(request: Request, csrf: str, change: Any) -> Response:
    who = await _admin(request)
    _check_csrf(request, csrf)
    try:
        message = await run_in_threadpool(change, who)
    except SyncError as exc:
        message = str(exc)
    request.session["staff_message"] = message
    return RedirectResponse("/staff", status_code=303)


@router.post("/staff/add")
async def staff_add(
    request: Request,
    name: str = Form(..., max_length=200),
    password: str = Form(..., max_length=1000),
    role: str = Form("staff"),
    csrf: str = Form(""),
) -> Response:
    hub = _hub(request)

    def change(who: str) -> str:
        hub.add_staff(name, password, role=role, by=who)
        return f"Added {name.strip()} ({role})."

    return await _staff_change(request, csrf, change)


@router.post("/staff/disable")
async def staff_disable(
    request: Request, name: str = Form(..., max_length=200), csrf: str = Form("")
) -> Response:
    hub = _hub(request)

    def change(who: str) -> str:
        row = hub.set_disabled(name, True, by=who)
        return f"Disabled {row.name}: they were logged out everywhere."

    return await _staff_change(request, csrf, change)


@router.post("/staff/enable")
async def staff_enable(
    request: Request, name: str = Form(..., max_length=200), csrf: str = Form("")
) -> Response:
    hub = _hub(request)

    def change(who: str) -> str:
        row = hub.set_disabled(name, False, by=who)
        return f"Enabled {row.name}."

    return await _staff_change(request, csrf, change)


@router.post("/staff/password")
async def staff_password(
    request: Request,
    name: str = Form(..., max_length=200),
    password: str = Form(..., max_length=1000),
    csrf: str = Form(""),
) -> Response:
    hub = _hub(request)

    def change(who: str) -> str:
        hub.set_password(name, password, by=who)
        return f"Changed the password of {name.strip()}: they were logged out everywhere."

    return await _staff_change(request, csrf, change)


@router.post("/staff/role")
async def staff_role(
    request: Request,
    name: str = Form(..., max_length=200),
    role: str = Form(...),
    csrf: str = Form(""),
) -> Response:
    hub = _hub(request)

    def change(who: str) -> str:
        row = hub.set_role(name, role, by=who)
        return f"{row.name} is now {row.role}."

    return await _staff_change(request, csrf, change)


# -- published scripts (reading: every role; publishing and withdrawing: the "change" right) ----


@router.get("/scripts", response_class=HTMLResponse)
async def scripts_page(request: Request) -> HTMLResponse:
    from assistant.hub.publish import publications

    who = await staff_name(request)
    hub = _hub(request)
    rows = await run_in_threadpool(publications, hub)
    devices = await run_in_threadpool(hub.devices)
    await run_in_threadpool(hub.audit, who, "viewed published scripts", "-")
    message = request.session.pop("scripts_message", None)
    return _render(
        request,
        "scripts.html",
        rows=rows,
        devices=[d for d in devices if d.revoked_at is None],
        names={d.id: d.name for d in devices},
        message=message,
    )


@router.post("/scripts/publish")
async def scripts_publish(
    request: Request,
    yaml_text: str = Form(..., max_length=256 * 1024),
    to: list[str] = Form([]),
    everyone: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from assistant.errors import ScriptError
    from assistant.hub.publish import publish

    who = await _needs(request, "change", "publish scripts")
    _check_csrf(request, csrf)
    hub = _hub(request)
    text = yaml_text.replace("\r\n", "\n")
    try:
        row = await run_in_threadpool(
            lambda: publish(hub, text, to=to, everyone=bool(everyone), by=who, label="The script")
        )
        message = (
            f"Published {row.name} version {row.version} to {row.targets_text}: each device "
            "receives it at its next sync."
        )
    except (ScriptError, SyncError) as exc:
        message = f"Not published. {exc}"
    request.session["scripts_message"] = message
    return RedirectResponse("/scripts", status_code=303)


@router.post("/scripts/{name}/withdraw")
async def scripts_withdraw(name: str, request: Request, csrf: str = Form("")) -> Response:
    from assistant.hub.publish import withdraw

    who = await _needs(request, "change", "withdraw scripts")
    _check_csrf(request, csrf)
    try:
        versions = await run_in_threadpool(lambda: withdraw(_hub(request), name[:64], by=who))
        message = (
            f"Withdrew {name} (version {', '.join(str(v) for v in versions)}): devices remove "
            "it at their next sync."
        )
    except SyncError as exc:
        message = str(exc)
    request.session["scripts_message"] = message
    return RedirectResponse("/scripts", status_code=303)


# -- people: staff add, rename, assign and merge (assistant/hub/merge.py, hub/people.py) ----------


@router.get("/people", response_class=HTMLResponse)
async def people_page(request: Request) -> HTMLResponse:
    from assistant.hub.people import people_rows

    who = await staff_name(request)
    hub = _hub(request)
    rows = await run_in_threadpool(people_rows, hub)
    devices = await run_in_threadpool(hub.devices)
    await run_in_threadpool(hub.audit, who, "viewed people", "-")
    return _render(
        request,
        "people.html",
        rows=rows,
        devices=[d for d in devices if d.revoked_at is None],
        message=request.session.pop("people_message", None),
    )


async def _people_change(request: Request, csrf: str, back: str, change: Any) -> Response:
    """Run one change for staff with the ``change`` right; its sentence (or the error's) is
    shown on the page the form came from."""
    who = await _needs(request, "change", "change people")
    _check_csrf(request, csrf)
    try:
        message = await run_in_threadpool(change, _hub(request), who)
    except SyncError as exc:
        message = f"Not changed. {exc}"
    request.session["people_message"] = message
    return RedirectResponse(back, status_code=303)


@router.post("/people/add")
async def people_add(
    request: Request,
    name: str = Form(..., max_length=200),
    to: list[str] = Form([]),
    csrf: str = Form(""),
) -> Response:
    from assistant.hub.merge import add_person

    def change(hub: Hub, who: str) -> str:
        person = add_person(hub, name, by=who, to=to)
        where = f" and gave them to {len(to)} device(s)" if to else ""
        return f"Added {person.name}{where}: each device receives them at its next sync."

    return await _people_change(request, csrf, "/people", change)


@router.post("/people/{person_id}/rename")
async def people_rename(
    person_id: str, request: Request, name: str = Form(..., max_length=200), csrf: str = Form("")
) -> Response:
    from assistant.hub.merge import rename

    def change(hub: Hub, who: str) -> str:
        old, person = rename(hub, person_id[:36], name, by=who)
        return f"{old} is now called {person.name} on every device, from its next sync."

    return await _people_change(request, csrf, f"/people/{person_id[:36]}", change)


@router.post("/people/{person_id}/assign")
async def people_assign(
    person_id: str,
    request: Request,
    device: str = Form(..., max_length=64),
    undo: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from assistant.hub.people import assign, unassign

    def change(hub: Hub, who: str) -> str:
        if undo:
            person, where = unassign(hub, person_id[:36], device, by=who)
            return f"{person.name} is no longer sent to {where.name} (what it holds stays there)."
        person, where = assign(hub, person_id[:36], device, by=who)
        return f"{where.name} receives {person.name} and their jobs at its next sync."

    return await _people_change(request, csrf, f"/people/{person_id[:36]}", change)


@router.post("/people/{person_id}/merge")
async def people_merge(
    person_id: str, request: Request, other: str = Form(..., max_length=64), csrf: str = Form("")
) -> Response:
    from assistant.hub.merge import merge

    def change(hub: Hub, who: str) -> str:
        if other[:36] == person_id[:36]:
            raise SyncError("Choose another record to merge into this one.")
        kept, gone, moved = merge(hub, person_id[:36], other[:36], by=who)
        return (
            f"Merged {gone} into {kept.name}: {moved['sessions']} session(s), {moved['jobs']} "
            f"job(s) and {moved['links']} device link(s) now belong to {kept.name}."
        )

    return await _people_change(request, csrf, f"/people/{person_id[:36]}", change)


def _person_manage(hub: Hub, person_id: str) -> dict[str, Any]:
    """What the person page needs to manage them: devices (assigned or not), other people."""
    with hub.tx() as s:
        assigned = set(
            s.scalars(
                select(db.PersonDevice.device_id).where(db.PersonDevice.person_id == person_id)
            )
        )
        others = [
            (p.id, p.name)
            for p in s.scalars(select(db.Person).order_by(db.Person.name))
            if p.id != person_id
        ]
    devices = [d for d in hub.devices() if d.revoked_at is None]
    return {
        "assigned_devices": [d for d in devices if d.id in assigned],
        "other_devices": [d for d in devices if d.id not in assigned],
        "other_people": others,
    }
