"""Benchmark of ``GET /r/CODE``: redirects per second and p99 latency, against nginx ``return 302``.

Why this shape: the number that matters is how relay's redirect compares with the cheapest
redirect this machine can serve, measured in the same run under the same load (absolute numbers
move with the machine; the ratio says whether relay's path is where the time goes). It also
checks the promise behind the batch writer: after the server shuts down gracefully, every
click the load generator completed is in the database.

It builds the production app (``relay.routes.app.create_app`` over ``build_runtime``) on a seeded SQLite
database and serves it with uvicorn in a child process, one worker, as ``relay serve`` does. The
load comes from ``wrk`` (Debian package) when installed, else from the asyncio HTTP/1.1 client
below. nginx (Debian package) runs from a temporary config with one worker.

    .venv/bin/python bench/bench_redirect.py [--duration 10] [--connections 8,64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TARGET = "https://blog.example/2026/11/post/?utm_source=twitter&utm_medium=social&utm_campaign=post"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the server under test (child process) ----------------------------------------------------------


def build_app(database_url: str) -> Any:
    """The production app, as `relay serve` builds it (the click writer runs in its lifespan)."""
    from relay.config.settings import load_settings
    from relay.routes.app import create_app
    from relay.wiring import build_runtime

    settings = load_settings(None, environ={"RELAY_DATABASE_URL": database_url, "RELAY_LOG_LEVEL": "WARNING"})
    runtime = build_runtime(settings)
    return create_app(runtime, run_worker=False)


def serve(database_url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(build_app(database_url), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def seed(database_url: str, count: int) -> list[str]:
    from relay.core.models import Post, Tweet
    from relay.store.engine import apply_migrations, make_engine
    from relay.store.links import create_tracked_link
    from relay.store.rows import Message, NewPost
    from relay.store.store import Store

    store = Store(make_engine(database_url))
    apply_migrations(store.engine)
    now = datetime.now(UTC)
    items = [
        NewPost(Post(url=f"https://blog.example/{n}/", title=f"Post {n}"), f"bench:{n}", f"https://blog.example/{n}/",
                "feed", (Message("default", Tweet(text=f"Post {n}", link=TARGET, weighted_length=30)),))
        for n in range(count)
    ]
    store.record_posts(None, items, now)
    codes = []
    with store.engine.begin() as conn:
        for delivery in store.list_deliveries():
            codes.append(create_tracked_link(conn, post_id=delivery.post_id, delivery_variant=0,
                                             target_url=f"{TARGET}-{delivery.post_id}", now=now))
    store.engine.dispose()
    return codes


def count_clicks(database_url: str) -> int:
    from sqlalchemy import func, select

    from relay.store.engine import make_engine
    from relay.store.schema import clicks

    engine = make_engine(database_url)
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(clicks)).scalar_one())
    engine.dispose()
    return total


# -- load generators ----------------------------------------------------------------------------------

LUA = """
codes = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/r/" .. codes[(counter %% #codes) + 1], {["User-Agent"] = "%s"})
end
"""


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, codes: list[str], connections: int, duration: int, workdir: Path) -> dict[str, Any]:
    script = workdir / "codes.lua"
    script.write_text(LUA % (",".join(f'"{c}"' for c in codes), BROWSER), encoding="utf-8")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s", "-s", str(script),
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, check=True,
    ).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(re.search(r"\s50%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"\s99%\s+(\S+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": (int(bad.group(1)) if bad else 0) + (sum(map(int, errors.groups())) if errors else 0),
    }


async def _asyncio_load(port: int, codes: list[str], connections: int, duration: float) -> dict[str, Any]:
    """HTTP/1.1 keep-alive over raw asyncio streams (httpx itself would be the bottleneck)."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration

    async def connection(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = offset
        while time.perf_counter() < deadline:
            request = f"GET /r/{codes[n % len(codes)]} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {BROWSER}\r\n\r\n"
            n += connections
            start = time.perf_counter()
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: *(\d+)", head)
            if length:
                await reader.readexactly(int(length.group(1)))
            latencies.append(time.perf_counter() - start)
            if not head.startswith(b"HTTP/1.1 302"):
                errors += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(k) for k in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "requests": len(latencies),
        "errors": errors,
    }


