"""Easy-read summaries of a session and its plan, for the person and their supporter.

One self-contained HTML file (no fetches: symbols are inline SVG, recordings are ``data:`` URIs)
with large text, one symbol per step with a text label, who does what with what help, the
person's own words in quotes, and an audio player only where that person agreed to keep their
voice. It prints cleanly to A4 (each section starts a page). Made with Jinja2 from
``templates/summary.html``.
"""

from __future__ import annotations

import base64
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from assistant.errors import RecordError
from assistant.records.model import Answer, Job, SessionRecord
from assistant.records.store import RecordStore

MAX_EMBED_BYTES = 8 * 1024 * 1024
"""Recordings larger than this are left out of the file (it would get too big to share)."""

SCRIPT_TITLES = {
    "coproduction": "Our meeting",
    "coproduction group": "Our group meeting",
    "co production": "Our meeting",
    "daily checkin": "My check-in",
    "checkin": "My check-in",
    "my goals": "My goals",
    "workshop": "Our workshop",
    "review": "Our review",
}

SHOWN_KINDS = frozenset({"free", "choice", "scale"})
"""Answers shown under "what you said". Short yes/no answers and button presses are the
mechanics of the conversation (here, consent, read-back checks), not what the person said."""

SUPPORT_WORDS = {
    "myself": "By myself",
    "a_little_help": "With a little help",
    "a_lot_of_help": "With a lot of help",
}

STATUS_WORDS = {
    "planned": "Planned",
    "done": "Done",
    "partly": "Partly done",
    "not_yet": "Not yet",
    "going_well": "Going well",
    "sometimes": "Sometimes",
    "not_going_well": "Not going well",
}

MOOD_WORDS = {"good": "Good", "okay": "Okay", "not_good": "Not good"}

VALUE_WORDS = {
    "yes": "Yes",
    "no": "No",
    "like": "I like this",
    "not_sure": "Not sure",
    "dont_like": "I don't like this",
    "next": "Chose to pass",
    "myself": "By myself",
    "a_little_help": "With a little help",
    "a_lot_of_help": "With a lot of help",
}


def _svg(body: str, label: str) -> Markup:
    return Markup(
        '<svg class="sym" viewBox="0 0 64 64" width="64" height="64" aria-hidden="true" '
        f'focusable="false" data-symbol="{label}">{body}</svg>'
    )


_HEAD = '<circle cx="{x}" cy="{y}" r="{r}" fill="{c}"/>'
_BODY = '<path d="M{x0} {y0} a{r} {r} 0 0 1 {d} 0 v{h} h-{d} z" fill="{c}"/>'


def _figure(x: float, y: float, scale: float, colour: str) -> str:
    r = 7 * scale
    return _HEAD.format(x=x, y=y, r=r, c=colour) + _BODY.format(
        x0=x - 12 * scale, y0=y + 24 * scale, r=12 * scale, d=24 * scale, h=10 * scale, c=colour
    )


