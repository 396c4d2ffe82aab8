"""A response back into the trigger the machine needs: classified, then applied to the model.

:func:`classify_response` says what a response means for the request that performed an action
(:class:`Created`, :class:`Succeeded`, :class:`Failed`, :class:`Unexpected`); :func:`apply_response`
feeds it to the model as its trigger and returns what happened (:class:`Applied`), a refused trigger
included. The rules are in :mod:`adapters.wire.requests`' table. Apart from request building because
replay applies recorded responses without building a request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Final

from attrs import frozen

from adapters.wire.events import ParseError, parse_resource, representation_of
from adapters.wire.http_values import HttpResponse
from adapters.wire.ucwa_errors import UcwaError, parse_error
from fsm.actions import Action, Actions, FetchResource, PostRenegotiation
from fsm.errors import InvalidTrigger
from fsm.outcome import Completion
from fsm.reasons import Reason
from fsm.wire import Representation


@frozen
class Created:
    """``201`` with ``Location``: the created resource's href, as the server wrote it."""

    href: str
    response: HttpResponse


@frozen
class Succeeded:
    """Any other ``2xx``."""

    response: HttpResponse


@frozen
class Failed:
    """``4xx``/``5xx``: the parsed error. ``collision`` is the renegotiation 409 AlreadyExists."""

    error: UcwaError
    collision: bool = False

    @property
    def reason(self) -> Reason:
        return self.error.reason


@frozen
class Unexpected:
    """A response that fits no rule (``201`` without ``Location``, ``1xx``/``3xx``)."""

    why: str
    response: HttpResponse


RequestOutcome = Created | Succeeded | Failed | Unexpected


def classify_response(action: Action, response: HttpResponse) -> RequestOutcome:
    """What ``response`` means for the request that performed ``action``."""
    status = response.status
    if status == 201:
        location = response.header("location")
        if location:
            return Created(location.strip(), response)
        if isinstance(action, PostRenegotiation):
            # the renegotiation 201 carries the resource as its body (docs/protocol.md §4)
            return Succeeded(response)
        return Unexpected("201 Created without a Location header", response)
    if 200 <= status < 300:
        return Succeeded(response)
    if status >= 400:
        error = parse_error(status, response.body, response.content_type)
        return Failed(error, isinstance(action, PostRenegotiation) and error.is_collision)
    return Unexpected(f"HTTP {status} is not an answer this request expects", response)


@frozen
class Applied:
    """What feeding one response did: the outcome, the follow-up actions, or the refusal."""

    outcome: RequestOutcome
    actions: Actions = ()
    #: The machine refused the trigger (recorded, not raised: the wire is not the app's bug).
    violation: InvalidTrigger | None = None
    #: A body that should have been a resource could not be read.
    unreadable: ParseError | None = None

    @property
    def error(self) -> UcwaError | None:
        return self.outcome.error if isinstance(self.outcome, Failed) else None


Trigger = Callable[[], Actions]


def apply_response(model: Any, action: Action, response: HttpResponse, *, now: float) -> Applied:
    """Feed ``response`` (to ``action``) into ``model`` as its trigger; return what happened.

    ``model`` is any machine model with the triggers named in the module
    docstring (an :class:`~fsm.invitation.Invitation`, a renegotiation, a
    lobby participant...). A refused trigger is returned as
    :attr:`Applied.violation`, not raised: a response the machine did not
    expect is the server's doing, not the app's.
    """
    outcome = classify_response(action, response)
    try:
        trigger = _trigger_for(model, action, outcome, now)
    except ParseError as unreadable:
        return Applied(outcome, (), None, unreadable)
    if trigger is None:
        return Applied(outcome)
    try:
        actions = trigger()
    except InvalidTrigger as refused:
        return Applied(outcome, (), refused)
    return Applied(outcome, actions)


def _trigger_for(model: Any, action: Action, outcome: RequestOutcome, now: float) -> Trigger | None:
    if isinstance(action, FetchResource):
        return _fetched(model, action, outcome, now) if isinstance(outcome, Succeeded) else None
    if isinstance(action, PostRenegotiation) and isinstance(outcome, Created | Succeeded):
        return _renegotiation_created(model, action, outcome, now)
    if isinstance(outcome, Created) and hasattr(model, "created"):
        return partial(model.created, now=now, href=outcome.href)
    if isinstance(outcome, Succeeded) and hasattr(model, "request_succeeded"):
        return partial(model.request_succeeded, now=now)
    if isinstance(outcome, Failed) and hasattr(model, "request_failed"):
        # the machine tells a collision (409 Conflict/AlreadyExists) from other refusals itself
        return partial(model.request_failed, now=now, reason=outcome.reason)
    return None


def _resource(response: HttpResponse) -> dict[str, object]:
    return parse_resource(response.body, response.content_type)


def _self_href(resource: dict[str, object]) -> str | None:
    links = resource.get("_links")
    own = links.get("self") if isinstance(links, dict) else None
    href = own.get("href") if isinstance(own, dict) else None
    return href if isinstance(href, str) else None


def _renegotiation_created(
    model: Any, action: PostRenegotiation, outcome: Created | Succeeded, now: float
) -> Trigger | None:
    """The renegotiation 201 carries the resource as its body (docs/protocol.md §4)."""
    if not hasattr(model, "created"):
        return None
    response = outcome.response
    resource = _resource(response) if response.body.strip() else {}
    representation = representation_of(resource)
    href = outcome.href if isinstance(outcome, Created) else (_self_href(resource) or action.href)
    answer = representation.link("mediaAnswer")
    return partial(
        model.created,
        now=now,
        representation=representation,
        href=href,
        media_answer=None if answer is None else answer.href,
    )


_FINAL_STATES: Final = frozenset(c.value.lower() for c in Completion if c is not Completion.UNDETERMINED)


def _fetched(model: Any, action: FetchResource, outcome: Succeeded, now: float) -> Trigger | None:
    """A GET asked for by the machine: a final state completes it, any other updates it."""
    representation: Representation = representation_of(_resource(outcome.response))
    state = (representation.state or "").lower()
    if state in _FINAL_STATES and hasattr(model, "completed"):
        return partial(model.completed, now=now, representation=representation, href=action.href)
    if hasattr(model, "updated"):
        return partial(model.updated, now=now, href=action.href, representation=representation)
    return None
