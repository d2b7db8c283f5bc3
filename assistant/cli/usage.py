"""Every mistake on the command line as one plain sentence that says what to do next.

click's own messages ("Missing parameter: name", "Got unexpected extra argument(s) (x)",
"Value error, 'maybe' is not one of 'yes', 'no'.") are rewritten from the exception's facts:
the command being typed, the parameter, its help text and its choices.
"""

from __future__ import annotations

import difflib
import enum
import re
from typing import Any

from typer._click import exceptions as click_errors

_NO_SUCH_COMMAND = re.compile(r"No such command '(.+?)'")
_EXTRA = re.compile(r"Got unexpected extra arguments? ?(?:\(s\))? \((.*)\)$", re.DOTALL)


def _path(ctx: Any) -> str:
    return str(ctx.command_path) if ctx is not None else "assistant"


def _see(ctx: Any) -> str:
    return f"see '{_path(ctx)} --help'"


def _close(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _name(param: Any) -> str:
    """How the user types *param*: --consent for an option, NAME for an argument."""
    if getattr(param, "param_type_name", "") == "option":
        longs = [o for o in param.opts if o.startswith("--")]
        return (longs or list(param.opts))[0]
    name = getattr(param, "metavar", None) or getattr(param, "name", None) or "VALUE"
    return str(name).upper()


def _help(param: Any) -> str:
    text = (getattr(param, "help", None) or "").strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else ""


def choices_of(param: Any) -> list[str]:
    """The values *param* accepts, when it is a choice (an Enum or a Literal)."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None or not getattr(desc, "is_choice", False) or not desc.choices:
        return []
    return [str(c.value if isinstance(c, enum.Enum) else c) for c in desc.choices]


def _either(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + f" or {words[-1]}"


def _visible_commands(ctx: Any) -> list[str]:
    command = getattr(ctx, "command", None)
    if command is None or not hasattr(command, "list_commands"):
        return []
    names = []
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not getattr(sub, "hidden", False):
            names.append(name)
    return names


def _arguments(ctx: Any) -> list[Any]:
    command = getattr(ctx, "command", None)
    params = getattr(command, "params", []) if command is not None else []
    return [p for p in params if getattr(p, "param_type_name", "") == "argument"]


def explain_usage(exc: click_errors.UsageError, root: Any = None, args: Any = ()) -> str:
    """One sentence for a usage error: what is wrong, and what to type instead.

    *root* (the root click command) and *args* (what was typed) find the command when click
    gives no context (an option missing its value).
    """
    try:
        return _explain(exc, root, list(args))
    except Exception:  # the plain message rather than a traceback, whatever the error holds
        return f"{exc.message.strip().rstrip('.')}; see 'assistant --help'."


def command_context(root: Any, args: list[str]) -> Any:
    """A click context for the deepest command named in *args* (for its path and params)."""
    from typer._click.core import Context

    ctx = Context(root, info_name="assistant")
    command = root
    for word in args:
        if not hasattr(command, "get_command"):
            break
        sub = command.get_command(ctx, word)
        if sub is None:
            if word.startswith("-"):
                continue
            break
        command = sub
        ctx = Context(sub, info_name=word, parent=ctx)
    return ctx


def _explain(exc: click_errors.UsageError, root: Any, args: list[str]) -> str:
    ctx = exc.ctx
    if ctx is None and root is not None:
        ctx = command_context(root, args)
    message = exc.message.strip()
    if isinstance(exc, click_errors.NoSuchOption):
        bare = exc.option_name.lstrip("-")
        if bare in _visible_commands(ctx):  # assistant --version: the command is "version"
            return (
                f"There is no option '{exc.option_name}'; it is a command: '{_path(ctx)} {bare}'."
            )
        possibilities = sorted(exc.possibilities or [])
        near = _close(exc.option_name, possibilities) or (
            possibilities[0] if len(possibilities) == 1 else None
        )
        hint = f"Did you mean '{near}'?" if near else f"To see the options, {_see(ctx)}."
        return f"There is no option '{exc.option_name}' for '{_path(ctx)}'. {hint}"
    if isinstance(exc, click_errors.BadOptionUsage):
        option = exc.option_name
        param = next(
            (p for p in getattr(getattr(ctx, "command", None), "params", []) if option in p.opts),
            None,
        )
        choices = choices_of(param) if param is not None else []
        wanted = f"one of {_either(choices)}" if choices else "a value"
        return f"The option '{option}' needs {wanted} after it; {_see(ctx)}."
    if isinstance(exc, click_errors.MissingParameter) and exc.param is not None:
        param = exc.param
        about = _help(param)
        about = f" ({about})" if about else ""
        if getattr(param, "param_type_name", "") == "option":
            return f"'{_path(ctx)}' needs the option {_name(param)}{about}; {_see(ctx)}."
        names = " ".join(_name(p) for p in _arguments(ctx)) or _name(param)
        return (
            f"'{_path(ctx)}' needs {_name(param)}{about}: type '{_path(ctx)} {names}', "
            f"or {_see(ctx)}."
        )
    if isinstance(exc, click_errors.BadParameter):
        return _bad_parameter(exc, ctx, message, args)
    found = _NO_SUCH_COMMAND.search(message)
    if found:
        word = found.group(1)
        commands = _visible_commands(ctx)
        near = _close(word, commands)
        if near:
            return f"There is no command '{word}'. Did you mean '{near}'?"
        listed = f"the commands are: {', '.join(commands)}" if commands else _see(ctx)
        return f"There is no command '{word}' in '{_path(ctx)}'; {listed}."
    extra = _EXTRA.search(message)
    if extra:
        words = extra.group(1)
        arguments = _arguments(ctx)
        if not arguments:
            return f"'{_path(ctx)}' takes nothing after it, but was given '{words}'; {_see(ctx)}."
        names = " ".join(_name(p) for p in arguments)
        return (
            f"'{_path(ctx)}' takes only {names}, so '{words}' is too much (put words with spaces "
            f"in quotes); {_see(ctx)}."
        )
    sentence = message.rstrip(".")
    return f"{sentence}; {_see(ctx)}."


def _given(param: Any, args: list[str]) -> str | None:
    """What was typed for an option (the word after it, or after its ``=``)."""
    for i, word in enumerate(args):
        for opt in getattr(param, "opts", ()):
            if word == opt and i + 1 < len(args):
                return args[i + 1]
            if word.startswith(f"{opt}="):
                return word.split("=", 1)[1]
    return None


_NUMBERS = {int: "a whole number (like 3)", float: "a number (like 2.5)"}


def _bad_parameter(exc: click_errors.BadParameter, ctx: Any, message: str, args: list[str]) -> str:
    param = exc.param
    text = re.sub(r"^(Value error|Invalid value)[,:]\s*", "", message).strip().rstrip(".")
    if param is None and exc.param_hint:
        hints = re.findall(r"-[-\w]+", str(exc.param_hint))
        params = getattr(getattr(ctx, "command", None), "params", [])
        param = next((p for p in params if set(getattr(p, "opts", ())) & set(hints)), None)
    if param is None:
        hint = f"{exc.param_hint}: " if exc.param_hint else ""
        return f"{hint}{text}; {_see(ctx)}."
    choices = choices_of(param)
    given = re.match(r"'(.*?)' is not one of", text)
    if choices and given:
        return f"'{given.group(1)}' is not a choice for {_name(param)}: use {_either(choices)}."
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    typed = _given(param, args)
    limit = re.match(r"Input should be (greater|less) than( or equal to)? (\S+)", text)
    if limit:
        words = {
            ("greater", True): "at least",
            ("greater", False): "more than",
            ("less", True): "at most",
            ("less", False): "less than",
        }[(limit.group(1), bool(limit.group(2)))]
        shown = f", not {typed}" if typed is not None else ""
        return f"{_name(param)} must be {words} {limit.group(3)}{shown}; {_see(ctx)}."
    if annotation in _NUMBERS:
        shown = f", not '{typed}'" if typed is not None else ""
        return f"{_name(param)} needs {_NUMBERS[annotation]}{shown}; {_see(ctx)}."
    return f"{_name(param)}: {text}; {_see(ctx)}."


def unexpected(exc: BaseException) -> tuple[str, int]:
    """A sentence and exit status for an error nobody planned for (a bug, or the system)."""
    if isinstance(exc, PermissionError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"Permission denied for{where}: run it as the user who owns the data.", 2
    if isinstance(exc, FileNotFoundError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"Cannot find{where}: check the name and the folder.", 2
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"The system refused{where}: {exc.strerror or exc}.", 2
    if isinstance(exc, click_errors.ClickException):
        return exc.format_message().strip(), exc.exit_code
    name = type(exc).__name__
    return (
        f"Something went wrong inside assistant ({name}: {exc}); run the same command with "
        "--debug and send what it prints to whoever looks after this device.",
        1,
    )
