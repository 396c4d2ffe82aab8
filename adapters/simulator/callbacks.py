"""Trusted Application API callbacks: the simulator POSTs each event answer to the application's callback URL.

Theory of operation
-------------------
With the ``saas`` profile and a callback URL, events are pushed instead of
waiting for a P-GET (docs/protocol.md §2.1, Microsoft's
``Skype/Trusted-Application-API/docs/Webhooks.md``). :func:`push_loop` runs in
the server's lifespan: every few milliseconds it asks the World for the next
answer of each application (:meth:`~adapters.simulator.state.World.push_take`),
POSTs it, and reports the outcome (:meth:`~adapters.simulator.state.World.push_done`):

- ``Authorization: Bearer <callback token>`` (the receiver validates it; the
  real server sends an AAD token whose audience is the app);
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


async def push_loop(world: World, token: str, fmt: str) -> None:
    """Deliver every application's events to its callback URL until cancelled."""
    async with httpx.AsyncClient(timeout=POST_TIMEOUT, follow_redirects=False) as http:
        while True:
            await asyncio.sleep(INTERVAL)
            for ident, url, document in world.push_take():
                body, content_type = encode(document, fmt)
                delivered = False
                try:
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
