#!/usr/bin/env python3
"""The scripted scenario of docs/workflow.md, run by `make test` (ctest: workflow.scenario).

Starts `yiwang serve` on a fresh data dir and walks every path of the case workflow through the
public interfaces only (WebSocket ingest, the JSON API with per-role API tokens):

  1. a septic-tank gas alarm becomes a case that is accepted and transferred automatically;
     repeats fold into it; it cannot close until the gas is back to normal
  2. a patrol case: 受理 -> 转办 to the wrong department -> 回退 -> 转办 -> 延期 (request,
     approve) -> 处置 -> 核查 fail (返工) -> 处置 -> 核查 pass -> 结案 -> reopen -> ... -> 结案
  3. 不予立案 (reject); 挂账 (park) and unpark; a denied extension
  3b. citizens: a report, a second one nearby joins it (附议), both tracking codes follow the
     case to its close; a "not fixed" rating reopens it
  4. what may not happen: 403 for a role, 409 with the allowed actions, 400 for a missing reason
  5. KPIs (考核) count it all; the live feed is not needed here (see the browser tests)
  6. after a stop, `yiwang audit verify` replays every journal and finds nothing wrong

Usage: workflow_scenario.py BUILD_DIR   (exit 0: every step as expected)
Only the Python standard library; prints each step.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
YIWANG = os.path.join(BUILD, "yiwang")
STEP = [0]


def step(text):
    STEP[0] += 1
    print(f"[{STEP[0]:02d}] {text}", flush=True)


def fail(text):
    print(f"FAILED: {text}", flush=True)
    sys.exit(1)


def expect(cond, text):
    if not cond:
        fail(text)


class Server:
    def __init__(self, data_dir):
        self.data_dir = data_dir
        ready = os.path.join(data_dir, "..", "ready")
        if os.path.exists(ready):
            os.remove(ready)
        self.proc = subprocess.Popen(
            [YIWANG, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
             "--ready-file", ready, "--log-level", "warn"])
        for _ in range(300):
            if os.path.exists(ready) and open(ready).read().endswith("\n"):
                break
            if self.proc.poll() is not None:
                fail("server exited at start")
            time.sleep(0.05)
        self.url = open(ready).read().strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self.admin = open(os.path.join(data_dir, "bootstrap-admin.token")).read().split()[0]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        expect(self.proc.wait(timeout=30) == 0, "graceful stop exits 0")


def call(srv, method, path, token, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.url + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ok(srv, method, path, token, body=None, status=200):
    got, js = call(srv, method, path, token, body)
    expect(got == status, f"{method} {path} {body}: want {status}, got {got} {js}")
    return js


def public(srv, method, path, body=None):
    """A citizen's request: no credentials."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, json.loads(res.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def act(srv, case_id, token, action, **fields):
    return ok(srv, "POST", f"/api/v1/cases/{case_id}/transitions", token,
              dict(action=action, **fields))


