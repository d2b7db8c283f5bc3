"""The systemd unit files and the installer.

``systemd-analyze verify`` (Debian's systemd package) checks the units: it refuses an ExecStart
that is not there, so the units are copied to a temporary folder with ExecStart pointing at a
stand-in executable; everything else is checked as installed.
"""

from __future__ import annotations

import configparser
import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "systemd"
UNITS = [
    "assistant.service",
    "assistant-sync.service",
    "assistant-sync.timer",
    "assistant-sync.path",
]
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
    assert "systemctl enable assistant.service assistant-sync.timer assistant-sync.path" in out
    assert "systemctl restart" not in out  # --no-start
    for name in UNITS:
        assert f"/etc/systemd/system/{name}" in out


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_install_script_shellcheck():
    result = subprocess.run(
        ["shellcheck", str(SYSTEMD / "install.sh")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


# -- the installer laid out under a temporary root, and the `assistant` command it installs ----

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs root and runuser (it changes owners and runs as another user)",
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "bash",
            str(SYSTEMD / "install.sh"),
            "--root",
            str(root),
            "--user",
            "nobody",
            "--skip-packages",
            "--skip-venv",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SUDO_USER": ""},
    )


@needs_root
def test_install_under_a_root_lays_out_files_with_their_owners_and_modes(tmp_path):
    root = tmp_path / "root"
    result = _install(root)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "+ apt-get" not in result.stdout and "+ systemctl" not in result.stdout  # nothing run
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid

    data = root / "var/lib/assistant"
    assert (data.stat().st_uid, data.stat().st_gid, _mode(data)) == (nobody, nogroup, 0o750)
    exports = data / "exports"
    assert (exports.stat().st_uid, _mode(exports)) == (nobody, 0o2750)  # the admin's group reads

    config = root / "etc/assistant/config.toml"
    assert _mode(config) == 0o644
    assert 'data_dir = "/var/lib/assistant"' in config.read_text()  # the device's path
    wrapper = root / "usr/local/bin/assistant"
    assert _mode(wrapper) == 0o755
    text = wrapper.read_text()
    for line in (
        "VENV=/opt/assistant/venv",
        "CONFIG=/etc/assistant/config.toml",
        "DATA=/var/lib/assistant",
        "SERVICE_USER=nobody",
    ):
        assert f"\n{line}\n" in text
    assert (root / "opt/assistant/src/pyproject.toml").is_file()
    assert not (root / "opt/assistant/src/.git").exists()
    for name in UNITS:
        assert _mode(root / "etc/systemd/system" / name) == 0o644
    polkit = (root / "etc/polkit-1/rules.d/50-assistant-poweroff.rules").read_text()
    assert 'subject.user == "nobody"' in polkit

    # Again (an upgrade): the settings staff changed are kept.
    config.write_text(config.read_text() + "\n# changed by staff\n")
    assert _install(root).returncode == 0
    assert "# changed by staff" in config.read_text()


def _wrapper_copy(tmp: Path, venv: Path, user: str, config: Path, data: Path) -> Path:
    text = (SYSTEMD / "assistant").read_text()
    for key, value in (
        ("VENV", venv),
        ("CONFIG", config),
        ("DATA", data),
        ("EXPORTS", data / "exports"),
        ("SERVICE_USER", user),
    ):
        text = re.sub(rf"(?m)^{key}=.*$", f"{key}={value}", text)
    path = tmp / "assistant"
    path.write_text(text)
    path.chmod(0o755)
    return path


@needs_root
def test_the_wrapper_runs_as_the_service_user_with_its_settings():
    # Under /tmp with open modes: the service user (nobody) must reach the stand-in program.
    tmp = Path(tempfile.mkdtemp(prefix="assistant-wrapper-", dir="/tmp"))
    try:
        tmp.chmod(0o755)
        venv = tmp / "venv"
        (venv / "bin").mkdir(parents=True)
        stub = venv / "bin" / "assistant"
        stub.write_text(
            "#!/bin/sh\n"
            'echo "user=$(id -un) pwd=$(pwd) config=$ASSISTANT_CONFIG data=$ASSISTANT_DATA"\n'
            'for a in "$@"; do echo "arg=$a"; done\n'
        )
        stub.chmod(0o755)
        data = tmp / "data"
        (data / "exports").mkdir(parents=True)
        os.chown(data / "exports", pwd.getpwnam("nobody").pw_uid, -1)
        wrapper = _wrapper_copy(tmp, venv, "nobody", tmp / "config.toml", data)
        mine = tmp / "mine"
        mine.mkdir()  # nobody may not write here
        # modes set outright: an earlier test in this process may have left a tight umask
        # (the hub commands set 077 for themselves)
        for folder in (venv, venv / "bin", data, data / "exports", mine):
            folder.chmod(0o755)
        result = subprocess.run(
            [str(wrapper), "people", "add", "Sam Smith", "--consent", "yes"],
            cwd=mine,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert f"user=nobody pwd={data / 'exports'} config={tmp / 'config.toml'}" in out
        assert f"data={data}" in out
        args = ["arg=people", "arg=add", "arg=Sam Smith", "arg=--consent", "arg=yes"]
        assert out.splitlines()[1:] == args  # every argument as typed, spaces kept
        assert f"files are written in {data / 'exports'}" in result.stderr
        # A folder the service user may write to is kept.
        mine.chmod(0o777)
        result = subprocess.run(
            [str(wrapper), "check"], cwd=mine, capture_output=True, text=True, timeout=60
        )
        assert f"user=nobody pwd={mine} " in result.stdout and result.stderr == ""
        # Not installed: one plain sentence.
        shutil.rmtree(venv)
        result = subprocess.run([str(wrapper), "check"], capture_output=True, text=True)
        assert result.returncode == 1
        assert result.stderr.startswith("assistant: the program is not installed in")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_the_wrapper_runs_the_real_program_on_the_service_store(tmp_path):
    """As the service user itself (here: whoever runs the tests), the real program works on
    the settings and records the wrapper names, wherever it is typed."""
    me = pwd.getpwuid(os.geteuid()).pw_name
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(f'[records]\ndata_dir = "{data}"\n')
    venv = Path(sys.executable).parent.parent
    wrapper = _wrapper_copy(tmp_path, venv, me, config, data)
    env = {k: v for k, v in os.environ.items() if k not in ("ASSISTANT_CONFIG", "ASSISTANT_DATA")}
    env["PYTHONPATH"] = str(ROOT)
    add = subprocess.run(
        [str(wrapper), "people", "add", "Sam", "--consent", "yes"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert add.returncode == 0, add.stderr
    listed = subprocess.run(
        [str(wrapper), "people", "list"], capture_output=True, text=True, timeout=120, env=env
    )
    assert listed.returncode == 0 and "Sam" in listed.stdout, listed.stderr
    assert (data / "records.sqlite").is_file()  # the store the wrapper's settings name


def test_every_command_in_the_pi_guide_exists():
    """Each `assistant ...` line of docs/install-pi.md names a real command (its --help works)."""
    import shlex

    guide = (ROOT / "docs" / "install-pi.md").read_text()
    lines = [
        ln.split("#")[0].strip()
        for ln in guide.splitlines()
        if ln.startswith("    assistant ") and "hub" not in ln
    ]
    assert len(lines) >= 10
    for line in lines:
        words = shlex.split(line)[1:]
        result = subprocess.run(
            [sys.executable, "-m", "assistant", *words, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert result.returncode == 0 and "Usage" in result.stdout, (line, result.stderr)
    for option in ("--root", "--user", "--skip-packages", "--skip-venv", "--dry-run"):
        assert option in (SYSTEMD / "install.sh").read_text()
    assert "docs/install-pi.md" in (ROOT / "README.md").read_text()
    assert "docs/install-pi.md" in (ROOT / "hardware" / "README.md").read_text()
