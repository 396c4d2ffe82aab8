"""How long a simulated application lives when nobody keeps it alive.

Theory of operation
-------------------
UCWA ends an application its client has stopped looking after, and the
documentation gives two rules (docs/protocol.md §8a):

- the event channel: "if the server does not receive a new event channel
  request 15 minutes after the previous request was released, it assumes the
  client has lost connectivity and terminates the application" (MeDashboard);
- activity: an application that called ``makeMeAvailable``, does not
  ``reportMyActivity`` and is in no call is terminated too (MeDashboard,
  ApplicationDashboard: "this only applies if MakeMeAvailable was previously
  invoked"). No figure is documented for this one; [U] choice: the same
  15 minutes. ``reportMyActivity_ref.md`` asks for a report at least once
  every 4 minutes, but only availability drops sooner, not the application.

Either way every later request gets ``410 Gone`` with subcode
``InactiveApplicationExpired`` (ApplicationDashboard). [U] choice: an
application that never parked a P-GET is measured from its creation, as if
its first request had been released then.

:class:`Liveness` is one application's books; the World asks
:meth:`Liveness.expired` on every request under the application and while a
P-GET is parked, by its own (injectable) clock, so tests move a
:class:`~adapters.simulator.config.ManualClock` instead of waiting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from attrs import define, field, frozen

from adapters.simulator.profiles import ProfileName

#: The documented channel rule: 15 minutes after the previous P-GET was released (MeDashboard).
CHANNEL_IDLE_LIMIT: Final = 15 * 60.0
#: [U] the activity rule has no documented figure: the channel's 15 minutes.
ACTIVITY_IDLE_LIMIT: Final = 15 * 60.0
#: The subcode of the ``410 Gone`` an expired application answers with (ApplicationDashboard).
EXPIRED_SUBCODE: Final = "InactiveApplicationExpired"

#: Where each server puts ``reportMyActivity``, below the application: the reference pages'
#: ``/ucwa/v1/applications/{id}/reportMyActivity`` (reportMyActivity_ref.md, MeDashboard) and the
#: Online samples' ``/ucwa/oauth/v1/applications/{id}/me/reportMyActivity`` (GetMyPresenceInformation.md).
#: The Trusted Application API has no ``me`` and no presence: no link, so no activity rule.
REPORT_MY_ACTIVITY: Final[Mapping[ProfileName, str | None]] = {
    ProfileName.UCWA: "reportMyActivity",
    ProfileName.ONLINE: "me/reportMyActivity",
    ProfileName.SAAS: None,
}


def _limit(_: object, attribute: object, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise ValueError(f"an application lifetime limit must be a finite number of seconds > 0, got {value!r}")


@frozen
class Lifetime:
    """The two limits (seconds); ``None`` switches a rule off."""

    channel_idle: float | None = field(default=CHANNEL_IDLE_LIMIT, validator=_limit)
    activity_idle: float | None = field(default=ACTIVITY_IDLE_LIMIT, validator=_limit)


@define
class Liveness:
    """One application's books: when its channel and its user were last seen."""

    #: When the channel was last seen: created, a P-GET parked, waiting or answered.
    channel_seen: float
    #: When activity was last reported (``reportMyActivity``, ``makeMeAvailable``, a call in progress).
    active_seen: float
    expired: bool = False

    @classmethod
    def new(cls, now: float) -> Liveness:
        return cls(now, now)

    def channel(self, now: float) -> None:
        self.channel_seen = max(self.channel_seen, now)

    def activity(self, now: float) -> None:
        self.active_seen = max(self.active_seen, now)

    def check(self, now: float, limits: Lifetime, *, parked: bool, available: bool, in_call: bool) -> bool:
        """Whether the application has expired by ``now`` (and stays so). A parked P-GET keeps the channel
        rule at bay, a call in progress the activity rule; the activity rule needs ``makeMeAvailable``."""
        if self.expired:
            return True
        if parked:
            self.channel(now)
        if in_call:
            self.activity(now)
        channel_limit, activity_limit = limits.channel_idle, limits.activity_idle
        channel_lost = channel_limit is not None and now - self.channel_seen > channel_limit
        user_gone = available and activity_limit is not None and now - self.active_seen > activity_limit
        self.expired = channel_lost or user_gone
        return self.expired
