"""Talking to the hub: enrol once, then push the outbox.

Every request retries on a broken connection or a busy hub, waiting longer each time (0.5 s,
1 s, 2 s ... at most 30 s, at most ``max_attempts`` tries). Clips go first, each by its sha256
(the hub says whether it has one already); then the session. A session is marked sent in the
record store only after the hub has acknowledged it, so a crash at any moment loses nothing and
a second push sends nothing twice.
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import httpx
import nacl.signing

from assistant import __version__
from assistant.errors import EnrolmentError, HubFailed, HubUnreachable, RecordError, SyncError
from assistant.faults import fault_point
from assistant.sync import own_settings, withdrawals, words
from assistant.sync.device import Enrolment, b64, sync_dir, unb64
from assistant.sync.outbox import Outbox
from assistant.sync.source import SessionSource

if TYPE_CHECKING:
    from assistant.records.store import RecordStore

log = logging.getLogger(__name__)

RETRY_STATUS = {429, 500, 502, 503, 504}
# a proxy's answers when the hub behind it is down: the same as no network
PROXY_DOWN_STATUS = {502, 504}
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


def backoff_delays(max_attempts: int, base: float = BACKOFF_BASE_S) -> list[float]:
    """The waits between tries: doubling, capped, with a little jitter."""
    return [
        min(BACKOFF_CAP_S, base * 2**i) * random.uniform(0.8, 1.2) for i in range(max_attempts - 1)
    ]


class HubClient:
    """HTTP to one hub, with bounded retries and exponential backoff."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout_s: float = 30.0,
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": f"assistant/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base_url = base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, attempts: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        tries = attempts or self.max_attempts
        delays = backoff_delays(tries)
        last: str = ""
        answered: httpx.Response | None = None
        for i in range(tries):
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                answered = None
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                last = f"the hub answered {response.status_code}"
                answered = response if response.status_code not in PROXY_DOWN_STATUS else None
            if i < len(delays):
                log.info(
                    "hub %s %s failed (%s); trying again in %.1f s", method, path, last, delays[i]
                )
                self.sleep(delays[i])
        if answered is not None:  # the hub is there, but failed: say what it said
            raise HubFailed(hub_failure(answered))
        raise HubUnreachable(
            f"The hub at {self.base_url} did not answer after {tries} tries ({last})."
        )


def hub_failure(response: httpx.Response) -> str:
    """One sentence for a hub that answered but could not do it."""
    code = response.status_code
    detail = _detail(response)
    if code == 507 or "full" in detail.lower():
        return f"The hub could not store it: its disk may be full ({code}: {detail})."
    if code == 429:
        return f"The hub is refusing for now: {detail}"
    if code == 503:
        return f"The hub is not ready: {detail}"
    return (
        f"The hub could not store it: it answered {code} (an error on the hub; its disk may be "
        "full). Ask whoever runs the hub to look at its log."
    )


def _check_auth(response: httpx.Response) -> None:
    if response.status_code == 401:
        raise EnrolmentError("The hub does not accept this device's token: enrol it again.")
    if response.status_code == 403:
        raise EnrolmentError("The hub has revoked this device: ask staff for a new code.")


def _put_sealed(client: HubClient, path: str, sealed: bytes) -> httpx.Response:
    """PUT one sealed bundle; an unknown or revoked device raises EnrolmentError."""
    response = client.request(
        "PUT", path, content=sealed, headers={"Content-Type": "application/octet-stream"}
    )
    _check_auth(response)
    return response


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
        detail = body.get("detail") if isinstance(body, dict) else None
    except ValueError:
        detail = None
    return str(detail or response.text[:200] or response.reason_phrase)


