"""Huawei Cloud Meeting recurring series: the details query, the cancel conversations and the clients.

Each conversation with the server is a generator of requests (:data:`Exchange`);
:class:`HuaweiClient` and :class:`AsyncHuaweiClient` only run it. The package docstring
(:mod:`adapters.huawei`) is the theory of operation.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Generator, Sequence
from typing import Any, Final, TypeVar

import cattrs
import httpx
from attrs import frozen
from cattrs.gen import make_dict_structure_fn, override

from adapters.huawei.auth import (
    HUAWEI_BASE_URL,
    AppIdCredentials,
    HuaweiAuth,
    HuaweiAuthError,
    Renewal,
    TokenStep,
    api_request,
    new_nonce,
    parse_huawei_error,
)
from adapters.transport.http import DEFAULT_TIMEOUT, AsyncSender, SyncSender, TransportError
from adapters.wire.requests import (
    HttpRequest,
    HttpResponse,
    Secret,
    huawei_request,
)
from fsm.actions import Action, Actions, DeleteSeries, DeleteSubMeetings
from fsm.meeting_series import HELD_REFUSAL_STATUS, ConferenceState, HuaweiError, MeetingSeries

log = logging.getLogger("callfsm.huawei")

#: GET ``?conferenceID=``: a meeting not yet ended, with its ``conferenceState`` (SDK ``show_meeting_detail``).
DETAIL_PATH: Final = "/v1/mmc/management/conferences/confDetail"

R = TypeVar("R")
#: A conversation with the server: yields the requests to send, receives their responses, returns ``R``.
Exchange = Generator[HttpRequest, HttpResponse, R]


class HuaweiAnswerError(ValueError):
    """A 200 whose body is not what the documentation describes (says which field, never a token)."""


def detail_request(conference_id: str, *, base_url: str, access_token: Secret) -> HttpRequest:
    """``GET confDetail?conferenceID=...``: the series' details, ``conferenceState`` among them."""
    return api_request("GET", base_url, DETAIL_PATH, access_token, params=[("conferenceID", conference_id)])


# -- the details answer (cattrs) -------------------------------------------------------------------


@frozen
class SeriesDetail:
    """What ``confDetail`` said of the series (``conferenceData``), values as given."""

    conference_id: str | None = None
    #: ``Schedule`` / ``Created`` today (``Creating`` and ``Destroyed`` documented); kept even when unknown.
    conference_state: str | None = None
    #: ``0`` normal, ``1`` recurring.
    conference_type: int | None = None
    #: ``FUTURE``, ``IMMEDIATELY`` or ``CYCLE``.
    conf_type: str | None = None

    @property
    def held(self) -> bool | None:
        """``Created``: held; ``Schedule``/``Creating``: not yet; ``None``: the answer does not say."""
        parsed = None if self.conference_state is None else ConferenceState.parse(self.conference_state)
        if parsed is ConferenceState.CREATED:
            return True
        if parsed in (ConferenceState.SCHEDULE, ConferenceState.CREATING):
            return False
        return None


_detail_converter = cattrs.Converter(forbid_extra_keys=False)


def _strict(kind: type[Any]) -> Callable[[object, type[Any]], Any]:
    def structure(value: object, _: type[Any]) -> Any:
        # bool is an int to Python, and cattrs would turn 7 into "7": a field of the wrong type is refused
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


_detail_converter.register_structure_hook(str, _strict(str))
_detail_converter.register_structure_hook(int, _strict(int))
_detail_converter.register_structure_hook(
    SeriesDetail,
    make_dict_structure_fn(
        SeriesDetail,
        _detail_converter,
        conference_id=override(rename="conferenceID"),
        conference_state=override(rename="conferenceState"),
        conference_type=override(rename="conferenceType"),
        conf_type=override(rename="confType"),
    ),
)


def parse_detail(response: HttpResponse) -> SeriesDetail:
    """The ``conferenceData`` of a 200 ``confDetail`` answer; :class:`HuaweiAnswerError` when it has none."""
    try:
        document = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        raise HuaweiAnswerError("confDetail answered 200 with a body that is not JSON") from None
    data = document.get("conferenceData") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise HuaweiAnswerError("confDetail answered 200 without a conferenceData object")
    try:
        detail = _detail_converter.structure(data, SeriesDetail)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        where = cattrs.transform_error(exc, "conferenceData") if isinstance(exc, cattrs.BaseValidationError) else []
        raise HuaweiAnswerError(f"confDetail answered 200 with {'; '.join(where) or exc}") from None
    if detail.conference_state is None:
        raise HuaweiAnswerError("confDetail answered 200 without conferenceData.conferenceState")
    return detail


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


def _run(exchange: Exchange[R], send: Callable[[HttpRequest], HttpResponse]) -> R:
    """Run a conversation over a blocking transport; a transport error is thrown into it."""
    outcome: HttpResponse | TransportError | None = None
    while True:
        try:
            if isinstance(outcome, TransportError):
                request = exchange.throw(outcome)
            elif outcome is None:
                request = next(exchange)
            else:
                request = exchange.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            outcome = send(request)
        except TransportError as exc:
            outcome = exc


async def _run_async(exchange: Exchange[R], sender: AsyncSender) -> R:
    """:func:`_run` over an asyncio transport."""
    outcome: HttpResponse | TransportError | None = None
    while True:
        try:
            if isinstance(outcome, TransportError):
                request = exchange.throw(outcome)
            elif outcome is None:
                request = next(exchange)
            else:
                request = exchange.send(outcome)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            outcome = await sender.send(request)
        except TransportError as exc:
            outcome = exc


