"""``callfsm simulate``: serve the UCWA / Huawei simulator on loopback.

Theory of operation
-------------------
Builds a :class:`~adapters.simulator.config.SimulatorConfig` from the options
and the scenario file (``--seed`` wins over the file's ``seed``), binds the
socket itself (so a busy port or a refused host is one clear line, exit 2),
and runs the app under uvicorn in the foreground until interrupted.

Only loopback hosts are accepted (127.0.0.1, ::1, localhost): the simulator
has fixed Huawei credentials, accepts any bearer token unless ``--token`` is
given, and speaks plain HTTP.

Each request and each event is logged on stderr, one line each (logger
``callfsm.simulator``); tokens, signatures and bodies never are. ``--trace
PATH`` also writes the server's view as a trace (docs/trace.md): each request
received with the response sent, each event-channel answer; credentials
redacted. ``callfsm replay PATH`` reads it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import secrets
import socket
import sys
from collections.abc import Iterator

import uvicorn

from adapters.cli import CliError
from adapters.routing.trace import TraceWriter
from adapters.simulator.app import NotLoopback, Simulator, check_loopback, create_app, uvicorn_config
from adapters.simulator.config import SimulatorConfig
from adapters.simulator.profiles import DEFAULT_PROFILE, Completion, EventShape, ProfileName, profile_of
from adapters.simulator.script import ScenarioError, load_scenario


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--scenario", metavar="FILE", help="scenario file (YAML or JSON, see scenario.schema.json)")
    parser.add_argument("--seed", type=int, help="seed of the fault injection (default: the scenario's, else 0)")
    parser.add_argument("--token", help="require this bearer token (default: accept any non-empty one)")
    parser.add_argument(
        "--pget-timeout", type=float, default=180.0, help="P-GET hold when the client sends no timeout (default 180 s)"
    )
    parser.add_argument(
        "--profile",
        choices=[m.value for m in ProfileName],
        help=f"server to play (default: the scenario's, else {DEFAULT_PROFILE.value}; adapters/simulator/README.md)",
    )
    parser.add_argument(
        "--events",
        choices=[m.value for m in EventShape],
        help="event shape: resource embedded (SDK recordings) or links only (documentation samples); default embedded",
    )
    parser.add_argument(
        "--completion",
        choices=[m.value for m in Completion],
        help="how invitations end: a completed event, or an updated to a final state; default event",
    )
    parser.add_argument(
        "--callback-url", help="saas: POST events to this loopback URL instead of serving them to a P-GET"
    )
    parser.add_argument(
        "--callback-format", choices=["json", "multipart"], default="json", help="saas callback body (default json)"
    )
    parser.add_argument(
        "--trace",
        metavar="PATH",
        help="write the server's trace there (docs/trace.md: each request and response, each event answer)",
    )


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("callfsm.simulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


@contextlib.contextmanager
def _server_trace(simulator: Simulator, path: str | None) -> Iterator[None]:
    """The server's trace to ``path`` while the server runs (none without ``--trace``)."""
    if path is None:
        yield
        return
    try:
        simulator.trace = TraceWriter(path, role="server")
    except OSError as exc:
        raise CliError(f"--trace {path!r}: cannot write: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        simulator.trace.close()


def run(args: argparse.Namespace) -> int:
    try:
        host = check_loopback(args.host)
    except NotLoopback as exc:
        raise CliError(str(exc)) from None
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be 0 to 65535, got {args.port}")
    scenario = None
    if args.scenario:
        try:
            scenario = load_scenario(args.scenario)
        except ScenarioError as exc:
            raise CliError(str(exc)) from None
    try:
        switches = {
            name: value
            for name in ("profile", "events", "completion")
            if (value := getattr(args, name, None)) is not None
        }
        callback = getattr(args, "callback_url", None)
        config = SimulatorConfig(
            token=args.token,
            seed=args.seed or 0,
            pget_timeout=args.pget_timeout,
            callback_token=secrets.token_urlsafe(24) if callback else None,
            callback_format=getattr(args, "callback_format", "json"),
        )
        if scenario is not None:
            config.use_scenario(scenario, seed=args.seed)
        for name, value in switches.items():  # the command line wins over the scenario file
            setattr(config, name, value)
        config.callback_url = callback
        config.check_profile()
        seed = config.seed
        app = create_app(config)
    except (ValueError, ScenarioError) as exc:
        raise CliError(str(exc)) from None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY: see simulator/app.py
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, args.port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}") from None
    _configure_logging()
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    auth = "bearer token as given by --token" if args.token else "any bearer token"
    profile = profile_of(config.profile)
    print(
        f"callfsm simulator on http://{shown}:{port} "
        f"(profile {profile.name.value}, events {config.events.value}, completion {config.completion.value}; "
        f"discovery: GET http://{shown}:{port}/, or create an application: POST {profile.root}; {auth}; seed {seed})",
        file=sys.stderr,
        flush=True,
    )
    for app_id, app_key in config.huawei_apps.items():
        # fixed, public simulator credentials: printed so the Huawei client needs no source reading
        print(f"Huawei App ID {app_id}, app key {app_key} (POST /v2/usg/acs/auth/appauth)", file=sys.stderr, flush=True)
    if config.callback_url:
        print(
            f"events go to {config.callback_url} ({config.callback_format}), "
            f"Authorization: Bearer {config.callback_token}",
            file=sys.stderr,
            flush=True,
        )
    server = uvicorn.Server(uvicorn_config(app))  # with the header read deadline, as in tests
    try:
        with _server_trace(app.state.simulator, getattr(args, "trace", None)):
            server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
