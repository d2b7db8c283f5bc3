"""Easy-read summaries of a session and its plan, for the person and their supporter.

One self-contained HTML file (no fetches: pictures and recordings are ``data:`` URIs) with large
text and a picture beside every line: each answer's picture comes from its words, each scale
point and button always has the same one, framed in its button's colour (``pictures.py``;
OpenMoji, CC BY-SA 4.0, credited on the page). Who does what with what help, the person's own
words in quotes, and an audio player only where that person agreed to keep their voice. A
one-person session speaks as that person ("My goal"); button instructions ("To pass, press
yellow.") are left out of the printed questions. It prints to A4, a plan on one or two pages.
Made with Jinja2 from ``templates/summary.html``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from assistant.errors import RecordError
from assistant.records import pictures as pics
from assistant.records.model import Answer, Idea, Job, SessionRecord
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


@dataclass
class SaidItem:
    question: str
    words: str
    is_quote: bool
    picture: Markup
    audio_src: str | None = None
    confirmed: str = ""


@dataclass
class RatingItem:
    topic: str
    value: str
    words: str
    picture: Markup
    topic_picture: Markup


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
    helper_words: str | None
    """Who helps, and with what ("Help from Jo, with the printing"), or None."""
    status: str
    status_words: str
    picture: Markup
    support_picture: Markup
    status_picture: Markup
    audio: list[str] = field(default_factory=list)
    """The person's own recordings of the answers that made the job (with consent)."""


@dataclass
class IdeaRow:
    """One idea and what each person thought of it (the group's ratings, as a grid)."""

    topic: str
    picture: Markup
    ratings: list[tuple[str, Markup] | None]
    """In the order of the grid's people: (words, picture), or None if they did not rate it."""


GRID_WORDS = {"like": "Like", "not_sure": "Not sure", "dont_like": "Don't like"}
RATING_SYMBOL = {"like": "like", "not_sure": "not_sure", "dont_like": "dont_like"}

_BUTTON_WORDS = re.compile(
    r"[^.?!]*\b(?:press|hold)\s+(?:the\s+)?(?:green|yellow|red|blue|help|repeat|next)\b[^.?!]*[.?!]?",
    re.IGNORECASE,
)
_PLAN_STEP = re.compile(r"^job\.(?:what|when|support|helper)\b")
"""The answers of a plan item (what, when, how much help, who helps with what): shown as the
job, not again."""


def printed_question(question: str) -> str:
    """The question as printed: without the button instructions that only make sense when it
    is heard ("To pass, press yellow.", "For like, press green.")."""
    text = _BUTTON_WORDS.sub(" ", question)
    return re.sub(r"\s{2,}", " ", text).strip() or question.strip()


def _value_picture(value: str | None) -> pics.Picture | None:
    return pics.POINTS.get(value or "")