def ws_send(srv, token, text):
    """One JSON text frame over a WebSocket (RFC 6455, client frames masked); returns the ack."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/sensors HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    expect(head.startswith(b"HTTP/1.1 101"), f"upgrade refused: {head[:80]!r}")
    payload = text.encode()
    mask = os.urandom(4)
    frame = bytearray([0x81])
    n = len(payload)
    if n < 126:
        frame.append(0x80 | n)
    elif n < 65536:
        frame += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        frame += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    frame += mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    s.sendall(frame)

    def read_exact(k):
        buf = b""
        while len(buf) < k:
            chunk = s.recv(k - len(buf))
            expect(chunk, "connection closed before the ack")
            buf += chunk
        return buf
    h = read_exact(2)
    n = h[1] & 0x7F
    if n == 126:
        n = int.from_bytes(read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(read_exact(8), "big")
    ack = json.loads(read_exact(n))
    s.close()
    return ack


def gas_frame(device, first_seq, readings):
    """readings: [(seconds ago, ch4 %LEL)]"""
    now = datetime.now(timezone.utc)
    events = []
    for i, (ago, ch4) in enumerate(readings):
        t = (now - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        events.append({"deviceId": device, "seq": str(first_seq + i), "observedAt": t,
                       "location": {"lat": 29.5575, "lon": 106.5770},
                       "septicTankGas": {"ch4PercentLel": ch4, "h2sPpm": 1.0, "nh3Ppm": 2.0}})
    return json.dumps({"events": events})


def wait_for(fn, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    fail("timed out waiting for " + what)


def main():
    tmp = tempfile.mkdtemp(prefix="yiwang-workflow-")
    data = os.path.join(tmp, "data")
    srv = Server(data)
    admin = srv.admin

    step("users, one per role, each with an API token (the admin users API)")
    users = {
        "disp": {"role": "dispatcher"},
        "cg-yuzhong": {"role": "department", "department": "cgj-500103"},
        "cg-jiangbei": {"role": "department", "department": "cgj-500105"},
        "hw-yuzhong": {"role": "department", "department": "hw-500103"},
        "sup": {"role": "supervisor"},
        "boss": {"role": "leader"},
    }
    tok = {}
    for name, u in users.items():
        ok(srv, "POST", "/api/v1/admin/users", admin,
           dict(username=name, password="correct horse battery", **u), status=201)
        tok[name] = ok(srv, "POST", f"/api/v1/admin/users/{name}/tokens", admin, {}, 201)["token"]

    # --- 1. sensor alarm ----------------------------------------------------------------------
    step("a septic-tank gas sensor in 渝中区 reports CH4 >= 25 %LEL for over 60 s")
    dev = ok(srv, "POST", "/api/v1/admin/device-tokens", admin,
             {"name": "workflow-gw", "devicePrefix": "wf-"}, 201)["token"]
    device = "wf-septic-500103-0001"
    ack = ws_send(srv, dev, gas_frame(device, 1, [(130, 31), (100, 31), (65, 32)]))
    expect(ack.get("accepted") == 3, f"ack {ack}")
    sensor_cases = wait_for(
        lambda: ok(srv, "GET", "/api/v1/cases?source=sensor", tok["disp"])["cases"],
        "the alarm's case")
    expect(len(sensor_cases) == 1, f"one case, got {sensor_cases}")
    gas = sensor_cases[0]["id"]
    c = ok(srv, "GET", f"/api/v1/cases/{gas}", tok["disp"])
    expect(c["case"]["state"] == "CASE_STATE_HANDLING", c["case"]["state"])
    expect(c["case"]["department"] == "hw-500103", c["case"]["department"])
    step(f"case {gas}: filed, accepted and transferred to hw-500103 by the system "
         f"({[e['action'] for e in c['timeline']]})")

    step("the gas stays high: repeats update the case, never a second case")
    ws_send(srv, dev, gas_frame(device, 4, [(-1, 33)]))
    time.sleep(0.5)
    expect(len(ok(srv, "GET", "/api/v1/cases?source=sensor", tok["disp"])["cases"]) == 1,
           "still one case")

    step("the department reports it handled; the supervisor cannot close while the gas is high")
    act(srv, gas, tok["hw-yuzhong"], "report_handled", note="通风、排查泄漏点",
        evidence=["photo:site-1"])
    act(srv, gas, tok["sup"], "verify_pass")
    got, js = call(srv, "POST", f"/api/v1/cases/{gas}/transitions", tok["sup"],
                   {"action": "close"})
    expect(got == 400 and "telemetry" in js["error"]["message"], f"{got} {js}")

    step("readings back to normal for 60 s: the alarm clears and the case closes")
    ws_send(srv, dev, gas_frame(device, 5, [(-2, 5), (-40, 4), (-70, 4)]))
    wait_for(lambda: ok(srv, "GET", f"/api/v1/cases/{gas}", tok["sup"])["case"]
             .get("telemetryNormal"), "telemetry back to normal")
    c = act(srv, gas, tok["sup"], "close")
    expect(c["case"]["state"] == "CASE_STATE_CLOSED", c["case"]["state"])

    # --- 2. a patrol case through every detour ------------------------------------------------
    step("a patrol inspector's case in 渝中区 (filed by the dispatcher)")
    c = ok(srv, "POST", "/api/v1/cases", tok["disp"],
           {"category": "event:0111", "description": "较场口路段积水约 20 cm", "district": "500103",
            "source": "patrol", "location": {"lat": 29.5530, "lon": 106.5750}}, 201)
    p = c["case"]["id"]
    act(srv, p, tok["disp"], "accept", note="核实属实")
    step("转办 to the wrong department; it returns the case (回退)")
    act(srv, p, tok["disp"], "transfer", department="cgj-500105")
    got, js = call(srv, "GET", f"/api/v1/cases/{p}", tok["cg-yuzhong"])
    expect(got == 404, "another department does not see it")
    act(srv, p, tok["cg-jiangbei"], "return", note="不属于江北区辖区")
    step("re-transfer to 渝中区城管局; it asks for more time (延期), the command centre approves")
    act(srv, p, tok["disp"], "transfer", department="cgj-500103")
    act(srv, p, tok["cg-yuzhong"], "request_extension", note="需调用抽水设备",
        extensionSeconds=7200)
    c = act(srv, p, tok["disp"], "approve_extension")
    expect(c["case"]["extensionCount"] == 1, c["case"])
    step("handled; 核查 fails (返工); handled again; 核查 passes; 结案")
    act(srv, p, tok["cg-yuzhong"], "report_handled", note="已抽排", evidence=["photo:after-1"])
    act(srv, p, tok["sup"], "verify_fail", note="仍有积水")
    act(srv, p, tok["cg-yuzhong"], "report_handled", note="疏通雨水箅子", evidence=["photo:after-2"])
    act(srv, p, tok["sup"], "verify_pass")
    c = act(srv, p, tok["sup"], "close")
    expect(c["case"]["state"] == "CASE_STATE_CLOSED", c["case"]["state"])
    step("reopened (a citizen called back), handled and closed again")
    act(srv, p, tok["sup"], "reopen", note="市民反映仍积水")
    act(srv, p, tok["cg-yuzhong"], "report_handled", note="更换箅子", evidence=["photo:after-3"])
    act(srv, p, tok["sup"], "verify_pass")
    act(srv, p, tok["sup"], "close")
    timeline = ok(srv, "GET", f"/api/v1/cases/{p}", tok["boss"])["timeline"]
    print("     timeline:", " -> ".join(e["action"].removeprefix("CASE_ACTION_").lower()
                                         for e in timeline))

    # --- 3. rejection, parking, a denied extension --------------------------------------------
    step("不予立案: a report outside the platform's remit")
    r = ok(srv, "POST", "/api/v1/cases", tok["disp"],
           {"category": "event:0111", "description": "小区内部积水", "district": "500103"},
           201)["case"]["id"]
    c = act(srv, r, tok["disp"], "reject", note="属物业管理范围")
    expect(c["case"]["state"] == "CASE_STATE_REJECTED", c["case"]["state"])
    step("挂账 with a reason and back; an extension denied")
    k = ok(srv, "POST", "/api/v1/cases", tok["disp"],
           {"category": "event:0111", "description": "施工路段积水", "district": "500103"},
           201)["case"]["id"]
    act(srv, k, tok["disp"], "accept")
    act(srv, k, tok["disp"], "transfer", department="cgj-500103")
    c = act(srv, k, tok["disp"], "park", note="待施工结束")
    expect(c["case"]["state"] == "CASE_STATE_PARKED" and c["sla"]["paused"], c)
    c = act(srv, k, tok["disp"], "unpark")
    expect(c["case"]["state"] == "CASE_STATE_HANDLING", c["case"]["state"])
    act(srv, k, tok["cg-yuzhong"], "request_extension", note="设备故障", extensionSeconds=3600)
    act(srv, k, tok["disp"], "deny_extension", note="请按期处置")

    # --- 3b. citizens --------------------------------------------------------------------------
    step("a citizen reports a waterlogged road near 解放碑 (no account: a tracking code)")
    got, r1 = public(srv, "POST", "/api/v1/reports",
                     {"category": "event:0111", "description": "解放碑步行街路口积水",
                      "location": {"lat": 29.5575, "lon": 106.5770}, "contact": "13800000000"})
    expect(got == 201 and not r1["linked"], f"{got} {r1}")
    c = ok(srv, "GET", f"/api/v1/cases/{r1['caseId']}", tok["disp"])
    expect(c["case"]["district"] == "500103" and c["case"]["source"] == "SOURCE_CITIZEN", c["case"])
    step("a second citizen 80 m away reports the same: it joins the open case (附议)")
    got, r2 = public(srv, "POST", "/api/v1/reports",
                     {"category": "event:0111", "description": "这里也积水",
                      "location": {"lat": 29.5582, "lon": 106.5773}})
    expect(got == 201 and r2["linked"] and r2["caseId"] == r1["caseId"], f"{got} {r2}")
    cid = r1["caseId"]
    step("the case runs: 受理, 转办, 处置, 核查, 结案; both tracking pages follow it")
    act(srv, cid, tok["disp"], "accept")
    act(srv, cid, tok["disp"], "transfer", department="cgj-500103")
    act(srv, cid, tok["cg-yuzhong"], "report_handled", note="已疏通排水口", evidence=["photo:x"])
    act(srv, cid, tok["sup"], "verify_pass")
    act(srv, cid, tok["sup"], "close")
    for code in (r1["trackingCode"], r2["trackingCode"]):
        got, t = public(srv, "GET", f"/api/v1/track/{code}")
        expect(got == 200 and t["state"] == "CASE_STATE_CLOSED", f"{got} {t}")
        expect("13800000000" not in json.dumps(t), "the contact is never public")
    step("the first citizen rates it 'not fixed': the case is reopened to the department")
    got, t = public(srv, "POST", f"/api/v1/track/{r1['trackingCode']}/rating",
                    {"stars": 1, "comment": "还是积水", "fixed": False})
    expect(got == 200, f"{got} {t}")
    c = ok(srv, "GET", f"/api/v1/cases/{cid}", tok["cg-yuzhong"])
    expect(c["case"]["state"] == "CASE_STATE_HANDLING" and c["case"]["reopenCount"] == 1, c)
    act(srv, cid, tok["cg-yuzhong"], "report_handled", note="更换排水管", evidence=["photo:y"])
    act(srv, cid, tok["sup"], "verify_pass")
    act(srv, cid, tok["sup"], "close")

    # --- 4. refusals ----------------------------------------------------------------------------
    step("refusals: the leader may not act (403); an illegal step lists the allowed ones (409)")
    got, js = call(srv, "POST", f"/api/v1/cases/{k}/transitions", tok["boss"],
                   {"action": "park", "note": "x"})
    expect(got == 403 and js["error"]["code"] == "forbidden", f"{got} {js}")
    got, js = call(srv, "POST", f"/api/v1/cases/{k}/transitions", tok["sup"],
                   {"action": "close"})
    expect(got == 409 and js["error"]["code"] == "illegal_transition", f"{got} {js}")
    print("     allowed for the supervisor now:", js["error"]["allowed"])
    got, js = call(srv, "POST", f"/api/v1/cases/{k}/transitions", tok["disp"],
                   {"action": "park"})
    expect(got == 400 and js["error"]["code"] == "invalid_argument", f"{got} {js}")

    # --- 5. KPIs ----------------------------------------------------------------------------------
    step("考核: the KPIs count what happened")
    s = ok(srv, "GET", "/api/v1/stats", tok["boss"])
    n = {k2: int(v) for k2, v in s["total"]["counters"].items()}
    print("     counters:", n)
    expect(n.get("filed") == 5 and n.get("rejected") == 1, n)
    expect(n.get("returned") == 1 and n.get("reworks") == 1 and n.get("reopened") == 2, n)
    expect(n.get("closed") == 5, n)
    expect(abs(s["total"]["accurateDispatchRate"] - (1 - 1 / n["dispatched"])) < 1e-9, s["total"])
    by_dept = ok(srv, "GET", "/api/v1/stats?by=department", tok["boss"])["rows"]
    expect(any(r["key"].get("department") == "cgj-500105" for r in by_dept), by_dept)

    # --- 6. audit ---------------------------------------------------------------------------------
    step("stop the server; `yiwang audit verify` replays every journal")
    srv.stop()
    out = subprocess.run([YIWANG, "audit", "verify", "--data-dir", data], capture_output=True,
                         text=True)
    print("     " + out.stdout.strip().replace("\n", "\n     "))
    expect(out.returncode == 0 and "5 cases checked, 0 problems" in out.stdout, out.stderr)
    print("workflow scenario: every step as expected")


if __name__ == "__main__":
    main()