def _no_redirects(client: httpx.Client | httpx.AsyncClient) -> None:
    if client.follow_redirects:
        raise ValueError(
            "the Huawei client needs an httpx client with follow_redirects=False: httpx keeps "
            "X-Access-Token on a redirect, so the token would go wherever the Location points"
        )


# -- the two transports -----------------------------------------------------------------------------


class HuaweiClient:
    """Huawei Cloud Meeting over an ``httpx.Client``: authentication, refresh, one retry on 401.

    ``clock`` is the wall clock in Unix seconds (token expiry is an absolute
    Unix time); inject a fake one in tests. ``access_token`` is a token the app
    already holds (validated before its first use).
    """

    def __init__(
        self,
        client: httpx.Client,
        credentials: AppIdCredentials,
        *,
        base_url: str = HUAWEI_BASE_URL,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        refresh_margin: float = 300.0,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        access_token: Secret | str | None = None,
    ) -> None:
        _no_redirects(client)
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce, given=access_token)
        self.base_url = base_url
        self.clock = clock
        self._sender = SyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"HuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    def _run(self, exchange: Exchange[R]) -> R:
        return _run(exchange, self._sender.send)

    def access_token(self) -> Secret:
        """The current token; validated, refreshed or (last resort) authenticated first when needed."""
        return self._run(_token(self.auth, self.clock))

    def send(self, action: Action) -> tuple[HttpResponse, int]:
        """Send a Huawei action; on 401, renew the token and retry exactly once (the int: 1 if App ID auth ran)."""
        huawei = _huawei_action(action)
        response, renewal = self._run(
            _authorized(
                self.auth, self.clock, lambda t: huawei_request(huawei, base_url=self.base_url, access_token=t)
            )
        )
        return response, int(renewal is Renewal.REAUTHENTICATED)

    def query_series(self, series: MeetingSeries) -> SeriesQuery:
        """Ask ``confDetail`` and tell ``series`` the ``conferenceState`` read (held once ``Created``).

        A refusal (4xx/5xx) is returned in ``error`` and changes nothing;
        a 200 without a readable ``conferenceState`` raises :class:`HuaweiAnswerError`.
        """
        return self._run(_query(self.auth, self.clock, series))

    def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        """Send ``action`` and drive ``model`` with the answer.

        Raises :class:`HuaweiAuthError` (after telling the machine) when no token
        can be had or a renewed one is refused again; :class:`~adapters.transport.http.TransportError`
        when no answer came (the machine is left waiting: the request may have
        reached the server, and sending it again is safe).
        """
        return self._run(_perform(self.auth, self.clock, model, _huawei_action(action)))

    def cancel_series(self, series: MeetingSeries, *, cancel_ongoing: bool = False) -> HuaweiResult:
        """``series.cancel`` (refused locally for a held series without ``cancel_ongoing``), then the DELETE."""
        (action,) = series.cancel(now=self.clock(), cancel_ongoing=cancel_ongoing)
        return self.perform(series, action)

    def cancel_sub_meetings(
        self, series: MeetingSeries, ids: Sequence[str], *, cancel_ongoing: bool = False
    ) -> HuaweiResult:
        (action,) = series.cancel_sub_meetings(now=self.clock(), ids=ids, cancel_ongoing=cancel_ongoing)
        return self.perform(series, action)


class AsyncHuaweiClient:
    """The asyncio twin of :class:`HuaweiClient` (same conversations, ``httpx.AsyncClient``)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        credentials: AppIdCredentials,
        *,
        base_url: str = HUAWEI_BASE_URL,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = new_nonce,
        refresh_margin: float = 300.0,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        access_token: Secret | str | None = None,
    ) -> None:
        _no_redirects(client)
        self.auth = HuaweiAuth(credentials, base_url, refresh_margin, nonce=nonce, given=access_token)
        self.base_url = base_url
        self.clock = clock
        self._sender = AsyncSender(client, base_url=base_url, timeout=timeout)

    def __repr__(self) -> str:
        return f"AsyncHuaweiClient(base_url={self.base_url!r}, app_id={self.auth.credentials.app_id!r})"

    async def access_token(self) -> Secret:
        return await _run_async(_token(self.auth, self.clock), self._sender)

    async def send(self, action: Action) -> tuple[HttpResponse, int]:
        huawei = _huawei_action(action)
        response, renewal = await _run_async(
            _authorized(
                self.auth, self.clock, lambda t: huawei_request(huawei, base_url=self.base_url, access_token=t)
            ),
            self._sender,
        )
        return response, int(renewal is Renewal.REAUTHENTICATED)

    async def query_series(self, series: MeetingSeries) -> SeriesQuery:
        return await _run_async(_query(self.auth, self.clock, series), self._sender)

    async def perform(self, model: MeetingSeries, action: Action) -> HuaweiResult:
        return await _run_async(_perform(self.auth, self.clock, model, _huawei_action(action)), self._sender)

    async def cancel_series(self, series: MeetingSeries, *, cancel_ongoing: bool = False) -> HuaweiResult:
        (action,) = series.cancel(now=self.clock(), cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)

    async def cancel_sub_meetings(
        self, series: MeetingSeries, ids: Sequence[str], *, cancel_ongoing: bool = False
    ) -> HuaweiResult:
        (action,) = series.cancel_sub_meetings(now=self.clock(), ids=ids, cancel_ongoing=cancel_ongoing)
        return await self.perform(series, action)
