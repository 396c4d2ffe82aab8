"""The Huawei series conversations, sans I/O: each one a generator that yields requests and receives responses.

Renewing the token (validate, refresh, App ID authentication as the last
resort), one retry on 401, the details query after a 403 to a plain cancel,
and feeding the series machine with the outcome. Separate from the clients so
that :class:`~adapters.huawei.series.HuaweiClient` and
:class:`~adapters.huawei.series.AsyncHuaweiClient` only run them, and behave
the same by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import TypeVar

from attrs import frozen

from adapters.huawei.auth import HuaweiAuth, HuaweiAuthError, Renewal, TokenStep, parse_huawei_error
from adapters.huawei.series_detail import HuaweiAnswerError, SeriesDetail, detail_request, parse_detail
from adapters.transport.http import TransportError
from adapters.wire.requests import HttpRequest, HttpResponse, Secret, huawei_request
from fsm.actions import Action, Actions, DeleteSeries, DeleteSubMeetings
from fsm.meeting_series import HELD_REFUSAL_STATUS, HuaweiError, MeetingSeries

log = logging.getLogger("callfsm.huawei")

R = TypeVar("R")
#: A conversation with the server: yields the requests to send, receives their responses, returns ``R``.
Exchange = Generator[HttpRequest, HttpResponse, R]


# -- results --------------------------------------------------------------------------------------


@frozen
class SeriesQuery:
    """What one details query came to."""

    response: HttpResponse
    #: The details, on a 200.
    detail: SeriesDetail | None
    #: The refusal, on a 4xx/5xx (a series that has ended is no longer found there: docs/protocol.md §7.1).
    error: HuaweiError | None
    renewal: Renewal | None = None

    @property
    def held(self) -> bool | None:
        return None if self.detail is None else self.detail.held


@frozen
class HuaweiResult:
    """What one Huawei action came to: the final response, its error, and the token renewals."""

    action: DeleteSeries | DeleteSubMeetings
    response: HttpResponse
    error: HuaweiError | None
    #: 1 when a 401 made the client authenticate again (App ID) and retry once.
    reauthenticated: int = 0
    #: What the machine's trigger returned.
    actions: Actions = ()
    #: How the token was renewed after a 401 (then the request was retried once), else ``None``.
    renewal: Renewal | None = None
    #: The details query a 403 to a plain cancel led to.
    query: SeriesQuery | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def feed_series(
    model: MeetingSeries,
    action: DeleteSeries | DeleteSubMeetings,
    response: HttpResponse,
    now: float,
    *,
    held: bool = False,
) -> tuple[HuaweiError | None, Actions]:
    """Drive the series machine with a Huawei response: 2xx is success, 4xx/5xx a failure.

    ``held``: the refusal is known to mean the series has been held. Any
    other status (1xx, 3xx: not documented) drives nothing and is returned as
    an error, so the app sees it; the machine keeps waiting.
    """
    if 200 <= response.status < 300:
        if isinstance(action, DeleteSeries):
            return None, model.cancel_succeeded(now=now)
        return None, model.sub_cancel_succeeded(now=now, ids=action.sub_meeting_ids)
    error = parse_huawei_error(response)
    if not 400 <= response.status <= 599:
        return error, ()
    return error, _fail(model, action, error, now, held=held)


def _fail(
    model: MeetingSeries,
    action: DeleteSeries | DeleteSubMeetings,
    error: HuaweiError,
    now: float,
    *,
    held: bool = False,
) -> Actions:
    if isinstance(action, DeleteSeries):
        return model.cancel_failed(
            now=now, status=error.status, error_code=error.error_code, error_msg=error.error_msg, held=held
        )
    return model.sub_cancel_failed(
        now=now, ids=action.sub_meeting_ids, status=error.status, error_code=error.error_code, error_msg=error.error_msg
    )


def _auth_failure(
    model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings, exc: HuaweiAuthError, now: float
) -> None:
    """The DELETE could not be sent for want of a token: the machine hears a 401 (or the auth status)."""
    status = exc.status if exc.status is not None and 400 <= exc.status <= 599 else 401
    _fail(model, action, HuaweiError(status, exc.error_code, "App ID authentication failed"), now)


def _huawei_action(action: Action) -> DeleteSeries | DeleteSubMeetings:
    if not isinstance(action, DeleteSeries | DeleteSubMeetings):
        raise TypeError(f"the Huawei client performs DeleteSeries / DeleteSubMeetings, not {type(action).__name__}")
    return action


# -- the conversations (sans-IO: each yields requests and receives responses) ---------------------


def _renew(auth: HuaweiAuth, clock: Callable[[], float], *, refused: bool = False) -> Exchange[Renewal | None]:
    """Get the token ready: validate a given one, refresh one near its expiry, App ID auth only as the last resort.

    ``refused``: the server has just answered 401 to the current token, so it
    is renewed even though the clock says it is still good.
    """
    now = clock()
    step = auth.step(now)
    if refused and step is TokenStep.USE:
        step = TokenStep.REFRESH
    if step is TokenStep.USE:
        return None
    if step is TokenStep.VALIDATE:
        given = auth.given
        try:
            auth.accept((yield auth.validate_request()), now, what="token validation", current=given)
            return Renewal.VALIDATED
        except HuaweiAuthError as exc:
            log.info("Huawei %s: App ID authentication instead", exc)
        finally:
            auth.given = None
    elif step is TokenStep.REFRESH:
        assert auth.token is not None
        current = auth.token.value
        try:
            auth.accept((yield auth.refresh_request()), now, what="token refresh", current=current)
            return Renewal.REFRESHED
        except HuaweiAuthError as exc:
            log.info("Huawei %s: App ID authentication instead", exc)
    auth.token = None
    auth.accept((yield auth.request(now)), now)
    return Renewal.REAUTHENTICATED


def _token(auth: HuaweiAuth, clock: Callable[[], float]) -> Exchange[Secret]:
    yield from _renew(auth, clock)
    assert auth.token is not None
    return auth.token.value


def _authorized(
    auth: HuaweiAuth, clock: Callable[[], float], build: Callable[[Secret], HttpRequest]
) -> Exchange[tuple[HttpResponse, Renewal | None]]:
    """Send ``build(token)``; on 401, renew the token once and send it once more."""
    response = yield build((yield from _token(auth, clock)))
    if response.status != 401:
        return response, None
    log.info("Huawei answered 401: renewing the token (refresh first), then one retry")
    renewal = yield from _renew(auth, clock, refused=True)
    return (yield build((yield from _token(auth, clock)))), renewal


def _query(
    auth: HuaweiAuth, clock: Callable[[], float], model: MeetingSeries
) -> Exchange[SeriesQuery]:
    def build(token: Secret) -> HttpRequest:
        return detail_request(model.conference_id, base_url=auth.base_url, access_token=token)

    response, renewal = yield from _authorized(auth, clock, build)
    if response.status != 200:
        return SeriesQuery(response, None, parse_huawei_error(response), renewal)
    detail = parse_detail(response)
    assert detail.conference_state is not None
    model.conference_state_observed(now=clock(), conference_state=detail.conference_state)
    return SeriesQuery(response, detail, None, renewal)


def _may_mean_held(action: DeleteSeries | DeleteSubMeetings, response: HttpResponse, model: MeetingSeries) -> bool:
    return (
        isinstance(action, DeleteSeries)
        and not action.cancel_ongoing
        and response.status == HELD_REFUSAL_STATUS
        and not model.held
    )


def _perform(
    auth: HuaweiAuth, clock: Callable[[], float], model: MeetingSeries, action: DeleteSeries | DeleteSubMeetings
) -> Exchange[HuaweiResult]:
    def build(token: Secret) -> HttpRequest:
        return huawei_request(action, base_url=auth.base_url, access_token=token)

    try:
        response, renewal = yield from _authorized(auth, clock, build)
    except HuaweiAuthError as exc:
        _auth_failure(model, action, exc, clock())
        raise
    query = None
    if _may_mean_held(action, response, model):
        try:
            query = yield from _query(auth, clock, model)
        except (HuaweiAuthError, HuaweiAnswerError, TransportError) as exc:
            # the 403 is still reported, as it came: the app can query again later
            log.info("Huawei series %s: the details query after a 403 failed: %s", model.conference_id, exc)
    error, actions = feed_series(model, action, response, clock(), held=query is not None and query.held is True)
    reauthenticated = 1 if renewal is Renewal.REAUTHENTICATED else 0
    result = HuaweiResult(action, response, error, reauthenticated, actions, renewal, query)
    if renewal is not None and error is not None and error.status == 401:
        raise HuaweiAuthError(
            f"Huawei refused a freshly renewed token ({error}); not retrying again",
            status=401,
            error_code=error.error_code,
        )
    return result