SYMBOLS: dict[str, Markup] = {
    "people": _svg(_figure(22, 16, 1, "#1f5fa8") + _figure(44, 20, 0.9, "#2e7d32"), "people"),
    "said": _svg(
        '<path d="M8 10 h48 a4 4 0 0 1 4 4 v26 a4 4 0 0 1 -4 4 h-26 l-12 12 v-12 h-10 '
        'a4 4 0 0 1 -4 -4 v-26 a4 4 0 0 1 4 -4 z" fill="#1f5fa8"/>'
        '<text x="32" y="36" font-size="26" text-anchor="middle" fill="#fff" '
        'font-family="sans-serif" font-weight="bold">&#8220;&#8221;</text>',
        "said",
    ),
    "goal": _svg(
        '<circle cx="32" cy="32" r="26" fill="#c62828"/><circle cx="32" cy="32" r="18" '
        'fill="#fff"/><circle cx="32" cy="32" r="10" fill="#c62828"/>'
        '<circle cx="32" cy="32" r="3" fill="#fff"/>',
        "goal",
    ),
    "jobs": _svg(
        '<rect x="12" y="8" width="40" height="52" rx="4" fill="#6d4c41"/>'
        '<rect x="17" y="14" width="30" height="40" fill="#fff"/>'
        '<rect x="24" y="4" width="16" height="8" rx="2" fill="#424242"/>'
        '<path d="M21 33 l7 7 l14 -15" stroke="#2e7d32" stroke-width="5" fill="none" '
        'stroke-linecap="round" stroke-linejoin="round"/>',
        "jobs",
    ),
    "myself": _svg(_figure(32, 16, 1.2, "#1f5fa8"), "by myself"),
    "a_little_help": _svg(
        _figure(24, 16, 1.1, "#1f5fa8") + _figure(48, 30, 0.6, "#2e7d32"), "a little help"
    ),
    "a_lot_of_help": _svg(
        _figure(32, 18, 0.9, "#1f5fa8")
        + _figure(12, 24, 0.7, "#2e7d32")
        + _figure(52, 24, 0.7, "#2e7d32"),
        "a lot of help",
    ),
    "good": _svg(
        '<circle cx="32" cy="32" r="27" fill="#2e7d32"/><circle cx="23" cy="26" r="4" '
        'fill="#fff"/><circle cx="41" cy="26" r="4" fill="#fff"/><path d="M19 38 q13 13 26 0" '
        'stroke="#fff" stroke-width="4" fill="none" stroke-linecap="round"/>',
        "good",
    ),
    "okay": _svg(
        '<circle cx="32" cy="32" r="27" fill="#f9a825"/><circle cx="23" cy="26" r="4" '
        'fill="#000"/><circle cx="41" cy="26" r="4" fill="#000"/><path d="M20 42 h24" '
        'stroke="#000" stroke-width="4" stroke-linecap="round"/>',
        "okay",
    ),
    "not_good": _svg(
        '<circle cx="32" cy="32" r="27" fill="#c62828"/><circle cx="23" cy="26" r="4" '
        'fill="#fff"/><circle cx="41" cy="26" r="4" fill="#fff"/><path d="M19 46 q13 -13 26 0" '
        'stroke="#fff" stroke-width="4" fill="none" stroke-linecap="round"/>',
        "not good",
    ),
    "done": _svg(
        '<circle cx="32" cy="32" r="27" fill="#2e7d32"/><path d="M18 33 l9 9 l19 -20" '
        'stroke="#fff" stroke-width="6" fill="none" stroke-linecap="round" '
        'stroke-linejoin="round"/>',
        "done",
    ),
    "partly": _svg(
        '<circle cx="32" cy="32" r="25" fill="#fff" stroke="#f9a825" stroke-width="5"/>'
        '<path d="M32 7 a25 25 0 0 1 0 50 z" fill="#f9a825"/>',
        "partly",
    ),
    "not_yet": _svg(
        '<circle cx="32" cy="32" r="25" fill="#fff" stroke="#616161" stroke-width="5"/>'
        '<path d="M32 16 v17 l11 7" stroke="#616161" stroke-width="5" fill="none" '
        'stroke-linecap="round"/>',
        "not yet",
    ),
    "celebrate": _svg(
        '<path d="M32 4 l8 18 l19 2 l-14 13 l4 19 l-17 -10 l-17 10 l4 -19 l-14 -13 l19 -2 z" '
        'fill="#f9a825" stroke="#e65100" stroke-width="2"/>',
        "celebrate",
    ),
    "calendar": _svg(
        '<rect x="8" y="12" width="48" height="44" rx="4" fill="#fff" stroke="#1f5fa8" '
        'stroke-width="4"/><rect x="8" y="12" width="48" height="12" fill="#1f5fa8"/>'
        '<rect x="18" y="6" width="6" height="12" rx="2" fill="#424242"/>'
        '<rect x="40" y="6" width="6" height="12" rx="2" fill="#424242"/>'
        '<rect x="18" y="32" width="8" height="8" fill="#c62828"/>',
        "calendar",
    ),
    "listen": _svg(
        '<path d="M10 24 h10 l14 -12 v40 l-14 -12 h-10 z" fill="#1f5fa8"/>'
        '<path d="M42 22 q6 10 0 20 M48 16 q11 16 0 32" stroke="#1f5fa8" stroke-width="4" '
        'fill="none" stroke-linecap="round"/>',
        "listen",
    ),
}
SYMBOLS["planned"] = SYMBOLS["not_yet"]
SYMBOLS["going_well"] = SYMBOLS["done"]
SYMBOLS["sometimes"] = SYMBOLS["partly"]
SYMBOLS["not_going_well"] = SYMBOLS["not_good"]


@dataclass
class SaidItem:
    question: str
    words: str
    is_quote: bool
    audio_src: str | None = None
    confirmed: str = ""


@dataclass
class RatingItem:
    topic: str
    value: str
    words: str


@dataclass
class PersonPart:
    name: str
    said: list[SaidItem] = field(default_factory=list)
    ratings: list[RatingItem] = field(default_factory=list)


@dataclass
class JobItem:
    who: str
    what: str
    when: str | None
    support: str | None
    support_words: str
    status: str
    status_words: str


def _date(dt: datetime) -> str:
    return f"{dt:%A} {dt.day} {dt:%B %Y}"


