"""Session scripts are data: YAML files staff can read and edit (format in ``docs/scripts.md``).

A script is a list of steps. :func:`load_script` finds a built-in script by name (they ship in
``assistant/dialogue/scripts/``) or a staff script by name in extra folders, or a file by path,
and checks it fully before anything is said: every problem is one :class:`ScriptError` sentence
naming the file, the step (its number, counted from 1, and its id) and what is wrong, e.g.
``scripts/x.yaml, step 3 "goal": a choose step has 5 options; the most is 4.``
Nested steps are numbered through their parents: ``step 4.2`` is the second step inside step 4.

The step models themselves (the schema) are in :mod:`assistant.dialogue.schema`; this module
reads YAML and checks meaning, and re-exports the schema's names.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from assistant.dialogue import yaml_errors
from assistant.dialogue.schema import (
    ANSWER_STEPS,
    CHOICES_FROM,
    IDEA_FIELDS,
    JOB_FIELDS,
    MAX_CHOICES,
    MAX_OPTIONS,
    SCALE_SYNONYMS,
    SCALES,
    STEP_TYPES,
    Agenda,
    AgreeGoal,
    AnyStep,
    Ask,
    BaseStep,
    Branch,
    Celebrate,
    Choose,
    Confirm,
    Consent,
    FlagKind,
    ForEachPerson,
    KeepAs,
    Kind,
    NewDate,
    OpenQuestion,
    Option,
    PlanItem,
    RaiseFlag,
    ReadBack,
    Review,
    ReviewGoal,
    ReviewItems,
    Say,
    Scale,
    ScaleName,
    ScaleSets,
    Script,
    ShareJobs,
    Step,
    Strengths,
    WhoIsHere,
    _children,
    _texts,
    _values,
)
from assistant.errors import ScriptError

__all__ = [
    "ANSWER_STEPS",
    "IDEA_FIELDS",
    "JOB_FIELDS",
    "MAX_OPTIONS",
    "SCALES",
    "SCALE_SYNONYMS",
    "STEP_TYPES",
    "Agenda",
    "AgreeGoal",
    "AnyStep",
    "Ask",
    "BaseStep",
    "Branch",
    "Celebrate",
    "Choose",
    "Confirm",
    "Consent",
    "FlagKind",
    "ForEachPerson",
    "KeepAs",
    "Kind",
    "Option",
    "PlanItem",
    "RaiseFlag",
    "ReadBack",
    "Review",
    "ReviewGoal",
    "ReviewItems",
    "Say",
    "Scale",
    "ScaleName",
    "ScaleSets",
    "Script",
    "Step",
    "Strengths",
    "WhoIsHere",
    "builtin_dir",
    "builtin_scripts",
    "find_script",
    "load_script",
    "parse_script",
    "validate_script_file",
]

_Step = BaseStep  # the old private name, for code written against it

# What each "sets" needs around the scale step.
_SETS_NEED: dict[str, tuple[str, ...]] = {
    "rating": ("like",),
    "mood": ("feeling",),
    "job_status": ("job", "review"),
    "job_support": ("support",),
    "help_needed": ("support",),
}

# Phrases that make a yes/no question ask for a preference (acquiescence): refused in confirm.
_PREFERENCE_WORDS = re.compile(
    r"\b(do you like|would you like|do you want|would you rather|do you prefer|prefer|"
    r"do you enjoy|is it fun|are you happy with|happy to)\b",
    re.IGNORECASE,
)

_TEMPLATE = re.compile(r"\{([^{}]*)\}")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


# ------------------------------------------------------------------------------ loading


def builtin_dir() -> Path:
    return Path(str(resources.files("assistant.dialogue") / "scripts"))


def builtin_scripts() -> list[str]:
    """Names of the scripts that ship with the package."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def find_script(name_or_path: str | Path, extra_dirs: Sequence[Path] = ()) -> Path:
    """The file for a script name (staff folders first, then built-ins) or path."""
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix in (".yaml", ".yml") or "/" in text:
        if not path.is_file():
            raise ScriptError(f"Script file {text} does not exist.")
        return path
    for folder in [*extra_dirs, builtin_dir()]:
        for suffix in (".yaml", ".yml"):
            candidate = Path(folder).expanduser() / f"{text}{suffix}"
            if candidate.is_file():
                return candidate
    known = sorted({*builtin_scripts(), *_staff_names(extra_dirs)})
    raise ScriptError(f'There is no script called "{text}"; the scripts are: {", ".join(known)}.')


