"""The ``assistant`` command line, as a package.

- :mod:`assistant.cli.root`: the root command (``app``) and :func:`main`, the entry point. Its
  callback puts a :class:`~assistant.config.SettingsSource` on the click context, and it adds
  every part's commands (``register(app)`` in each part's ``cli.py``).
- :mod:`assistant.cli.usage`: every mistake on the command line as one plain sentence.
- :mod:`assistant.cli.settings`, :mod:`assistant.cli.scripts`: ``config`` and ``version``;
  ``scripts list|show|copy|check``.

Command modules get the settings with :func:`assistant.config.settings_of` and never import the
root: the imports go one way, root -> command modules -> the parts they drive. ``app`` and
``main`` are loaded from the root on first use, so importing a command module loads no other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.cli.root import app, main

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("assistant.cli.root"), name)
    raise AttributeError(f"module 'assistant.cli' has no attribute {name!r}")
