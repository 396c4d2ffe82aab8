"""The simulator holds hostile input: 4xx for anything a client can send, never a 500 or a traceback.

Against the running simulator on 127.0.0.1, real HTTP. Each rule, and why:

- a server answers bad input with 4xx; a 500 says the server broke (the
  project's rule, and HTTP's: 5xx is the server's fault);
- credentials are checked before the body is read, so a client without them
  cannot make the server buffer anything: the 401 comes while the client has
  not sent a byte of the body it announced;
- a request whose head never ends would hold a connection for good: the
  simulator closes it (uvicorn has no such timeout of its own);
- with two ``Authorization`` headers no server should pick one: 400;
- in "any token" mode each token is its own party: an application belongs to
  the token that created it (another token gets 404, as for an application
  that does not exist), and its id cannot be guessed.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from adapters.simulator import SimulatorConfig
from adapters.simulator.app import SimulatorHandle, serve

APPAUTH = "/v2/usg/acs/auth/appauth"
SUBCONF = "/v1/mmc/management/conferences/cyclesubconf"
CREATE = {"UserAgent": "hardening/1.0", "EndpointId": "e-1", "Culture": "en-US"}
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorHandle]:
    with serve(SimulatorConfig(pget_timeout=1.0), header_timeout=1.0) as handle:
        yield handle


@pytest.fixture(scope="module")
def any_token_sim() -> Iterator[SimulatorHandle]:
    with serve(SimulatorConfig(pget_timeout=1.0), accept_any_token=True) as handle:
        yield handle


def root(sim: SimulatorHandle) -> str:
    """Where this simulator's profile creates applications."""
    return sim.applications_url.removeprefix(sim.base_url)


def http(sim: SimulatorHandle, token: str | bytes | None = None) -> httpx.Client:
    headers: dict[str, str | bytes] = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = (b"Bearer " + token) if isinstance(token, bytes) else f"Bearer {token}"
    return httpx.Client(base_url=sim.base_url, headers=headers, timeout=15.0)


@contextlib.contextmanager
def raw(sim: SimulatorHandle) -> Iterator[socket.socket]:
    host, port = sim.base_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        yield conn


def read_some(conn: socket.socket) -> bytes:
    """What the server sends before it closes or pauses (a socket timeout means it sent nothing: fails)."""
    return conn.recv(65536)


# -- tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["bérénice".encode(), "日本".encode(), b"\xff\xfe"], ids=["latin", "cjk", "bytes"])
def test_a_non_ascii_bearer_token_is_refused_not_a_500(sim: SimulatorHandle, token: bytes) -> None:
    with http(sim, token) as client:
        assert client.post(root(sim), json=CREATE).status_code == 401
        assert client.get(f"{root(sim)}/101/events").status_code == 401


def test_a_non_ascii_token_is_a_token_like_any_other_in_any_token_mode(any_token_sim: SimulatorHandle) -> None:
    with http(any_token_sim, "bérénice".encode()) as client:
        created = client.post(root(any_token_sim), json=CREATE)
        assert created.status_code == 201
        assert client.get(created.headers["location"]).status_code == 200


@pytest.mark.parametrize("order", ["good first", "bad first"])
def test_two_authorization_headers_are_refused_whichever_comes_first(sim: SimulatorHandle, order: str) -> None:
    good, bad = f"Bearer {sim.token}", "Bearer cwt=someone-else"
    pair = [good, bad] if order == "good first" else [bad, good]
    headers = httpx.Headers([("Authorization", pair[0]), ("Authorization", pair[1]), ("Accept", "application/json")])
    with httpx.Client(base_url=sim.base_url, timeout=15.0) as client:
        assert client.post(root(sim), json=CREATE, headers=headers).status_code == 400


def test_two_access_token_headers_on_huawei_are_refused(sim: SimulatorHandle) -> None:
    headers = httpx.Headers([("X-Access-Token", sim.huawei_token), ("X-Access-Token", "other")])
    with httpx.Client(base_url=sim.base_url, timeout=15.0) as client:
        answer = client.delete(
            "/v1/mmc/management/cycleconferences", params={"conferenceID": "1"}, headers=headers
        )
    assert answer.status_code == 400


# -- bodies -----------------------------------------------------------------------------------------------


def test_a_deeply_nested_create_application_body_is_a_400(sim: SimulatorHandle) -> None:
    with http(sim, sim.token) as client:
        answer = client.post(root(sim), content=DEEP, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400


def test_a_deeply_nested_appauth_body_is_a_400(sim: SimulatorHandle) -> None:
    headers = {"Authorization": "HMAC-SHA256 signature=00", "Content-Type": "application/json"}
    with httpx.Client(base_url=sim.base_url, timeout=15.0) as client:
        assert client.post(APPAUTH, content=DEEP, headers=headers).status_code == 400


def test_a_deeply_nested_cyclesubconf_body_is_a_400(sim: SimulatorHandle) -> None:
    sim.script.series("deep-1", sub_meetings=["s1"])
    headers = {"X-Access-Token": sim.huawei_token, "Content-Type": "application/json"}
    with httpx.Client(base_url=sim.base_url, timeout=15.0) as client:
        answer = client.request("DELETE", SUBCONF, params={"conferenceID": "deep-1"}, content=DEEP, headers=headers)
    assert answer.status_code == 400


def test_brackets_inside_strings_do_not_count_as_nesting(sim: SimulatorHandle) -> None:
    # a legitimate body whose text holds many brackets: nesting is about structure, not characters
    body = {**CREATE, "UserAgent": "[" * 90}
    with http(sim, sim.token) as client:
        assert client.post(root(sim), json=body).status_code == 201


def test_an_oversized_body_is_refused(sim: SimulatorHandle) -> None:
    with http(sim, sim.token) as client:
        answer = client.post(root(sim), content=b" " * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_credentials_are_checked_before_the_body_is_read(sim: SimulatorHandle) -> None:
    # the head announces 1 MiB and no body follows: a server that reads the body first waits for it
    head = f"POST {root(sim)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
    with raw(sim) as conn:
        conn.sendall(head.encode())
        answer = read_some(conn)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]


def test_a_huawei_token_is_checked_before_the_body_is_read(sim: SimulatorHandle) -> None:
    head = (
        f"DELETE {SUBCONF}?conferenceID=1 HTTP/1.1\r\nHost: x\r\nX-Access-Token: wrong\r\n"
        "Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"
    )
    with raw(sim) as conn:
        conn.sendall(head.encode())
        answer = read_some(conn)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:80]


