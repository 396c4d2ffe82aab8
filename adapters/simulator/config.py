"""What a simulator is started with: its configuration and its clocks (real or moved by a test)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from attrs import define, field

from adapters.simulator.faults import FaultConfig
from adapters.simulator.lifetime import Lifetime
from adapters.simulator.profiles import (
    DEFAULT_PROFILE,
    Completion,
    EventShape,
    ProfileName,
    check_callback_url,
    profile_of,
)
from adapters.simulator.script import (
    Scenario,
)

log = logging.getLogger("callfsm.simulator")

# -- time ------------------------------------------------------------------------------------


class Clock(Protocol):
    """The simulator's clock (seconds). Injectable: tests use :class:`ManualClock`."""

    def now(self) -> float: ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told (``advance``); thread-safe enough for float reads."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0 or not math.isfinite(seconds):
            raise ValueError("a clock only moves forward")
        self._now += seconds


# -- configuration ------------------------------------------------------------------------------


def _positive(name: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")


def _profile_name(value: str | ProfileName) -> ProfileName:
    return profile_of(value).name


@define(kw_only=True)
class SimulatorConfig:
    """Everything that shapes a simulator run."""

    #: The bearer token UCWA requests must carry; ``None``: any non-empty bearer token.
    token: str | None = None
    seed: int = 0
    faults: FaultConfig = field(factory=FaultConfig)
    #: The P-GET hold when the client sends no ``timeout`` (the docs' default is 180 s).
    pget_timeout: float = 180.0
    #: Send every queued group in one answer (realistic, but batching then depends on timing).
    coalesce: bool = False
    #: How long an unanswered outgoing invitation rings before it fails (docs/protocol.md §1.7: about 30 s).
    ring_timeout: float = 30.0
    #: The remote answers after this long when nothing is scripted.
    default_answer_delay: float = 0.1
    #: An application idle this long is gone (404 ApplicationNotFound); ``None``: never.
    application_expiry: float | None = None
    #: A P-GET after this long without one is answered with ``resume``; ``None``: never.
    resume_after_idle: float | None = None
    #: The documented inactivity rules: an application left idle expires, 410 InactiveApplicationExpired.
    lifetime: Lifetime = field(factory=Lifetime)
    user_name: str = "Simulated User"
    user_uri: str = "sip:user@callfsm.test"
    #: Huawei App IDs and their app keys (for ``appauth`` signatures).
    huawei_apps: Mapping[str, str] = field(factory=lambda: {"callfsm-sim-app": "callfsm-sim-app-key"})
    #: Huawei access tokens accepted without authenticating first.
    huawei_tokens: tuple[str, ...] = ()
    huawei_token_lifetime: float = 12 * 3600.0
    clock: Clock = field(factory=MonotonicClock)
    #: Unix time, for Huawei ``expireTime`` checks.
    wall_clock: Callable[[], float] = time.time
    scenario: Scenario | None = None
    #: Which server to play (profiles.py; ``ucwa``, ``online``, ``saas``).
    profile: ProfileName = field(default=DEFAULT_PROFILE, converter=_profile_name)
    #: ``embedded``: events carry their resource; ``links``: they do not (the client must GET).
    events: EventShape = field(default=EventShape.EMBEDDED, converter=EventShape)
    #: ``event``: invitations end with ``completed``; ``updated``: with an ``updated`` to a final
    #: state, for the kinds whose current documentation lists no ``completed``.
    completion: Completion = field(default=Completion.EVENT, converter=Completion)
    #: Trusted Application API: where events are POSTed (loopback only); ``None``: the P-GET serves them.
    callback_url: str | None = None
    #: The bearer token the callbacks carry (the receiver checks it); ``None``: a random one.
    callback_token: str | None = None
    #: ``json`` or ``multipart`` (``multipart/related``, docs/protocol.md §2.1).
    callback_format: str = "json"

    def use_scenario(self, scenario: Scenario, *, seed: int | None = None) -> SimulatorConfig:
        """This configuration with a scenario's steps, faults, user and seed (``seed`` given here wins)."""
        self.scenario = scenario
        if seed is not None:
            self.seed = seed
        elif scenario.seed is not None:
            self.seed = scenario.seed
        if scenario.faults is not None:
            self.faults = scenario.faults
        self.user_name = scenario.user_name or self.user_name
        self.user_uri = scenario.user_uri or self.user_uri
        for name in ("profile", "events", "completion"):
            value = getattr(scenario, name)
            if value is not None:
                setattr(self, name, value)  # the field's converter reads the name
        self.check_profile()
        return self

    def check_profile(self) -> None:
        """Refuse a switch the chosen profile has no use for (ValueError says why)."""
        profile = profile_of(self.profile)
        if self.completion is Completion.UPDATED and not profile.completion_switch_applies:
            raise ValueError(
                f"--completion updated does not apply to the {profile.name.value} profile: its documentation "
                "lists a completed event for every invitation (docs/protocol.md §2.3)"
            )
        if self.callback_format not in ("json", "multipart"):
            raise ValueError(f"callback_format is json or multipart, got {self.callback_format!r}")
        if self.callback_url is not None:
            if not profile.push:
                raise ValueError(f"the {profile.name.value} profile has no callbacks: events go through the P-GET")
            check_callback_url(self.callback_url)

    def __attrs_post_init__(self) -> None:
        _positive("pget_timeout", self.pget_timeout)
        _positive("ring_timeout", self.ring_timeout)
        if not math.isfinite(self.default_answer_delay) or self.default_answer_delay < 0:
            raise ValueError("default_answer_delay must be a finite number of seconds >= 0")
        for name in ("application_expiry", "resume_after_idle"):
            value = getattr(self, name)
            if value is not None:
                _positive(name, value)
        self.check_profile()
