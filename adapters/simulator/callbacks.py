"""Trusted Application API callbacks: the simulator POSTs each event answer to the application's callback URL.

Theory of operation
-------------------
With the ``saas`` profile and a callback URL, events are pushed instead of
waiting for a P-GET (docs/protocol.md §2.1, Microsoft's
``Skype/Trusted-Application-API/docs/Webhooks.md``). :func:`push_loop` runs in
the server's lifespan: every few milliseconds it asks the World for the next
answer of each application (:meth:`~adapters.simulator.state.World.push_take`),
POSTs it, and reports the outcome (:meth:`~adapters.simulator.state.World.push_done`):

- ``Authorization: Bearer <JWT>``: the real server sends an AAD token whose
  ``aud`` is the app's App ID URI, with ``nbf`` and ``exp`` (Webhooks.md); the
  simulator mints one per POST with the same claims (``aud`` =
  :data:`CALLBACK_AUDIENCE`, an hour of validity), signed HS256 with the
  configuration's ``callback_token`` as the key, so a receiver can check it
  without Azure (:func:`mint_token`);
- ``Content-Type: application/json; type="application/vnd.microsoft.com.ucwa+json";
  charset=utf-8``, or with ``callback_format="multipart"`` a
  ``multipart/related; type="application/json"`` body whose one part is that
  JSON document (the form of the Webhooks page's example);
- the body carries the top-level ``baseuri``;
- a 2xx acknowledges the events; any other answer, or no answer, sends the
  same body again after :data:`RETRY_DELAY` (in order: nothing newer goes first).

The callback URL must be a loopback URL (checked when the configuration is
made, :func:`~adapters.simulator.profiles.check_callback_url`): the simulator never sends anything off the machine.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from typing import Final

import httpx

from adapters.simulator import render
from adapters.simulator.state import World

log = logging.getLogger("callfsm.simulator")

SAAS_JSON_TYPE: Final = 'application/json; type="application/vnd.microsoft.com.ucwa+json"; charset=utf-8'
INTERVAL: Final = 0.005
RETRY_DELAY: Final = 0.2
#: A receiver that does not answer in this long is retried.
POST_TIMEOUT: Final = 10.0


def encode(document: dict[str, object], fmt: str) -> tuple[bytes, str]:
    """The callback body and its content type."""
    body = render.json_bytes(document)
    if fmt != "multipart":
        return body, SAAS_JSON_TYPE
    boundary = "callfsm-" + secrets.token_hex(8)
    part = (
        f"--{boundary}\r\nContent-Type: {SAAS_JSON_TYPE}\r\n\r\n".encode() + body + f"\r\n--{boundary}--\r\n".encode()
    )
    return part, f'multipart/related; type="application/json"; boundary={boundary}'


#: The ``aud`` of the simulator's callback tokens (a real one is the app's App ID URI).
CALLBACK_AUDIENCE: Final = "https://callfsm.test/simulated-trusted-application"
TOKEN_LIFETIME: Final = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_token(key: str, now: float) -> str:
    """A JWT (HS256, ``key``) with the claims a callback token carries: ``aud``, ``iss``, ``nbf``, ``exp``."""
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    issued = int(now)
    claims = {
        "aud": CALLBACK_AUDIENCE,
        "iss": "callfsm-simulator",
        "iat": issued,
        "nbf": issued,
        "exp": issued + TOKEN_LIFETIME,
    }
    payload = _b64(json.dumps(claims).encode())
    signature = hmac.new(key.encode(), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


async def push_loop(world: World, key: str, fmt: str) -> None:
    """Deliver every application's events to its callback URL until cancelled (tokens signed with ``key``)."""
    async with httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False) as http:
        while True:
            await asyncio.sleep(INTERVAL)
            for ident, url, document in world.push_take():
                body, content_type = encode(document, fmt)
                delivered = False
                try:
                    token = mint_token(key, world.config.wall_clock())
                    response = await http.post(
                        url, content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": content_type}
                    )
                    delivered = 200 <= response.status_code < 300
                    log.info("callback POST app=%s -> %d", ident, response.status_code)
                except httpx.HTTPError as exc:
                    log.info("callback POST app=%s failed: %s", ident, type(exc).__name__)
                if not delivered:
                    await asyncio.sleep(RETRY_DELAY)
                world.push_done(ident, delivered)