def load(port: int, codes: list[str], connections: int, duration: int, workdir: Path) -> dict[str, Any]:
    if shutil.which("wrk"):
        return {"tool": "wrk", **run_wrk(port, codes, connections, duration, workdir)}
    return {"tool": "asyncio", **asyncio.run(_asyncio_load(port, codes, connections, duration))}


# -- nginx --------------------------------------------------------------------------------------------


def start_nginx(workdir: Path, port: int) -> subprocess.Popen[bytes] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        return None
    conf = workdir / "nginx.conf"
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf.write_text(f"""
worker_processes 1;
master_process off;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {temp['body']}; proxy_temp_path {temp['proxy']}; fastcgi_temp_path {temp['fastcgi']};
  uwsgi_temp_path {temp['uwsgi']}; scgi_temp_path {temp['scgi']};
  server {{ listen 127.0.0.1:{port}; location / {{ return 302 {TARGET}; }} }}
}}
""", encoding="utf-8")
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


# -- the run ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", default="8,64", help="comma-separated concurrent connections")
    parser.add_argument("--codes", type=int, default=200, help="tracked links to spread the load over")
    parser.add_argument("--serve", nargs=2, metavar=("DATABASE_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    workdir = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    codes = seed(database_url, args.codes)
    relay_port, nginx_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    server = subprocess.Popen([sys.executable, __file__, "--serve", database_url, str(relay_port)], env=env)
    nginx: subprocess.Popen[bytes] | None = None
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": []}
    completed = 0
    try:
        wait_for_port(relay_port)
        nginx = start_nginx(workdir, nginx_port)
        completed += load(relay_port, codes, 8, 2, workdir)["requests"]  # warm-up: code cache, salts
        for connections in (int(c) for c in args.connections.split(",")):
            relay_run = load(relay_port, codes, connections, args.duration, workdir)
            completed += relay_run["requests"]
            nginx_run = load(nginx_port, codes, connections, args.duration, workdir) if nginx else None
            ratio = relay_run["rps"] / nginx_run["rps"] if nginx_run else None
            results["runs"].append({"connections": connections, "relay": relay_run, "nginx": nginx_run,
                                    "ratio": ratio})
    finally:
        server.send_signal(signal.SIGTERM)  # graceful: uvicorn runs the lifespan shutdown, clicks flush
        server.wait(timeout=60)
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
    stored = count_clicks(database_url)
    results["clicks"] = {"completed_requests": completed, "stored": stored}
    report(results)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "redirect.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    shutil.rmtree(workdir, ignore_errors=True)
    if stored < completed:
        raise SystemExit(f"LOST CLICKS: {completed - stored} of {completed} completed redirects are not stored")


def report(results: dict[str, Any]) -> None:
    print("| connections | tool | relay req/s | relay p50 | relay p99 | nginx req/s | nginx p99 | relay/nginx |")
    print("|---|---|---|---|---|---|---|---|")
    for run in results["runs"]:
        r, n = run["relay"], run["nginx"]
        nginx_cols = f"{n['rps']:,.0f} | {n['p99_ms']:.2f} ms" if n else "– | –"
        ratio = f"{run['ratio']:.1%}" if run["ratio"] else "–"
        print(f"| {run['connections']} | {r['tool']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | "
              f"{r['p99_ms']:.2f} ms | {nginx_cols} | {ratio} |")
        if r["errors"]:
            print(f"(relay errors at {run['connections']} connections: {r['errors']})")
    clicks = results["clicks"]
    print(f"\nclicks: {clicks['completed_requests']:,} redirects completed by the load generator, "
          f"{clicks['stored']:,} clicks stored after a graceful shutdown")


if __name__ == "__main__":
    main()
