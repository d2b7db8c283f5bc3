"""The systemd unit files and the installer.

``systemd-analyze verify`` (Debian's systemd package) checks the units: it refuses an ExecStart
that is not there, so the units are copied to a temporary folder with ExecStart pointing at a
stand-in executable; everything else is checked as installed.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNITS = ["assistant.service", "assistant-sync.service", "assistant-sync.timer"]
EXEC = "/opt/assistant/venv/bin/assistant"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(SYSTEMD / name)
    return parser


def copy_units(tmp_path: Path, text_edit=lambda name, text: text) -> list[Path]:
    fake = tmp_path / "assistant"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    out = []
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace(EXEC, str(fake))
        path = tmp_path / name
        path.write_text(text_edit(name, text))
        out.append(path)
    return out


def verify(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
    )


needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian package systemd)",
)


@needs_systemd
def test_units_verify_cleanly(tmp_path):
    result = verify(copy_units(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr


@needs_systemd
def test_verify_catches_a_mistake(tmp_path):
    """The check above can fail: a misspelt key is reported."""
    paths = copy_units(
        tmp_path,
        lambda name, text: text.replace("WatchdogSec=30", "WatchdogSecs=30"),
    )
    result = verify(paths)
    assert "Unknown key 'WatchdogSecs'" in result.stderr


@needs_systemd
def test_security_exposure_is_limited(tmp_path):
    paths = copy_units(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(paths[0])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and "offline" in result.stderr:
        pytest.skip(f"this systemd-analyze cannot check offline: {result.stderr.strip()}")
    line = next(x for x in result.stdout.splitlines() if "Overall exposure level" in x)
    score = float(line.split(":")[1].split()[0])
    assert score < 6.5, line  # "MEDIUM" or better, while still reaching sound and GPIO


def test_device_service_settings():
    service = unit("assistant.service")
    s = service["Service"]
    assert s["Type"] == "notify"
    assert s["NotifyAccess"] == "main"
    assert s["WatchdogSec"] == "30"
    assert s["Restart"] == "on-failure"
    assert s["RestartSec"] == "5"
    assert s["User"] == "assistant"
    assert set(s["SupplementaryGroups"].split()) == {"audio", "gpio"}
    assert s["ExecStart"] == f"{EXEC} service"
    assert "sound.target" in service["Unit"]["After"].split()
    assert service["Install"]["WantedBy"] == "multi-user.target"
    # hardening must leave the sound cards and GPIO reachable
    text = (SYSTEMD / "assistant.service").read_text()
    for device in ("char-alsa", "/dev/snd", "char-gpiochip", "/dev/gpiomem"):
        assert f"DeviceAllow={device} rw" in text
    assert "PrivateDevices=yes" not in text


def test_sync_timer_runs_sync_push():
    sync = unit("assistant-sync.service")
    assert sync["Service"]["ExecStart"] == f"{EXEC} sync push"
    assert sync["Service"]["Type"] == "oneshot"
    assert "network-online.target" in sync["Unit"]["After"]
    timer = unit("assistant-sync.timer")
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_install_script_dry_run():
    script = SYSTEMD / "install.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = subprocess.run(
        ["bash", str(script), "--dry-run", "--no-start"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "apt-get install" in out and "libportaudio2" in out
    assert "--groups audio,gpio" in out
    assert "python3 -m venv /opt/assistant/venv" in out or "/opt/assistant/venv/bin/pip" in out
    assert "/opt/assistant/src[pi]" in out
    assert "systemctl enable assistant.service assistant-sync.timer" in out
    assert "systemctl restart" not in out  # --no-start
    for name in UNITS:
        assert f"/etc/systemd/system/{name}" in out


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_install_script_shellcheck():
    result = subprocess.run(
        ["shellcheck", str(SYSTEMD / "install.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
