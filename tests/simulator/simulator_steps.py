"""Steps shared by the simulator's end-to-end tests: the expected constants, the replay check, a started call.

Plain functions (not fixtures) because the tests call them with their own arguments; the ``client``
fixture is in ``conftest.py``.
"""

from __future__ import annotations

from ucwa_doc_client import DocClient, Replay, replay_all

from adapters.simulator import SimulatorHandle
from fsm.invitation import Invitation, InvitationKind, InvitationState

S = InvitationState
BOB = "sip:bob@contoso.com"
MEETING = "sip:organizer@contoso.com;gruu;opaque=app:conf:focus:id:7PQRS3"


def no_violations(sim: SimulatorHandle, replay: Replay | None = None) -> None:
    """The stream as the client got it (with its local triggers), and the whole recorded stream, replay clean."""
    if replay is not None:
        assert replay.violations == []
    assert replay_all(sim.events_sent) == []
    assert sim.world.refusals == []


def start_av(client: DocClient, replay: Replay, operation_id: str) -> tuple[str, Invitation]:
    """POST startAudioVideo; track the ideal client's model by operation id before the POST (docs/protocol.md §2.2)."""
    # the Trusted Application API names it ms:rtc:saas:startAudio (docs/protocol.md §1.2)
    saas = "ms:rtc:saas:startAudio" in client.communication["_links"]
    href = client.link(client.communication, "startAudio" if saas else "startAudioVideo")
    model = Invitation(kind=InvitationKind.AUDIO_VIDEO)
    model.send(now=0.0, href=href, operation_id=operation_id, to=BOB)
    replay.track(model, operation_id)
    response = client.post(href, {"operationId": operation_id, "to": BOB, "subject": "Standup"})
    # docs/protocol.md §1.2: 201 Created, Content-Length 0, Location = the invitation
    assert response.status_code == 201
    assert response.headers["content-length"] == "0"
    location = response.headers["location"]
    model.created(now=0.5, href=location)
    return location, model
