"""The href → model registry: which live model an href, an operation id or a conversation names.

The dispatcher (:mod:`adapters.routing.dispatcher`) finds an event's model here (steps 1 to 3
of its module doc: by href, by ``operationId``, by the join's conversation), indexes a model
under every href it learns, keeps each audio/video session, notices settled models and forgets
them after the grace period, and rebuilds every index when the ``baseuri`` changes. It is apart
from the routing of events because it is the dispatcher's memory: what a client snapshot saves
(:mod:`adapters.routing.restart`) is exactly this state and the duplicate window.

Every index maps an href *key* (:meth:`ModelRegistry.key`: resolved against the base, then
without scheme and host), and ``keys`` remembers, per model, every (space, key) it is indexed
under, so that :meth:`ModelRegistry.forget` removes all of them.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urljoin, urlsplit

from adapters.routing.vocabulary import _PARTICIPANT_RELS, RENEGOTIATION_RELS, _invitation_kind
from adapters.wire.events import Event
from fsm.invitation import Invitation, InvitationKind
from fsm.model import FsmModel
from fsm.online_meeting import OnlineMeetingJoin
from fsm.renegotiation import AudioVideoSession, Renegotiation


class ModelRegistry:
    """The live models of one application and the indexes that find them (see the module doc)."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        #: The latest ``baseuri`` a response carried; hrefs resolve against it first.
        self.baseuri: str | None = None
        self.models: dict[int, FsmModel] = {}
        self.by_href: dict[str, FsmModel] = {}
        self.by_operation: dict[str, FsmModel] = {}
        self.conversations: dict[str, OnlineMeetingJoin] = {}
        self.sessions: dict[str, AudioVideoSession] = {}
        #: session key -> the href it was asked for (to rebuild keys when the base changes)
        self.session_hrefs: dict[str, str] = {}
        #: model id -> every (space, key) it is indexed under: ``href``, ``op``, ``conv``, ``session``.
        self.keys: dict[int, set[tuple[str, str]]] = {}
        #: model id -> when (caller's clock) it was first seen settled.
        self.settled_at: dict[int, float] = {}
        #: Tracked models not yet indexed by href.
        self.pending: dict[int, FsmModel] = {}

    # -- hrefs ----------------------------------------------------------------------------

    def key(self, href: str) -> str:
        """The form hrefs are compared in: resolved, then without scheme and host."""
        return _href_key(self.baseuri or self.base_url, href)

    def model_for(self, href: str) -> FsmModel | None:
        return self.by_href.get(self.key(href))

    # -- indexing -------------------------------------------------------------------------

    def index(
        self,
        model: FsmModel,
        *,
        href: str | None = None,
        operation_id: str | None = None,
        href_key: tuple[str, str] | None = None,
    ) -> None:
        """``href_key``: an (href, key) pair already computed, used when the href to index is that one."""
        ident = id(model)
        keys = self.keys.get(ident)
        if keys is None:
            keys = self.keys[ident] = set()
        own_href = href or getattr(model, "href", None)
        if isinstance(own_href, str):
            key = href_key[1] if href_key is not None and own_href == href_key[0] else self.key(own_href)
            self.by_href[key] = model
            keys.add(("href", key))
            if self.pending:
                self.pending.pop(ident, None)
        elif ident in self.models:
            self.pending[ident] = model
        own_op = operation_id or getattr(model, "operation_id", None)
        if isinstance(own_op, str) and own_op:
            self.by_operation[own_op] = model
            keys.add(("op", own_op))
        if isinstance(model, OnlineMeetingJoin):
            self._index_conversation(model)

    def _index_conversation(self, model: OnlineMeetingJoin) -> None:
        link = model.representation.link("conversation")
        if link is not None:
            key = self.key(link.href)
            self.conversations[key] = model
            self.keys.setdefault(id(model), set()).add(("conv", key))

    def rebase(self, baseuri: str) -> None:
        """A new base: rebuild every href index from the models' own hrefs."""
        self.baseuri = baseuri
        sessions = [(href, self.sessions[key]) for key, href in self.session_hrefs.items()]
        self.by_href.clear()
        self.conversations.clear()
        self.sessions.clear()
        self.session_hrefs.clear()
        for ident in self.keys:
            self.keys[ident] = {entry for entry in self.keys[ident] if entry[0] in ("op", "session")}
        for model in self.models.values():
            self.index(model)
        for href, session in sessions:
            key = self.key(href)
            self.sessions[key] = session
            self.session_hrefs[key] = href

    # -- finding --------------------------------------------------------------------------

    def find(self, event: Event, key: str | None = None) -> FsmModel | None:
        if key is None:
            key = self.key(event.link.href)
        model = self.by_href.get(key)
        if model is not None:
            return model
        operation_id = event.operation_id
        if operation_id is not None:
            model = self.by_operation.get(operation_id)
            if model is not None and _owns(model, event, self):
                self.index(model, href=event.link.href)
                return model
        name = event.link.name
        if name == "conversation":
            return self.conversations.get(key)
        if name in _PARTICIPANT_RELS and event.in_ is None:
            for candidate in (key.split("/participants/", 1)[0], key.rsplit("/", 1)[0]):
                join = self.conversations.get(candidate)
                if join is not None:
                    return join
        return None

    # -- sessions ---------------------------------------------------------------------------

    def av_session(self, href: str) -> AudioVideoSession:
        """The session for an ``audioVideoSession`` href (created on first use)."""
        key = self.key(href)
        session = self.sessions.get(key)
        if session is None:
            session = self.sessions[key] = AudioVideoSession()
            self.session_hrefs[key] = href
        return session

    def drop_session(self, key: str) -> None:
        self.sessions.pop(key, None)
        self.session_hrefs.pop(key, None)

    # -- forgetting ----------------------------------------------------------------------------

    def forget(self, model: FsmModel) -> None:
        """Drop a model and everything that points to it."""
        ident = id(model)
        self.models.pop(ident, None)
        self.settled_at.pop(ident, None)
        self.pending.pop(ident, None)
        for space, key in self.keys.pop(ident, set()):
            if space == "session":
                session_key = self.key(key)  # stored as the href: keys may have been rebuilt
                session = self.sessions.get(session_key)
                if session is not None and session.current is model:
                    self.drop_session(session_key)
                continue
            tables: dict[str, dict[str, Any]] = {
                "href": self.by_href,
                "op": self.by_operation,
                "conv": self.conversations,
            }
            table = tables[space]
            if table.get(key) is model:
                del table[key]

    def sweep(self, now: float, grace: float) -> tuple[FsmModel, ...]:
        """Notice models settled outside the dispatcher, forget those settled ``grace`` ago; returns them."""
        settled_at = self.settled_at
        for ident, model in self.models.items():  # the settled check inlined: this visits every live model
            if _settled(model):
                settled_at.setdefault(ident, now)
            else:
                settled_at.pop(ident, None)
        gone = [self.models[i] for i, at in self.settled_at.items() if now - at >= grace and i in self.models]
        for model in gone:
            self.forget(model)
        # a session lives as long as its current renegotiation is tracked
        for key, session in list(self.sessions.items()):
            if session.current is None or id(session.current) not in self.models:
                self.drop_session(key)
        return tuple(gone)

    def hrefs_to_refetch(self) -> tuple[str, ...]:
        """Hrefs of live, unsettled models to GET again after a resume or resync."""
        out: list[str] = []
        for model in self.models.values():
            href = getattr(model, "href", None)
            if _settled(model) or isinstance(model, Renegotiation) or not isinstance(href, str):
                continue
            out.append(href)
        return tuple(out)