# -- slow headers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"], ids=["nothing", "half a head"])
def test_a_request_head_that_never_ends_is_closed(sim: SimulatorHandle, sent: bytes) -> None:
    # the fixture's header timeout is 1 s; the socket waits up to 10 s for the server to close
    with raw(sim) as conn:
        conn.sendall(sent)
        assert read_some(conn) == b""  # closed by the server, unanswered


def test_a_keep_alive_connection_is_still_served_after_a_first_request(sim: SimulatorHandle) -> None:
    # the deadline is per request head: a quick client on one connection is never cut off
    with http(sim, sim.token) as client:
        for _ in range(3):
            assert client.post(root(sim), json=CREATE).status_code == 201


# -- any-token mode: ownership and ids ---------------------------------------------------------------------


def test_an_application_belongs_to_the_token_that_created_it(any_token_sim: SimulatorHandle) -> None:
    with http(any_token_sim, "cwt=alice") as alice, http(any_token_sim, "cwt=mallory") as mallory:
        created = alice.post(root(any_token_sim), json=CREATE)
        assert created.status_code == 201
        href = created.headers["location"]
        events = created.json()["_links"]["events"]["href"]
        # read, drain, act on, delete: none of it for another token, which cannot even tell it exists
        assert mallory.get(href).status_code == 404
        assert mallory.get(events).status_code == 404
        assert mallory.post(f"{href}/communication/makeMeAvailable", json={}).status_code == 404
        assert mallory.delete(href).status_code == 404
        assert alice.get(href).status_code == 200
        assert alice.delete(href).status_code == 204


def test_application_ids_cannot_be_guessed_in_any_token_mode(any_token_sim: SimulatorHandle) -> None:
    with http(any_token_sim, "cwt=alice") as alice:
        ids = [alice.post(root(any_token_sim), json=CREATE).headers["location"].rsplit("/", 1)[1] for _ in range(3)]
    # 128 random bits each (32 hex digits), all different: no counter to step along
    assert all(re.fullmatch(r"[0-9a-f]{32}", ident) for ident in ids), ids
    assert len(set(ids)) == 3


# -- anything at all ------------------------------------------------------------------------------------------

PATHS = st.sampled_from(
    [
        "{root}",
        "/ucwa/oauth/v1/applications",
        "{root}/101",
        "{root}/101/events",
        "{root}/101/communication/startAudioVideo",
        "{root}/101/communication/makeMeAvailable",
        APPAUTH,
        "/v1/mmc/management/cycleconferences",
        SUBCONF,
        "/v1/mmc/management/conferences/confDetail",
        "/nowhere",
    ]
)
AUTH = st.one_of(
    st.none(),
    st.just("good"),
    st.binary(max_size=40).map(lambda b: b"Bearer " + b.replace(b"\r", b"").replace(b"\n", b"")),
    st.text(max_size=20).map(lambda t: ("Bearer " + t).encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")),
    st.just("twice"),
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.just(DEEP),
    st.integers(1, 5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=20,
    ).map(lambda doc: json.dumps(doc).encode()),
    st.fixed_dictionaries({"UserAgent": st.text(max_size=200), "EndpointId": st.text(max_size=5)}).map(
        lambda doc: json.dumps(doc).encode()
    ),
)
TYPES = st.sampled_from(
    ["application/json", "application/vnd.microsoft.com.ucwa+xml", "text/plain", "multipart/related", ""]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=PATHS,
    auth=AUTH,
    body=BODIES,
    content_type=TYPES,
    query=st.sampled_from(["", "conferenceID=1", "conferenceID=%FF&type=9", "ack=\u00e9", "timeout=-1"]),
)
def test_no_request_gets_a_server_error(  # noqa: PLR0917 - hypothesis passes each drawn value by name
    sim: SimulatorHandle, method: str, path: str, auth: str | bytes | None, body: bytes, content_type: str, query: str
) -> None:
    path = path.format(root=root(sim))
    headers: list[tuple[str, str | bytes]] = [("Accept", "application/json"), ("Content-Type", content_type)]
    if auth == "good":
        headers.append(("Authorization", f"Bearer {sim.token}"))
    elif auth == "twice":
        headers += [("Authorization", f"Bearer {sim.token}"), ("Authorization", "Bearer x")]
    elif isinstance(auth, bytes):
        headers.append(("Authorization", auth))
    headers.append(("X-Access-Token", sim.huawei_token))
    with httpx.Client(base_url=sim.base_url, timeout=15.0) as client:
        try:
            answer = client.request(method, path + (f"?{query}" if query else ""), content=body, headers=headers)
        except httpx.LocalProtocolError:
            assume(False)  # the client itself will not send it (a header value h11 calls illegal): nothing to learn
            return
    assert answer.status_code < 500, (method, path, answer.status_code, answer.text[:200])