RATING_SYMBOL = {"like": "good", "not_sure": "okay", "dont_like": "not_good"}


def _topic(question: str) -> str:
    """What a rating question asks about: "Do you like a film night?" -> "A film night",
    "The idea is: bowling. What do you think?" -> "Bowling"."""
    q = question.strip()
    q = re.sub(r"\s*what do you think\??$", "", q, flags=re.IGNORECASE).strip()
    for start in (
        "do you like ",
        "how do you feel about ",
        "what do you think of ",
        "the idea is:",
        "the idea is ",
    ):
        if q.lower().startswith(start):
            q = q[len(start) :].strip()
            break
    q = q.rstrip("?.").strip()
    return q[:1].upper() + q[1:]


def _without_name(question: str, name: str) -> str:
    """ "Sam, why are you here?" -> "Why are you here?" (under Sam's name already)."""
    m = re.match(rf"\s*{re.escape(name)}\s*[,.:]\s*(.+)", question, flags=re.IGNORECASE)
    if not m:
        return question
    rest = m.group(1)
    return rest[:1].upper() + rest[1:]


def _confirmed_words(a: Answer) -> str:
    if a.kind != "free":
        return ""
    return {
        "voice": "Checked by saying yes.",
        "button": "Checked with the yes button.",
        "staff": "Checked with staff.",
        "not_confirmed": "",
    }[a.confirmed_by]


def _current_answers(record: SessionRecord) -> list[Answer]:
    """Answers still in force: one that another answer replaces is left out."""
    replaced = {a.supersedes for a in record.answers if a.supersedes}
    return [a for a in record.answers if a.id not in replaced]


@dataclass
class _Audio:
    """Which people's recordings may be played, and how they go into the page."""

    allowed: set[str]
    files_dir: Path | None = None
    """None: each recording is inside the page (a data: URI). Else copied into this folder,
    which sits beside the page, and linked by a relative address."""

    def src(self, store: RecordStore, a: Answer) -> str | None:
        if not a.audio_clip or a.person_id not in self.allowed:
            return None
        path = store.clip_path(a.audio_clip)
        try:
            if self.files_dir is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                target = self.files_dir / path.name
                if not target.exists():
                    shutil.copyfile(path, target)
                return f"{quote(self.files_dir.name)}/{path.name}"
            if path.stat().st_size > MAX_EMBED_BYTES:
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return "data:audio/wav;base64," + base64.b64encode(data).decode("ascii")


