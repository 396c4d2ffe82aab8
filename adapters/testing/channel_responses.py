"""Events wrapped into event-channel responses, as a server would send them.

Consecutive events of one sender share a sender entry (participants under their conversation,
everything else under ``communication``); each response has ``self`` and ``next`` links whose
``ack`` grows, not always by one. Used by the walk strategies and by
:func:`~adapters.testing.strategies.random_stream`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import hypothesis.strategies as st

from adapters.testing.choices import _Choices, _DrawChoices
from adapters.testing.walks import APP
from fsm.wire import SAAS_PREFIX, bare_rel


def _sender(event: Mapping[str, Any]) -> tuple[str, str]:
    """The sender a server would file this event under (docs/protocol.md §2.3)."""
    link = event["link"]
    rel, href = str(link["rel"]), str(link["href"])
    prefix = SAAS_PREFIX if rel.startswith(SAAS_PREFIX) else ""
    if bare_rel(rel) in ("participant", "localParticipant"):
        return prefix + "conversation", href.split("/participants/", 1)[0]
    return prefix + "communication", f"{APP}/communication"


#: ``ack`` steps between responses: mostly one, sometimes more (docs/protocol.md §2.4: self 11, next 21).
_ACK_STEPS: Final = (1, 1, 1, 2, 3, 10)


def _wrap(events: Sequence[Mapping[str, Any]], choices: _Choices, first_ack: int = 1) -> list[dict[str, Any]]:
    responses: list[dict[str, Any]] = []
    ack = first_ack
    index = 0
    while index < len(events):
        chunk = events[index : index + choices.number(1, min(4, len(events) - index))]
        index += len(chunk)
        senders: list[dict[str, Any]] = []
        for event in chunk:
            rel, href = _sender(event)
            if senders and (senders[-1]["rel"], senders[-1]["href"]) == (rel, href):
                senders[-1]["events"].append(dict(event))
            else:
                senders.append({"rel": rel, "href": href, "events": [dict(event)]})
        step = choices.pick(_ACK_STEPS)
        links = {"self": {"href": f"{APP}/events?ack={ack}"}, "next": {"href": f"{APP}/events?ack={ack + step}"}}
        responses.append({"_links": links, "sender": senders})
        ack += step
    return responses


@st.composite
def responses_for(draw: st.DrawFn, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Wrap ``events`` (in order) into event-channel responses, 1 to 4 events each.

    Each response has ``_links.self`` and ``_links.next``; the next response's
    ``self`` is the previous ``next``, and ``ack`` grows by 1, 2, 3 or 10. The
    sender of each event is derived from its rel (participants: their
    conversation; everything else: ``communication``).
    """
    first = draw(st.integers(1, 1000))
    return _wrap(events, _DrawChoices(draw), first)

