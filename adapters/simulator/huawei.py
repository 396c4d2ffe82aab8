"""The simulated Huawei Cloud Meeting API: App ID authentication, tokens, series details and cancels."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import secrets
from collections.abc import Sequence
from typing import Final

from adapters.simulator.config import SimulatorConfig
from adapters.simulator.faults import FaultKind, Faults
from adapters.simulator.records import SeriesRecord
from adapters.simulator.replies import BodyKind, Reply, SimRequest, huawei_error
from fsm.errors import CallFsmError
from fsm.meeting_series import ConferenceState, MeetingSeries

log = logging.getLogger("callfsm.simulator")

HUAWEI_APP_AUTH: Final = "/v2/usg/acs/auth/appauth"
HUAWEI_SERIES: Final = "/v1/mmc/management/cycleconferences"
HUAWEI_SUB_MEETINGS: Final = "/v1/mmc/management/conferences/cyclesubconf"
HUAWEI_DETAIL: Final = "/v1/mmc/management/conferences/confDetail"
#: PUT: refresh the ``X-Access-Token`` (its expiry moves on); POST ``.../validate``: check a token.
HUAWEI_TOKEN: Final = "/v1/usg/acs/token"
HUAWEI_TOKEN_VALIDATE: Final = "/v1/usg/acs/token/validate"


class HuaweiCloud:
    """The Huawei Cloud Meeting side of the simulator: App ID tokens and recurring series.

    Not thread-safe on its own: :class:`~adapters.simulator.state.World` holds its lock around every call.
    """

    def __init__(self, config: SimulatorConfig, faults: Faults) -> None:
        self.config = config
        self.faults = faults
        self.series: dict[str, SeriesRecord] = {}
        self.tokens: dict[str, float] = {t: math.inf for t in config.huawei_tokens}

    # -- the script's series --------------------------------------------------------------------------------

    def add_series(
        self, conference_id: str, *, held: bool, sub_meetings: Sequence[str], subject: str | None, now: float
    ) -> None:
        if conference_id in self.series and not self.series[conference_id].shadow.is_terminal:
            raise ValueError(f"series {conference_id} already exists")
        record = SeriesRecord(conference_id, MeetingSeries(conference_id=conference_id), subject)
        record.sub_meetings = {sub: ConferenceState.SCHEDULE for sub in sub_meetings}
        self.series[conference_id] = record
        if held:
            record.shadow.conference_state_observed(now=now, conference_state=ConferenceState.CREATED.value)
            if record.sub_meetings:
                record.sub_meetings[next(iter(record.sub_meetings))] = ConferenceState.CREATED

    def hold_series(self, conference_id: str, sub_meeting: str | None, now: float) -> None:
        record = self.series.get(conference_id)
        if record is None:
            raise ValueError(f"no series {conference_id}")
        if sub_meeting is not None:
            if sub_meeting not in record.sub_meetings:
                raise ValueError(f"series {conference_id} has no sub-meeting {sub_meeting}")
            record.sub_meetings[sub_meeting] = ConferenceState.CREATED
        record.shadow.conference_state_observed(now=now, conference_state=ConferenceState.CREATED.value)

    # -- requests -------------------------------------------------------------------------------------------

    def answer(self, request: SimRequest, now: float) -> Reply:
        """The reply to one Huawei request; the world calls this under its lock, ``now`` its clock."""
        if self.faults.happens(FaultKind.SERVER_ERROR):
            return huawei_error("server")
        if request.path == HUAWEI_APP_AUTH and request.method == "POST":
            return self._auth(request)
        token = request.headers.get("x-access-token")
        expiry = self.tokens.get(token or "")
        if token is None or expiry is None or expiry <= self.config.wall_clock():
            # validate too: the SDK sends X-Access-Token with every call, and the app layer refuses
            # a request without a good one before reading its body
            return huawei_error("token")
        if request.path == HUAWEI_TOKEN and request.method == "PUT":
            return self._refresh(token)
        if request.path == HUAWEI_TOKEN_VALIDATE and request.method == "POST":
            return self._validate(request)
        conference_id = request.query.get("conferenceID")
        if not conference_id:
            return huawei_error("bad_request", "conferenceID is required")
        record = self.series.get(conference_id)
        if record is None or record.shadow.is_terminal:
            return huawei_error("not_found")
        kind = request.query.get("type")
        if kind is not None and kind not in ("0", "1"):
            return huawei_error("bad_request", "type must be 1 (or absent)")
        ongoing = kind == "1"
        if request.path == HUAWEI_DETAIL and request.method == "GET":
            return self._detail(record)
        if request.path == HUAWEI_SERIES and request.method == "DELETE":
            return self._cancel(record, ongoing, now)
        if request.path == HUAWEI_SUB_MEETINGS and request.method == "DELETE":
            return self._cancel_subs(record, ongoing, request, now)
        return huawei_error("bad_request", "no such operation")

    def _auth(self, request: SimRequest) -> Reply:
        header = request.headers.get("authorization", "")
        match = re.match(r"^\s*HMAC-SHA256\s+signature=([0-9a-fA-F]+)\s*(?:,.*)?$", header)
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return huawei_error("bad_request", "the body is not JSON")
        if not isinstance(body, dict):
            return huawei_error("bad_request", "the body is not a JSON object")
        app_id, user_id, expire_time, nonce = (
            body.get("appId"),
            body.get("userId", ""),
            body.get("expireTime"),
            body.get("nonce"),
        )
        if not isinstance(app_id, str) or not isinstance(user_id, str) or not isinstance(nonce, str):
            return huawei_error("bad_request", "appId, userId and nonce are strings")
        if not isinstance(expire_time, int) or isinstance(expire_time, bool):
            return huawei_error("bad_request", "expireTime is an integer (Unix seconds)")
        if not 32 <= len(nonce) <= 64:
            return huawei_error("bad_request", "nonce has 32 to 64 characters")
        key = self.config.huawei_apps.get(app_id)
        if match is None or key is None:
            return huawei_error("signature")
        expected = hmac.new(
            key.encode("utf-8"), f"{app_id}:{user_id}:{expire_time}:{nonce}".encode(), hashlib.sha256
        ).hexdigest()
        wall = self.config.wall_clock()
        if not hmac.compare_digest(expected, match.group(1).lower()) or expire_time <= wall:
            return huawei_error("signature")
        token = secrets.token_urlsafe(30)
        lifetime = self.config.huawei_token_lifetime
        self.tokens[token] = wall + lifetime
        log.info("Huawei App ID authentication succeeded for app %s", app_id)
        return Reply(
            200,
            BodyKind.JSON,
            {
                "accessToken": token,
                "clientType": body.get("clientType", 72),
                "createTime": int(wall * 1000),
                "expireTime": int(wall + lifetime),
                "validPeriod": int(lifetime),
                "tokenType": 0,
                "user": {"userId": user_id, "appId": app_id},
            },
        )

    def _refresh(self, token: str) -> Reply:
        """The token's expiry moves to now + lifetime; the same token is returned (SDK ``update_token``)."""
        wall = self.config.wall_clock()
        self.tokens[token] = wall + self.config.huawei_token_lifetime
        log.info("Huawei token refreshed")
        return self._token_answer(token, wall)

    def _validate(self, request: SimRequest) -> Reply:
        """Is the body's ``token`` valid (SDK ``check_token``)? ``needGenNewToken`` true: a new one as well."""
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return huawei_error("bad_request", "the body is not JSON")
        token = body.get("token") if isinstance(body, dict) else None
        renew = body.get("needGenNewToken") if isinstance(body, dict) else None
        if not isinstance(token, str) or not isinstance(renew, bool):
            return huawei_error("bad_request", "token (a string) and needGenNewToken (a boolean) are required")
        wall = self.config.wall_clock()
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= wall:
            return huawei_error("token")
        if renew:
            token = secrets.token_urlsafe(30)
            self.tokens[token] = wall + self.config.huawei_token_lifetime
        return self._token_answer(token, wall)

    def _token_answer(self, token: str, wall: float) -> Reply:
        # a token the configuration accepts "forever" still reports a finite expiry, as Huawei's all do
        expiry = min(self.tokens[token], wall + self.config.huawei_token_lifetime)
        return Reply(
            200,
            BodyKind.JSON,
            {
                "accessToken": token,
                "clientType": 72,
                "expireTime": int(expiry),
                "validPeriod": max(0, int(expiry - wall)),
                "tokenType": 0,
            },
        )

    def _detail(self, record: SeriesRecord) -> Reply:
        state = (ConferenceState.CREATED if record.shadow.held else ConferenceState.SCHEDULE).value
        return Reply(
            200,
            BodyKind.JSON,
            {
                "conferenceData": {
                    "conferenceID": record.conference_id,
                    "conferenceState": state,
                    "conferenceType": 1,
                    "confType": "CYCLE",
                    "subject": record.subject,
                    "subConfs": [
                        {"cycleSubConfID": sub, "conferenceState": st.value} for sub, st in record.sub_meetings.items()
                    ],
                }
            },
        )

    def _cancel(self, record: SeriesRecord, ongoing: bool, now: float) -> Reply:
        try:
            record.shadow.cancel(now=now, cancel_ongoing=ongoing)
        except CallFsmError as exc:
            log.info("Huawei series %s: cancel refused: %s", record.conference_id, exc)
            return huawei_error("held")
        record.shadow.cancel_succeeded(now=now)
        log.info("Huawei series %s cancelled%s", record.conference_id, " (type=1)" if ongoing else "")
        return Reply(200)

    def _cancel_subs(self, record: SeriesRecord, ongoing: bool, request: SimRequest, now: float) -> Reply:
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return huawei_error("bad_request", "the body is not JSON")
        ids = body.get("cycleSubConfIDs") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            return huawei_error("bad_request", "cycleSubConfIDs is a non-empty list of sub-meeting IDs")
        unknown = [i for i in ids if i not in record.sub_meetings]
        if unknown:
            return huawei_error("sub_not_found", f"meeting does not exist: {', '.join(unknown)}")
        if not ongoing and any(record.sub_meetings[i] is ConferenceState.CREATED for i in ids):
            return huawei_error("held")
        try:
            record.shadow.cancel_sub_meetings(now=now, ids=ids, cancel_ongoing=ongoing)
            record.shadow.sub_cancel_succeeded(now=now, ids=ids)
        except CallFsmError as exc:
            return huawei_error("bad_request", str(exc))
        for i in ids:
            del record.sub_meetings[i]
        return Reply(200)


# -- small binders (typed closures) ------------------------------------------------------------------
