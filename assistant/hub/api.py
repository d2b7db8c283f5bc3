"""The device API (``/v1``): enrol, ping, clips by sha256, sessions by UUID.

Status codes a device relies on: 200 already here (nothing added), 201 stored, 401 unknown
token, 403 revoked device, 409 different content under the same UUID, 413 too large, 422 a bundle
that is altered, damaged or has the wrong hash, 424 a session whose clips are not here yet.
"""

from __future__ import annotations

import tempfile

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assistant.errors import BundleError, SyncError
from assistant.hub.errors import (
    Conflict,
    Forbidden,
    HubFull,
    MissingClips,
    NotYours,
    TooLarge,
    TooManyTries,
    Unauthorised,
)
from assistant.hub.keys import KeyLocked
from assistant.hub.limits import FORM_BODY_CAP, client_address
from assistant.hub.service import Hub
from assistant.sync import bundle
from assistant.sync.device import b64

router = APIRouter(prefix="/v1")


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def error_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, Unauthorised):
        return JSONResponse({"detail": str(exc)}, 401, headers={"WWW-Authenticate": "Bearer"})
    if isinstance(exc, Forbidden):
        return JSONResponse({"detail": str(exc)}, 403)
    if isinstance(exc, Conflict):
        return JSONResponse({"detail": str(exc)}, 409)
    if isinstance(exc, TooManyTries):
        return JSONResponse({"detail": str(exc)}, 429, headers={"Retry-After": "900"})
    if isinstance(exc, HubFull):
        return JSONResponse({"detail": str(exc)}, 507)
    if isinstance(exc, NotYours):
        return JSONResponse({"detail": str(exc)}, 422)
    if isinstance(exc, TooLarge):
        return JSONResponse({"detail": str(exc)}, 413)
    if isinstance(exc, MissingClips):
        return JSONResponse({"detail": str(exc), "missing": exc.missing}, 424)
    if isinstance(exc, KeyLocked):
        return JSONResponse({"detail": str(exc)}, 503)
    if isinstance(exc, BundleError):
        return JSONResponse({"detail": str(exc)}, 422)
    return JSONResponse({"detail": str(exc)}, 400)


