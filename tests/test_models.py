"""``assistant models``: manifest, download (resume, checksums, atomic unpack), verify.

A tiny threaded HTTP server on 127.0.0.1 (with HTTP Range support, and able to cut a response
short) stands in for the model hosts; a test manifest points at it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant import models
from assistant.cli import main
from assistant.errors import ConfigError, DownloadError

REPO = Path(__file__).resolve().parent.parent


class ModelHost:
    """Serves byte strings by path; can cut the next response for a path after N bytes."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                rng = self.headers.get("Range")
                host.requests.append((self.path, rng))
                data = host.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if rng and host.ranges:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                cut = host.cut_after.pop(self.path, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host() -> Iterator[ModelHost]:
    h = ModelHost()
    yield h
    h.close()


def _zip_model() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("tiny-vosk/am/final.mdl", os.urandom(20_000))
        zf.writestr("tiny-vosk/conf/model.conf", "--sample-frequency=16000\n")
        zf.writestr("tiny-vosk/README", "a tiny stand-in model\n")
    return buf.getvalue()


def _git_blob_sha1(data: bytes) -> str:
    """Computed by git itself, so the project's own formula is checked independently."""
    out = subprocess.run(
        ["git", "hash-object", "--stdin"], input=data, capture_output=True, check=True
    )
    return out.stdout.decode().strip()


@pytest.fixture
def served(host: ModelHost, tmp_path: Path) -> dict[str, object]:
    """A zip model and a two-file Piper-like voice on the host, and a manifest for them."""
    zdata = _zip_model()
    onnx = os.urandom(150_000)
    cfg = json.dumps({"audio": {"sample_rate": 22050}, "espeak": {"voice": "en-gb"}}).encode()
    host.files = {"/m/tiny-vosk.zip": zdata, "/v/tiny.onnx": onnx, "/v/tiny.onnx.json": cfg}
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f"""
[[models]]
name = "tiny-vosk"
kind = "vosk"
unpack = "zip"
required = ["am/final.mdl", "conf/model.conf"]
  [[models.files]]
  url = "{host.url}/m/tiny-vosk.zip"
  size = {len(zdata)}
  sha256 = "{hashlib.sha256(zdata).hexdigest()}"

[[models]]
name = "tiny"
kind = "piper"
unpack = "none"
  [[models.files]]
  url = "{host.url}/v/tiny.onnx"
  size = {len(onnx)}
  sha256 = "{hashlib.sha256(onnx).hexdigest()}"
  [[models.files]]
  url = "{host.url}/v/tiny.onnx.json"
  git_blob_sha1 = "{_git_blob_sha1(cfg)}"
""",
        encoding="utf-8",
    )
    return {"manifest": manifest, "zip": zdata, "onnx": onnx, "cfg": cfg}


def _leftovers(models_dir: Path) -> list[str]:
    """Anything hidden (staging, temporary unpack folders, .part files) left in the folder."""
    if not models_dir.exists():
        return []
    return sorted(p.name for p in models_dir.iterdir() if p.name.startswith("."))


