"""Published scripts: a script the charity's hub sent this device, signed by the hub.

Staff publish a script on the hub (``assistant hub scripts publish FILE``). Each publication is
a small JSON document, signed by the hub's Ed25519 signing key::

    {"format": 1, "kind": "script", "name": "garden", "version": 3,
     "sha256": "<sha256 of the YAML text, UTF-8>", "yaml": "<the script>",
     "targets": "all" | ["<device id>", ...], "published_at": "...", "published_by": "Jo"}

The signature is over the document's canonical JSON (keys sorted, no spaces, ASCII), so the
same document always gives the same bytes. A device keeps each publication in
``Settings.published_scripts_dir`` as ``<name>.json``, holding ``{"publication": {...},
"signature": "<hex>"}``, and checks it **every time it loads it**: the hub's signature (with
the hub's verify key from the device's enrolment), the YAML's sha256, the file name, and the
script itself. A publication that fails any check is never run: the device uses the script of
the same name it would have used without it (the staff folder's, else the built-in), says so in
its log and in ``assistant check`` and ``assistant scripts list``. A session that ran a
published script keeps its name, publication version and sha256 in the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.exceptions
import nacl.signing

from assistant.errors import ScriptError

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.dialogue.schema import Script

log = logging.getLogger(__name__)

FORMAT = 1
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_YAML_BYTES = 256 * 1024


class PublicationRefused(ScriptError):
    """A published script that is unsigned, altered, damaged or not for this device."""


def canonical(doc: dict[str, Any]) -> bytes:
    """The bytes the hub signs: the document as canonical JSON."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def yaml_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Publication:
    """One checked publication (its signature was good)."""

    name: str
    version: int
    sha256: str
    yaml: str
    targets: str | tuple[str, ...]
    published_at: str
    published_by: str
    signature: str

    def document(self) -> dict[str, Any]:
        return publication_document(
            name=self.name,
            version=self.version,
            yaml_text=self.yaml,
            targets=self.targets,
            published_at=self.published_at,
            published_by=self.published_by,
        )

    def signed(self) -> dict[str, Any]:
        """What is sent to a device and kept there: the document and its signature."""
        return {"publication": self.document(), "signature": self.signature}

    @property
    def label(self) -> str:
        return f"{self.name} (published version {self.version})"


def publication_document(
    *,
    name: str,
    version: int,
    yaml_text: str,
    targets: str | Iterable[str],
    published_at: str,
    published_by: str,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "kind": "script",
        "name": name,
        "version": version,
        "sha256": yaml_sha256(yaml_text),
        "yaml": yaml_text,
        "targets": "all" if targets == "all" else sorted(targets),
        "published_at": published_at,
        "published_by": published_by,
    }


def sign(doc: dict[str, Any], signing_key: bytes | nacl.signing.SigningKey) -> str:
    """The hub's signature over *doc* (hex)."""
    key = (
        signing_key
        if isinstance(signing_key, nacl.signing.SigningKey)
        else nacl.signing.SigningKey(signing_key)
    )
    return bytes(key.sign(canonical(doc)).signature).hex()


