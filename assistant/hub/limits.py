"""What the hub takes from a request before trusting it: the body's size and the client address.

:class:`BodyLimit` is plain ASGI middleware that caps every request body *as it arrives*, before
anything parses it: a few KB for enrolment (no token yet), a little more for the staff forms, and
the upload limit only for the two PUT routes (whose token is checked before their body is read).
A body that says it is too long is refused at once; one that turns out too long is cut off at the
cap (413), so no request can make the hub hold more than the cap in memory.

:func:`client_address` takes ``X-Forwarded-For`` only from a proxy listed in ``--trusted-proxy``;
from anyone else the header is ignored (uvicorn's own proxy-header handling is switched off).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENROL_BODY_CAP = 4 * 1024
FORM_BODY_CAP = 64 * 1024
UPLOAD_PREFIXES = ("/v1/blobs/", "/v1/sessions/", "/v1/words/")


def body_cap(method: str, path: str, upload_cap: int) -> int:
    """The largest body this route accepts."""
    if method == "PUT" and path.startswith(UPLOAD_PREFIXES):
        return upload_cap
    if path == "/v1/enrol":
        return ENROL_BODY_CAP
    return FORM_BODY_CAP


class BodyTooLarge(HTTPException):
    def __init__(self, cap: int) -> None:
        super().__init__(413, f"This request is larger than the hub accepts here ({cap} bytes).")


class BodyLimit:
    """Refuse (413) a request whose body is larger than its route's cap, reading no more."""

    def __init__(self, app: ASGIApp, upload_cap: Callable[[], int]) -> None:
        self.app = app
        self.upload_cap = upload_cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = body_cap(scope["method"], scope["path"], self.upload_cap())
        declared = None
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
        if declared is not None and (declared < 0 or declared > cap):
            await _plain(send, 413 if declared > cap else 400, cap)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge(cap)
            return message

        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, capped, watch)
        except BodyTooLarge:
            if not started:
                await _plain(send, 413, cap)


async def _plain(send: Send, status: int, cap: int) -> None:
    text = (
        f'{{"detail":"This request is larger than the hub accepts here ({cap} bytes)."}}'
        if status == 413
        else '{"detail":"Bad Content-Length."}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


def parse_proxies(values: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for value in values:
        try:
            nets.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"--trusted-proxy {value!r} is not an address or network.") from exc
    return nets


def _trusted(address: str, proxies: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def client_address(request: Request) -> str:
    """The client's address: the connection's, or, when that is a trusted proxy, the last
    address in ``X-Forwarded-For`` that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "-"
    proxies = getattr(request.app.state, "trusted_proxies", [])
    if not proxies or not _trusted(peer, proxies):
        return peer[:64]
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            try:
                return str(ipaddress.ip_address(hop))[:64]
            except ValueError:
                return "unreadable"
    return peer[:64]
