"""The Huawei series details query: ``GET confDetail`` and its answer, read through cattrs.

The only thing the client reads from a Huawei answer beyond its error body:
``conferenceState`` tells a held series from one not yet held (docs/protocol.md
§7.2). Separate from the conversations because it is the wire shape alone: the
request and a strict, lenient-on-extras reading of ``conferenceData``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final

import cattrs
from attrs import frozen
from cattrs.gen import make_dict_structure_fn, override

from adapters.huawei.auth import api_request
from adapters.wire.requests import HttpRequest, HttpResponse, Secret
from fsm.meeting_series import ConferenceState

#: GET ``?conferenceID=``: a meeting not yet ended, with its ``conferenceState`` (SDK ``show_meeting_detail``).
DETAIL_PATH: Final = "/v1/mmc/management/conferences/confDetail"


class HuaweiAnswerError(ValueError):
    """A 200 whose body is not what the documentation describes (says which field, never a token)."""


def detail_request(conference_id: str, *, base_url: str, access_token: Secret) -> HttpRequest:
    """``GET confDetail?conferenceID=...``: the series' details, ``conferenceState`` among them."""
    return api_request("GET", base_url, DETAIL_PATH, access_token, params=[("conferenceID", conference_id)])


# -- the details answer (cattrs) -------------------------------------------------------------------


@frozen
class SeriesDetail:
    """What ``confDetail`` said of the series (``conferenceData``), values as given."""

    conference_id: str | None = None
    #: ``Schedule`` / ``Created`` today (``Creating`` and ``Destroyed`` documented); kept even when unknown.
    conference_state: str | None = None
    #: ``0`` normal, ``1`` recurring.
    conference_type: int | None = None
    #: ``FUTURE``, ``IMMEDIATELY`` or ``CYCLE``.
    conf_type: str | None = None

    @property
    def held(self) -> bool | None:
        """``Created``: held; ``Schedule``/``Creating``: not yet; ``None``: the answer does not say."""
        parsed = None if self.conference_state is None else ConferenceState.parse(self.conference_state)
        if parsed is ConferenceState.CREATED:
            return True
        if parsed in (ConferenceState.SCHEDULE, ConferenceState.CREATING):
            return False
        return None


_detail_converter = cattrs.Converter(forbid_extra_keys=False)


def _strict(kind: type[Any]) -> Callable[[object, type[Any]], Any]:
    def structure(value: object, _: type[Any]) -> Any:
        # bool is an int to Python, and cattrs would turn 7 into "7": a field of the wrong type is refused
        if isinstance(value, bool) or not isinstance(value, kind):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return structure


_detail_converter.register_structure_hook(str, _strict(str))
_detail_converter.register_structure_hook(int, _strict(int))
_detail_converter.register_structure_hook(
    SeriesDetail,
    make_dict_structure_fn(
        SeriesDetail,
        _detail_converter,
        conference_id=override(rename="conferenceID"),
        conference_state=override(rename="conferenceState"),
        conference_type=override(rename="conferenceType"),
        conf_type=override(rename="confType"),
    ),
)


def parse_detail(response: HttpResponse) -> SeriesDetail:
    """The ``conferenceData`` of a 200 ``confDetail`` answer; :class:`HuaweiAnswerError` when it has none."""
    try:
        document = json.loads(response.body) if response.body else None
    except (ValueError, RecursionError):
        raise HuaweiAnswerError("confDetail answered 200 with a body that is not JSON") from None
    data = document.get("conferenceData") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise HuaweiAnswerError("confDetail answered 200 without a conferenceData object")
    try:
        detail = _detail_converter.structure(data, SeriesDetail)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        where = cattrs.transform_error(exc, "conferenceData") if isinstance(exc, cattrs.BaseValidationError) else []
        raise HuaweiAnswerError(f"confDetail answered 200 with {'; '.join(where) or exc}") from None
    if detail.conference_state is None:
        raise HuaweiAnswerError("confDetail answered 200 without conferenceData.conferenceState")
    return detail