def verify(signed: Any, verify_key: bytes | None, *, where: str = "the publication") -> Publication:
    """Check a signed publication; one plain sentence if it must not be used."""
    if not verify_key:
        raise PublicationRefused(
            f"{where}: this device does not know its hub's signing key, so it cannot check "
            "published scripts (run 'assistant sync' once over the network, or enrol again)."
        )
    if not isinstance(signed, dict) or not isinstance(signed.get("publication"), dict):
        raise PublicationRefused(f"{where}: this is not a published script from the hub.")
    doc = signed["publication"]
    signature = signed.get("signature")
    if not isinstance(signature, str) or not signature:
        raise PublicationRefused(f"{where}: it is not signed by the hub, so it is never run.")
    try:
        nacl.signing.VerifyKey(bytes(verify_key)).verify(canonical(doc), bytes.fromhex(signature))
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError) as exc:
        raise PublicationRefused(
            f"{where}: its signature does not match (it was altered, or is not from this "
            "device's hub), so it is never run."
        ) from exc
    try:
        name, version, text = str(doc["name"]), int(doc["version"]), str(doc["yaml"])
        targets_raw = doc["targets"]
        targets: str | tuple[str, ...] = (
            "all" if targets_raw == "all" else tuple(str(t) for t in targets_raw)
        )
        pub = Publication(
            name=name,
            version=version,
            sha256=str(doc["sha256"]),
            yaml=text,
            targets=targets,
            published_at=str(doc["published_at"]),
            published_by=str(doc["published_by"]),
            signature=signature,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PublicationRefused(f"{where}: the publication is missing a part.") from exc
    if doc.get("format") != FORMAT or doc.get("kind") != "script":
        raise PublicationRefused(f"{where}: a kind of publication this device does not know.")
    if pub.sha256 != yaml_sha256(pub.yaml):
        raise PublicationRefused(f"{where}: the script does not match its sha256.")
    if not NAME_RE.match(pub.name):
        raise PublicationRefused(f"{where}: {pub.name!r} is not a script name.")
    return pub


def hub_verify_key(settings: Settings) -> tuple[bytes | None, str | None]:
    """The hub's verify key and this device's id, from its enrolment (None: not enrolled, or
    not known)."""
    from assistant.errors import EnrolmentError
    from assistant.sync.device import Enrolment

    if not Enrolment.exists(settings.data_dir):
        return None, None
    try:
        enrolment = Enrolment.load(settings.data_dir)
        return enrolment.hub_verify, enrolment.device_id
    except (EnrolmentError, ValueError):
        return None, None


class PublishedScripts:
    """The device's folder of published scripts, checked on every load."""

    def __init__(
        self, folder: Path, verify_key: bytes | None, device_id: str | None = None
    ) -> None:
        self.folder = Path(folder)
        self.verify_key = verify_key
        self.device_id = device_id
        """This device: a publication for other devices only is refused (None: not checked)."""

    @classmethod
    def of(cls, settings: Settings) -> PublishedScripts:
        key, device_id = hub_verify_key(settings)
        return cls(settings.published_scripts_dir, key, device_id)

    def _for_me(self, pub: Publication, where: str) -> Publication:
        if self.device_id and pub.targets != "all" and self.device_id not in pub.targets:
            raise PublicationRefused(f"{where}: it was published for other devices, not this one.")
        return pub

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def names(self) -> list[str]:
        """Every publication file's name (checked or not)."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if not p.name.startswith("."))

    def check(self, name: str) -> Publication:
        """The publication called *name*, checked now; :class:`PublicationRefused` if it is
        damaged, altered or unsigned."""
        path = self.path(name)
        where = f"The published script {name!r} ({path})"
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise PublicationRefused(f"There is no published script {name!r}.") from exc
        except OSError as exc:
            raise PublicationRefused(f"{where}: cannot be read ({exc}).") from exc
        try:
            signed = json.loads(raw)
        except ValueError as exc:
            raise PublicationRefused(f"{where}: the file is damaged (not JSON).") from exc
        pub = self._for_me(verify(signed, self.verify_key, where=where), where)
        if pub.name != name:
            raise PublicationRefused(f"{where}: it is a publication of {pub.name!r}.")
        return pub

    def load(self, name: str) -> Script | None:
        """The published script *name*, checked and parsed; None if there is none or it must
        not be run (logged as a warning: the caller uses the script it has without it)."""
        if not NAME_RE.match(name) or not self.path(name).is_file():
            return None
        try:
            return self.script(self.check(name))
        except ScriptError as exc:
            log.warning(
                "%s The device's own %r (the built-in script, or the staff's copy) is used "
                "instead.",
                exc,
                name,
            )
            return None

    def script(self, pub: Publication) -> Script:
        from assistant.dialogue.script import parse_script

        script = parse_script(pub.yaml, f"{pub.label}, from the hub")
        if script.name != pub.name:
            raise PublicationRefused(
                f"{pub.label}: the script inside is called {script.name!r}, so it is not used."
            )
        return script.model_copy(
            update={
                "source": f"published version {pub.version} ({self.path(pub.name)})",
                "publication": pub.version,
                "sha256": pub.sha256,
            }
        )

    def problems(self) -> dict[str, str]:
        """Name -> why that publication is not used (for ``check`` and ``scripts list``)."""
        out: dict[str, str] = {}
        for name in self.names():
            try:
                self.script(self.check(name))
            except ScriptError as exc:
                out[name] = str(exc)
        return out

    def have(self) -> list[str]:
        """``name:version:sha256`` of each good publication (what the device tells the hub)."""
        out = []
        for name in self.names():
            try:
                pub = self.check(name)
            except ScriptError:
                continue
            out.append(f"{pub.name}:{pub.version}:{pub.sha256}")
        return out

    def install(self, signed: dict[str, Any]) -> Publication:
        """Check a publication received from the hub, then keep it (atomically)."""
        from assistant.sync.device import write_atomic

        where = "A script from the hub"
        pub = self._for_me(verify(signed, self.verify_key, where=where), where)
        self.script(pub)  # a script that does not load is not kept
        write_atomic(self.path(pub.name), json.dumps(pub.signed(), indent=1).encode() + b"\n")
        return pub

    def remove(self, name: str) -> bool:
        if not NAME_RE.match(name):
            return False
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            return False
        return True


def load_device_script(
    name_or_path: str | Path, settings: Settings, published: PublishedScripts | None = None
) -> Script:
    """The script a name means on this device: the staff's folder first, then a good
    published version, then the built-in one (a file path is that file).

    A publication that is damaged, altered or unsigned is never run: a warning says so and the
    script it would have replaced (the built-in one of the same name) is used instead."""
    from assistant.dialogue.script import load_script

    text = str(name_or_path)
    staff = settings.scripts_dir
    is_name = not (text.endswith((".yaml", ".yml")) or "/" in text)
    if is_name and not any((staff / f"{text}{s}").is_file() for s in (".yaml", ".yml")):
        script = (published or PublishedScripts.of(settings)).load(text)
        if script is not None:
            log.info("script %s: %s", text, script.source)
            return script
    return load_script(name_or_path, [staff])
