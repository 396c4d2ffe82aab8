"""The simulator end to end: the Huawei Cloud Meeting API (App ID authentication, series, sub-meetings).

Driven over loopback HTTP by :class:`ucwa_doc_client.DocClient` (plain httpx, links
only). Expected states, reasons and shapes come from docs/protocol.md (section
numbers in each test) or from the simulator's documented [U] choices
(adapters/simulator/README.md), never from the code's output. Every stream is
also fed to the Dispatcher, as it arrives and again whole at the end.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import httpx

from adapters.simulator import SimulatorHandle

# -- Huawei ------------------------------------------------------------------------------------------------


def _sign(app_id: str, user_id: str, expire_time: int, nonce: str, app_key: str) -> str:
    """docs/protocol.md §7.1: HexEncode(HMAC-SHA256(appId:userId:expireTime:nonce, appKey))."""
    return hmac.new(app_key.encode(), f"{app_id}:{user_id}:{expire_time}:{nonce}".encode(), hashlib.sha256).hexdigest()


def test_huawei_app_id_authentication(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(base_url=ucwa_simulator.base_url, timeout=10)
    expire = int(time.time()) + 600
    nonce = secrets.token_hex(32)
    body = {
        "appId": ucwa_simulator.huawei_app_id,
        "clientType": 72,
        "expireTime": expire,
        "nonce": nonce,
        "userId": "u1",
    }
    good = _sign(ucwa_simulator.huawei_app_id, "u1", expire, nonce, ucwa_simulator.huawei_app_key)
    ok = http.post("/v2/usg/acs/auth/appauth", json=body, headers={"Authorization": f"HMAC-SHA256 signature={good}"})
    assert ok.status_code == 200
    token = ok.json()["accessToken"]
    assert ok.json()["expireTime"] > time.time()
    bad = http.post(
        "/v2/usg/acs/auth/appauth", json=body, headers={"Authorization": "HMAC-SHA256 signature=" + "0" * 64}
    )
    assert bad.status_code == 401
    assert set(bad.json()) == {"error_code", "error_msg"}  # docs/protocol.md §7.3 body
    ucwa_simulator.script.series("984697426")
    cancelled = http.delete(
        "/v1/mmc/management/cycleconferences", params={"conferenceID": "984697426"}, headers={"X-Access-Token": token}
    )
    assert cancelled.status_code == 200
    http.close()


def test_huawei_series_cancelled_and_held_one_refused_without_type_1(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(
        base_url=ucwa_simulator.base_url, timeout=10, headers={"X-Access-Token": ucwa_simulator.huawei_token}
    )
    script = ucwa_simulator.script
    script.series("984697426")
    script.series("555000111", held=True)
    path = "/v1/mmc/management/cycleconferences"
    # seed 004: 200 on success
    assert http.delete(path, params={"conferenceID": "984697426"}).status_code == 200
    # cancelled already: CONF_NOT_FOUND (docs/protocol.md §7.3)
    gone = http.delete(path, params={"conferenceID": "984697426"})
    assert gone.status_code == 400
    assert gone.json()["error_code"] == "MMC.111072065"
    # seed 004: by default a meeting that has been held cannot be cancelled
    refused = http.delete(path, params={"conferenceID": "555000111"})
    assert refused.status_code == 403
    assert set(refused.json()) == {"error_code", "error_msg"}
    assert http.delete(path, params={"conferenceID": "555000111", "type": "1"}).status_code == 200
    # X-Access-Token is required (seed 004): 401
    anonymous = httpx.delete(ucwa_simulator.base_url + path, params={"conferenceID": "555000111"})
    assert anonymous.status_code == 401
    http.close()


def test_huawei_sub_meetings(ucwa_simulator: SimulatorHandle) -> None:
    http = httpx.Client(
        base_url=ucwa_simulator.base_url, timeout=10, headers={"X-Access-Token": ucwa_simulator.huawei_token}
    )
    ucwa_simulator.script.series("777", sub_meetings=["s1", "s2", "s3"])
    ucwa_simulator.script.hold_series("777", sub_meeting="s2")
    path = "/v1/mmc/management/conferences/cyclesubconf"
    assert (
        http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s1"]}).status_code
        == 200
    )
    assert (
        http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s1"]}).status_code
        == 400
    )
    held = http.request("DELETE", path, params={"conferenceID": "777"}, json={"cycleSubConfIDs": ["s2"]})
    assert held.status_code == 403
    ok = http.request("DELETE", path, params={"conferenceID": "777", "type": "1"}, json={"cycleSubConfIDs": ["s2"]})
    assert ok.status_code == 200
    detail = http.get("/v1/mmc/management/conferences/confDetail", params={"conferenceID": "777"}).json()
    assert detail["conferenceData"]["conferenceState"] == "Created"  # held (docs/protocol.md §7.2)
    assert [s["cycleSubConfID"] for s in detail["conferenceData"]["subConfs"]] == ["s3"]
    http.close()
