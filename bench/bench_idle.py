"""``relay serve`` at rest with 10 feeds: resident memory and CPU, against a bare Python process.

What a plumber's VPS pays for relay between two posts. The run starts a static server with
10 feeds (Python's ``http.server``), then ``relay serve`` on its defaults (SQLite, dry-run,
a 15-minute interval) as a user would, waits until the first round has read every feed,
then samples the process for ``--seconds``: resident memory (VmRSS, and its high-water mark
VmHWM) and CPU time used. The baseline, in the same run, is a bare ``python -c`` that
sleeps: the interpreter alone.

    .venv/bin/python bench/bench_idle.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.feeds import rss_feed  # noqa: E402  (the suite's feed builder: ten real-looking RSS files)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int) -> tuple[float, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    value = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return value["VmRSS"] / 1024, value["VmHWM"] / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample(pid: int, seconds: float) -> tuple[float, float, float]:
    """(mean RSS MB, peak RSS MB, share of one core) over ``seconds``."""
    cpu, started, readings = cpu_seconds(pid), time.monotonic(), []
    while time.monotonic() - started < seconds:
        readings.append(memory_mb(pid)[0])
        time.sleep(1)
    share = (cpu_seconds(pid) - cpu) / (time.monotonic() - started)
    return sum(readings) / len(readings), memory_mb(pid)[1], share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--relay", default=str(Path(sys.executable).parent / "relay"),
                        help="the relay command to measure; for what a user runs, one from the README's first "
                             "command (a venv with `pip install -e .`, no test extras)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="relay-bench-idle-"))
    site = work / "site"
    site.mkdir()
    for n in range(10):
        (site / f"feed{n}.xml").write_bytes(rss_feed(range(1, 11), host=f"blog{n}.example"))
    feeds_port, relay_port = free_port(), free_port()
    config = work / "relay.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {relay_port}\n[database]\nurl = "sqlite:///{work / "relay.db"}"\n'
        + "".join(f'[[feeds]]\nurl = "http://127.0.0.1:{feeds_port}/feed{n}.xml"\n' for n in range(10)),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    site_server = subprocess.Popen([sys.executable, "-m", "http.server", str(feeds_port), "--bind", "127.0.0.1"],
                                   cwd=site, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    relay = subprocess.Popen([args.relay, "serve", "--config", str(config)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(work / "relay.db") as db:
                    if db.execute("select count(*) from feeds where last_checked_at is not null").fetchone()[0] == 10:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("relay did not read the 10 feeds within 120 s")
        time.sleep(5)  # the round's last writes and page reads settle
        relay_mean, relay_peak, relay_cpu = sample(relay.pid, args.seconds)
        bare_rss = memory_mb(bare.pid)[0]
    finally:
        for process in (relay, site_server, bare):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(f"relay serve, 10 feeds, idle for {args.seconds:.0f} s after its first round:")
    print(f"  resident memory: {relay_mean:.0f} MB mean, {relay_peak:.0f} MB peak since start (target < 100 MB)")
    print(f"  CPU: {relay_cpu:.2%} of one core")
    print(f"  a bare Python interpreter in the same run: {bare_rss:.0f} MB -> relay is {relay_mean / bare_rss:.1f}x")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
