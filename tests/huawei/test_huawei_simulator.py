"""The Huawei client against the simulator over real loopback HTTP: details query, held series, token refresh.

Expected values come from the documentation, not from the code under test:

- confDetail (``GET /v1/mmc/management/conferences/confDetail?conferenceID=``)
  answers ``conferenceState`` ``Created`` once a meeting of the series has
  been held, ``Schedule`` otherwise (docs/protocol.md §7.1-7.2, SDK
  ``conference_info.py``);
- a held series cannot be cancelled without ``type=1`` (seed 004), so once
  the client knows it is held, a second plain cancel must not reach the wire;
- the token is refreshed with ``PUT /v1/usg/acs/token`` (SDK ``update_token``:
  "refreshes the token's expiry") and checked with ``POST
  /v1/usg/acs/token/validate`` (SDK ``check_token``, body ``token`` and
  ``needGenNewToken``); App ID authentication (``POST /v2/usg/acs/auth/appauth``)
  is for when there is nothing to refresh, or the refresh is refused.

What went over the wire is read from the httpx client's own request hook:
the requests really sent, in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from adapters.huawei import AppIdCredentials, AsyncHuaweiClient, HuaweiClient, Renewal
from adapters.simulator.app import SimulatorHandle, serve
from adapters.simulator.config import SimulatorConfig
from fsm.errors import InvalidTrigger
from fsm.meeting_series import MeetingSeries, MeetingSeriesState

S = MeetingSeriesState
T0 = 1_700_000_000.0
LIFETIME = 3600.0  # the simulator's token lifetime here; the client refreshes 300 s before its end

APP_AUTH = ("POST", "/v2/usg/acs/auth/appauth")
REFRESH = ("PUT", "/v1/usg/acs/token")
VALIDATE = ("POST", "/v1/usg/acs/token/validate")
DETAIL = ("GET", "/v1/mmc/management/conferences/confDetail")
CANCEL = ("DELETE", "/v1/mmc/management/cycleconferences")


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Wire:
    """The requests an httpx client really sent: (method, path), and the full requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def hook(self, request: httpx.Request) -> None:
        self.requests.append(request)

    @property
    def sent(self) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.requests]


@pytest.fixture
def server_clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(server_clock: Clock) -> Iterator[SimulatorHandle]:
    config = SimulatorConfig(wall_clock=server_clock, huawei_token_lifetime=LIFETIME, pget_timeout=2.0)
    with serve(config) as handle:
        yield handle


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def http(wire: Wire) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, event_hooks={"request": [wire.hook]}) as client:
        yield client


def huawei(sim: SimulatorHandle, http: httpx.Client, clock: Clock, **kwargs: object) -> HuaweiClient:
    credentials = AppIdCredentials(sim.huawei_app_id, sim.huawei_app_key)
    return HuaweiClient(http, credentials, base_url=sim.base_url, clock=clock, **kwargs)  # type: ignore[arg-type]


# -- the details query -----------------------------------------------------------------------------------


