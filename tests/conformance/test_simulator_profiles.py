"""The library's client against every simulator profile, event shape and completion mode.

Each main scenario (an outgoing call answered, declined, cancelled; a meeting
join admitted from the lobby or rejected; an incoming IM accepted) runs with
:class:`adapters.ucwa.client.UcwaClient` and its dispatcher over loopback HTTP, for
every combination that applies (adapters/simulator/README.md):

- ``ucwa`` and ``online`` x ``embedded``/``links`` x ``event``/``updated``;
- ``saas`` x ``embedded``/``links`` (its documentation lists ``completed`` for
  every invitation, docs/protocol.md §2.3, so ``--completion updated`` does not apply).

Expected states and reasons come from the documentation and the simulator's
documented choices, never from the code under test:

- answered: the invitation ends ``Connected`` (docs/protocol.md §1.1);
- declined by the remote: ``Declined``, reason ``RemoteFailure/Declined`` when
  a ``completed`` carries it (§5.1); an ``updated`` has no reason (§2.2), so the
  outcome's reason stays unknown;
- cancelled by us while it rings: ``Cancelled`` (double l, §1.1), reason
  ``LocalFailure/Canceled`` (the simulator's [U] choice, README);
- lobby admitted / rejected: the join connects, or fails with
  ``Forbidden/Denied`` (README [U]: no OMI table lists a rejection reason);
- incoming IM: accepted through the invitation's own ``accept`` link (UCWA
  messagingInvitation has one, §1.4), ``Connected``; its first text arrives as a
  ``message`` event whose ``plainMessage`` is a data: link (ReceiveAnIM sample).

Combinations that need dispatcher or machine work of issue 11 that is not in
yet are marked ``xfail(strict=True)`` with the feature they wait for; when it
lands the mark must go (strict: the suite then fails until it does).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from ucwa_doc_client import DocClient, embedded, is_event
from ucwa_fake import serve as serve_app

from adapters.routing.dispatcher import Dispatcher
from adapters.simulator import SimulatorConfig, SimulatorHandle, serve
from adapters.simulator.profiles import Completion, EventShape, ProfileName, profile_of
from adapters.ucwa.client import UcwaClient
from adapters.ucwa.webhook import webhook_app
from fsm.errors import LinkMissing
from fsm.invitation import Invitation, InvitationKind, InvitationState
from fsm.online_meeting import OnlineMeetingJoin, OnlineMeetingState

S = InvitationState
J = OnlineMeetingState
BOB = "sip:bob@contoso.com"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7PQRS3"
WAIT = 8.0

COMBOS = [
    (profile, shape, completion)
    for profile in ProfileName
    for shape in EventShape
    for completion in Completion
    if completion is Completion.EVENT or profile_of(profile).completion_switch_applies
]


def _id(combo: tuple[ProfileName, EventShape, Completion]) -> str:
    return "-".join(part.value for part in combo)


@pytest.fixture(params=COMBOS, ids=[_id(c) for c in COMBOS])
def ucwa_simulator_config(request: pytest.FixtureRequest) -> SimulatorConfig:
    profile, shape, completion = request.param
    return SimulatorConfig(
        profile=profile, events=shape, completion=completion, pget_timeout=2.0, default_answer_delay=0.05
    )


@pytest.fixture
def combo(ucwa_simulator_config: SimulatorConfig) -> tuple[ProfileName, EventShape, Completion]:
    config = ucwa_simulator_config
    return config.profile, config.events, config.completion


@pytest.fixture
def client(ucwa_simulator: SimulatorHandle) -> Iterator[UcwaClient]:
    response = httpx.post(
        ucwa_simulator.applications_url,
        json={"UserAgent": "callfsm-conformance", "EndpointId": "profiles", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {ucwa_simulator.token}"},
    )
    assert response.status_code == 201, response.text
    url = str(httpx.URL(ucwa_simulator.base_url).join(response.headers["location"]))
    with UcwaClient(url, token=ucwa_simulator.token) as ucwa:
        yield ucwa


def _wait(client: UcwaClient, what: str, predicate: Callable[[], object]) -> None:
    assert client.run_until(predicate, timeout=WAIT), what


def _ends_with_updated(combo: tuple[ProfileName, EventShape, Completion], kind: InvitationKind) -> bool:
    """This server ends ``kind`` with an ``updated`` only (no ``completed``: no reason on the wire)."""
    profile, _, completion = combo
    return completion is Completion.UPDATED and kind not in profile_of(profile).documents_completed


def _reason(model: Invitation | OnlineMeetingJoin) -> tuple[str, str | None] | None:
    outcome = model.outcome
    if outcome is None or outcome.reason is None or outcome.reason.code is None:
        return None  # "no reason yet": an updated to a final state carries none
    return outcome.reason.code, outcome.reason.subcode


# -- expected failures: what each combination needs ------------------------------------------------------


def _needs(combo: tuple[ProfileName, EventShape, Completion], scenario: str) -> str | None:
    """The issue-11 feature a combination waits for, or ``None`` when it must pass today."""
    return PENDING.get((combo[1], combo[2], scenario))


#: (event shape, completion, scenario) -> the feature it needs (filled from the runs, see module doc).
PENDING: dict[tuple[EventShape, Completion, str], str] = {}


def _xfail_if_pending(request: pytest.FixtureRequest, combo: tuple[ProfileName, EventShape, Completion]) -> None:
    scenario = request.node.originalname.removeprefix("test_")
    feature = _needs(combo, scenario)
    if feature is not None:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"needs {feature} (issue 11)"))


# -- outgoing calls ---------------------------------------------------------------------------------------------


def test_answered(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    ucwa_simulator.script.answer_after(0.05)
    call = client.start_audio_video(BOB)
    _wait(client, "the call is answered", lambda: call.state is S.CONNECTED)
    assert ucwa_simulator.world.refusals == []


def test_declined(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    ucwa_simulator.script.decline(after=0.05)
    call = client.start_audio_video(BOB)
    _wait(client, "the call is declined", lambda: call.state is S.DECLINED)
    expected = None if _ends_with_updated(combo, InvitationKind.AUDIO_VIDEO) else ("RemoteFailure", "Declined")
    assert _reason(call) == expected


def test_cancelled(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    ucwa_simulator.script.no_answer()
    call = client.start_audio_video(BOB)
    # the cancel link comes with the started (or the GET after it): ringing first
    _wait(
        client,
        "the call rings with its cancel link",
        lambda: call.representation is not None and call.representation.has("cancel"),
    )
    client.cancel(call)
    _wait(client, "the call is cancelled", lambda: call.state is S.CANCELLED)
    expected = None if _ends_with_updated(combo, InvitationKind.AUDIO_VIDEO) else ("LocalFailure", "Canceled")
    assert _reason(call) == expected


# -- the lobby ----------------------------------------------------------------------------------------------------


def test_lobby_admitted(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    ucwa_simulator.script.admit_after(0.1)
    join = client.join_online_meeting(MEETING)
    _wait(client, "the join is admitted", lambda: join.state is J.CONNECTED)


def test_lobby_rejected(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    ucwa_simulator.script.reject_after(0.1)
    join = client.join_online_meeting(MEETING)
    _wait(client, "the join is rejected", lambda: join.is_terminal)
    assert join.state is J.FAILED
    expected = None if _ends_with_updated(combo, InvitationKind.ONLINE_MEETING) else ("Forbidden", "Denied")
    assert _reason(join) == expected


# -- incoming IM ----------------------------------------------------------------------------------------------------


def test_incoming_im(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    _xfail_if_pending(request, combo)
    _make_me_available(ucwa_simulator, client)
    ucwa_simulator.script.incoming_call("Lene", "sip:lene@contoso.com", kind="messaging", message="Hi Tosh\r\n")

    _wait(client, "the incoming IM", lambda: _ringing(client))
    (im,) = _ringing(client)
    assert im.kind is InvitationKind.MESSAGING
    client.accept(im)
    _wait(client, "the IM is connected", lambda: im.state is S.CONNECTED)
    # the first text: a message event, its plainMessage the sample's URL-encoded data: link
    _wait(client, "the message event", lambda: _message_events(ucwa_simulator))
    (message,) = _message_events(ucwa_simulator)
    assert message["link"]["href"].endswith("/messages/1")
    if combo[1] is EventShape.EMBEDDED:
        (resource,) = message["_embedded"].values()
        plain = next(v["href"] for k, v in resource["_links"].items() if k.endswith("plainMessage"))
        prefix, _, text = plain.partition(",")
        assert prefix == "data:text/plain;charset=utf-8"  # as the sample writes it
        assert urllib.parse.unquote_plus(text) == "Hi Tosh\r\n"
    else:
        assert "_embedded" not in message


def _message_events(sim: SimulatorHandle) -> list[dict[str, Any]]:
    return [
        event
        for answer in sim.events_sent
        for sender in answer.get("sender", [])
        for event in sender["events"]
        if event["link"]["rel"].endswith("message")
    ]


def test_incoming_call(
    request: pytest.FixtureRequest, combo: Any, ucwa_simulator: SimulatorHandle, client: UcwaClient
) -> None:
    """UCWA audio/video is accepted with phone audio (no plain accept, §1.4); SaaS with ms:rtc:saas:accept."""
    _xfail_if_pending(request, combo)
    _make_me_available(ucwa_simulator, client)
    ucwa_simulator.script.incoming_call("Eve", "sip:eve@contoso.com")
    _wait(client, "the incoming call", lambda: _ringing(client))
    (call,) = _ringing(client)
    assert call.kind is InvitationKind.AUDIO_VIDEO
    if combo[0] is ProfileName.SAAS:
        client.accept(call)
    else:
        before = len(ucwa_simulator.simulator.transcript)
        with pytest.raises(LinkMissing):
            client.accept(call)
        assert len(ucwa_simulator.simulator.transcript) == before  # nothing was sent
        client.accept_with_phone_audio(call)
    _wait(client, "the call is connected", lambda: call.state is S.CONNECTED)


def _make_me_available(sim: SimulatorHandle, client: UcwaClient) -> None:
    assert client.links is not None
    available = httpx.post(
        urllib.parse.urljoin(client.url, client.links.href("makeMeAvailable")),
        json={"SupportedModalities": ["AudioVideo", "Messaging"]},
        headers={"Authorization": f"Bearer {sim.token}"},
    )
    assert available.status_code == 204


def _ringing(client: UcwaClient) -> list[Invitation]:
    return [m for m in client.models if isinstance(m, Invitation) and m.state is S.CONNECTING]


# -- the wire of each profile, as a client written from its documentation sees it ------------------------------
#
# These run one server each (``serve``), not the matrix above: each checks one documented fact of one profile.


def _doc_client(sim: SimulatorHandle) -> DocClient:
    doc = DocClient(sim.base_url, sim.token)
    doc.create_application(sim.world.profile.root)
    return doc


def _config(**settings: Any) -> SimulatorConfig:
    return SimulatorConfig(pget_timeout=1.0, default_answer_delay=0.05, **settings)


def test_ucwa_layout_is_the_reference_pages() -> None:
    with serve(_config(profile="ucwa")) as sim:
        # the Online root does not exist on an on-premises server: a client written for Online gets 404
        other = httpx.post(sim.base_url + "/ucwa/oauth/v1/applications", json={}, headers=_bearer(sim))
        assert other.status_code == 404
        doc = _doc_client(sim)
        assert doc.app["_links"]["self"]["href"].startswith("/ucwa/v1/applications/")
        assert doc.link(doc.me, "makeMeAvailable").endswith("/communication/makeMeAvailable")
        doc.close()


def test_saas_names_its_audio_call_link_start_audio() -> None:
    # The Trusted Application API creates an audio call through ms:rtc:saas:startAudio (its
    # startAudio resource page; docs/protocol.md §1.2); UCWA's startAudioVideo is not among its links.
    with serve(_config(profile="saas")) as sim:
        doc = _doc_client(sim)
        links = set(doc.communication["_links"])
        assert "ms:rtc:saas:startAudio" in links
        assert not {"startAudioVideo", "ms:rtc:saas:startAudioVideo"} & links
        doc.close()


def test_online_layout_is_the_online_samples() -> None:
    with serve(_config(profile="online")) as sim:
        assert httpx.post(sim.base_url + "/ucwa/v1/applications", json={}, headers=_bearer(sim)).status_code == 404
        doc = _doc_client(sim)
        app = doc.app["_links"]["self"]["href"]
        assert app.startswith("/ucwa/oauth/v1/applications/")
        # CreateAnApplication (Online): me/makeMeAvailable, communication/messagingInvitations, ...
        assert doc.link(doc.me, "makeMeAvailable") == app + "/me/makeMeAvailable"
        assert doc.link(doc.communication, "startMessaging") == app + "/communication/messagingInvitations"
        assert doc.link(doc.communication, "joinOnlineMeeting") == app + "/communication/onlineMeetingInvitations"
        location = doc.post(doc.link(doc.communication, "startMessaging"), {"to": BOB}).headers["location"]
        # SendAnIM: Location .../communication/messagingInvitations/{id}
        assert location.startswith(app + "/communication/messagingInvitations/")
        doc.close()


def _bearer(sim: SimulatorHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {sim.token}"}


@pytest.mark.parametrize(
    ("profile", "offered", "absent"),
    [
        # UCWA audioVideoInvitation: acceptWithAnswer, acceptWithPhoneAudio, decline; no accept, no forward (§1.4)
        ("ucwa", {"acceptWithAnswer", "acceptWithPhoneAudio", "decline"}, {"accept", "forward"}),
        ("online", {"acceptWithAnswer", "acceptWithPhoneAudio", "decline"}, {"accept", "forward"}),
        # ms:rtc:saas:audioVideoInvitation: accept, decline, forward (§1.4), prefixed
        (
            "saas",
            {"ms:rtc:saas:accept", "ms:rtc:saas:decline", "ms:rtc:saas:forward"},
            {"accept", "acceptWithAnswer", "ms:rtc:saas:acceptWithAnswer"},
        ),
    ],
)
def test_incoming_audio_video_links_per_profile(profile: str, offered: set[str], absent: set[str]) -> None:
    with serve(_config(profile=profile)) as sim:
        doc = _doc_client(sim)
        doc.make_me_available()
        sim.script.incoming_call("Eve", "sip:eve@contoso.com")
        started = doc.wait_event(is_event("audioVideoInvitation", "started"))
        links = set(embedded(started)["_links"])
        assert offered <= links
        assert not absent & links
        href = started["link"]["href"]
        if profile != "saas":
            # a verb this resource never has on this server: 404, as for a URL that does not exist
            assert doc.post(href + "/accept").status_code == 404
            assert doc.post(href + "/forward", {"to": BOB}).status_code == 404
        doc.close()


def test_links_shape_sends_no_embedded_resource() -> None:
    with serve(_config(profile="ucwa", events="links")) as sim:
        doc = _doc_client(sim)
        sim.script.answer_after(0.05)
        location = doc.post(doc.link(doc.communication, "startAudioVideo"), {"to": BOB}).headers["location"]
        doc.wait_event(is_event("audioVideoInvitation", "completed", location))
        events = [e for answer in doc.responses for s in answer.get("sender", []) for e in s["events"]]
        assert events
        assert all("_embedded" not in event for event in events)
        # the documentation's way: GET the link, and the resource says where it is
        assert doc.http.get(location).json()["state"] == "Connected"
        doc.close()


def test_updated_completion_ends_audio_video_with_an_updated_and_messaging_with_completed() -> None:
    with serve(_config(profile="ucwa", completion="updated")) as sim:
        doc = _doc_client(sim)
        sim.script.answer_after(0.05, kind="audioVideo")
        call = doc.post(doc.link(doc.communication, "startAudioVideo"), {"to": BOB}).headers["location"]
        final = doc.wait_event(
            lambda e: e["link"]["href"] == call and e["type"] == "updated" and embedded(e)["state"] == "Connected"
        )
        assert "status" not in final
        sim.script.answer_after(0.05, kind="messaging")
        chat = doc.post(doc.link(doc.communication, "startMessaging"), {"to": BOB}).headers["location"]
        # messagingInvitation: the current reference still lists completed (docs/protocol.md §2.3)
        assert doc.wait_event(is_event("messagingInvitation", "completed", chat))["status"] == "Success"
        about_call = [
            e for a in doc.responses for s in a.get("sender", []) for e in s["events"] if e["link"]["href"] == call
        ]
        assert "completed" not in {e["type"] for e in about_call}
        doc.close()


def test_an_invitation_started_comes_before_its_conversation_added() -> None:
    # ReceiveAnIM: the messagingInvitation's started, then the conversation's added, in one answer
    with serve(_config(profile="ucwa")) as sim:
        doc = _doc_client(sim)
        doc.make_me_available()
        sim.script.incoming_call(kind="messaging")
        started = doc.wait_event(is_event("messagingInvitation", "started"))
        page = next(a for a in doc.responses if any(started in s["events"] for s in a.get("sender", [])))
        order = [(e["link"]["rel"], e["type"]) for s in page["sender"] for e in s["events"]]
        assert order.index(("messagingInvitation", "started")) < order.index(("conversation", "added"))
        doc.close()


def test_send_message_and_incoming_message() -> None:
    with serve(_config(profile="online")) as sim:
        doc = _doc_client(sim)
        sim.script.answer_after(0.05, kind="messaging")
        doc.post(doc.link(doc.communication, "startMessaging"), {"to": BOB})
        connected = doc.wait_event(
            lambda e: e["link"]["rel"] == "messaging" and embedded(e).get("state") == "Connected"
        )
        send = doc.link(embedded(connected), "sendMessage")
        # SendAnIM: POST the text to sendMessage, 201 Created with the message's Location
        posted = doc.http.post(send, content=b"Hello Bob", headers={"Content-Type": "text/plain"})
        assert posted.status_code == 201
        outgoing = doc.wait_event(is_event("message", "completed", posted.headers["location"]))
        assert embedded(outgoing)["direction"] == "Outgoing"
        sim.script.incoming_message("Hi there")
        incoming = doc.wait_event(lambda e: e["link"]["rel"] == "message" and embedded(e)["direction"] == "Incoming")
        assert incoming["status"] == "Success"
        data = doc.link(embedded(incoming), "plainMessage")
        assert urllib.parse.unquote_plus(data.partition(",")[2]) == "Hi there"
        doc.close()


# -- Trusted Application API callbacks -----------------------------------------------------------------------


def _valid_jwt(key: str) -> Callable[[str], bool]:
    """The receiver's check of the simulator's callback token: HS256 over header.payload with ``key``."""

    def validate(token: str) -> bool:
        header, payload, signature = token.split(".")
        expected = hmac.new(key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return hmac.compare_digest(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)), expected)

    return validate


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_saas_events_are_pushed_to_the_callback_url(fmt: str) -> None:
    dispatcher = Dispatcher()
    seen: list[tuple[str, str]] = []
    key = "callback-key-for-this-test"
    # the receiver names the server its baseuri may point at: known once the simulator listens
    receivers: list[Any] = []

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            seen.append((headers.get(b"content-type", b"").decode(), headers.get(b"authorization", b"").decode()))
        await receivers[0](scope, receive, send)

    with serve_app(recording) as receiver:
        config = _config(profile="saas", callback_url=receiver + "/callback", callback_token=key, callback_format=fmt)
        with serve(config) as sim:
            receivers.append(
                webhook_app(dispatcher, _valid_jwt(key), path="/callback", allowed_baseuris=[sim.base_url])
            )
            doc = _doc_client(sim)
            doc.make_me_available()
            sim.script.incoming_call("Eve", "sip:eve@contoso.com")
            deadline = time.monotonic() + WAIT
            while not dispatcher.models and time.monotonic() < deadline:
                time.sleep(0.02)
            (call,) = dispatcher.models
            assert isinstance(call, Invitation)
            assert call.state is S.CONNECTING
            # forward, the SaaS link, through the href the pushed representation gave
            link = call.representation.link("forward") if call.representation else None
            assert link is not None
            assert link.rel == "ms:rtc:saas:forward"
            # the P-GET channel stays empty: the events went to the callback
            assert all("sender" not in answer for answer in doc.responses)
            pushed = sim.events_sent
            doc.close()
    assert pushed
    assert all(answer["baseuri"] == sim.base_url + "/" for answer in pushed)
    expected = "multipart/related" if fmt == "multipart" else "application/json"
    assert seen
    assert all(content.startswith(expected) for content, _ in seen)
    if fmt == "json":  # Webhooks.md's content type
        assert 'type="application/vnd.microsoft.com.ucwa+json"' in seen[0][0]
    assert all(auth.startswith("Bearer ") and auth.count(".") == 2 for _, auth in seen)
