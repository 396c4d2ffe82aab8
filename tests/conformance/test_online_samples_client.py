"""A client written from Microsoft's Skype for Business Online samples, literally, against the ``online`` profile.

The client below knows nothing of callfsm: plain httpx and the steps of the
Online task samples (OfficeDev/skype-docs ``Skype/UCWA/CreateAnApplication.md``,
``ReceiveAnIM.md``, ``SendAnIM.md``; docs/protocol.md §2.1, §2.2):

1. POST ``/ucwa/oauth/v1/applications`` with ``UserAgent``, ``EndpointId``, ``Culture``;
2. POST ``{application}/me/makeMeAvailable``, the URL hard-coded as the samples
   print it (not read from a link);
3. P-GET the ``events`` link, then ``next``; handle each answer's events in page
   order, as a sample client does:
   - a ``messagingInvitation`` ``started`` (Incoming) is remembered by its
     conversation, and accepted at once through the invitation's own ``accept`` link;
   - a ``conversation`` ``added`` looks up the invitation of that conversation:
     the ReceiveAnIM sample sends the invitation's ``started`` first, so a client
     that relies on that order finds it (an unknown conversation is a failure here);
   - the messaging modality's ``updated`` gives ``sendMessage``;
   - a ``message`` event's ``plainMessage`` data: link is the text.

The simulator is the real command (``python -m adapters.cli simulate --profile
online``) with a scenario file: nothing of the server is changed for this client.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "cwt=online-samples-client"
APPLICATIONS = "/ucwa/oauth/v1/applications"
SCENARIO = """\
profile: online
steps:
  - incoming_call: {name: Lene Aaling, uri: "sip:lenea@contoso.com", kind: messaging, message: "Hi Tosh\\r\\n"}
"""


class SamplesClient:
    """The Online samples' steps, with no knowledge of the server beyond them."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"}, timeout=10.0
        )
        self.app_href = ""
        self.events_href = ""
        #: conversation href -> the invitation started in it
        self.invitations: dict[str, dict[str, Any]] = {}
        self.order_failures: list[str] = []
        self.accepted: list[int] = []
        self.connected = False
        self.send_message = ""
        self.texts: list[str] = []

    def create_application(self) -> None:
        response = self.http.post(
            APPLICATIONS,
            json={"UserAgent": "UCWA Samples", "EndpointId": "a917c6f4-976c-4cf3", "Culture": "en-US"},
        )
        assert response.status_code == 201, response.text
        app = response.json()
        self.app_href = app["_links"]["self"]["href"]
        self.events_href = app["_links"]["events"]["href"]

    def make_me_available(self) -> int:
        response = self.http.post(
            self.app_href + "/me/makeMeAvailable",
            json={"SupportedModalities": ["Messaging"]},
        )
        return response.status_code

    def poll(self) -> None:
        response = self.http.get(self.events_href)  # the link as given: the samples add no parameter
        assert response.status_code == 200, response.text
        page = response.json()
        self.events_href = page["_links"]["next"]["href"]
        for sender in page.get("sender", []):
            for event in sender["events"]:
                self.handle(event)

    def handle(self, event: dict[str, Any]) -> None:
        rel, kind = event["link"]["rel"], event["type"]
        resource = event.get("_embedded", {}).get(rel, {})
        links = resource.get("_links", {})
        if rel == "messagingInvitation" and kind == "started" and resource.get("direction") == "Incoming":
            self.invitations[links["conversation"]["href"]] = resource
            self.accepted.append(self.http.post(links["accept"]["href"]).status_code)
        elif rel == "conversation" and kind == "added":
            if event["link"]["href"] not in self.invitations:
                self.order_failures.append(f"conversation {event['link']['href']} added before its invitation")
        elif rel == "messagingInvitation" and kind == "completed":
            self.connected = event.get("status") == "Success" and resource.get("state") == "Connected"
        elif rel == "messaging" and kind == "updated" and "sendMessage" in links:
            self.send_message = links["sendMessage"]["href"]
        elif rel == "message" and kind == "completed":
            data = links["plainMessage"]["href"]
            self.texts.append(urllib.parse.unquote_plus(data.partition(",")[2]))


def _serve(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    scenario = tmp_path / "online.yaml"
    scenario.write_text(SCENARIO)
    log = tmp_path / "simulate.log"
    command = [sys.executable, "-m", "adapters.cli", "simulate", "--port", "0", "--token", TOKEN]
    # a 1 s hold instead of the documented 180 s default, so that a quiet poll ends soon
    command += ["--profile", "online", "--scenario", str(scenario), "--pget-timeout", "1"]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=sink, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        match = re.search(r"http://127\.0\.0\.1:(\d+)", log.read_text())
        if match:
            return process, f"http://127.0.0.1:{match.group(1)}", log
        time.sleep(0.05)
    process.terminate()
    raise AssertionError("callfsm simulate printed no address")


def test_online_samples_client_accepts_an_incoming_im(tmp_path: Path) -> None:
    process, base, log = _serve(tmp_path)
    client = SamplesClient(base)
    try:
        for _ in range(100):
            try:
                client.create_application()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert client.make_me_available() == 204  # the samples' URL, as printed
        for _ in range(20):
            client.poll()
            if client.texts:
                break
        assert client.order_failures == []
        assert client.accepted == [204]
        assert client.connected
        assert client.texts == ["Hi Tosh\r\n"]
        # SendAnIM: POST the text to sendMessage, answered 201 Created
        reply = client.http.post(client.send_message, content=b"Hi Lene", headers={"Content-Type": "text/plain"})
        assert reply.status_code == 201
        assert reply.headers["location"].startswith(client.send_message)
    finally:
        client.http.close()
        process.terminate()
        process.wait(timeout=15)
    assert "POST /ucwa/oauth/v1/applications -> 201" in log.read_text()