@functools.lru_cache(maxsize=4096)
def _href_key(base: str | None, href: str) -> str:
    """:meth:`ModelRegistry.key`: a pure function of (base, href), and each href is keyed several times per event
    (duplicate check, routing, indexing), so the last few thousand answers are kept (urljoin alone is ~3 µs).

    An href urllib cannot split (an unbalanced IPv6 bracket: ``//[::1/x``) is its own key, as given: the
    server named the resource that way, and routing must go on rather than raise out of ``feed``.
    """
    try:
        parts = urlsplit(urljoin(base, href) if base else href)
    except ValueError:
        return href
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _settled(model: FsmModel) -> bool:
    """Ended, or with an outcome (a connected invitation): only late events can still concern it."""
    # the outcome first: a plain attribute, where is_terminal hashes an enum member (Python code in 3.11)
    return getattr(model, "outcome", None) is not None or model.is_terminal


def _owns(model: FsmModel, event: Event, registry: ModelRegistry) -> bool:
    """Whether an operationId match really is this model's resource.

    Operation ids are the app's, and an app may reuse one across resources (a
    message sent in the conversation it started): the rel must be of the
    model's kind, and a model that already knows its href keeps it.
    """
    href = getattr(model, "href", None)
    if isinstance(href, str) and registry.key(href) != registry.key(event.link.href):
        return False
    if isinstance(model, Invitation):
        return _invitation_kind(event.link.rel) is model.kind
    if isinstance(model, OnlineMeetingJoin):
        return _invitation_kind(event.link.rel) is InvitationKind.ONLINE_MEETING
    if isinstance(model, Renegotiation):
        return event.link.name in RENEGOTIATION_RELS
    return True


__all__ = ["ModelRegistry"]
