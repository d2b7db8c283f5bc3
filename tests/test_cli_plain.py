"""``check``, ``engines`` and warnings speak plain sentences: no systemd noise, no source paths."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import typer

from assistant.check import service_running
from assistant.cli import app, main
from assistant.errors import EngineFallback


def test_service_check_keeps_systemd_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    fake = tmp_path / "systemctl"
    fake.write_text(
        "#!/bin/sh\necho 'System has not been booted with systemd as init system (PID 1).' >&2\n"
        "echo 'inactive'\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert service_running() is False
    out = capfd.readouterr()
    assert "booted" not in out.err + out.out and "inactive" not in out.out


def test_a_fallback_warning_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    @app.command("warn-once", hidden=True)
    def _warn() -> None:
        warnings.warn(
            "Speech recognition falls back to the embedded engines.", EngineFallback, stacklevel=1
        )
        warnings.warn("a library's own warning", DeprecationWarning, stacklevel=1)
        typer.echo("done")

    try:
        assert main(["warn-once"]) == 0
    finally:
        app.registered_commands[:] = [c for c in app.registered_commands if c.name != "warn-once"]
    out = capsys.readouterr()
    assert out.out == "done\n"
    assert out.err == "assistant: Speech recognition falls back to the embedded engines.\n"


def test_engines_speaks_plain_sentences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASSISTANT_DATA", str(tmp_path))  # no Vosk model here: a fallback
    assert main(["engines"]) == 0
    out = capsys.readouterr()
    both = out.out + out.err
    assert out.out.startswith("Short answers: ") and "\nFree answers: " in out.out
    assert ".py:" not in both and "py.warnings" not in both and "warnings.warn" not in both
    for line in out.err.strip().splitlines():
        assert line.startswith("assistant: ")


_OPEN_MISSING_PCM = """
import ctypes, ctypes.util, sys
if sys.argv[1] == "quiet":
    from assistant.cli.quiet import quiet_alsa
    assert quiet_alsa()
lib = ctypes.CDLL(ctypes.util.find_library("asound"))
handle = ctypes.c_void_p()
assert lib.snd_pcm_open(ctypes.byref(handle), b"no-such-pcm-device", 0, 0) < 0
"""


@pytest.mark.skipif(
    __import__("ctypes.util").util.find_library("asound") is None, reason="no ALSA library"
)
@pytest.mark.parametrize("mode", ["loud", "quiet"])
def test_alsa_complaints_stay_off_the_screen(mode: str) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", _OPEN_MISSING_PCM, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    if mode == "loud":
        assert "ALSA lib" in done.stderr  # what the command line used to show
    else:
        assert done.stderr == ""
