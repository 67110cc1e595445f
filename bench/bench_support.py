"""What the process benchmarks share: the machine line, percentiles, throw-away PostgreSQL
databases, and real ``relay`` child processes.

Why a module: bench_webhook_latency.py and bench_instances.py both run relay as the command
an operator runs (``relay serve``, ``relay worker``) and both must leave PostgreSQL as they
found it; one careful copy of that is better than two. The relay children are started with
``tests/processes.py`` (the helpers the end-to-end tests use), so the benchmarks start relay
exactly the way the tests do.
"""

from __future__ import annotations

import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:  # ``tests`` is not installed; the benchmarks run from a checkout
    sys.path.insert(0, str(ROOT))

from tests.processes import free_port, relay_env, start_relay  # noqa: E402

__all__ = ["free_port", "relay_env"]  # re-exported for the benchmarks

POSTGRES_ADMIN_URL = os.environ.get("RELAY_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
"""A database to connect to while creating and dropping the benchmark's own ones."""

FAKE_X = {
    "RELAY_X_CONSUMER_KEY": "ck-bench",
    "RELAY_X_CONSUMER_SECRET": "cs-bench",
    "RELAY_X_ACCESS_TOKEN": "at-bench",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-bench",
}
"""Any well-formed OAuth 1.0a signature passes the emulator when it is given no keys."""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def machine() -> dict[str, str]:
    """What the figures were measured on; printed and stored with every result."""
    return {
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "cpu": f"{cpu_model()}, {os.cpu_count()} logical CPUs",
        "python": f"CPython {platform.python_version()}",
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and max of a list of durations, in the unit they were given."""
    return {
        "n": float(len(values)),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


SCRATCH = Path(os.environ.get("RELAY_BENCH_SCRATCH", "/var/tmp/relay_bench_runs"))
"""Where the runs' temporary directories go: not /tmp, where other jobs' cleanups (a glob over
``/tmp/relay-bench-*``) once deleted a farm and a database under a running benchmark."""


def scratch_dir(name: str) -> Path:
    """A new private directory for one run (readable by nginx's unprivileged workers)."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=SCRATCH))
    path.chmod(0o755)
    return path


def write_json(name: str, data: dict[str, Any], path: str | None) -> Path:
    """Results as JSON under bench/results/ (gitignored) unless a path is given."""
    target = Path(path) if path else RESULTS / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return target


@contextmanager
def postgres_database(tag: str) -> Iterator[str]:
    """A fresh, empty database ``relay_bench_<tag>_<pid>``, dropped afterwards whatever happens."""
    name = f"relay_bench_{tag}_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def relay_process(
    args: list[str], env: dict[str, str], log_path: Path, *, trace: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``relay ARGS`` as a child process, stopped with SIGTERM (as systemd would) on the way out.

    With ``trace``, relay runs under bench/relay_traced.py, which writes its step timings there.
    """
    if trace is None:
        process = start_relay(args, env, log_path, log_path.parent)
    else:
        command = [sys.executable, str(ROOT / "bench" / "relay_traced.py"), str(trace), *args]
        process = subprocess.Popen(command, env=env, cwd=log_path.parent, stdout=log_path.open("wb"),
                                   stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def wait_until(condition: Any, *, timeout: float, what: str, every: float = 0.05) -> float:
    """Poll ``condition`` every ``every`` seconds; returns the wall time (``time.time()``) it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of a process (this one by default), from /proc."""
    if pid is None:
        usage = os.times()
        return usage.user + usage.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_fraction(seconds: float = 1.0) -> float:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat), whoever keeps them busy."""

    def read() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(fields), fields[3] + fields[4]

    total_before, idle_before = read()
    time.sleep(seconds)
    total_after, idle_after = read()
    total = total_after - total_before
    return 1.0 - (idle_after - idle_before) / total if total else 0.0


def wait_for_quiet(*, below: float = 0.25, patience: float = 300.0) -> float:
    """Wait (up to ``patience`` seconds) for the machine to be mostly idle; returns the busy share seen.

    The benchmarks share the machine with whatever else runs on it; starting a measurement
    while another job holds a core halves what relay can get. This does not prevent a job
    from starting later: the reports also print the CPU the rest of the machine used.
    """
    deadline = time.monotonic() + patience
    busy = machine_busy_fraction()
    while busy >= below and time.monotonic() < deadline:
        time.sleep(2.0)
        busy = machine_busy_fraction()
    return busy


@dataclass
class CpuSnapshot:
    """CPU seconds used so far by each party, and the machine's busy and total CPU seconds."""

    parties: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0
    machine_total: float = 0.0

    def minus(self, earlier: CpuSnapshot) -> dict[str, float]:
        used = {name: value - earlier.parties.get(name, 0.0) for name, value in self.parties.items()}
        busy = self.machine_busy - earlier.machine_busy
        used["machine busy (all processes)"] = busy
        used["others (not this benchmark)"] = busy - sum(v for k, v in used.items() if not k.startswith("machine"))
        used["machine capacity"] = self.machine_total - earlier.machine_total
        return used


def processes_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def children_of(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def cpu_of(pids: Iterable[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total


def cpu_snapshot(relay: Sequence[int], nginx: int | None = None, relay_name: str = "relay workers") -> CpuSnapshot:
    """CPU used so far by relay's processes, PostgreSQL, our nginx, this process and the whole machine."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle + iowait
    return CpuSnapshot(
        parties={
            relay_name: cpu_of(relay),
            "PostgreSQL (all its processes)": cpu_of(processes_named("postgres")),
            "nginx": cpu_of([nginx, *children_of(nginx)]) if nginx else 0.0,
            "benchmark process (X emulator)": cpu_seconds(),
        },
        machine_busy=(sum(fields[:8]) - idle) / ticks,
        machine_total=sum(fields[:8]) / ticks,
    )
