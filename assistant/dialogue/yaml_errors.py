"""YAML mistakes in a script as plain advice with the line, not the parser's words.

PyYAML says "mapping values are not allowed here" or "expected <block end>, but found
'<block mapping start>'"; staff need "line 12: put the words in quotes when they contain a
colon". :func:`explain` looks at the parser's problem and at the line itself, and returns the
line number (counted from 1) and one piece of advice.
"""

from __future__ import annotations

import re

import yaml

QUOTES_COLON = "put the words in quotes when they contain a colon"
INDENT = (
    "this line is indented differently from the lines around it: line up the fields of one "
    "step under each other, with spaces"
)
TABS = "use spaces, not tabs, to indent"
UNCLOSED_QUOTE = "a quote mark is opened but not closed: end the words with the same quote mark"
AFTER_QUOTE = (
    "the words go on after the closing quote mark: put all the words inside the quotes "
    "(words with ' in them go in double quotes)"
)
BRACKET = (
    "a bracket [ or { is opened but not closed: put the words in quotes when they start with [ or {"
)
SPECIAL_START = "put the words in quotes when they start with {char}"
NO_COLON = (
    "a field name needs a colon after it (text: ...); a long text must stay on one line, in quotes"
)
LIST_ITEM = "each step starts with - and the dashes of one list line up under each other"
UNKNOWN = (
    "the file cannot be read here: check the indentation and the quotes on this line "
    "and the one above"
)


def _line(text: str, index: int) -> str:
    lines = text.splitlines()
    return lines[index] if 0 <= index < len(lines) else ""


def explain(exc: yaml.YAMLError, text: str = "") -> tuple[int | None, str]:
    """The line (from 1) and the plain advice for a YAML error in *text*."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return None, UNKNOWN
    problem = (exc.problem or "").strip()
    context = (exc.context or "").strip()
    mark = exc.problem_mark or exc.context_mark
    line = mark.line if mark is not None else None
    here = _line(text, line) if line is not None else ""

    def at(index: int | None, advice: str) -> tuple[int | None, str]:
        return (index + 1 if index is not None else None), advice

    if "\\t" in problem or "'\\t'" in problem or "\t" in here[: len(here) - len(here.lstrip())]:
        return at(line, TABS)
    if "mapping values are not allowed" in problem:
        # "text: Note: bring a coat" has a colon before the one at fault; "   id: q" under a
        # text is a field indented too far, read as more of the text.
        column = mark.column if mark is not None else len(here)
        return at(line, QUOTES_COLON if ":" in here[:column] else INDENT)
    special = re.search(r"found character '(.)' that cannot start any token", problem)
    if special:
        return at(line, SPECIAL_START.format(char=special.group(1)))
    if "undefined alias" in problem:
        return at(line, SPECIAL_START.format(char="*"))
    if "while scanning an alias" in context or "while scanning an anchor" in context:
        char = "*" if "alias" in context else "&"
        return at(line, SPECIAL_START.format(char=char))
    if "quoted scalar" in context:
        start = exc.context_mark.line if exc.context_mark is not None else line
        return at(start, UNCLOSED_QUOTE)
    if "flow sequence" in context or "flow mapping" in context:
        start = exc.context_mark.line if exc.context_mark is not None else line
        return at(start, BRACKET)
    if "could not find expected ':'" in problem:
        # PyYAML points after the line at fault; the line with no colon is the one before.
        start = exc.context_mark.line if exc.context_mark is not None else line
        return at(start, NO_COLON)
    column = mark.column if mark is not None else 0
    before = here[:column]
    if "expected a comment or a line break" in problem or (
        ("<scalar>" in problem or "did not find expected key" in problem)
        and re.search(r"""\w:\s+["']""", before)
    ):
        return at(line, AFTER_QUOTE)
    if "<block sequence start>" in problem:
        return at(line, LIST_ITEM)
    if "did not find expected '-' indicator" in problem:
        return at(line, LIST_ITEM)
    if "expected <block end>" in problem or "did not find expected key" in problem:
        return at(line, INDENT)
    return at(line, UNKNOWN)


def message(exc: yaml.YAMLError, text: str, label: str) -> str:
    """The whole sentence for a :class:`~assistant.errors.ScriptError`."""
    line, advice = explain(exc, text)
    where = f", line {line}" if line is not None else ""
    return f"{label}{where}: {advice}."
