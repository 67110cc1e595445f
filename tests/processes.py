"""Running the real ``relay`` command as a child process in tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

RELAY = [sys.executable, "-m", "relay"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relay_env(**overrides: str) -> dict[str, str]:
    """The current environment without any RELAY_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(overrides)
    return env


def start_relay(args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("wb")
    return subprocess.Popen([*RELAY, *args], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_relay(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RELAY, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def answers_or_died(port: int, process: subprocess.Popen[bytes]) -> bool:
    """relay answers /healthz on its port, or has died (which the caller's checks will show): stop waiting."""
    if process.poll() is not None:
        return True
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
