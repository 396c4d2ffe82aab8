"""A UCWA client written from Microsoft's documentation only, for the simulator tests.

It knows nothing of callfsm's adapters: plain httpx, the request bodies of the
docs' samples, and links followed as the server gives them (S1
``applications_ref.md``, ``makeMeAvailable_ref.md``, ``EventsInUCWA.md``,
``EventChannelDetails.md``; docs/protocol.md §2.2): create the application, read
``_embedded`` ``me``/``people``/``communication``, ``makeMeAvailable``, P-GET
the ``events`` link and then whatever ``next``/``resume``/``resync`` says,
POST the hrefs the resources carry.

:class:`Replay` is the test side's check, separate from the client: it feeds
every answer the client received to callfsm's :class:`~adapters.routing.dispatcher.Dispatcher`
and collects violations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from adapters.routing.dispatcher import Dispatcher, Violation
from adapters.wire.events import parse_events
from fsm.model import FsmModel

JSON = "application/json"
SAAS = "ms:rtc:saas:"
Event = dict[str, Any]


class DocClient:
    def __init__(self, base_url: str, token: str | None, *, accept: str = JSON) -> None:
        headers = {"Accept": accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=15.0)
        #: Every event-channel answer received, as parsed JSON.
        self.responses: list[dict[str, Any]] = []
        self.events: list[Event] = []
        self._cursor = 0
        self.events_href = ""
        self.app: dict[str, Any] = {}

    def close(self) -> None:
        self.http.close()

    # -- the application ---------------------------------------------------------------------

    def create_application(self, root: str = "/ucwa/v1/applications") -> dict[str, Any]:
        response = self.http.post(
            root, json={"UserAgent": "DocClient/1.0 (tests)", "EndpointId": "2b5f3e1c-doc", "Culture": "en-US"}
        )
        assert response.status_code == 201, response.text
        self.app = response.json()
        self.events_href = self.app["_links"]["events"]["href"]
        return self.app

    def _embedded(self, rel: str) -> dict[str, Any]:
        embedded = self.app["_embedded"]
        return (embedded.get(rel) or embedded[SAAS + rel])  # type: ignore[no-any-return]

    @property
    def me(self) -> dict[str, Any]:
        return self._embedded("me")

    @property
    def communication(self) -> dict[str, Any]:
        return self._embedded("communication")

    @staticmethod
    def link(resource: dict[str, Any], rel: str) -> str:
        """The href of ``rel``, bare (UCWA) or ``ms:rtc:saas:`` (Trusted Application API)."""
        links = resource["_links"]
        return (links.get(rel) or links[SAAS + rel])["href"]  # type: ignore[no-any-return]

    def make_me_available(self) -> None:
        response = self.http.post(
            self.link(self.me, "makeMeAvailable"),
            json={"SupportedModalities": ["Audio", "Video", "Messaging"], "SignInAs": "Online"},
        )
        assert response.status_code == 204, response.text

    def post(self, href: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(href, json=body) if body is not None else self.http.post(href)

    # -- the event channel ---------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> dict[str, Any]:
        """One P-GET on the current link; follows ``resync``, else ``resume``, else ``next``."""
        params = {"timeout": str(timeout)} if timeout is not None else None
        response = self.http.get(self.events_href, params=params)
        assert response.status_code == 200, f"{response.status_code} {response.text}"
        document: dict[str, Any] = response.json()
        self.responses.append(document)
        links = document["_links"]
        self.events_href = (links.get("resync") or links.get("resume") or links["next"])["href"]
        for sender in document.get("sender", []):
            self.events.extend(sender["events"])
        return document

    def wait_event(self, predicate: Callable[[Event], bool], *, polls: int = 30) -> Event:
        """The next event (after those already returned) that ``predicate`` accepts."""
        for _ in range(polls):
            while self._cursor < len(self.events):
                event = self.events[self._cursor]
                self._cursor += 1
                if predicate(event):
                    return event
            self.poll()
        raise AssertionError(f"no such event in {polls} polls; seen: {[(e['type'], e['link']) for e in self.events]}")


def is_event(rel: str, kind: str, href: str | None = None) -> Callable[[Event], bool]:
    """An event about ``rel`` (bare, or with the Trusted Application API's prefix) of type ``kind``."""

    def check(event: Event) -> bool:
        return (
            event["link"]["rel"].removeprefix(SAAS) == rel
            and event["type"] == kind
            and (href is None or event["link"]["href"] == href)
        )

    return check


def embedded(event: Event) -> dict[str, Any]:
    return event["_embedded"][event["link"]["rel"]]  # type: ignore[no-any-return]


class Replay:
    """Feed received answers to a Dispatcher, in order, as they come; collect violations."""

    def __init__(self) -> None:
        self.dispatcher = Dispatcher()
        self.violations: list[Violation] = []
        self.fed = 0
        self.now = 0.0

    def track(self, model: FsmModel, operation_id: str) -> None:
        self.dispatcher.track(model, operation_id=operation_id)

    def feed(self, responses: list[dict[str, Any]]) -> None:
        for document in responses[self.fed :]:
            self.now += 1.0
            result = self.dispatcher.feed(parse_events(json.dumps(document).encode(), JSON), self.now)
            self.violations.extend(result.violations)
        self.fed = len(responses)

    def model(self, href: str) -> Any:
        return self.dispatcher.model_for(href)


def replay_all(responses: list[dict[str, Any]]) -> list[Violation]:
    """A fresh dispatcher, nothing tracked, every answer in order: the violations."""
    replay = Replay()
    replay.feed(responses)
    return replay.violations