def test_download_zip_checks_and_unpacks(
    served: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models_dir = tmp_path / "models"
    manifest = models.load_manifest(served["manifest"])  # type: ignore[arg-type]
    seen: list[int] = []
    where, fetched = models.download(
        "tiny-vosk", models_dir, manifest=manifest, on_progress=lambda n, d, t: seen.append(d)
    )
    assert fetched and where == models_dir / "tiny-vosk"
    assert (where / "am" / "final.mdl").is_file() and (where / "conf" / "model.conf").is_file()
    assert seen[-1] == len(served["zip"])  # type: ignore[arg-type]
    assert _leftovers(models_dir) == []
    assert models.verify_entry(manifest["tiny-vosk"], models_dir)[0] == "ok"
    # a second download does nothing
    assert models.download("tiny-vosk", models_dir, manifest=manifest)[1] is False
    # damage one unpacked file: verify says corrupt, through the command too
    (where / "am" / "final.mdl").write_bytes(b"oops")
    status, detail = models.verify_entry(manifest["tiny-vosk"], models_dir)
    assert status == "corrupt" and "final.mdl" in detail
    code = main(
        ["models", "verify", "tiny-vosk", "--manifest", str(served["manifest"]),
         "--models-dir", str(models_dir)]
    )  # fmt: skip
    assert code == 2
    assert "tiny-vosk is corrupt" in capsys.readouterr().err
    # --force fetches it again and replaces the damaged folder in one step
    assert models.download("tiny-vosk", models_dir, manifest=manifest, force=True)[1]
    assert models.verify_entry(manifest["tiny-vosk"], models_dir)[0] == "ok"
    assert _leftovers(models_dir) == []


def test_download_piper_voice_with_git_blob_checksum(
    served: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models_dir = tmp_path / "models"
    code = main(
        ["models", "download", "tiny", "--quiet", "--manifest", str(served["manifest"]),
         "--models-dir", str(models_dir)]
    )  # fmt: skip
    assert code == 0
    assert (models_dir / "tiny.onnx").read_bytes() == served["onnx"]
    assert (models_dir / "tiny.onnx.json").read_bytes() == served["cfg"]
    assert "tiny is ready" in capsys.readouterr().out
    assert _leftovers(models_dir) == []
    # the settings file changed by one byte fails its git blob sha1
    (models_dir / "tiny.onnx.json").write_bytes(served["cfg"] + b" ")  # type: ignore[operator]
    manifest = models.load_manifest(served["manifest"])  # type: ignore[arg-type]
    status, detail = models.verify_entry(manifest["tiny"], models_dir)
    assert status == "corrupt" and "git blob sha1" in detail


def test_resume_after_a_cut(host: ModelHost, served: dict[str, object], tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    manifest = models.load_manifest(served["manifest"])  # type: ignore[arg-type]
    host.cut_after["/v/tiny.onnx"] = 40_000
    with pytest.raises(DownloadError, match="cut off.*run the same command again"):
        models.download("tiny", models_dir, manifest=manifest)
    part = models_dir / models.STAGING / "tiny.onnx.part"
    assert part.stat().st_size == 40_000
    assert not (models_dir / "tiny.onnx").exists()  # nothing half-written in place
    host.requests.clear()
    models.download("tiny", models_dir, manifest=manifest)
    assert ("/v/tiny.onnx", "bytes=40000-") in host.requests
    assert (models_dir / "tiny.onnx").read_bytes() == served["onnx"]
    assert _leftovers(models_dir) == []


def test_wrong_checksum_is_refused_and_nothing_is_left(
    served: dict[str, object], tmp_path: Path
) -> None:
    manifest_path: Path = served["manifest"]  # type: ignore[assignment]
    text = manifest_path.read_text()
    good = hashlib.sha256(served["zip"]).hexdigest()  # type: ignore[arg-type]
    manifest_path.write_text(text.replace(good, "0" * 64))
    models_dir = tmp_path / "models"
    manifest = models.load_manifest(manifest_path)
    with pytest.raises(DownloadError, match="sha256") as info:
        models.download("tiny-vosk", models_dir, manifest=manifest)
    assert "\n" not in str(info.value)
    assert list(models_dir.iterdir()) == []
    assert models.verify_entry(manifest["tiny-vosk"], models_dir)[0] == "missing"


def test_no_network_is_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        f"""[[models]]
name = "far"
kind = "piper"
  [[models.files]]
  url = "http://127.0.0.1:{port}/far.onnx"
  sha256 = "{"1" * 64}"
"""
    )
    models_dir = tmp_path / "models"
    code = main(["models", "download", "far", "--manifest", str(manifest), "--models-dir",
                 str(models_dir)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and err.endswith(".") and "Traceback" not in err
    assert "Cannot connect to 127.0.0.1" in err and "no network" in err
    assert _leftovers(models_dir) == []


def test_unknown_model_and_server_error(
    served: dict[str, object], host: ModelHost, tmp_path: Path
) -> None:
    manifest = models.load_manifest(served["manifest"])  # type: ignore[arg-type]
    with pytest.raises(DownloadError, match="no model called 'nope'.*tiny-vosk"):
        models.download("nope", tmp_path, manifest=manifest)
    del host.files["/v/tiny.onnx"]
    with pytest.raises(DownloadError, match="refused.*404"):
        models.download("tiny", tmp_path / "m", manifest=manifest)
    assert _leftovers(tmp_path / "m") == []


def test_shipped_manifest(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    shipped = models.default_manifest()
    assert shipped.parent == Path(models.__file__).parent  # inside the package
    assert (REPO / "models" / "manifest.toml").read_bytes() == shipped.read_bytes()
    entries = models.load_manifest()
    assert {
        "vosk-model-small-en-us-0.15",
        "en_GB-alba-medium",
        "en_GB-alan-medium",
        "en_US-lessac-medium",
    } <= set(entries)
    vosk = entries["vosk-model-small-en-us-0.15"]
    assert vosk.kind == "vosk" and vosk.unpack == "zip"
    assert vosk.files[0].sha256 == (
        "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498"
    )
    for entry in entries.values():
        if entry.kind == "piper":
            names = {f.name for f in entry.files}
            assert names == {f"{entry.name}.onnx", f"{entry.name}.onnx.json"}
            onnx = next(f for f in entry.files if f.name.endswith(".onnx"))
            assert onnx.sha256 and len(onnx.sha256) == 64
    assert main(["models", "list", "--models-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "en_GB-alba-medium" in out and "vosk-model-small-en-us-0.15" in out
    # The models in use that are not in the manifest: the bundled voice, the embedded Whisper
    # model (loaded, as no int8 copy is in this folder) and where its int8 copy would go.
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert "speech (Whisper)" in rows["whisper tiny.en"] and "embedded" in rows["whisper tiny.en"]
    assert "whisper-tiny.en-int8" in rows and "voice" in rows["en_US-joe-medium"]


def test_bad_manifest_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[models]]\nname = "x"\nkind = "espeak"\n[[models.files]]\nurl = "http://h/x"\n'
    )
    with pytest.raises(ConfigError, match="kind must be vosk or piper"):
        models.load_manifest(bad)
    bad.write_text("[[models]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        models.load_manifest(bad)


def test_resume_when_the_server_ignores_ranges(
    host: ModelHost, served: dict[str, object], tmp_path: Path
) -> None:
    models_dir = tmp_path / "models"
    manifest = models.load_manifest(served["manifest"])  # type: ignore[arg-type]
    host.cut_after["/v/tiny.onnx"] = 30_000
    with pytest.raises(DownloadError, match="cut off"):
        models.download("tiny", models_dir, manifest=manifest)
    host.ranges = False  # answers 200 with the whole file: start again, do not append
    models.download("tiny", models_dir, manifest=manifest)
    assert (models_dir / "tiny.onnx").read_bytes() == served["onnx"]


def test_zip_with_unsafe_paths_is_refused(host: ModelHost, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escaped.txt", "should never be written")
    data = buf.getvalue()
    host.files = {"/evil.zip": data}
    manifest = tmp_path / "m.toml"
    manifest.write_text(
        f"""[[models]]
name = "evil"
kind = "vosk"
unpack = "zip"
  [[models.files]]
  url = "{host.url}/evil.zip"
  sha256 = "{hashlib.sha256(data).hexdigest()}"
"""
    )
    models_dir = tmp_path / "a" / "b" / "models"
    with pytest.raises(DownloadError, match="unsafe path"):
        models.download("evil", models_dir, manifest=models.load_manifest(manifest))
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not (models_dir / "evil").exists()
    assert list(models_dir.iterdir()) == []
