"""``callfsm simulate``: serve the UCWA / Huawei simulator on loopback.

Theory of operation
-------------------
Builds a :class:`~adapters.simulator.state.SimulatorConfig` from the options
and the scenario file (``--seed`` wins over the file's ``seed``), binds the
socket itself (so a busy port or a refused host is one clear line, exit 2),
and runs the app under uvicorn in the foreground until interrupted.

Only loopback hosts are accepted (127.0.0.1, ::1, localhost): the simulator
has fixed Huawei credentials, accepts any bearer token unless ``--token`` is
given, and speaks plain HTTP.

Each request and each event is logged on stderr, one line each (logger
``callfsm.simulator``); tokens, signatures and bodies never are.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys

import uvicorn

from adapters.cli import CliError
from adapters.simulator.app import NotLoopback, check_loopback, create_app
from adapters.simulator.script import ScenarioError, load_scenario
from adapters.simulator.state import UCWA_ROOTS, SimulatorConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--scenario", metavar="FILE", help="scenario file (YAML or JSON, see scenario.schema.json)")
    parser.add_argument("--seed", type=int, help="seed of the fault injection (default: the scenario's, else 0)")
    parser.add_argument("--token", help="require this bearer token (default: accept any non-empty one)")
    parser.add_argument(
        "--pget-timeout", type=float, default=180.0, help="P-GET hold when the client sends no timeout (default 180 s)"
    )


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    logger = logging.getLogger("callfsm.simulator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


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
        config = SimulatorConfig(token=args.token, seed=args.seed or 0, pget_timeout=args.pget_timeout)
        if scenario is not None:
            config.use_scenario(scenario, seed=args.seed)
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
    print(
        f"callfsm simulator on http://{shown}:{port} "
        f"(create an application: POST {UCWA_ROOTS[0]}; {auth}; seed {seed})",
        file=sys.stderr,
        flush=True,
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0