def _staff_names(extra_dirs: Sequence[Path]) -> list[str]:
    names: list[str] = []
    for folder in extra_dirs:
        folder = Path(folder).expanduser()
        if folder.is_dir():
            names += [p.stem for p in folder.glob("*.y*ml")]
    return names


def load_script(name_or_path: str | Path, extra_dirs: Sequence[Path] = ()) -> Script:
    """Load and fully check a script by name (staff folders, then built-ins) or by path."""
    return validate_script_file(find_script(name_or_path, extra_dirs))


def validate_script_file(path: str | Path) -> Script:
    """Read and check one script file; raises :class:`ScriptError` naming file, step, problem."""
    path = Path(path)
    label = _label(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{label}: cannot be read ({exc}).") from exc
    return parse_script(text, label)


def _label(path: Path) -> str:
    try:
        if path.resolve().is_relative_to(builtin_dir().resolve()):
            return f"{path.name} (built-in)"
    except OSError:
        pass
    return str(path)


def parse_script(text: str, label: str = "<script>") -> Script:
    """Check a script given as YAML text; *label* names it in error messages."""
    if len(text) > MAX_TEXT_CHARS:
        raise ScriptError(f"{label}: the file is too large for a script (over 1 MB).")
    try:
        data = yaml.safe_load(text)
    except RecursionError as exc:
        raise ScriptError(f"{label}: it is nested too deeply to be a script.") from exc
    except yaml.YAMLError as exc:  # plain advice with the line, not the parser's words
        raise ScriptError(yaml_errors.message(exc, text, label)) from exc
    if not isinstance(data, dict):
        raise ScriptError(f"{label}: a script must be a set of fields (name, title, kind, steps).")
    try:
        script = _Checker(label).script(data)
    except RecursionError as exc:
        raise ScriptError(f"{label}: it is nested too deeply to be a script.") from exc
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return script.model_copy(update={"sha256": sha})


MAX_TEXT_CHARS = 1024 * 1024  # scripts, scenarios and the config file are far smaller


class _Checker:
    def __init__(self, label: str) -> None:
        self.label = label
        self.ids: dict[str, str] = {}

    def fail(self, where: str, problem: str) -> ScriptError:
        return ScriptError(f"{self.label}{where}: {problem}")

    # -- structure -------------------------------------------------------------------------

    def script(self, data: dict[str, Any]) -> Script:
        known = set(Script.model_fields) - {"source", "sha256", "publication"}
        for key in data:
            if key not in known:
                raise self.fail("", f'unknown field "{key}"; the fields are: {_list(known)}.')
        for key in ("name", "title", "kind", "steps"):
            if key not in data:
                raise self.fail("", f'the script needs "{key}".')
        if not isinstance(data["steps"], list) or not data["steps"]:
            raise self.fail("", '"steps" must be a list with at least one step.')
        steps = self.steps(data["steps"], "")
        top = {k: v for k, v in data.items() if k != "steps"}
        if "version" in top:
            top["version"] = str(top["version"])
        try:
            script = Script.model_validate({**top, "steps": steps, "source": self.label})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise self.fail("", f'"{field}": {_plain(err)}.') from exc
        _Semantics(self, script).check()
        return script

    def steps(self, raw: Any, prefix: str) -> tuple[BaseStep, ...]:
        if not isinstance(raw, list):
            raise self.fail(f", step {prefix.rstrip('.')}", '"steps" must be a list of steps.')
        return tuple(self.step(item, f"{prefix}{i + 1}") for i, item in enumerate(raw))

    def step(self, raw: Any, number: str) -> BaseStep:
        if not isinstance(raw, dict):
            raise self.fail(f", step {number}", "a step must be a set of fields (type, id, ...).")
        sid = raw.get("id")
        where = f", step {number}" + (f' "{sid}"' if isinstance(sid, str) else "")
        kind = raw.get("type")
        if kind is None:
            raise self.fail(where, 'the step needs "type".')
        if kind not in STEP_TYPES:
            raise self.fail(
                where, f'unknown step type "{kind}"; the types are: {_list(STEP_TYPES)}.'
            )
        if sid is None:
            if kind in ANSWER_STEPS:
                raise self.fail(
                    where, f'{_a(kind)} step needs "id" (its answers are kept under it).'
                )
            sid = f"step-{number}"
        elif not isinstance(sid, str) or not _ID.match(sid):
            raise self.fail(
                where, "the id must be lower-case letters, digits and _ , starting with a letter."
            )
        elif sid in self.ids:
            raise self.fail(where, f'the id "{sid}" is used twice (also at step {self.ids[sid]}).')
        self.ids[sid] = number
        model = STEP_TYPES[kind]
        fields = set(model.model_fields) - {"where"}
        for key in raw:
            if isinstance(key, bool):
                raise self.fail(
                    where,
                    "YAML read a field name as true or false (on, yes and no need quotes); "
                    'for a branch, the field is "on_answer".',
                )
            if key not in fields:
                raise self.fail(
                    where,
                    f'unknown field "{key}" in {_a(kind)} step; its fields are: '
                    f"{_list(fields - {'type'})}.",
                )
        values = dict(raw, id=sid, where=f"{self.label}{where}")
        if kind in ("for_each_person", "review"):
            if "steps" not in raw:
                raise self.fail(where, f'{_a(kind)} step needs "steps".')
            values["steps"] = self.steps(raw["steps"], f"{number}.")
        if kind == "branch":
            cases = raw.get("cases")
            if not isinstance(cases, dict) or not cases:
                raise self.fail(
                    where, 'a branch step needs "cases": answer values and their steps.'
                )
            n = 0
            built: dict[str, tuple[BaseStep, ...]] = {}
            for value, sub in cases.items():
                # YAML 1.1 reads a bare yes / no as true / false.
                key = ("yes" if value else "no") if isinstance(value, bool) else str(value)
                built[key] = self.steps(sub, f"{number}.{n + 1}.")
                n += 1
            values["cases"] = built
            if "otherwise" in raw:
                values["otherwise"] = self.steps(raw["otherwise"], f"{number}.{n + 1}.")
        if "choices" in raw and kind in _OPEN_STEPS:
            values["choices"] = _choices(self, raw["choices"], where)
        if kind == "choose" and isinstance(raw.get("options"), list):
            count = len(raw["options"])
            if count > MAX_OPTIONS:
                raise self.fail(
                    where, f"a choose step has {count} options; the most is {MAX_OPTIONS}."
                )
            if count < 2:
                raise self.fail(where, f"a choose step has {count} option; it needs at least 2.")
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = [str(p) for p in err["loc"]]
            if err["type"] == "missing" and len(loc) == 1:
                raise self.fail(where, f'{_a(kind)} step needs "{loc[0]}".') from exc
            raise self.fail(where, f'"{".".join(loc)}": {_plain(err)}.') from exc


_OPEN_STEPS = ("ask", "plan_item", "strengths", "agenda")
"""Steps whose question is open (own words) and can offer ``choices``."""


def _choices(self: _Checker, raw: Any, where: str) -> list[dict[str, Any]]:
    """``choices:``: a list of words ("Today") or options ({value, label}); at most three."""
    if not isinstance(raw, list) or not raw:
        raise self.fail(
            where,
            '"choices" must be a list of short words, e.g. choices: ["Make posters", '
            '"Buy the food"].',
        )
    if len(raw) > MAX_CHOICES:
        raise self.fail(
            where,
            f'"choices" has {len(raw)}; the most is {MAX_CHOICES} (the device adds "My '
            'supporter will answer with me" as the last one): keep the three most likely.',
        )
    out: list[dict[str, Any]] = []
    for n, item in enumerate(raw, 1):
        if isinstance(item, bool | int | float):
            item = ("yes" if item else "no") if isinstance(item, bool) else str(item)
        if isinstance(item, str):
            if not item.strip():
                raise self.fail(where, f"choice {n} is empty: give it some words.")
            out.append({"value": item.strip(), "label": item.strip()})
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise self.fail(where, f"choice {n} must be words in quotes, or a value and a label.")
    return out


def _a(kind: str) -> str:
    return f"an {kind}" if kind[:1] in "aeiou" else f"a {kind}"


def _plain(err: Any) -> str:
    msg = str(err["msg"])
    msg = msg.replace("Input should be", "it should be").replace("Field required", "it is needed")
    return msg[0].lower() + msg[1:] if msg else msg


def _list(names: Any) -> str:
    return ", ".join(sorted(names))


# ------------------------------------------------------------------------------ meaning


class _Semantics:
    """Checks that need the whole script: references, contexts and the accessibility rules."""

    def __init__(self, checker: _Checker, script: Script) -> None:
        self.checker = checker
        self.script = script
        self.seen: dict[str, BaseStep] = {}

    def fail(self, step: BaseStep, problem: str) -> ScriptError:
        return ScriptError(f"{step.where}: {problem}")

    def check(self) -> None:
        self.visit(self.script.steps, person=self.script.one_person, job=False, idea=False)

    def visit(self, steps: Sequence[BaseStep], *, person: bool, job: bool, idea: bool) -> None:
        for step in steps:
            self.one(step, person=person, job=job, idea=idea)

    def one(self, step: BaseStep, *, person: bool, job: bool, idea: bool) -> None:
        asks_each = isinstance(step, Agenda)  # asks each person present itself
        for text in _texts(step):
            self.templates(step, text, person=person or asks_each, job=job, idea=idea)
        if step.only_if is not None:
            self.reference(step, step.only_if, person=person, job=job, idea=idea)
        if isinstance(step, Confirm):
            found = _PREFERENCE_WORDS.search(step.text)
            if found:
                raise self.fail(
                    step,
                    f'a confirm step asks for a preference ("{found.group(0)}"); yes/no is only '
                    "for checking. Use a scale step (like / not sure / don't like).",
                )
        if isinstance(step, OpenQuestion) and step.choices_from is not None:
            source = step.choices_from
            target = self.seen.get(source)
            if source not in CHOICES_FROM and (
                target is None or target.type not in ("ask", "strengths", "agenda")
            ):
                raise self.fail(
                    step,
                    f'choices_from: "{source}" is not ideas, jobs, strengths or the id of an '
                    "earlier open question (ask); give one of those, e.g. choices_from: ideas.",
                )
            if source == "strengths" and not person:
                raise self.fail(
                    step,
                    "choices_from: strengths is a person's own: put it inside for_each_person.",
                )
        if isinstance(step, OpenQuestion) and step.choices:
            labels = [o.label.strip().lower() for o in step.choices]
            if len(set(labels)) != len(labels):
                raise self.fail(step, "two choices have the same words: give each its own.")
        if isinstance(step, Choose):
            values = [o.value for o in step.options]
            if len(set(values)) != len(values):
                raise self.fail(step, "two options have the same value.")
        if isinstance(step, Scale) and step.sets != "nothing":
            need = _SETS_NEED[step.sets]
            if step.scale not in need:
                raise self.fail(
                    step, f'a scale that sets {step.sets} must use the scale "{need[0]}".'
                )
            if step.sets == "rating" and not idea:
                raise self.fail(step, "sets rating, so it must be inside a review of ideas.")
            if step.sets in ("job_status", "job_support", "help_needed") and not job:
                raise self.fail(step, f"sets {step.sets}, so it must be inside a review of jobs.")
            if step.sets == "mood" and not person:
                raise self.fail(step, "sets mood, so it must be asked of a person.")
        if isinstance(step, PlanItem) and not person:
            raise self.fail(step, "a plan_item step must be inside for_each_person.")
        if isinstance(step, PlanItem) and step.help_with and not step.who_helps:
            raise self.fail(
                step,
                'help_with is asked after who_helps: add who_helps, e.g. who_helps: "Who will '
                'help you?"',
            )
        if isinstance(step, ShareJobs) and person:
            raise self.fail(
                step,
                "a share_jobs step goes round everyone itself; put it outside for_each_person.",
            )
        if isinstance(step, ShareJobs):
            labels = [j.strip().lower() for j in step.jobs]
            if len(set(labels)) != len(labels) or not all(labels):
                raise self.fail(
                    step, "each job in jobs needs its own words (none empty, no two the same)."
                )
        if isinstance(step, NewDate) and not job:
            raise self.fail(
                step, "a new_date step gives a job a new day: put it inside a review of jobs."
            )
        if isinstance(step, Agenda) and person and not self.script.one_person:
            raise self.fail(
                step, "an agenda step asks everyone itself; put it outside for_each_person."
            )
        if isinstance(step, Strengths) and not person:
            raise self.fail(step, "a strengths step must be inside for_each_person.")
        if isinstance(step, PlanItem) and step.when_choices and not step.when:
            raise self.fail(
                step, 'when_choices needs the question in "when", e.g. when: "When will you do it?"'
            )
        if isinstance(step, PlanItem) and step.lesson is not None:
            target = self.seen.get(step.lesson)
            if not job:
                raise self.fail(
                    step, "a plan_item with a lesson must be inside a review of jobs (items: jobs)."
                )
            if target is None or target.type != "ask":
                raise self.fail(
                    step,
                    f'lesson: "{step.lesson}" is not an earlier ask step; '
                    "give the id of the ask step that asks what got in the way.",
                )
        if isinstance(step, ForEachPerson):
            if person and not self.script.one_person:
                raise self.fail(step, "for_each_person cannot be inside another for_each_person.")
            self.seen[step.id] = step
            self.visit(step.steps, person=True, job=job, idea=idea)
            return
        if isinstance(step, Review):
            self.seen[step.id] = step
            if step.items == "agenda":  # each topic is gone through with the person who added it
                self.visit(step.steps, person=True, job=job, idea=idea)
                return
            is_job = step.items != "ideas"
            if step.items == "my_jobs" and not person:
                raise self.fail(step, "a review of my_jobs must be asked of a person.")
            self.visit(
                step.steps,
                person=person or is_job,
                job=job or is_job,
                idea=idea or not is_job,
            )
            return
        if isinstance(step, Branch):
            target = self.seen.get(step.on_answer)
            if target is None:
                raise self.fail(
                    step, f'branches on "{step.on_answer}", which is not an earlier step.'
                )
            possible = _values(target)
            if possible is None:
                raise self.fail(
                    step, f'branches on "{step.on_answer}", which has no fixed answers.'
                )
            for value in step.cases:
                if value not in possible:
                    allowed = ", ".join(possible)
                    raise self.fail(
                        step, f'has a case "{value}" but "{step.on_answer}" can only be: {allowed}.'
                    )
            self.seen[step.id] = step
            for group in _children(step):
                self.visit(group, person=person, job=job, idea=idea)
            return
        self.seen[step.id] = step

    def templates(self, step: BaseStep, text: str, *, person: bool, job: bool, idea: bool) -> None:
        stripped = text.replace("{{", "").replace("}}", "")
        if stripped.count("{") != stripped.count("}"):
            raise self.fail(step, f'a "{{" or "}}" is not matched in: {text}')
        for ref in _TEMPLATE.findall(stripped):
            self.reference(step, ref.strip(), person=person, job=job, idea=idea)

    def reference(self, step: BaseStep, ref: str, *, person: bool, job: bool, idea: bool) -> None:
        head, _, tail = ref.partition(".")
        if head in ("staff", "goal", "next_meeting", "group") and not tail:
            return
        if head == "person" and not tail:
            if not person:
                raise self.fail(step, "{person} is used outside for_each_person.")
            return
        if head == "job" and tail in JOB_FIELDS:
            if not job:
                raise self.fail(step, f"{{{ref}}} is used outside a review of jobs.")
            return
        if head == "idea" and tail in IDEA_FIELDS:
            if not idea:
                raise self.fail(step, f"{{{ref}}} is used outside a review of ideas.")
            return
        if head == "answer" and tail:
            target = self.seen.get(tail)
            if target is None or target.type not in ANSWER_STEPS:
                raise self.fail(
                    step, f'{{{ref}}} refers to "{tail}", which is not an earlier question.'
                )
            return
        raise self.fail(
            step,
            f"{{{ref}}} is not something I can fill in; use {{person}}, {{answer.STEP_ID}}, "
            "{job.what}, {job.when}, {job.person}, {idea.text}, {goal}, {next_meeting} "
            "or {staff}.",
        )