def _date(dt: datetime) -> str:
    return f"{dt:%A} {dt.day} {dt:%B %Y}"


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
        name = f"{a.audio_clip}.wav"
        try:
            if self.files_dir is not None:
                self.files_dir.mkdir(parents=True, exist_ok=True)
                target = self.files_dir / name
                if not target.exists():  # the export is readable WAV: it leaves the device
                    target.write_bytes(store.clip_bytes(a.audio_clip))
                return f"{quote(self.files_dir.name)}/{name}"
            data = store.clip_bytes(a.audio_clip)
            if len(data) > MAX_EMBED_BYTES:
                return None
        except (OSError, RecordError):
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

    # Whose voice the page speaks in: "I" for a one-person session, "you" for one person's
    # part of a group's session, "people" / "we" for the whole group.
    one_person = len(record.people) == 1 and person_id in (None, record.people[0].id)
    if one_person:
        person_id = record.people[0].id
    voice = "me" if one_person else ("you" if person_id is not None else "group")

    audio = _Audio(allowed, audio_files_dir)
    answers = _current_answers(record)
    by_id = {a.id: a for a in record.answers}
    celebration_ids = set(record.celebrations)
    checked_in = {c.person_id for c in record.checkins}
    order = [p.id for p in record.people] + sorted(
        {a.person_id for a in answers if a.person_id and a.person_id not in names}
    )
    if person_id is not None:
        order = [person_id]
    # A pass followed by an answer to the same step (the person came back to it) is not shown.
    answered_later = {
        (a.person_id, a.step_id): i
        for i, a in enumerate(answers)
        if not a.passed and not a.rejected
    }
    answers = [
        a
        for i, a in enumerate(answers)
        if not (a.passed and answered_later.get((a.person_id, a.step_id), -1) > i)
        and not a.rejected  # not what they said: never shown as their words
    ]

    # The answers that made each job (its what, when and help), found from the what's words:
    # shown (and played) with the job, not again under "what you said".
    def norm(text: str | None) -> str:
        return " ".join((text or "").lower().split())

    plan_answers: dict[str, list[Answer]] = {}
    current: Job | None = None
    for a in answers:
        if not _PLAN_STEP.match(a.step_id):
            continue
        if a.step_id.startswith("job.what"):
            current = next(
                (
                    j
                    for j in record.jobs
                    if j.person_id == a.person_id and norm(j.what) == norm(a.transcript)
                ),
                None,
            )
        if current is not None and current.person_id == a.person_id and not a.passed:
            plan_answers.setdefault(current.id, []).append(a)
    in_plan = {a.id for found in plan_answers.values() for a in found}
    meeting_answers = [
        a for a in answers if a.step_id == "next_meeting" and record.next_meeting and not a.passed
    ]

    def shown(a: Answer) -> bool:
        """Said in the "what you said" part: not the mechanics (yes/no checks, consent), not
        what another part shows (a job's what, when and help; the next meeting; check-in
        moods and job statuses; celebrations)."""
        if a.id in celebration_ids or a.kind not in SHOWN_KINDS:
            return False
        if a.id in in_plan or a in meeting_answers:
            return False
        return not (
            a.person_id in checked_in
            and a.kind == "scale"
            and (a.value in MOOD_WORDS or a.value in STATUS_WORDS)
        )

    parts: list[PersonPart] = []
    for pid in order:
        name = names.get(pid, "Someone")
        part = PersonPart(name=name)
        from_ideas = [
            _rating(idea, r) for idea in record.ideas if (r := idea.ratings.get(pid)) is not None
        ]
        part.ratings.extend(from_ideas)
        for a in answers:
            if a.person_id != pid or not shown(a):
                continue
            if a.kind == "scale" and a.value in RATING_SYMBOL and not a.passed:
                if not from_ideas:
                    topic = _topic(printed_question(a.question))
                    part.ratings.append(_rating(Idea(text=topic), a.value))
                continue
            item = _said(store, a, audio)
            item.question = _without_name(item.question, name)
            part.said.append(item)
        if part.said or part.ratings:
            parts.append(part)
    group_said = [
        _said(store, a, audio)
        for a in answers
        if a.person_id is None and person_id is None and shown(a)
    ]
    # The whole group's ratings as one grid (ideas down, people across): short and easy to scan.
    grid_people = [p for p in parts if p.ratings] if voice == "group" else []
    idea_rows = []
    if grid_people and record.ideas:
        raters = [pid for pid in order if any(pid in i.ratings for i in record.ideas)]
        grid_people = [PersonPart(name=names.get(pid, "Someone")) for pid in raters]
        for idea in record.ideas:
            cells: list[tuple[str, Markup] | None] = []
            for pid in raters:
                r = idea.ratings.get(pid)
                cells.append((GRID_WORDS[r], pics.img(pics.POINTS[r], "pic small")) if r else None)
            idea_rows.append(
                IdeaRow(
                    _sentence(idea.text) or idea.text,
                    pics.img(pics.for_words(idea.text, pics.FIXED["ideas"])),
                    cells,
                )
            )
        for part in parts:
            part.ratings = []
        parts = [p for p in parts if p.said]
    else:
        grid_people = []

    def job_item(j: Job) -> JobItem:
        support = pics.POINTS.get(j.support or "")
        return JobItem(
            who=" and ".join(names.get(p, "Someone") for p in (j.person_id, *j.shared_with)),
            what=j.what[:1].upper() + j.what[1:],
            when=j.when,
            support=j.support,
            support_words=SUPPORT_WORDS.get(j.support or "", "Help not decided yet"),
            helper_words=j.helper_words(),
            status=j.status,
            status_words=STATUS_WORDS[j.status],
            picture=pics.img(pics.for_words(j.what, pics.FIXED["jobs"])),
            support_picture=pics.img(support or pics.FIXED["facilitator"], "pic small"),
            status_picture=pics.img(pics.POINTS[j.status], "pic small"),
            audio=[
                src for a in plan_answers.get(j.id, []) if (src := audio.src(store, a)) is not None
            ],
        )

    in_checkin = {jid for c in record.checkins for jid in c.jobs}  # shown under "How it went"
    jobs = [
        job_item(j)
        for j in record.jobs
        if (person_id is None or j.belongs_to(person_id)) and j.id not in in_checkin
    ]
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
            "mood_picture": pics.img(pics.POINTS[c.mood]) if c.mood else None,
            "jobs": [
                {
                    "what": job_names.get(jid, "A job"),
                    "status": st,
                    "words": STATUS_WORDS[st],
                    "picture": pics.img(pics.POINTS[st]),
                }
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
        item = _said(store, said, audio, default=pics.FIXED["celebrate"])
        if voice == "me":
            item.question = ""
        else:
            item.question = names.get(said.person_id, "We") if said.person_id else "We"
        celebrations.append(item)
    celebrated = [
        {"words": c.text, "picture": pics.img(pics.for_words(c.text, pics.FIXED["celebrate"]))}
        for c in record.celebrated
        if person_id is None or c.person_id in (None, person_id)
    ]
    plain = re.sub(r"[-_]+", " ", record.script).strip().lower()
    title = SCRIPT_TITLES.get(plain, plain.capitalize())
    for_whom = names.get(person_id, "") if person_id else ""
    mine = voice == "me" or (
        bool(agreed) and person_id is not None and all(g.person_id == person_id for g in agreed)
    )
    goal_word = ("My goal" if voice == "me" else "Your goal") if mine else "Our goal"
    headings = {
        "said": {"me": "What I said", "you": "What you said"}.get(voice, "What people said"),
        "ratings": {"me": "What I think of the ideas", "you": "What you think of the ideas"}.get(
            voice, "What people think of the ideas"
        ),
        "goal": goal_word + ("s" if len(agreed) > 1 else ""),
        "jobs": {"me": "What I will do", "you": "What you will do"}.get(voice, "Who does what"),
        "checkin": {"me": "How I am doing"}.get(voice, "How it went"),
    }
    return {
        "title": title,
        "for_whom": for_whom,
        "voice": voice,
        "headings": headings,
        "date": _date(record.started_at),
        "place": record.place,
        "facilitator": record.facilitator,
        "people": [names[p.id] for p in record.people],
        "parts": parts,
        "group_said": group_said,
        "grid_people": [p.name for p in grid_people],
        "idea_rows": idea_rows,
        "goals": [
            {"text": g.text, "picture": pics.img(pics.for_words(g.text, pics.FIXED["goal"]))}
            for g in agreed
        ],
        "jobs": jobs,
        "checkins": checkins,
        "celebrations": celebrations,
        "celebrated": celebrated,
        "next_meeting": _sentence(record.next_meeting),
        "next_meeting_audio": [
            src
            for a in meeting_answers
            if (src := audio.src(store, a)) is not None
            and (person_id is None or a.person_id in (None, person_id))
        ],
        "made": _date(datetime.now(UTC)),
        "pic": {name: pics.img(p, "pic head") for name, p in pics.FIXED.items()},
        "small": {name: pics.img(p, "pic small") for name, p in pics.FIXED.items()},
        "credit": pics.CREDIT,
        "session_short": record.id[:8],
    }


def _rating(idea: Idea, value: str) -> RatingItem:
    topic = _sentence(idea.text) or idea.text
    return RatingItem(
        topic=topic,
        value=value,
        words=VALUE_WORDS[value],
        picture=pics.img(pics.POINTS[value]),
        topic_picture=pics.img(pics.for_words(idea.text, pics.FIXED["ideas"]), "pic small"),
    )


def _sentence(text: str | None) -> str | None:
    return text[:1].upper() + text[1:] if text else text


def _said(
    store: RecordStore, a: Answer, audio: _Audio, default: pics.Picture = pics.SAID
) -> SaidItem:
    picture: pics.Picture | None
    if a.passed:
        words, quote, picture = "Chose to pass.", False, pics.POINTS["next"]
    elif a.transcript.strip() and not (a.kind in ("scale", "choice") and a.value):
        words, quote = a.transcript.strip(), True
        picture = pics.for_words(words, default)
    elif a.value:
        words = VALUE_WORDS.get(a.value, a.value.replace("_", " ").capitalize())
        quote, picture = False, _value_picture(a.value) or pics.for_words(words, default)
    else:
        words, quote, picture = "No words were saved.", False, default
    return SaidItem(
        question=printed_question(a.question),
        words=words,
        is_quote=quote,
        picture=pics.img(picture),
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
