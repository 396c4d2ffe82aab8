"""The application's lifecycle against the simulator over real HTTP on 127.0.0.1.

Expected values come from Microsoft's pages (docs/protocol.md §8a), never from
the code under test:

- CreateAnApplication.md: GET the discovery URL with no token; its ``user``
  link, GET with the bearer token; its ``applications`` link, POST
  ``{"UserAgent", "EndpointId", "Culture"}`` (those names, that casing), 201 with
  the application resource (``self``, ``events`` links; ``me``, ``communication``
  embedded). The sample's host changes between steps (lyncdiscover -> lyncweb).
- makeMeAvailable2_ref.md: the sample body (PhoneAudio, 4255552222, Online,
  Plain+Html, PhoneAudio+Messaging), POSTed to ``communication/makeMeAvailable``
  (reference pages, ``/ucwa/v1``) or ``me/makeMeAvailable`` (Online samples).
- reportMyActivity_ref.md: at least once every four minutes; 409
  MakeMeAvailableRequired before makeMeAvailable.
- MeDashboard.md / ApplicationDashboard.md: no new event-channel request 15
  minutes after the previous one was released, or (once available) no activity
  report and no call: the application ends, and requests get 410 Gone
  InactiveApplicationExpired.
- application_ref.md: DELETE answers 204.

Time: the simulator and the client share a clock that runs 1000 times faster
than the wall (:class:`FastClock`), so 20 minutes of the server's life take
1.2 s and no test waits for the documented 15 minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from defusedxml import ElementTree
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from ucwa_fake import serve as serve_asgi

from adapters.simulator.app import SimulatorHandle, serve
from adapters.simulator.config import ManualClock, SimulatorConfig
from adapters.simulator.lifetime import Lifetime
from adapters.transport.http import TransportError
from adapters.ucwa.application import (
    ApplicationError,
    AudioPreference,
    Availability,
    MakeMeAvailable,
    MessageFormat,
    Modality,
)
from adapters.ucwa.channel import EventChannelError
from adapters.ucwa.client import AsyncUcwaClient, UcwaClient
from adapters.wire.requests import OriginError
from adapters.wire.ucwa_errors import UcwaError

UA = "callfsm-tests/1.0"
#: The documented roots of each server (CreateAnApplication.md for Online; applications_ref.md for /ucwa/v1).
ROOTS = {"ucwa": "/ucwa/v1/applications/", "online": "/ucwa/oauth/v1/applications/"}
MAKE_ME_AVAILABLE = {"ucwa": "/communication/makeMeAvailable", "online": "/me/makeMeAvailable"}
#: The JSON request of makeMeAvailable2_ref.md, field for field.
DOC_MAKE_ME_AVAILABLE = {
    "audioPreference": "PhoneAudio",
    "phoneNumber": "4255552222",
    "signInAs": "Online",
    "supportedMessageFormats": ["Plain", "Html"],
    "supportedModalities": ["PhoneAudio", "Messaging"],
}
FIFTEEN_MINUTES = 15 * 60.0


class FastClock:
    """Seconds that run ``rate`` times faster than the wall (shared by simulator and client)."""

    def __init__(self, rate: float = 1000.0) -> None:
        self.rate = rate
        self.start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.start) * self.rate

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.rate)


class Wire:
    """What left the client, as httpx saw it (a real client, an event hook; nothing is replaced)."""

    def __init__(self, clock: FastClock | None = None) -> None:
        self.clock = clock
        self.sent: list[tuple[str, str, bool, bytes, float]] = []

    def record(self, request: httpx.Request) -> None:
        when = self.clock.now() if self.clock is not None else 0.0
        authorized = "authorization" in request.headers
        self.sent.append((request.method, str(request.url), authorized, request.content, when))

    async def arecord(self, request: httpx.Request) -> None:
        self.record(request)

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=15.0, event_hooks={"request": [self.record]})

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=15.0, event_hooks={"request": [self.arecord]})

    def paths(self) -> list[tuple[str, str, bool]]:
        return [(m, httpx.URL(u).path, a) for m, u, a, _, _ in self.sent]

    def times(self, path_end: str) -> list[float]:
        return [t for m, u, _, _, t in self.sent if httpx.URL(u).path.endswith(path_end)]


@pytest.fixture(params=["ucwa", "online"])
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorHandle]:
    with serve(SimulatorConfig(profile=request.param, pget_timeout=2.0)) as handle:
        yield handle


def _profile(sim: SimulatorHandle) -> str:
    return sim.world.profile.name.value


# -- discovery and creation ----------------------------------------------------------------------------


def test_create_application_follows_the_documented_links(sim: SimulatorHandle) -> None:
    wire = Wire()
    http = wire.client()
    with UcwaClient.create_application(
        sim.discovery_url, token=sim.token, user_agent=UA, endpoint_id="a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
        client=http, delete_on_close=False,
    ) as client:
        root = ROOTS[_profile(sim)]
        assert httpx.URL(client.url).path.startswith(root)
        steps = wire.paths()[:3]
        # discovery without a token; the user resource and the POST with it (CreateAnApplication steps 1, 7, 9)
        assert steps[0] == ("GET", "/", False)
        assert steps[1][0] == "GET"
        assert steps[1][2] is True
        assert steps[1][1] != "/"
        assert steps[2] == ("POST", root.rstrip("/"), True)
        assert json.loads(wire.sent[2][3]) == {
            "UserAgent": UA,
            "EndpointId": "a917c6f4-976c-4cf3-847d-cdfffa28ccdf",
            "Culture": "en-US",
        }
        # the 201's body was read: no GET of the application before the first P-GET
        assert not any(m == "GET" and httpx.URL(u).path == httpx.URL(client.url).path for m, u, *_ in wire.sent)
        assert client.resource is not None
        assert {"me", "communication"} <= set(client.resource["_embedded"])
        (app,) = sim.world.apps.values()
        assert (app.user_agent, app.endpoint_id, app.culture) == (UA, "a917c6f4-976c-4cf3-847d-cdfffa28ccdf", "en-US")
    http.close()


def test_the_created_client_places_a_call(sim: SimulatorHandle) -> None:
    sim.script.decline("RemoteFailure", "Declined")
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA) as client:
        call = client.start_audio_video("sip:bob@contoso.com")
        outcome = client.wait_for_outcome(call, timeout=20)
    assert call.state.value == "Declined"
    assert outcome is not None
    assert outcome.reason is not None
    assert outcome.reason.subcode == "Declined"


async def test_async_create_application_with_an_async_token(sim: SimulatorHandle) -> None:
    calls = 0

    async def token() -> str:
        nonlocal calls
        calls += 1
        return sim.token

    wire = Wire()
    http = wire.async_client()
    client = await AsyncUcwaClient.create_application(sim.discovery_url, token=token, user_agent=UA, client=http)
    async with client:
        call = await client.start_audio_video("sip:bob@contoso.com")
        await client.wait_for_outcome(call, timeout=20)
    await http.aclose()
    assert call.state.value == "Connected"
    # asked once per request that carries it: the app may hand out a fresh one each time
    assert calls == sum(1 for _, _, authorized, _, _ in wire.sent if authorized)
    assert calls >= 4  # user, applications, startAudioVideo, the P-GET (and the DELETE)


def test_a_token_callable_is_asked_for_every_request(sim: SimulatorHandle) -> None:
    tokens = iter(["not-the-token"] + [sim.token] * 100)
    with pytest.raises(ApplicationError) as refused:
        UcwaClient.create_application(sim.discovery_url, token=lambda: next(tokens), user_agent=UA)
    # the first authorized request took the first value; a token read once would have failed every time
    assert refused.value.status == 401
    assert refused.value.step == "user"
    with UcwaClient.create_application(sim.discovery_url, token=lambda: next(tokens), user_agent=UA) as client:
        assert client.links is not None


def test_a_refused_token_says_where_to_get_one_and_never_shows_the_token(sim: SimulatorHandle) -> None:
    secret = "cwt=NOT-THE-RIGHT-ONE-7f1e"
    with pytest.raises(ApplicationError) as refused:
        UcwaClient.create_application(sim.discovery_url, token=secret, user_agent=UA)
    assert refused.value.status == 401
    assert refused.value.challenge is not None
    assert refused.value.challenge.lower().startswith("bearer")
    assert secret not in str(refused.value)
    assert secret not in repr(refused.value)
    assert not sim.world.apps


def test_saas_discovery_gives_the_applications_link_directly() -> None:
    # DiscoveryForServiceApplications.md: discover needs no authentication and names ms:rtc:saas:applications
    with serve(SimulatorConfig(profile="saas", pget_timeout=2.0)) as sim:
        wire = Wire()
        http = wire.client()
        client = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA, client=http)
        client.close()
        http.close()
        assert wire.paths()[:2] == [("GET", "/", False), ("POST", "/platformservice/v1/applications", True)]
        assert httpx.URL(client.url).path.startswith("/platformservice/v1/applications/")


# -- origins ---------------------------------------------------------------------------------------------


def _lyncdiscover(user_href: str, seen: list[str | None]) -> Starlette:
    """Another origin playing lyncdiscover: its root sends the client to ``user_href`` (elsewhere)."""

    async def root(request: Request) -> JSONResponse:
        seen.append(request.headers.get("authorization"))
        return JSONResponse({"_links": {"self": {"href": str(request.url)}, "user": {"href": user_href}}})

    return Starlette(routes=[Route("/", root)])


def test_the_token_goes_to_another_origin_only_when_the_caller_allows_it() -> None:
    with serve(SimulatorConfig(pget_timeout=2.0)) as sim:
        user = sim.discovery_url.rstrip("/") + "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
        seen: list[str | None] = []
        with serve_asgi(_lyncdiscover(user, seen)) as discover:
            with pytest.raises(OriginError):
                UcwaClient.create_application(discover + "/", token=sim.token, user_agent=UA)
            assert sim.simulator.transcript == []  # nothing reached the other origin, least of all the token
            with UcwaClient.create_application(
                discover + "/", token=sim.token, user_agent=UA, allowed_origins=[sim.base_url]
            ) as client:
                assert client.url.startswith(sim.base_url + "/ucwa/v1/applications/")
        assert seen == [None, None]  # the discovery GET never carries the token


def test_an_applications_link_off_the_allowed_origins_is_refused() -> None:
    with serve(SimulatorConfig(pget_timeout=2.0)) as sim:

        async def user(request: Request) -> JSONResponse:
            return JSONResponse({"_links": {"applications": {"href": sim.applications_url}}})

        with serve_asgi(Starlette(routes=[Route("/user", user)])) as elsewhere, pytest.raises(OriginError):
            UcwaClient.create_application(elsewhere + "/user", token=sim.token, user_agent=UA)
        assert not sim.world.apps


# -- makeMeAvailable --------------------------------------------------------------------------------------


def test_make_me_available_sends_the_documented_body_to_the_profiles_link(sim: SimulatorHandle) -> None:
    wire = Wire()
    http = wire.client()
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA, client=http) as client:
        client.make_me_available(
            audio_preference=AudioPreference.PHONE_AUDIO,
            phone_number="4255552222",
            sign_in_as=Availability.ONLINE,
            supported_message_formats=[MessageFormat.PLAIN, MessageFormat.HTML],
            supported_modalities=[Modality.PHONE_AUDIO, Modality.MESSAGING],
        )
        (app,) = sim.world.apps.values()
        assert app.available
        (method, url, authorized, body, _) = next(s for s in wire.sent if "makeMeAvailable" in s[1])
        assert (method, authorized) == ("POST", True)
        assert httpx.URL(url).path == httpx.URL(client.url).path + MAKE_ME_AVAILABLE[_profile(sim)]
        assert json.loads(body) == DOC_MAKE_ME_AVAILABLE
    http.close()


def test_make_me_available_in_xml_matches_the_documented_sample() -> None:
    settings = MakeMeAvailable(
        audio_preference=AudioPreference.PHONE_AUDIO,
        phone_number="4255552222",
        sign_in_as=Availability.ONLINE,
        supported_message_formats=[MessageFormat.PLAIN, MessageFormat.HTML],
        supported_modalities=[Modality.PHONE_AUDIO, Modality.MESSAGING],
    )
    content_type, body = settings.body("xml")
    assert content_type == "application/xml"
    root = ElementTree.fromstring(body)
    ns = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
    assert root.tag == ns + "input"
    props = {p.get("name"): p.text for p in root.findall(ns + "property")}
    lists = {p.get("name"): [i.text for i in p.findall(ns + "item")] for p in root.findall(ns + "propertyList")}
    assert props == {"audioPreference": "PhoneAudio", "phoneNumber": "4255552222", "signInAs": "Online"}
    assert lists == {"supportedMessageFormats": ["Plain", "Html"], "supportedModalities": ["PhoneAudio", "Messaging"]}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"supported_modalities": ["Audio"]}, TypeError),  # a string where the enumeration is expected
        ({"sign_in_as": "Online"}, TypeError),
        ({"inactive_timeout": 0}, ValueError),  # minutes, > 0
        ({"phone_number": "1" * 65}, ValueError),
    ],
)
def test_bad_make_me_available_fields_send_nothing(sim: SimulatorHandle, fields: dict[str, Any], error: type) -> None:
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA) as client:
        before = len(sim.simulator.transcript)
        with pytest.raises(error):
            client.make_me_available(**fields)
        assert len(sim.simulator.transcript) == before
        (app,) = sim.world.apps.values()
        assert not app.available


def test_report_my_activity_before_make_me_available_is_refused(sim: SimulatorHandle) -> None:
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA) as client:
        with pytest.raises(UcwaError) as refused:
            client.report_my_activity()
        assert (refused.value.status, refused.value.subcode) == (409, "MakeMeAvailableRequired")
        client.make_me_available()
        client.report_my_activity()  # 204 once available


# -- expiry and keep-alive --------------------------------------------------------------------------------


def _app_status(base: str, app_path: str, token: str) -> httpx.Response:
    return httpx.get(base + app_path, headers={"Authorization": f"Bearer {token}"})


def test_an_application_without_event_channel_requests_expires_after_15_minutes() -> None:
    clock = ManualClock()
    with serve(SimulatorConfig(clock=clock, pget_timeout=2.0)) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        body = {"UserAgent": UA, "EndpointId": "e1", "Culture": "en-US"}
        created = httpx.post(sim.applications_url, json=body, headers=headers)
        path = created.headers["location"]
        clock.advance(FIFTEEN_MINUTES - 1)
        assert _app_status(sim.base_url, path, sim.token).status_code == 200  # not yet
        clock.advance(FIFTEEN_MINUTES - 1)  # the GET above is no event-channel request: it does not count
        expired = _app_status(sim.base_url, path, sim.token)
        assert expired.status_code == 410
        assert expired.json()["subcode"] == "InactiveApplicationExpired"
        events = httpx.get(sim.base_url + path + "/events", headers=headers)
        assert (events.status_code, events.json()["subcode"]) == (410, "InactiveApplicationExpired")


def test_a_deleted_application_is_not_found_not_expired(sim: SimulatorHandle) -> None:
    client = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA)
    path = httpx.URL(client.url).path
    client.close(delete_application=True)
    assert any(line == f"DELETE {path} -> 204" for line in sim.simulator.transcript)
    gone = _app_status(sim.base_url, path, sim.token)
    assert (gone.status_code, gone.json()["subcode"]) == (404, "ApplicationNotFound")


def test_close_keeps_the_application_when_asked(sim: SimulatorHandle) -> None:
    client = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA)
    client.close(delete_application=False)
    assert _app_status(sim.base_url, httpx.URL(client.url).path, sim.token).status_code == 200
    assert not any(line.startswith("DELETE") for line in sim.simulator.transcript)


def _twenty_minutes(keep_alive: bool, profile: str) -> tuple[Wire, FastClock, SimulatorHandle, BaseException | None]:
    clock = FastClock()
    wire = Wire(clock)
    http = wire.client()
    failure: BaseException | None = None
    with serve(SimulatorConfig(clock=clock, profile=profile)) as sim:  # the documented 180 s P-GET hold
        client = UcwaClient.create_application(
            sim.discovery_url, token=sim.token, user_agent=UA, client=http, clock=clock.now, keep_alive=keep_alive
        )
        try:
            client.make_me_available(supported_modalities=[Modality.MESSAGING])
            client.run_until(lambda: False, timeout=20 * 60.0)
            client.report_my_activity()  # still there
        except (EventChannelError, UcwaError) as exc:
            failure = exc
        finally:
            client.close(delete_application=False)
            http.close()
        return wire, clock, sim, failure


@pytest.mark.parametrize("profile", ["ucwa", "online"])
def test_the_sync_keep_alive_keeps_an_available_application_for_20_minutes(profile: str) -> None:
    wire, _, _, failure = _twenty_minutes(keep_alive=True, profile=profile)
    assert failure is None
    reports = wire.times("/reportMyActivity")
    assert len(reports) >= 20 // 4  # at least once every four minutes
    starts = [*wire.times("/makeMeAvailable"), *reports]
    assert max(b - a for a, b in itertools.pairwise(starts)) < 240.0


@pytest.mark.parametrize("profile", ["ucwa", "online"])
def test_without_keep_alive_an_available_application_expires(profile: str) -> None:
    wire, _, _, failure = _twenty_minutes(keep_alive=False, profile=profile)
    assert wire.times("/reportMyActivity") == []
    # the P-GET stayed parked all along (the channel rule never applied): the activity rule ended it
    assert isinstance(failure, EventChannelError)
    assert isinstance(failure.cause, UcwaError)
    assert (failure.cause.status, failure.cause.subcode) == (410, "InactiveApplicationExpired")


async def _async_twenty_minutes(keep_alive: bool) -> tuple[Wire, BaseException | None]:
    clock = FastClock()
    wire = Wire(clock)
    http = wire.async_client()
    with serve(SimulatorConfig(clock=clock)) as sim:
        client = await AsyncUcwaClient.create_application(
            sim.discovery_url,
            token=sim.token,
            user_agent=UA,
            client=http,
            clock=clock.now,
            sleep=clock.sleep,
            keep_alive=keep_alive,
        )
        async with client:
            await client.make_me_available(supported_modalities=[Modality.AUDIO])
            await asyncio.sleep(20 * 60.0 / clock.rate)
            failure = client.failure
        await http.aclose()
    return wire, failure


async def test_the_asyncio_keep_alive_task_keeps_the_application() -> None:
    wire, failure = await _async_twenty_minutes(keep_alive=True)
    assert failure is None
    starts = [*wire.times("/makeMeAvailable"), *wire.times("/reportMyActivity")]
    assert len(starts) >= 1 + 20 // 4
    assert max(b - a for a, b in itertools.pairwise(starts)) < 240.0


async def test_the_asyncio_client_without_keep_alive_sees_the_application_expire() -> None:
    wire, failure = await _async_twenty_minutes(keep_alive=False)
    assert wire.times("/reportMyActivity") == []
    assert isinstance(failure, EventChannelError)
    assert isinstance(failure.cause, UcwaError)
    assert (failure.cause.status, failure.cause.subcode) == (410, "InactiveApplicationExpired")


def test_leaving_with_logs_a_failed_delete_but_an_asked_for_delete_raises() -> None:
    with serve(SimulatorConfig(pget_timeout=2.0)) as sim:
        quiet = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA)
        loud = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA)
    # the server is gone: the DELETE cannot be sent
    quiet.close()  # the default (leaving ``with``): must not hide what made the app leave
    with pytest.raises(TransportError):
        loud.close(delete_application=True)


def test_a_call_in_progress_keeps_an_available_application_without_reports() -> None:
    # MeDashboard: an application is ended when unused (no reportMyActivity) "and the user is not participating
    # in calls": a connected call that lasts 20 minutes keeps it, with no report at all
    clock = FastClock()
    wire = Wire(clock)
    http = wire.client()
    with serve(SimulatorConfig(clock=clock)) as sim:
        client = UcwaClient.create_application(
            sim.discovery_url, token=sim.token, user_agent=UA, client=http, clock=clock.now, keep_alive=False
        )
        try:
            client.make_me_available(supported_modalities=[Modality.AUDIO])
            call = client.start_audio_video("sip:bob@contoso.com")
            client.run_until(lambda: call.state.value == "Connected", timeout=60.0)
            client.run_until(lambda: False, timeout=20 * 60.0)
            assert call.state.value == "Connected"
            client.cancel(call)  # still there to hang up
        finally:
            client.close()
            http.close()
    assert wire.times("/reportMyActivity") == []


def test_the_whole_lifecycle_in_xml(sim: SimulatorHandle) -> None:
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA, body_format="xml") as client:
        client.make_me_available(sign_in_as=Availability.BUSY, supported_modalities=[Modality.MESSAGING])
        client.report_my_activity()
        (app,) = sim.world.apps.values()
        assert app.available
        assert app.supported_modalities == ["Messaging"]
        call = client.start_audio_video("sip:bob@contoso.com")
        client.wait_for_outcome(call, timeout=20)
        assert call.state.value == "Connected"


def test_no_token_in_the_logs_of_a_whole_lifecycle(sim: SimulatorHandle, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    with UcwaClient.create_application(sim.discovery_url, token=lambda: sim.token, user_agent=UA) as client:
        client.make_me_available()
        client.report_my_activity()
        assert sim.token not in repr(client)
    assert caplog.records  # something was logged, and none of it is the token
    assert all(sim.token not in record.getMessage() for record in caplog.records)


def test_a_user_url_answers_401_then_takes_the_token(sim: SimulatorHandle) -> None:
    # CreateAnApplication steps 3-8: GET user without credentials is 401; the same GET with the token, 200
    user = sim.discovery_url.rstrip("/") + "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
    wire = Wire()
    http = wire.client()
    with UcwaClient.create_application(user, token=sim.token, user_agent=UA, client=http):
        path = httpx.URL(user).path
        root = ROOTS[_profile(sim)].rstrip("/")
        assert wire.paths()[:3] == [("GET", path, False), ("GET", path, True), ("POST", root, True)]
    http.close()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_lifetime_limits_are_positive_finite_seconds(bad: float) -> None:
    with pytest.raises(ValueError, match="lifetime"):
        Lifetime(channel_idle=bad)
    with pytest.raises(ValueError, match="lifetime"):
        Lifetime(activity_idle=bad)


def test_a_rule_switched_off_never_expires_the_application() -> None:
    clock = ManualClock()
    config = SimulatorConfig(clock=clock, pget_timeout=2.0, lifetime=Lifetime(channel_idle=None))
    with serve(config) as sim:
        headers = {"Authorization": f"Bearer {sim.token}"}
        created = httpx.post(
            sim.applications_url, json={"UserAgent": UA, "EndpointId": "e1", "Culture": "en-US"}, headers=headers
        )
        clock.advance(24 * 3600.0)  # a day without a P-GET: the documented rule would have ended it long ago
        assert _app_status(sim.base_url, created.headers["location"], sim.token).status_code == 200


def test_make_me_available_twice_only_restarts_the_keep_alive(sim: SimulatorHandle) -> None:
    # makeMeAvailable2_ref.md: 409 AlreadyExists, "multiple invocations of this operation is not valid"
    with UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA) as client:
        client.make_me_available()
        client.keep_alive.stop()  # as a restored client's: the server's application is available, ours not
        client.make_me_available()
        assert client.keep_alive.active
        assert sum(line.endswith("makeMeAvailable -> 409") for line in sim.simulator.transcript) == 1


def test_make_me_available_on_a_deleted_application_raises(sim: SimulatorHandle) -> None:
    client = UcwaClient.create_application(sim.discovery_url, token=sim.token, user_agent=UA)
    client.delete_application()
    with pytest.raises(UcwaError) as gone:
        client.make_me_available()
    assert (gone.value.status, gone.value.subcode) == (404, "ApplicationNotFound")
    assert not client.keep_alive.active
    client.close(delete_application=False)


def test_discovery_that_loops_ends_with_an_error_not_a_hang() -> None:
    seen: list[str | None] = []

    async def root(request: Request) -> JSONResponse:
        seen.append(request.headers.get("authorization"))
        return JSONResponse({"_links": {"user": {"href": str(request.url)}}})  # "user" is this document again

    with (
        serve_asgi(Starlette(routes=[Route("/", root)])) as discover,
        pytest.raises(ApplicationError, match="no applications link"),
    ):
        UcwaClient.create_application(discover + "/", token="cwt=LOOP", user_agent=UA)
    assert 1 < len(seen) <= 8  # a bounded number of documents (a hostile server cannot keep the client)
