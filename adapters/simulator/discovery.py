"""Discovery on the simulator: the documents a client reads before it creates an application.

Theory of operation
-------------------
UCWA (docs/protocol.md §8a, CreateAnApplication.md): ``GET`` the
autodiscovery URL (``https://lyncdiscover.<domain>/``), which needs no
token, and read its ``user`` and ``xframe`` links; ``GET`` the ``user`` link
with the bearer token (401 without) and read its ``applications`` link;
``POST`` there. The simulator serves:

- ``GET /`` and ``GET /Autodiscover/AutodiscoverService.svc/root``: the root
  document, ``self``, ``user`` and ``xframe`` (the sample's paths);
- ``GET /Autodiscover/AutodiscoverService.svc/root/oauth/user``: the user
  resource, ``self``, ``applications`` (the profile's root) and ``xframe``;
  401 ``WWW-Authenticate: Bearer`` without a valid token, like every UCWA
  resource of the simulator;
- ``GET /Autodiscover/XFrame/XFrame.html``: a placeholder page (browsers'
  cross-domain frame; no client of this library needs it).

The Trusted Application API is discovered differently
(DiscoveryForServiceApplications.md): ``GET /platformservice/discover``,
unauthenticated, gives ``ms:rtc:saas:applications`` directly. Under the
``saas`` profile that is the document at ``/`` too.

Hrefs are absolute, built from the URL the request reached (the samples
write absolute hrefs, and the host may change between steps): a client must
resolve and origin-check them, not assume they stay where it started.
"""

from __future__ import annotations

from typing import Final, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.simulator.profiles import Profile, dress
from adapters.simulator.replies import BodyKind, Reply


class _Server(Protocol):
    """What the discovery routes need of :class:`adapters.simulator.app.Simulator`.

    A protocol rather than the class, so that this module, which the app imports, does not import the app.
    """

    @property
    def profile(self) -> Profile: ...

    def _write(self, request: Request, reply: Reply) -> Response: ...

    def _authorize(self, request: Request) -> Response | None: ...

ROOT: Final = "/Autodiscover/AutodiscoverService.svc/root"
USER: Final = ROOT + "/oauth/user"
XFRAME: Final = "/Autodiscover/XFrame/XFrame.html"
SAAS_DISCOVER: Final = "/platformservice/discover"
#: A page with no script: the simulator has no cross-domain frame to offer.
_XFRAME_PAGE: Final = b"<!DOCTYPE html><title>XFrame</title><p>callfsm simulator: no cross-domain frame here.</p>\n"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def discovery_routes(simulator: _Server) -> list[Route]:
    """The discovery routes of ``simulator``'s profile."""
    profile = simulator.profile

    def links(request: Request, **rels: str) -> Reply:
        base = _base(request)
        document = {"_links": {rel: {"href": base + path} for rel, path in rels.items()}}
        return Reply(200, BodyKind.RESOURCE, dress(document, profile.rel_prefix))  # type: ignore[arg-type]

    async def root(request: Request) -> Response:
        if profile.push:
            reply = links(request, self=SAAS_DISCOVER, applications=profile.root)
        else:
            reply = links(request, self=ROOT, user=USER, xframe=XFRAME)
        return simulator._write(request, reply)

    async def user(request: Request) -> Response:
        refused = simulator._authorize(request)
        if refused is not None:
            return refused
        return simulator._write(request, links(request, self=USER, applications=profile.root, xframe=XFRAME))

    async def xframe(request: Request) -> Response:
        return Response(_XFRAME_PAGE, media_type="text/html")

    routes = [Route("/", root, methods=["GET"])]
    if profile.push:
        routes.append(Route(SAAS_DISCOVER, root, methods=["GET"]))
    else:
        routes.append(Route(ROOT, root, methods=["GET"]))
        routes.append(Route(USER, user, methods=["GET"]))
        routes.append(Route(XFRAME, xframe, methods=["GET"]))
    return routes