def enrol(
    url: str,
    code: str,
    data_dir: Path,
    *,
    device_id: str,
    name: str,
    timeout_s: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    insecure: bool = False,
) -> Enrolment:
    """Swap a one-time code for a device token and the hub's public key; save them (0600).

    Plain ``http://`` is refused (the token would cross the network in the clear), except to
    this machine itself or with *insecure*."""
    if not url.startswith(("http://", "https://")):
        raise EnrolmentError(f"The hub address {url!r} must start with http:// or https://.")
    if url.startswith("http://") and not insecure and not is_loopback_url(url):
        raise EnrolmentError(
            f"The hub address {url} is plain http://, which would send this device's token "
            "across the network unprotected: use https://, or add --insecure only on a "
            "private network you trust."
        )
    signing = nacl.signing.SigningKey.generate()
    client = HubClient(url, timeout_s=timeout_s, max_attempts=3, transport=transport)
    try:
        response = client.request(
            "POST",
            "/v1/enrol",
            json={
                "code": code,
                "device_id": device_id,
                "name": name,
                "verify_key": b64(bytes(signing.verify_key)),
            },
        )
    except HubUnreachable as exc:
        raise EnrolmentError(
            f"Cannot reach the hub at {url}: check the address and network."
        ) from exc
    finally:
        client.close()
    if response.status_code >= 500:
        raise EnrolmentError(hub_failure(response))
    if response.status_code != 200:
        raise EnrolmentError(f"The hub refused the code: {_detail(response)}")
    body = response.json()
    try:
        hub_key = unb64(body["hub_public_key"])
        if len(hub_key) != 32:
            raise ValueError("bad key length")
        hub_verify = bytes.fromhex(str(body.get("hub_verify_key") or ""))
        if hub_verify and len(hub_verify) != 32:
            raise ValueError("bad key length")
        enrolment = Enrolment(
            hub_url=url.rstrip("/"),
            device_id=str(body["device_id"]),
            token=str(body["token"]),
            hub_public_key=b64(hub_key),
            signing_key=b64(bytes(signing)),
            enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
            hub_verify_key=hub_verify.hex(),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise EnrolmentError("The hub's answer to enrolment was not understood.") from exc
    if Enrolment.exists(data_dir):
        old = Enrolment.load(data_dir)
        if old.hub_public_key != enrolment.hub_public_key:
            with Outbox(data_dir) as outbox:
                waiting = len(outbox.pending())
            if waiting:
                raise EnrolmentError(
                    f"{waiting} sessions are sealed for the old hub ({old.hub_url}): send them "
                    "there or export them to a stick first, then enrol again."
                )
    enrolment.save(data_dir)
    return enrolment


def is_loopback_url(url: str) -> bool:
    """Whether *url* points at this machine (localhost, 127.0.0.0/8 or ::1)."""
    host = httpx.URL(url).host
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class PushReport:
    sent: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    waiting: int = 0
    busy: bool = False  # another push was already running
    withdrawals_sent: int = 0  # withdrawals of consent the hub took (sent before sessions)
    words_sent: int = 0  # people whose taught words the hub took
    settings_sent: int = 0  # people whose own settings the hub took (outside sessions)

    @property
    def nothing_to_send(self) -> bool:
        return (
            not self.sent
            and not self.refused
            and self.waiting == 0
            and not self.withdrawals_sent
            and not self.words_sent
            and not self.settings_sent
        )


def push(
    source: SessionSource,
    data_dir: Path,
    *,
    timeout_s: float = 30.0,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
    enrolment: Enrolment | None = None,
) -> PushReport:
    """Seal what is new, then send everything waiting. Raises HubUnreachable when offline.

    One push at a time per device (the timer and a person at the keyboard may both start one):
    a second one returns at once with ``busy`` set.
    """
    enrolment = enrolment or Enrolment.load(data_dir)
    report = PushReport()
    with push_lock(data_dir) as mine:
        if not mine:
            report.busy = True
            return report
        return _push(source, data_dir, enrolment, report, timeout_s, max_attempts, sleep, transport)


@contextmanager
def push_lock(data_dir: Path) -> Iterator[bool]:
    """Hold the device's push lock; yields False if another process holds it."""
    folder = sync_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / "push.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # also lets go of the lock


def _push(
    source: SessionSource,
    data_dir: Path,
    enrolment: Enrolment,
    report: PushReport,
    timeout_s: float,
    max_attempts: int,
    sleep: Callable[[float], None],
    transport: httpx.BaseTransport | None,
) -> PushReport:
    with Outbox(data_dir) as outbox:
        prepared = outbox.prepare(source, enrolment)
        report.problems.extend(prepared.problems)
        pending = outbox.pending()
        # a record store (not a fake source): its people's taught words travel too
        store = cast("RecordStore", source) if hasattr(source, "words") else None
        taught = words.changed(store) if store is not None else []  # read once per push
        own = own_settings.changed(store) if store is not None else []
        if not pending and not withdrawals.unsent(source) and not taught and not own:
            return report
        gone = withdrawals.withdrawn_shas(source)
        for sha in gone:  # deleted for consent: its sealed copy goes too, and it is not sent
            outbox.forget_clip(sha)
        attempt = outbox.start_attempt()
        client = HubClient(
            enrolment.hub_url,
            enrolment.token,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            sleep=sleep,
            transport=transport,
        )
        try:
            _check_auth(ping := client.request("GET", "/v1/ping", attempts=2))
            if ping.status_code != 200:
                raise SyncError(f"The hub did not accept this device: {_detail(ping)}")
            # withdrawals first: the hub then deletes what they cover, and waits for none of it
            report.withdrawals_sent, problems = send_withdrawals(client, source, enrolment)
            report.problems.extend(problems)
            if store is not None:  # taught words (their consent decisions first on the hub)
                report.words_sent, problems = send_words(client, store, enrolment, taught)
                report.problems.extend(problems)
                report.settings_sent, problems = send_settings(client, store, enrolment, own)
                report.problems.extend(problems)
            for item in pending:
                clips = [c for c in item.clips if c not in gone]
                error = _send_item(client, outbox, source, enrolment, item.session_id, clips)
                if error is None:
                    report.sent.append(item.session_id)
                else:
                    report.refused[item.session_id] = error
                    outbox.set_error(item.session_id, error)
        except (SyncError, RecordError) as exc:
            report.waiting = len(outbox.pending())
            result = "no network" if isinstance(exc, HubUnreachable) else "failed"
            outbox.finish_attempt(attempt, result, len(report.sent), str(exc))
            raise
        finally:
            client.close()
        report.waiting = len(outbox.pending())
        outbox.sweep()
        error_text = "; ".join(f"{k[:8]}: {v}" for k, v in report.refused.items()) or None
        outbox.finish_attempt(
            attempt, "refused some" if report.refused else "ok", len(report.sent), error_text
        )
    return report


def _send_item(
    client: HubClient,
    outbox: Outbox,
    source: SessionSource,
    enrolment: Enrolment,
    session_id: str,
    clips: list[str],
) -> str | None:
    """Send one session and its clips. None when the hub has it; else why it was refused."""
    for _round in range(2):
        for sha in clips:
            if outbox.blob_uploaded(sha):
                continue
            head = client.request("HEAD", f"/v1/blobs/{sha}")
            _check_auth(head)
            if head.status_code != 200:
                response = client.request(
                    "PUT",
                    f"/v1/blobs/{sha}",
                    content=outbox.ensure_clip_file(sha, source, enrolment).read_bytes(),
                    headers={"Content-Type": "application/octet-stream"},
                )
                _check_auth(response)
                if response.status_code not in (200, 201):
                    return f"clip {sha[:12]} refused: {_detail(response)}"
            outbox.mark_blob_uploaded(sha)
            fault_point("after_clip_upload")
        response = client.request(
            "PUT",
            f"/v1/sessions/{session_id}",
            content=outbox.session_file(session_id).read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
        )
        _check_auth(response)
        if response.status_code == 424:  # the hub lacks a clip we thought it had
            missing = response.json().get("missing", []) if response.content else []
            for sha in missing:
                outbox.mark_blob_uploaded(sha, uploaded=False)
            continue
        if response.status_code not in (200, 201):
            return _detail(response)
        fault_point("after_session_ack")
        _mark_store_sent(source, session_id)
        fault_point("after_store_mark_sent")
        outbox.mark_sent(session_id)
        return None
    return "the hub still lacks some of its clips"


def _mark_store_sent(source: SessionSource, session_id: str) -> None:
    try:
        record = source.get_session(session_id)
    except (RecordError, KeyError):
        return  # the store no longer has it (deleted by staff): the hub does
    if record.state == "sent":
        return
    source.mark_sent(session_id)


def send_withdrawals(
    client: HubClient, source: object, enrolment: Enrolment
) -> tuple[int, list[str]]:
    """Send every unsent withdrawal of consent (:mod:`assistant.sync.withdrawals`); returns how
    many the hub took, and problems. Raises
    :class:`~assistant.errors.HubUnreachable` when offline (nothing is marked)."""
    sent, problems = 0, []
    for withdrawal in withdrawals.unsent(source):
        response = _put_sealed(
            client, f"/v1/consent/{withdrawal['id']}", withdrawals.seal(withdrawal, enrolment)
        )
        if response.status_code == 404 and _detail(response) == "Not Found":
            problems.append(
                "The hub is too old to receive a withdrawal of consent: update it. The "
                "withdrawal waits on this device."
            )
            break
        if response.status_code not in (200, 201):
            problems.append(
                f"The hub refused withdrawal {withdrawal['id'][:8]}: {_detail(response)}"
            )
            continue
        mark = getattr(source, "mark_withdrawal_sent", None)
        if not callable(mark):
            raise SyncError("The record store cannot mark a withdrawal sent.")
        mark(withdrawal["id"])
        sent += 1
    return sent, problems


def send_words(
    client: HubClient,
    store: RecordStore,
    enrolment: Enrolment,
    taught: list[tuple[str, dict[str, Any]]] | None = None,
) -> tuple[int, list[str]]:
    """Send the taught words that changed (*taught*, else read: :func:`words.changed`);
    returns how many people's words the hub took, and problems. Raises HubUnreachable when
    offline (nothing is marked)."""
    sent, problems = 0, []
    for person_id, snap in words.changed(store) if taught is None else taught:
        held = words.on_hub(store, person_id)
        need = {e["sha256"] for e in snap["examples"]} - held
        for _round in range(2):
            try:
                body = words.seal(store, snap, need, enrolment)
            except OSError as exc:
                problems.append(f"The taught words of {person_id[:8]} could not be read: {exc}")
                break
            response = _put_sealed(client, f"/v1/words/{person_id}", body)
            if response.status_code == 424:  # the hub lacks an example we thought it had
                need |= set(response.json().get("missing", []))
                continue
            if response.status_code == 404 and _detail(response) == "Not Found":
                return sent, [
                    "The hub is too old to receive taught words: update it. They wait on this "
                    "device."
                ]
            if response.status_code not in (200, 201):
                problems.append(
                    f"The hub refused the taught words of {person_id[:8]}: {_detail(response)}"
                )
                break
            words.mark_sent(store, person_id, snap)
            sent += 1
            break
    return sent, problems


def send_settings(
    client: HubClient,
    store: RecordStore,
    enrolment: Enrolment,
    docs: list[dict[str, Any]] | None = None,
) -> tuple[int, list[str]]:
    """Send the own settings that changed (:func:`~assistant.sync.own_settings.changed`);
    returns how many people's settings the hub holds now, and problems. A person the hub does
    not know yet is left, silently, to their first session, which carries the same settings.
    Raises HubUnreachable when offline (nothing is marked)."""
    sent, problems = 0, []
    for doc in own_settings.changed(store) if docs is None else docs:
        sealed = own_settings.seal(doc, enrolment)
        response = _put_sealed(client, f"/v1/settings/{doc['person_id']}", sealed)
        if response.status_code == 404 and _detail(response) == "Not Found":
            return sent, [
                "The hub is too old to receive a person's settings on their own: update it. "
                "They go with the person's next session."
            ]
        if response.status_code not in (200, 201):
            problems.append(f"The hub refused the settings of {doc['name']}: {_detail(response)}")
            continue
        with store.database.tx() as db:
            # a person not on the hub yet: their first session carries these same settings
            # (so they are not sent again and again meanwhile, nor the hub asked every time)
            own_settings.mark_sent(db, doc["person_id"], doc["settings_at"])
        sent += int(response.json().get("known", True))
    return sent, problems
