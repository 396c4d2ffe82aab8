"""CallState, SessionState and the job Status (docs/protocol.md §1.1) as wire enums, read where resources carry them.

The value sets are typed from the documentation; an unknown value is kept,
never refused.
"""

from __future__ import annotations

import json

import pytest

from adapters.wire.events import parse_events, parse_resource
from fsm.wire import CallState, JobStatus, SessionState, WireValue, job_status, read_enum, resource_state

# docs/protocol.md §1.1
CALL_STATES = {"Connecting", "Connected", "Transferring", "Disconnecting", "Disconnected"}
SESSION_STATES = {"Establishing", "Established", "Suspended"}
JOB_STATUSES = {"Pending", "Succeeded", "Failed"}


@pytest.mark.parametrize(
    ("enum", "values"), [(CallState, CALL_STATES), (SessionState, SESSION_STATES), (JobStatus, JOB_STATUSES)]
)
def test_values_are_the_documented_ones(enum: type[CallState | SessionState | JobStatus], values: set[str]) -> None:
    assert {member.value for member in enum} == values
    for value in values:
        # the docs capitalise inconsistently: any case, surrounding space ignored
        assert enum.parse(value.upper()) is enum.parse(f" {value.lower()} ") is enum.parse(value)
        assert enum.parse(value) is not None


def test_unknown_values_are_kept() -> None:
    value = read_enum(CallState, "OnHold")
    assert value == WireValue("OnHold", None)
    assert not value.known
    assert read_enum(CallState, 7) is None
    assert read_enum(CallState, None) is None


@pytest.mark.parametrize(
    ("rel", "state", "member"),
    [
        ("audioVideo", "Connected", CallState.CONNECTED),
        ("messaging", "disconnected", CallState.DISCONNECTED),
        ("phoneAudio", "Transferring", CallState.TRANSFERRING),
        ("ms:rtc:saas:audioVideo", "Connecting", CallState.CONNECTING),
        ("audioVideoSession", "Suspended", SessionState.SUSPENDED),
    ],
)
def test_resource_state_by_rel(rel: str, state: str, member: CallState | SessionState) -> None:
    value = resource_state(rel, {"state": state})
    assert value is not None
    assert value.member is member
    assert value.text == state


def test_resources_without_these_enums() -> None:
    # an invitation's state is an InvitationState, a conversation's a ConversationState: not these
    assert resource_state("audioVideoInvitation", {"state": "Connected"}) is None
    assert resource_state("conversation", {"state": "Connected"}) is None
    assert resource_state("audioVideo", {}) is None
    assert resource_state("audioVideoSession", {"state": "Paused"}) == WireValue("Paused", None)


def test_job_status() -> None:
    assert job_status({"status": "succeeded"}) == WireValue("succeeded", JobStatus.SUCCEEDED)
    assert job_status({"status": "Queued"}) == WireValue("Queued", None)
    assert job_status({}) is None


def _modality_updated(state: str) -> bytes:
    # docs/protocol.md §2.3: the audioVideo modality sends updated (sender conversation)
    return json.dumps(
        {
            "_links": {"self": {"href": "e?ack=3"}, "next": {"href": "e?ack=4"}},
            "sender": [
                {
                    "rel": "conversation",
                    "href": "/conversations/1",
                    "events": [
                        {
                            "link": {"rel": "audioVideo", "href": "/conversations/1/audioVideo"},
                            "type": "updated",
                            "_embedded": {"audioVideo": {"state": state, "_links": {"self": {"href": "/av"}}}},
                        },
                        {"link": {"rel": "messaging", "href": "/conversations/1/messaging"}, "type": "updated"},
                    ],
                }
            ],
        }
    ).encode()


def test_a_modality_event_carries_its_call_state() -> None:
    av, bare = parse_events(_modality_updated("Disconnected"), "application/json").events
    assert av.wire_state == WireValue("Disconnected", CallState.DISCONNECTED)
    assert bare.wire_state is None  # nothing embedded


def test_a_modality_event_with_an_unknown_state_keeps_it() -> None:
    (av, _) = parse_events(_modality_updated("Parked"), "application/json").events
    assert av.wire_state == WireValue("Parked", None)


def test_an_xml_session_resource() -> None:
    xml = b"""<resource rel="audioVideoSession" href="/conversations/1/audioVideo/audioVideoSession"
 xmlns="http://schemas.microsoft.com/rtc/2012/03/ucwa"><property name="state">Established</property></resource>"""
    resource = parse_resource(xml, "application/vnd.microsoft.com.ucwa+xml")
    assert resource_state("audioVideoSession", resource) == WireValue("Established", SessionState.ESTABLISHED)