async def device_id(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    hub = hub_of(request)
    try:
        return await run_in_threadpool(
            hub.authenticate, token.strip() if scheme.lower() == "bearer" else None
        )
    except (Unauthorised, Forbidden) as exc:
        raise HTTPException(
            401 if isinstance(exc, Unauthorised) else 403,
            str(exc),
            headers={"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorised) else None,
        ) from exc


SPOOL_BYTES = 1024 * 1024


async def read_capped(request: Request, cap: int) -> bytes:
    """The request body, refusing (413) anything larger than *cap* bytes before reading it all.

    The body goes to a private temporary file as it arrives (in memory only up to 1 MB), then is
    read back once: an upload costs its own size in memory, not twice that."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > cap:
                raise HTTPException(413, f"Uploads are limited to {cap} bytes.")
        except ValueError as exc:
            raise HTTPException(400, "Bad Content-Length.") from exc
    size = 0
    with tempfile.SpooledTemporaryFile(SPOOL_BYTES, dir=str(hub_of(request).home)) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise HTTPException(413, f"Uploads are limited to {cap} bytes.")
            spool.write(chunk)
            del chunk
        spool.seek(0)
        return spool.read()


class EnrolRequest(BaseModel):
    code: str = Field(max_length=64)
    device_id: str = Field(max_length=36)
    name: str = Field("device", max_length=200)
    verify_key: str = Field(max_length=100)


@router.post("/enrol")
async def enrol(body: EnrolRequest, request: Request) -> JSONResponse:
    hub = hub_of(request)
    try:
        token, key = await run_in_threadpool(
            lambda: hub.enrol(
                body.code,
                body.device_id,
                body.name,
                body.verify_key,
                address=client_address(request),
            )
        )
    except SyncError as exc:
        return error_response(exc)
    verify = hub.verify_key
    return JSONResponse(
        {
            "device_id": body.device_id,
            "token": token,
            "hub_public_key": b64(key),
            "hub_verify_key": verify.hex() if verify else None,
        },
        200,
    )


@router.get("/ping")
async def ping(request: Request, device: str = Depends(device_id)) -> dict[str, str | None]:
    # a device enrolled before the hub had a signing key learns it here (over its token's
    # authenticated channel) the first time it pulls
    verify = hub_of(request).verify_key
    return {"device_id": device, "status": "ok", "hub_verify_key": verify.hex() if verify else None}


@router.get("/scripts")
async def scripts(request: Request, have: str = "", device: str = Depends(device_id)) -> Response:
    """The scripts published to this device that it does not have yet, and the names it should
    hold: sealed to the device and signed by the hub (``assistant/hub/publish.py``). *have*:
    ``name:version:sha256`` of what the device holds, comma-separated."""
    from assistant.hub.publish import update_for

    held = [h for h in have.split(",") if h][:500]
    try:
        blob = await run_in_threadpool(update_for, hub_of(request), device, held)
    except (SyncError, BundleError) as exc:
        return error_response(exc)
    return Response(blob, 200, media_type="application/octet-stream")


@router.get("/updates")
async def updates(request: Request, device: str = Depends(device_id)) -> Response:
    """This device's people (assigned to it, or first seen on it) with their consent in force,
    and their jobs: sealed to the device and signed by the hub (``assistant/hub/people.py``).
    A revoked device gets 403 from :func:`device_id`."""
    from assistant.hub.people import updates_for

    try:
        blob = await run_in_threadpool(updates_for, hub_of(request), device)
    except (SyncError, BundleError) as exc:
        return error_response(exc)
    return Response(blob, 200, media_type="application/octet-stream")


@router.head("/blobs/{sha256}")
async def head_blob(sha256: str, request: Request, device: str = Depends(device_id)) -> Response:
    if not bundle.is_sha256(sha256):
        return Response(status_code=400)
    # "here" means sent by this device: a session may name only clips its own device sent
    have = await run_in_threadpool(hub_of(request).has_blob, sha256, device)
    return Response(status_code=200 if have else 404)


@router.put("/blobs/{sha256}")
async def put_blob(sha256: str, request: Request, device: str = Depends(device_id)) -> JSONResponse:
    hub = hub_of(request)
    if not bundle.is_sha256(sha256):
        return JSONResponse({"detail": "A clip name must be a sha256 (64 hex digits)."}, 400)
    body = await read_capped(request, hub.max_upload_bytes)
    try:
        created = await run_in_threadpool(hub.put_blob, sha256, body, device_id=device)
    except SyncError as exc:
        return error_response(exc)
    return JSONResponse({"sha256": sha256, "stored": created}, 201 if created else 200)


@router.put("/consent/{withdrawal_id}")
async def put_consent(
    withdrawal_id: str, request: Request, device: str = Depends(device_id)
) -> JSONResponse:
    """A withdrawal of consent made on the device: the hub deletes the clips it covers and
    passes it to every device that holds the person (``assistant/hub/withdrawals.py``)."""
    hub = hub_of(request)
    if not bundle.is_uuid(withdrawal_id):
        return JSONResponse({"detail": "A withdrawal name must be a UUID."}, 400)
    body = await read_capped(request, FORM_BODY_CAP)
    try:
        created = await run_in_threadpool(hub.put_consent, withdrawal_id, body, device_id=device)
    except SyncError as exc:
        return error_response(exc)
    return JSONResponse({"id": withdrawal_id, "stored": created}, 201 if created else 200)


@router.put("/words/{person_id}")
async def put_words(
    person_id: str, request: Request, device: str = Depends(device_id)
) -> JSONResponse:
    """A person's taught words from the device: consent decisions, examples, and the audio the
    hub lacks (``assistant/hub/words.py``); 424 ``{missing}`` names examples to send again."""
    from assistant.hub.words import store_words

    hub = hub_of(request)
    if not bundle.is_uuid(person_id):
        return JSONResponse({"detail": "A person's id must be a UUID."}, 400)
    body = await read_capped(request, hub.max_upload_bytes)
    try:
        created = await run_in_threadpool(store_words, hub, person_id, body, device_id=device)
    except SyncError as exc:
        return error_response(exc)
    return JSONResponse({"id": person_id, "stored": created}, 201 if created else 200)


@router.put("/settings/{person_id}")
async def put_settings(
    person_id: str, request: Request, device: str = Depends(device_id)
) -> JSONResponse:
    """A person's own settings changed on the device, on their own (outside a session):
    merged as a session's (``assistant/hub/own_settings.py``). ``known`` false: the hub does
    not know the person yet, and their first session will carry them."""
    from assistant.hub.own_settings import store_settings

    hub = hub_of(request)
    if not bundle.is_uuid(person_id):
        return JSONResponse({"detail": "A person's id must be a UUID."}, 400)
    body = await read_capped(request, FORM_BODY_CAP)
    try:
        known, stored = await run_in_threadpool(
            store_settings, hub, person_id, body, device_id=device
        )
    except SyncError as exc:
        return error_response(exc)
    return JSONResponse({"id": person_id, "known": known, "stored": stored}, 201 if stored else 200)


@router.get("/words/{sha256}")
async def get_word(sha256: str, request: Request, device: str = Depends(device_id)) -> Response:
    """One example of a taught word of a person this device holds: sealed to the device and
    signed by the hub."""
    from assistant.hub.words import example_for_device

    if not bundle.is_sha256(sha256):
        return JSONResponse({"detail": "An example's name must be a sha256."}, 400)
    try:
        blob = await run_in_threadpool(example_for_device, hub_of(request), device, sha256)
    except NotYours as exc:
        return JSONResponse({"detail": str(exc)}, 404)
    except (SyncError, BundleError) as exc:
        return error_response(exc)
    return Response(blob, 200, media_type="application/octet-stream")


@router.put("/sessions/{session_id}")
async def put_session(
    session_id: str, request: Request, device: str = Depends(device_id)
) -> JSONResponse:
    hub = hub_of(request)
    if not bundle.is_uuid(session_id):
        return JSONResponse({"detail": "A session name must be a UUID."}, 400)
    body = await read_capped(request, hub.max_upload_bytes)
    try:
        created = await run_in_threadpool(
            hub.put_session, session_id, body, device_id=device, via="push"
        )
    except SyncError as exc:
        return error_response(exc)
    return JSONResponse({"id": session_id, "stored": created}, 201 if created else 200)
