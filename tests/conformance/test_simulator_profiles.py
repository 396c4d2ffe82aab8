"""The library's client against every simulator profile, event shape and completion mode.

Each main scenario (an outgoing call answered, declined, cancelled; a meeting
join admitted from the lobby or rejected; an incoming IM accepted) runs with
:class:`adapters.client.UcwaClient` and its dispatcher over loopback HTTP, for
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

import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from adapters.client import UcwaClient
from adapters.simulator import SimulatorConfig, SimulatorHandle
from adapters.simulator.profiles import Completion, EventShape, ProfileName, profile_of
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
    assert client.links is not None
    available = httpx.post(
        urllib.parse.urljoin(client.url, client.links.href("makeMeAvailable")),
        json={"SupportedModalities": ["Messaging"]},
        headers={"Authorization": f"Bearer {ucwa_simulator.token}"},
    )
    assert available.status_code == 204
    ucwa_simulator.script.incoming_call("Lene", "sip:lene@contoso.com", kind="messaging", message="Hi Tosh\r\n")

    def ringing() -> list[Invitation]:
        return [m for m in client.models if isinstance(m, Invitation) and m.state is S.CONNECTING]

    _wait(client, "the incoming IM", ringing)
    (im,) = ringing()
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