def test_querying_a_held_series_tells_the_machine_it_is_held(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000001", held=True)
    client = huawei(sim, http, server_clock)
    series = MeetingSeries(conference_id="700000001")
    query = client.query_series(series)
    assert query.detail is not None
    assert query.detail.conference_state == "Created"
    assert query.held is True
    assert series.state is S.HELD
    assert series.held
    assert wire.sent == [APP_AUTH, DETAIL]
    assert wire.requests[-1].url.params["conferenceID"] == "700000001"
    # known held: the plain cancel is refused here, and nothing more is sent
    with pytest.raises(InvalidTrigger):
        client.cancel_series(series)
    assert wire.sent == [APP_AUTH, DETAIL]


def test_querying_a_series_not_yet_held_leaves_it_scheduled(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000002")
    client = huawei(sim, http, server_clock)
    series = MeetingSeries(conference_id="700000002")
    query = client.query_series(series)
    assert query.held is False
    assert series.state is S.SCHEDULED
    assert client.cancel_series(series).ok  # a plain cancel is allowed and accepted
    assert series.state is S.CANCELLED


def test_querying_an_unknown_series_reports_the_refusal_and_changes_nothing(
    sim: SimulatorHandle, http: httpx.Client, server_clock: Clock
) -> None:
    series = MeetingSeries(conference_id="700000099")
    query = huawei(sim, http, server_clock).query_series(series)
    # docs/protocol.md §7.3: an unknown meeting is MMC.111072065 under status 400
    assert query.error is not None
    assert (query.error.status, query.error.error_code) == (400, "MMC.111072065")
    assert series.state is S.SCHEDULED
    assert len(series.history) == 0


# -- the held series: refused once by the server, then locally ---------------------------------------------


def test_a_held_series_is_refused_locally_on_the_second_cancel(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000003", held=True)
    client = huawei(sim, http, server_clock)
    series = MeetingSeries(conference_id="700000003")  # the app does not know it has been held
    first = client.cancel_series(series)
    assert first.error is not None
    assert first.error.status == 403
    # the 403 alone does not say "held" (the page lists it as "insufficient permissions"): the client asked
    assert wire.sent == [APP_AUTH, CANCEL, DETAIL]
    assert first.query is not None
    assert first.query.held is True
    assert series.state is S.HELD
    assert series.last_error is not None
    assert series.last_error.status == 403
    with pytest.raises(InvalidTrigger, match="type=1"):
        client.cancel_series(series)
    assert wire.sent == [APP_AUTH, CANCEL, DETAIL]  # the second plain cancel never left
    assert client.cancel_series(series, cancel_ongoing=True).ok
    assert wire.requests[-1].url.params["type"] == "1"
    assert series.state is S.CANCELLED


async def test_the_async_client_learns_the_same_way(sim: SimulatorHandle, server_clock: Clock) -> None:
    sim.script.series("700000004", held=True)
    async with httpx.AsyncClient(timeout=10) as http:
        credentials = AppIdCredentials(sim.huawei_app_id, sim.huawei_app_key)
        client = AsyncHuaweiClient(http, credentials, base_url=sim.base_url, clock=server_clock)
        series = MeetingSeries(conference_id="700000004")
        refused = await client.cancel_series(series)
        assert refused.error is not None
        assert refused.error.status == 403
        assert series.state is S.HELD
        with pytest.raises(InvalidTrigger):
            await client.cancel_series(series)
        other = MeetingSeries(conference_id="700000004")
        assert (await client.query_series(other)).held is True
        assert (await client.cancel_series(series, cancel_ongoing=True)).ok


# -- token refresh -----------------------------------------------------------------------------------------


def test_a_token_near_its_expiry_is_refreshed_not_reauthenticated(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000005")
    client = huawei(sim, http, server_clock)
    first = client.access_token()
    token = client.auth.token
    assert token is not None
    assert token.expires_at == T0 + LIFETIME
    server_clock.now = T0 + LIFETIME - 299  # inside the 300 s margin, still valid at the server
    assert client.cancel_series(MeetingSeries(conference_id="700000005")).ok
    assert wire.sent == [APP_AUTH, REFRESH, CANCEL]
    refresh = wire.requests[1]
    assert refresh.headers["x-access-token"] == first.reveal()
    assert refresh.content == b""  # the SDK's update_token has no body
    renewed = client.auth.token
    assert renewed is not None
    assert renewed.expires_at == server_clock.now + LIFETIME  # the expiry moved on
    assert wire.requests[2].headers["x-access-token"] == renewed.value.reveal()


def test_app_id_authentication_only_when_the_refresh_is_refused(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000006")
    client_clock = Clock()
    client = huawei(sim, http, client_clock)
    client.access_token()
    # the client thinks the token has 200 s left (refresh); the server's clock says it is gone
    client_clock.now = T0 + LIFETIME - 200
    server_clock.now = T0 + LIFETIME + 1
    assert client.cancel_series(MeetingSeries(conference_id="700000006")).ok
    assert wire.sent == [APP_AUTH, REFRESH, APP_AUTH, CANCEL]


def test_a_401_is_answered_by_a_refresh_first(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    """The server refuses a token the client still thinks good: refresh (refused too here), then App ID, once."""
    sim.script.series("700000007")
    client_clock = Clock()
    client = huawei(sim, http, client_clock)
    client.access_token()
    client_clock.now = T0 + LIFETIME - 400  # outside the 300 s margin: the client sends it as it is
    server_clock.now = T0 + LIFETIME + 1  # expired at the server only
    result = client.cancel_series(MeetingSeries(conference_id="700000007"))
    assert result.ok
    assert result.renewal is Renewal.REAUTHENTICATED
    assert wire.sent == [APP_AUTH, CANCEL, REFRESH, APP_AUTH, CANCEL]


def test_a_token_the_app_already_holds_is_validated_not_replaced(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000008")
    client = huawei(sim, http, server_clock, access_token=sim.huawei_token)
    assert client.cancel_series(MeetingSeries(conference_id="700000008")).ok
    assert wire.sent == [VALIDATE, CANCEL]
    body = json.loads(wire.requests[0].content)
    assert body == {"token": sim.huawei_token, "needGenNewToken": False}
    assert wire.requests[1].headers["x-access-token"] == sim.huawei_token


def test_a_token_that_fails_validation_is_replaced_by_app_id_authentication(
    sim: SimulatorHandle, http: httpx.Client, wire: Wire, server_clock: Clock
) -> None:
    sim.script.series("700000009")
    client = huawei(sim, http, server_clock, access_token="not-a-token-the-simulator-issued")
    assert client.cancel_series(MeetingSeries(conference_id="700000009")).ok
    assert wire.sent == [VALIDATE, APP_AUTH, CANCEL]


def test_the_simulators_token_endpoints_answer_bad_input_with_4xx(sim: SimulatorHandle) -> None:
    validate = sim.base_url + VALIDATE[1]
    with httpx.Client(timeout=10, headers={"X-Access-Token": sim.huawei_token}) as raw:
        assert raw.post(validate, content=b"{not json").status_code == 400
        assert raw.post(validate, json={"token": sim.huawei_token}).status_code == 400  # needGenNewToken required
        assert raw.post(validate, json={"token": "unknown", "needGenNewToken": False}).status_code == 401
        unknown = {"X-Access-Token": "unknown"}
        refused = raw.post(validate, json={"token": "unknown", "needGenNewToken": False}, headers=unknown)
        assert refused.status_code == 401
        # needGenNewToken true: "generates a new token and returns it" (SDK check_token)
        fresh = raw.post(validate, json={"token": sim.huawei_token, "needGenNewToken": True}).json()["accessToken"]
        assert fresh != sim.huawei_token
        assert raw.put(sim.base_url + REFRESH[1], headers={"X-Access-Token": fresh}).status_code == 200
        assert raw.put(sim.base_url + REFRESH[1], headers=unknown).status_code == 401  # nothing to refresh