def build_context(
    store: RecordStore,
    record: SessionRecord,
    *,
    person_id: str | None = None,
    include_audio: bool = True,
    audio_files_dir: Path | None = None,
) -> dict[str, object]:
    """Everything the template shows, worked out from the record (and consent in force)."""
    names = {p.id: p.name for p in record.people}
    for pid in {a.person_id for a in record.answers} | {j.person_id for j in record.jobs}:
        if pid and pid not in names:
            try:
                names[pid] = store.get_person(pid).name
            except Exception:  # noqa: BLE001 - a name we cannot find is shown as "someone"
                names[pid] = "Someone"
    # Audio only for people whose consent in force (now, not when recorded) says yes.
    allowed: set[str] = set()
    if include_audio:
        for pid in names:
            try:
                consent = store.get_person(pid).consent
            except Exception:  # noqa: BLE001
                consent = None
            if consent is not None and consent.audio:
                allowed.add(pid)

    audio = _Audio(allowed, audio_files_dir)
    answers = _current_answers(record)
    by_id = {a.id: a for a in record.answers}
    celebration_ids = set(record.celebrations)
    order = [p.id for p in record.people] + sorted(
        {a.person_id for a in answers if a.person_id and a.person_id not in names}
    )
    if person_id is not None:
        order = [person_id]
    parts: list[PersonPart] = []
    # A pass followed by an answer to the same step (the person came back to it) is not shown.
    answered_later = {(a.person_id, a.step_id): i for i, a in enumerate(answers) if not a.passed}
    answers = [
        a
        for i, a in enumerate(answers)
        if not (a.passed and answered_later.get((a.person_id, a.step_id), -1) > i)
    ]
    for pid in order:
        name = names.get(pid, "Someone")
        part = PersonPart(name=name)
        from_ideas = [
            RatingItem(idea.text[:1].upper() + idea.text[1:], RATING_SYMBOL[r], VALUE_WORDS[r])
            for idea in record.ideas
            if (r := idea.ratings.get(pid)) is not None
        ]
        part.ratings.extend(from_ideas)
        for a in answers:
            if a.person_id != pid or a.id in celebration_ids or a.kind not in SHOWN_KINDS:
                continue
            if a.kind == "scale" and a.value in RATING_SYMBOL and not a.passed:
                if not from_ideas:
                    part.ratings.append(
                        RatingItem(_topic(a.question), RATING_SYMBOL[a.value], VALUE_WORDS[a.value])
                    )
                continue
            item = _said(store, a, audio)
            item.question = _without_name(item.question, name)
            part.said.append(item)
        if part.said or part.ratings:
            parts.append(part)
    group_said = [
        _said(store, a, audio)
        for a in answers
        if a.person_id is None
        and a.id not in celebration_ids
        and person_id is None
        and a.kind in SHOWN_KINDS
    ]

    def job_item(j: Job) -> JobItem:
        return JobItem(
            who=names.get(j.person_id, "Someone"),
            what=j.what[:1].upper() + j.what[1:],
            when=j.when,
            support=j.support,
            support_words=SUPPORT_WORDS.get(j.support or "", "Help not decided yet"),
            status=j.status,
            status_words=STATUS_WORDS[j.status],
        )

    jobs = [job_item(j) for j in record.jobs if person_id is None or j.person_id == person_id]
    goals = [g for g in record.goals if person_id is None or g.person_id in (None, person_id)]
    agreed = [g for g in goals if g.agreed] or goals
    job_names = {j.id: j.what for j in record.jobs}
    for c in record.checkins:  # a check-in is about jobs planned in earlier sessions
        for jid in c.jobs:
            if jid not in job_names:
                try:
                    job_names[jid] = store.get_job(jid).what
                except RecordError:
                    job_names[jid] = "A job"
    job_names = {k: _sentence(v) or v for k, v in job_names.items()}
    checkins = [
        {
            "who": names.get(c.person_id, "Someone"),
            "mood": c.mood,
            "mood_words": MOOD_WORDS.get(c.mood or "", ""),
            "jobs": [
                {"what": job_names.get(jid, "A job"), "status": st, "words": STATUS_WORDS[st]}
                for jid, st in c.jobs.items()
            ],
        }
        for c in record.checkins
        if person_id is None or c.person_id == person_id
    ]
    celebrations = []
    for aid in record.celebrations:
        said = by_id.get(aid)
        if said is None or (person_id is not None and said.person_id != person_id):
            continue
        item = _said(store, said, audio)
        item.question = names.get(said.person_id, "We") if said.person_id else "We"
        celebrations.append(item)
    celebrated = [
        c.text for c in record.celebrated if person_id is None or c.person_id in (None, person_id)
    ]
    plain = re.sub(r"[-_]+", " ", record.script).strip().lower()
    title = SCRIPT_TITLES.get(plain, plain.capitalize())
    for_whom = names.get(person_id, "") if person_id else ""
    return {
        "title": title,
        "for_whom": for_whom,
        "date": _date(record.started_at),
        "place": record.place,
        "facilitator": record.facilitator,
        "people": [names[p.id] for p in record.people],
        "parts": parts,
        "group_said": group_said,
        "goals": agreed,
        "jobs": jobs,
        "checkins": checkins,
        "celebrations": celebrations,
        "celebrated": celebrated,
        "next_meeting": _sentence(record.next_meeting),
        "made": _date(datetime.now(UTC)),
        "sym": SYMBOLS,
        "session_short": record.id[:8],
    }


def _sentence(text: str | None) -> str | None:
    return text[:1].upper() + text[1:] if text else text


def _said(store: RecordStore, a: Answer, audio: _Audio) -> SaidItem:
    if a.passed:
        words, quote = "Chose to pass.", False
    elif a.transcript.strip() and not (a.kind in ("scale", "choice") and a.value):
        words, quote = a.transcript.strip(), True
    elif a.value:
        words, quote = VALUE_WORDS.get(a.value, a.value.replace("_", " ").capitalize()), False
    else:
        words, quote = "No words were saved.", False
    return SaidItem(
        question=a.question,
        words=words,
        is_quote=quote,
        audio_src=audio.src(store, a),
        confirmed=_confirmed_words(a),
    )


_env = Environment(
    loader=PackageLoader("assistant.records", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_summary(
    store: RecordStore,
    record: SessionRecord,
    *,
    person_id: str | None = None,
    include_audio: bool = True,
    audio_files_dir: Path | None = None,
) -> str:
    """The easy-read HTML for a session (one person's part when *person_id* is given).

    Recordings are inside the page unless *audio_files_dir* is given: then they are copied
    there (a folder beside the page) and linked, which keeps a long session's page small.
    """
    ctx = build_context(
        store,
        record,
        person_id=person_id,
        include_audio=include_audio,
        audio_files_dir=audio_files_dir,
    )
    return _env.get_template("summary.html").render(**ctx)
