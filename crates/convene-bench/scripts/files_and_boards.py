#!/usr/bin/env python3
"""Upload throughput through a node, and the memory a full whiteboard takes on the room's
node (docs/benchmarks.md, issue 10). Needs a running node (release build), its admin
password, and its process id; `pip install websockets`.

  python3 files_and_boards.py upload BASE PASSWORD FILE
  python3 files_and_boards.py board  BASE PASSWORD PID [ELEMENTS] [POINTS]
"""
import asyncio, json, subprocess, sys, time, urllib.request

def call(base, method, path, body=None, sid=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    req.add_header("origin", base)
    if sid:
        req.add_header("authorization", "Bearer " + sid)
    with urllib.request.urlopen(req) as r:
        text = r.read()
        return json.loads(text) if text else None

def login(base, password):
    return call(base, "POST", "/api/v1/login", {"login": "admin", "password": password})["sid"]

def upload(base, password, path):
    sid = login(base, password)
    room = call(base, "POST", "/api/v1/rooms", {"name": f"upload {time.time()}", "public": True}, sid)["id"]
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
                          "-H", "authorization: Bearer " + sid, "-F", f"file=@{path}",
                          f"{base}/api/v1/rooms/{room}/files"], capture_output=True, text=True, check=True)
    code, secs, size = out.stdout.split()
    assert code == "201", out.stdout
    mib = float(size) / (1 << 20)
    print(f"uploaded {mib:.0f} MiB in {float(secs):.2f} s: {mib / float(secs):.1f} MiB/s")

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

async def board(base, password, pid, elements, points):
    import websockets
    sid = login(base, password)
    room = call(base, "POST", "/api/v1/rooms", {"name": f"board {time.time()}", "public": True}, sid)["id"]
    enter = call(base, "POST", f"/api/v1/rooms/{room}/enter", {}, sid)
    async with websockets.connect(enter["ws_url"], max_size=None) as ws:
        async def until(kind):
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("type") == kind:
                    return msg
        await until("boards")
        await asyncio.sleep(1)
        before = rss_kib(pid)
        per_op = 60
        sent = 0
        while sent < elements:
            batch = [{"id": f"e{sent + i}", "tool": "pen", "color": "#1e88e5", "width": 3,
                      "points": [[float(j * 3 + i % 50), float((sent + i) % 900)] for j in range(points)]}
                     for i in range(min(per_op, elements - sent))]
            await ws.send(json.dumps({"type": "board", "op": {"kind": "put", "board": 1, "elements": batch}}))
            msg = await until("board")
            sent += len(batch)
        await asyncio.sleep(2)
        after = rss_kib(pid)
    print(f"{elements} strokes of {points} points on one board: RSS {before} KiB -> {after} KiB, "
          f"+{(after - before) / 1024:.1f} MiB ({(after - before) * 1024 / elements:.0f} bytes a stroke)")

if __name__ == "__main__":
    what = sys.argv[1]
    if what == "upload":
        upload(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        n = int(sys.argv[5]) if len(sys.argv) > 5 else 10000
        p = int(sys.argv[6]) if len(sys.argv) > 6 else 20
        asyncio.run(board(sys.argv[2], sys.argv[3], int(sys.argv[4]), n, p))
