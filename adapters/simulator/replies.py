"""A request as the world sees it and the reply it gives: status, body kind, UCWA and Huawei error bodies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any, Final

from attrs import frozen

log = logging.getLogger("callfsm.simulator")

#: A JSON document as the world builds it.
Document = dict[str, Any]

#: Huawei error bodies: status, ``error_code``, ``error_msg``. The codes marked
#: [C] are in docs/protocol.md §7.3; the others are [U]: no source names the code Huawei
#: sends, so the simulator's own (``.SIM`` suffix) are used and documented.
HUAWEI_ERRORS: Final[Mapping[str, tuple[int, str, str]]] = {
    "bad_request": (400, "MMC.111070001", "bad request"),  # [C] S8
    "not_found": (400, "MMC.111072065", "CONF_NOT_FOUND_OR_AUTH_FAILED"),  # [C] 7.3
    "sub_not_found": (400, "MMC.111070005", "meeting does not exist"),  # [C] S8
    "token": (401, "USG.TOKEN.SIM", "X-Access-Token missing, unknown or expired"),  # [U]
    "signature": (401, "USG.AUTH.SIM", "App ID authentication failed"),  # [U]
    "held": (403, "MMC.HELD.SIM", "a meeting that has been held can only be cancelled with type=1"),  # [U]
    "server": (500, "MMC.111070003", "system processing failure"),  # [C] S8
}



# -- requests and replies ---------------------------------------------------------------------------


@frozen
class SimRequest:
    method: str
    path: str
    #: The raw query string, exactly as received (it goes back into ``self`` links).
    raw_query: str
    query: Mapping[str, str]
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def target(self) -> str:
        return f"{self.path}?{self.raw_query}" if self.raw_query else self.path


class BodyKind(Enum):
    NONE = "none"
    RESOURCE = "resource"
    EVENTS = "events"
    UCWA_ERROR = "ucwa error"
    JSON = "json"


@frozen
class Hold:
    """Hold the answer until the application's channel delivered group ``group`` (or ``until``)."""

    app: str
    group: int
    until: float


@frozen
class Reply:
    status: int
    kind: BodyKind = BodyKind.NONE
    document: Document | None = None
    headers: tuple[tuple[str, str], ...] = ()
    hold: Hold | None = None


def ucwa_error(
    status: int, code: str, subcode: str | None = None, message: str | None = None, parameters: tuple[str, ...] = ()
) -> Reply:
    document: Document = {"code": code}
    if subcode is not None:
        document["subcode"] = subcode
    if message is not None:
        document["message"] = message
    if parameters:
        document["parameters"] = [{"name": name} for name in parameters]
    return Reply(status, BodyKind.UCWA_ERROR, document)


def huawei_error(name: str, detail: str | None = None) -> Reply:
    status, code, message = HUAWEI_ERRORS[name]
    return Reply(status, BodyKind.JSON, {"error_code": code, "error_msg": message if detail is None else detail})


def _invalid(parameter: str, why: str) -> Reply:
    return ucwa_error(400, "BadRequest", "ParameterValidationFailure", why, (parameter,))


def _conflict(why: str) -> Reply:
    return ucwa_error(409, "Conflict", None, why)


NO_CONTENT: Final = Reply(204)
