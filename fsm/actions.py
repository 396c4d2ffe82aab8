"""What a local trigger asks the adapters to do: frozen values, never performed here.

A trigger of a machine returns a tuple of these. ``adapters/`` turns each one
into an HTTP request (JSON or XML body, bearer token, operation id) and feeds
the response back to the machine as a trigger. Keeping them as plain values
means a machine can be driven, tested and replayed without any network.
"""

from __future__ import annotations

from attrs import frozen

#: Property values a UCWA ``<input>`` / JSON body can carry.
PropertyValue = str | bool | int

Properties = tuple[tuple[str, PropertyValue], ...]


@frozen
class PostLink:
    """POST to a link of the latest representation (accept, decline, cancel, ...)."""

    #: The rel exactly as the server wrote it (``ms:rtc:saas:accept`` or ``accept``).
    rel: str
    href: str
    #: Body properties, in order; empty means no body.
    properties: Properties = ()
    #: Raw SDP body (``application/sdp``), for acceptWithAnswer and sendProvisionalAnswer;
    #: the properties then go in the query string.
    sdp: str | None = None

    def body(self) -> dict[str, PropertyValue]:
        return dict(self.properties)


@frozen
class StartOperation:
    """A creating POST (startAudioVideo, startMessaging, joinOnlineMeeting, addParticipant).

    The server answers 201 with ``Location``; the resource is then announced
    by a ``started`` event, which may come first (correlate by operation id).
    """

    rel: str
    href: str
    #: ``None``: sent without one (UCWA marks it optional, docs/protocol.md §1.5); the
    #: 201's ``Location`` is then the only way to tell this resource's events apart.
    operation_id: str | None
    properties: Properties = ()

    def body(self) -> dict[str, PropertyValue]:
        if self.operation_id is None:
            return dict(self.properties)
        return {"operationId": self.operation_id, **dict(self.properties)}


@frozen
class FetchResource:
    """GET a resource to learn what an event did not say (e.g. a bare ``completed``)."""

    href: str
    why: str


@frozen
class PostRenegotiation:
    """POST ``renegotiations?operationId=...`` with an SDP offer (``application/sdp``)."""

    href: str
    operation_id: str
    sdp: str


@frozen
class DeleteSeries:
    """Huawei: ``DELETE /v1/mmc/management/cycleconferences?conferenceID=...[&type=1]``."""

    conference_id: str
    #: ``type=1``: also cancel a meeting that is being held.
    cancel_ongoing: bool = False


@frozen
class DeleteSubMeetings:
    """Huawei: ``DELETE /v1/mmc/management/conferences/cyclesubconf?conferenceID=...``."""

    conference_id: str
    sub_meeting_ids: tuple[str, ...]
    cancel_ongoing: bool = False


Action = PostLink | StartOperation | FetchResource | PostRenegotiation | DeleteSeries | DeleteSubMeetings
Actions = tuple[Action, ...]
NO_ACTIONS: Actions = ()
