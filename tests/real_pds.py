"""Bluesky's reference PDS, for real, in tests: started on free local ports, stopped with nothing left behind.

What runs is ``tests/pds/run_pds.mjs``: the dev-env of bluesky-social/atproto (``@atproto/dev-env``,
pinned in ``tests/pds/package.json`` and its lock file), which is the reference PDS
(``@atproto/pds`` 0.4.217) with the AppView (``@atproto/bsky``) that answers ``app.bsky.feed.*``
through it and a PLC directory kept in memory. Those are the last versions that run on Node 20
(``@atproto/pds`` 0.5 asks for Node 22, which no registry here has).

Install, once (about 75 s; better-sqlite3 is compiled, since its prebuilt binary is fetched from
GitHub; Node's headers come from the ``nodejs`` package, hence ``npm_config_nodedir``)::

    npm_config_nodedir=/usr npm ci --prefix tests/pds

Needs, besides: ``node``; PostgreSQL (``RELAY_TEST_DATABASE_URL``; the AppView's database is a
fresh ``relay_pds_<random>`` on that server, dropped at the end); Redis at
``RELAY_TEST_REDIS_HOST`` (default ``127.0.0.1:6379``; the AppView writes nothing there that
outlives it). :func:`skip_reason` says which is missing, and tests skip with it.

Each :class:`RealPds` has its own temporary directory (the PDS's SQLite files and blobs) and
database; :meth:`RealPds.stop` ends the node process (end of its stdin; SIGKILL to its process
group if it has not exited 30 s later), then drops both.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

PDS_DIR = Path(__file__).resolve().parent / "pds"
INSTALL = "npm_config_nodedir=/usr npm ci --prefix tests/pds"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0
SYNC_TIMEOUT = 30.0


def redis_host() -> str:
    return os.environ.get("RELAY_TEST_REDIS_HOST", "127.0.0.1:6379")


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def skip_reason() -> str | None:
    """Why the real PDS cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "the real Bluesky PDS needs Node.js (node), which is not installed"
    if not (PDS_DIR / "node_modules" / "@atproto" / "dev-env" / "package.json").is_file():
        return f"the real Bluesky PDS is not installed (tests/pds/node_modules is missing): run `{INSTALL}`"
    if not os.environ.get("RELAY_TEST_DATABASE_URL"):
        return ("the real Bluesky PDS's AppView needs PostgreSQL: set RELAY_TEST_DATABASE_URL "
                "(e.g. postgresql://postgres@127.0.0.1:5432/test)")
    if not _reachable(redis_host()):
        return f"the real Bluesky PDS's AppView needs Redis, and none answers at {redis_host()} (RELAY_TEST_REDIS_HOST)"
    return None


@dataclass(frozen=True)
class Account:
    did: str
    handle: str
    email: str
    password: str
    """The account's own password (createAccount's), not an app password."""


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class RealPds:
    """``with RealPds() as pds:`` the reference PDS at ``pds.url``; :meth:`sync` waits for its AppView."""

    def __init__(self) -> None:
        self.url = ""
        self.appview_url = ""
        self.plc_url = ""
        self._admin_url = os.environ.get("RELAY_TEST_DATABASE_URL", "")
        self._database = f"relay_pds_{secrets.token_hex(6)}"
        self._tmp: Path | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._log: Any = None

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> RealPds:
        reason = skip_reason()
        if reason:
            raise RuntimeError(reason)
        import psycopg

        self._tmp = Path(tempfile.mkdtemp(prefix="relay-pds-"))
        with psycopg.connect(self._admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self._database}"')
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PDS_", "BSKY_", "LOG_"))}
        env.update(DB_POSTGRES_URL=_with_database(self._admin_url, self._database), REDIS_HOST=redis_host(),
                   TMPDIR=str(self._tmp), NODE_NO_WARNINGS="1")
        self._log = (self._tmp / "run_pds.log").open("w")
        try:
            self._process = subprocess.Popen(
                ["node", str(PDS_DIR / "run_pds.mjs")], cwd=PDS_DIR, env=env, text=True, encoding="utf-8",
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
            threading.Thread(target=self._read, name="real-pds-stdout", daemon=True).start()
            ready = self._next_line(START_TIMEOUT, "the PDS to start")
            urls = json.loads(ready)
            self.url, self.appview_url, self.plc_url = urls["pds"], urls["appview"], urls["plc"]
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            try:
                if process.stdin:
                    process.stdin.close()
                process.wait(STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._admin_url and self._tmp is not None:
            import psycopg

            with psycopg.connect(self._admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> RealPds:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next_line(self, timeout: float, what: str) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}; {self.log_tail()}") from None
        if line is None:
            raise RuntimeError(f"the PDS process ended while waiting for {what}; {self.log_tail()}")
        return line

    def log_tail(self, lines: int = 20) -> str:
        if self._tmp is None or not (self._tmp / "run_pds.log").exists():
            return "no log"
        tail = (self._tmp / "run_pds.log").read_text(errors="replace").splitlines()[-lines:]
        return "its log ends:\n" + "\n".join(tail)

    # -- driving it -------------------------------------------------------------------------------

    def sync(self) -> None:
        """Wait until the AppView has indexed every commit the PDS made (what dev-env's tests do)."""
        assert self._process is not None and self._process.stdin is not None, "the PDS is not running"
        self._process.stdin.write("sync\n")
        self._process.stdin.flush()
        answer = self._next_line(SYNC_TIMEOUT, "the AppView to index the PDS's commits")
        if answer != "synced":
            raise RuntimeError(f"sync failed: {answer}")

    def xrpc(self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        return httpx.request(method, f"{self.url}/xrpc/{nsid}", headers=headers, timeout=30, **kwargs)

    def create_account(self, handle: str, email: str | None = None, password: str | None = None) -> Account:
        """A new account (``handle`` ends with ``.test``, the PDS's handle domain) and its DID in the PLC."""
        email = email or f"{handle.split('.')[0]}@example.com"
        password = password or secrets.token_urlsafe(16)
        answer = self.xrpc("POST", "com.atproto.server.createAccount",
                           json={"handle": handle, "email": email, "password": password})
        if answer.status_code != 200:
            raise RuntimeError(f"createAccount answered {answer.status_code}: {answer.text}")
        return Account(str(answer.json()["did"]), handle, email, password)

    def create_app_password(self, account: Account, name: str = "relay") -> str:
        """An app password (``xxxx-xxxx-xxxx-xxxx``), made as Bluesky's settings make one."""
        session = self.xrpc("POST", "com.atproto.server.createSession",
                            json={"identifier": account.handle, "password": account.password})
        if session.status_code != 200:
            raise RuntimeError(f"createSession answered {session.status_code}: {session.text}")
        answer = self.xrpc("POST", "com.atproto.server.createAppPassword", token=session.json()["accessJwt"],
                           json={"name": name})
        if answer.status_code != 200:
            raise RuntimeError(f"createAppPassword answered {answer.status_code}: {answer.text}")
        return str(answer.json()["password"])
