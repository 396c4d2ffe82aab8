"""The application resource's links as a client reads them, and the client's own error.

Separate from the clients because reading an application resource (a GET's 200, or the creating
POST's 201) is pure data work that both the sync and the asyncio client, and the sans-IO core, share.
"""

from __future__ import annotations

from typing import Any

from attrs import field, frozen

from adapters.wire.events import ParseError, parse_resource
from adapters.wire.requests import (
    HttpResponse,
    loggable_url,
)
from adapters.wire.ucwa_errors import parse_error
from fsm.wire import bare_rel


class ClientError(Exception):
    """The client cannot do what was asked (not connected, a link the application lacks...)."""


@frozen
class ApplicationLinks:
    """The links of the application resource that the client uses (bare rel -> href)."""

    self_href: str
    events: str
    links: dict[str, str] = field(factory=dict)

    def href(self, rel: str, *alternatives: str) -> str:
        """The href of ``rel``, else of the first of ``alternatives`` the application has."""
        for name in (rel, *alternatives):
            found = self.links.get(bare_rel(name))
            if found is not None:
                return found
        wanted = " or ".join(repr(name) for name in (rel, *alternatives))
        raise ClientError(f"the application resource has no {wanted} link (it has: {sorted(self.links)})")


def read_application(url: str, response: HttpResponse) -> ApplicationLinks:
    """The links of an application resource (JSON or XML), its own and its embedded resources'."""
    if response.status != 200:
        raise parse_error(response.status, response.body, response.content_type)
    try:
        resource = parse_resource(response.body, response.content_type)
    except ParseError as exc:
        raise ClientError(f"the application resource at {loggable_url(url)} is unreadable: {exc}") from None
    return application_links(url, resource)


def application_links(url: str, resource: dict[str, Any]) -> ApplicationLinks:
    """The links of an application resource already read (a GET's 200, or the creating POST's 201)."""
    links: dict[str, str] = {}
    _collect_links(resource, links, depth=0)
    events = links.get("events")
    if events is None:
        raise ClientError(f"the application resource at {loggable_url(url)} has no events link")
    return ApplicationLinks(links.get("self", url), events, links)


def _collect_links(resource: object, out: dict[str, str], depth: int) -> None:
    if not isinstance(resource, dict) or depth > 4:
        return
    raw = resource.get("_links")
    if isinstance(raw, dict):
        for rel, value in raw.items():
            item = value[0] if isinstance(value, list) and value else value
            if isinstance(item, dict) and isinstance(item.get("href"), str) and isinstance(rel, str):
                # the application's own links win over an embedded resource's "self"
                out.setdefault(bare_rel(rel), item["href"])
    embedded = resource.get("_embedded")
    if isinstance(embedded, dict):
        for value in embedded.values():
            for item in value if isinstance(value, list) else [value]:
                _collect_links(item, out, depth + 1)


def links_or_raise(links: ApplicationLinks | None) -> ApplicationLinks:
    """``links``, or the :class:`ClientError` a client that has not read its application yet raises."""
    if links is None:
        raise ClientError("not connected: call connect() first (or use the client as a context manager)")
    return links
