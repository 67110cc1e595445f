"""A farm of static feeds served by Debian's nginx, for polling benchmarks.

Why nginx and static files: the benchmark measures relay's poller, so the server must be
faster than relay and must answer conditional requests exactly as a real web server does.
nginx derives ``ETag`` (mtime-size) and ``Last-Modified`` from the file and answers
``If-None-Match`` / ``If-Modified-Since`` with ``304`` natively; nothing here fakes HTTP.

Each feed is a WordPress-like RSS 2.0 document of 10 items (title, link, guid, date,
categories, an excerpt and ~1.5 KB of ``content:encoded``), about 20 KB, close to the
median of the real feeds in ../shared/corpus. :meth:`NginxFarm.publish` adds a new item to
some feeds (the oldest drops out, as WordPress does), which changes their ETag.

    with NginxFarm(Path("/tmp/farm"), count=10_000) as farm:
        farm.url(42)             # http://127.0.0.1:<port>/feeds/00042.xml
        farm.publish(range(0, 10_000, 10))
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

ITEMS_PER_FEED = 10
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

_CONFIG = """\
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    types {{ application/rss+xml xml; }}
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        etag on;
        if_modified_since exact;
        location = /nginx_status {{ stub_status; }}
    }}
}}
"""

_PARAGRAPH = (
    "<p>Le levain se nourrit deux fois par jour&nbsp;: farine de seigle, eau tiède, un peu de patience. "
    "Au bout d&rsquo;une semaine il double en quatre heures, et c&rsquo;est le signal. "
    "<a href=\"https://blog{feed}.example/levain/\">Tout le détail ici</a>, avec les erreurs à éviter "
    "et les photos de chaque étape (<em>hydratation à 75&nbsp;%</em>).</p>\n"
)


def feed_xml(feed: int, newest: int, *, now: datetime) -> bytes:
    """Feed ``feed`` showing items ``newest-9 .. newest``; item ``newest`` is an hour old."""
    items = []
    for n in range(newest, newest - ITEMS_PER_FEED, -1):
        published = format_datetime(now - timedelta(hours=1 + newest - n))
        link = f"https://blog{feed}.example/2026/11/article-{n}/"
        content = _PARAGRAPH.format(feed=feed) * 4
        items.append(f"""
    <item>
      <title>Article {n} du blog {feed} : pain au levain, étape {n % 7}</title>
      <link>{link}</link>
      <guid isPermaLink="false">https://blog{feed}.example/?p={1000 + n}</guid>
      <pubDate>{published}</pubDate>
      <dc:creator><![CDATA[Camille]]></dc:creator>
      <category><![CDATA[Boulangerie]]></category>
      <category><![CDATA[Levain]]></category>
      <description><![CDATA[<p>Farine, eau, sel et patience : la recette {n}. Tout y est [&hellip;]</p>]]></description>
      <content:encoded><![CDATA[{content}]]></content:encoded>
    </item>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>Blog {feed}</title>
    <atom:link href="https://blog{feed}.example/feed/" rel="self" type="application/rss+xml"/>
    <link>https://blog{feed}.example/</link>
    <description>Un blog de boulangerie parmi dix mille</description>
    <language>fr-FR</language>{"".join(items)}
  </channel>
</rss>
""".encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NginxFarm:
    """``count`` feeds under ``root`` (created), served by an nginx child process."""

    def __init__(self, root: Path, count: int, *, workers: int = 1) -> None:
        self.root = root
        self.count = count
        self.workers = workers
        self.port = 0
        self.newest = [ITEMS_PER_FEED] * count
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, feed: int) -> str:
        return f"http://127.0.0.1:{self.port}/feeds/{feed:05d}.xml"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.count)]

    def connections_accepted(self) -> int:
        """TCP connections nginx has accepted so far (stub_status), this request's own included.

        Between two readings, ``after - before - 1`` connections were opened by others.
        """
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/nginx_status", timeout=5) as answer:
            return int(answer.read().decode().splitlines()[2].split()[0])

    def _path(self, feed: int) -> Path:
        return self.root / "www" / "feeds" / f"{feed:05d}.xml"

    def build(self) -> None:
        """Write every feed, dated a day ago (so a later change has a newer Last-Modified too)."""
        (self.root / "www" / "feeds").mkdir(parents=True, exist_ok=True)
        for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.root / "tmp" / name).mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        yesterday = time.time() - 86400
        for feed in range(self.count):
            path = self._path(feed)
            path.write_bytes(feed_xml(feed, self.newest[feed], now=now))
            os.utime(path, (yesterday, yesterday))
        for directory in (self.root, self.root / "www", self.root / "www" / "feeds"):
            directory.chmod(0o755)  # nginx workers run as an unprivileged user

    def publish(self, feeds: Iterable[int]) -> int:
        """A new post on each of these feeds; returns how many changed."""
        now = datetime.now(UTC)
        changed = 0
        for feed in feeds:
            self.newest[feed] += 1
            self._path(feed).write_bytes(feed_xml(feed, self.newest[feed], now=now))
            changed += 1
        return changed

    def start(self) -> NginxFarm:
        self.port = free_port()
        config = self.root / "nginx.conf"
        config.write_text(_CONFIG.format(prefix=self.root, port=self.port, workers=self.workers), encoding="utf-8")
        self._process = subprocess.Popen(
            [NGINX, "-p", str(self.root), "-c", str(config), "-e", str(self.root / "error.log"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx did not start: {self._process.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start listening within 10 s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: nginx's fast shutdown
            self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> NginxFarm:
        self.build()
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
