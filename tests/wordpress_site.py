"""A real WordPress for tests: Debian's ``wordpress`` package, a fresh MariaDB database, ``php -S``.

Nothing on the system is changed. The site lives in a temporary directory:

* its own ``wp-config.php`` (Debian's reads ``/etc/wordpress/config-<host>.php``; ours sets
  the database, the address, a private ``wp-content`` and ``ABSPATH`` itself);
* copies of WordPress's top-level PHP files and of ``wp-admin`` (PHP resolves ``__DIR__``
  through symlinks, so entry points must really live in the site directory), and a
  symlink to the read-only ``wp-includes``;
* ``wp-content`` with the packaged themes linked and the relay-connector plugin copied
  (with its ``languages/``: the site is in French, ``WPLANG = fr_FR``);
* a database ``relay_wp_<random>`` on the MariaDB server, dropped at the end.

``seed.php`` installs WordPress and activates the plugin; :meth:`WordPressSite.php` runs
any PHP snippet inside the site as the admin user, which is how tests publish and edit
posts (``wp_insert_post`` fires ``wp_after_insert_post`` exactly as the editor does).

The fixture skips, saying why, when php (with mysqli), the WordPress files or a
reachable MariaDB/MySQL are missing. Settings: ``RELAY_TEST_WORDPRESS_DIR`` (default
``/usr/share/wordpress``), ``RELAY_TEST_MYSQL_HOST`` / ``_PORT`` / ``_USER`` / ``_PASSWORD``
(default ``127.0.0.1``, ``3306``, ``root``, empty).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "deploy" / "wordpress" / "relay-connector"
HARNESS_DIR = Path(__file__).resolve().parent / "wordpress"
WORDPRESS_DIR = Path(os.environ.get("RELAY_TEST_WORDPRESS_DIR", "/usr/share/wordpress"))
APT_HINT = "apt-get install -y wordpress php-cli php-mysql"


@dataclass(frozen=True)
class MySQL:
    host: str = os.environ.get("RELAY_TEST_MYSQL_HOST", "127.0.0.1")
    port: int = int(os.environ.get("RELAY_TEST_MYSQL_PORT", "3306"))
    user: str = os.environ.get("RELAY_TEST_MYSQL_USER", "root")
    password: str = os.environ.get("RELAY_TEST_MYSQL_PASSWORD", "")

    def run(self, php: str, action: str, database: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [php, str(HARNESS_DIR / "db.php"), action, database, self.host, str(self.port), self.user, self.password],
            capture_output=True, text=True, timeout=30,
        )


def unavailable_reason(mysql: MySQL) -> str | None:
    """Why a real WordPress cannot run here, or None when it can."""
    php = shutil.which("php")
    if php is None:
        return f"php is not installed ({APT_HINT})"
    if not (WORDPRESS_DIR / "wp-settings.php").exists():
        return f"the WordPress files are not at {WORDPRESS_DIR} ({APT_HINT}, or set RELAY_TEST_WORDPRESS_DIR)"
    probe = subprocess.run([php, "-r", "exit(extension_loaded('mysqli') ? 0 : 1);"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        return f"php has no mysqli extension ({APT_HINT})"
    ping = mysql.run(php, "ping", "mysql")
    if ping.returncode != 0:
        return (f"no MariaDB/MySQL reachable at {mysql.host}:{mysql.port} as {mysql.user} ({ping.stderr.strip()}); "
                "set RELAY_TEST_MYSQL_HOST/PORT/USER/PASSWORD")
    return None


@dataclass
class WordPressSite:
    root: Path
    url: str
    database: str
    admin_password: str
    php_binary: str
    server: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    # -- running PHP inside the site -------------------------------------------------------

    def php(self, code: str, *, admin: bool = False, timeout: float = 60, clock_offset: int = 0) -> Any:
        """Run ``code`` (PHP statements, no ``<?php``) in the site as the admin; its ``return`` value as JSON.

        With ``admin``, the snippet runs as in a wp-admin page (``is_admin()`` is true). With
        ``clock_offset`` (seconds), PHP runs under libfaketime with its clock that far off.
        """
        out = self.root / f"result-{secrets.token_hex(4)}.json"
        # Under an outer libfaketime (CI's year-ahead run), the offset is added to it: a bare "+660s" would put
        # PHP back on the real clock, a year behind relay.
        prefix = ["faketime", "-f", f"{_outer_faketime_seconds() + clock_offset:+d}s"] if clock_offset else []
        completed = subprocess.run(
            [*prefix, self.php_binary, "run.php", str(out)], input=code, cwd=self.root,
            env=self._env(WP_TEST_ADMIN="1" if admin else "0"),
            capture_output=True, text=True, timeout=timeout,
        )
        if completed.returncode != 0 or not out.exists():
            raise AssertionError(
                f"PHP snippet failed ({completed.returncode}):\n{code}\n--- stdout\n{completed.stdout}\n"
                f"--- stderr\n{completed.stderr}\n--- debug.log\n{self.debug_log()[-3000:]}"
            )
        try:
            return json.loads(out.read_text(encoding="utf-8"))
        finally:
            out.unlink()

    def _env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
        env.update(WP_TEST_HOME=self.url, **extra)
        return env

    # -- posts ------------------------------------------------------------------------------

    def insert_post(
        self,
        title: str,
        *,
        status: str = "publish",
        content: str = "<p>Farine, eau, sel : le pain.</p>",
        excerpt: str = "",
        password: str = "",
        categories: tuple[str, ...] = (),
        tags: tuple[str, ...] = (),
        date_gmt: str | None = None,
        featured_image_alt: str | None = None,
    ) -> int:
        """``wp_insert_post`` with terms (and a featured image) saved in the same call, as the editor does."""
        fields: dict[str, Any] = {
            "post_title": title, "post_content": content, "post_excerpt": excerpt, "post_status": status,
            "post_password": password, "post_type": "post", "post_author": 1, "tags_input": list(tags),
        }
        if date_gmt:
            fields["post_date_gmt"] = date_gmt
            fields["post_date"] = date_gmt  # the site's zone is applied below
        code = f"""
            $fields = json_decode({_php_string(json.dumps(fields))}, true);
            if (!empty($fields['post_date_gmt'])) {{
                $fields['post_date'] = get_date_from_gmt($fields['post_date_gmt']);
            }}
            $fields['post_category'] = array_map(
                fn($name) => (int) (term_exists($name, 'category')['term_id']
                                    ?? wp_insert_term($name, 'category')['term_id']),
                json_decode({_php_string(json.dumps(list(categories)))}, true)
            );
            $alt = json_decode({_php_string(json.dumps(featured_image_alt))}, true);
            if ($alt !== null) {{
                $fields['meta_input'] = ['_thumbnail_id' => relay_test_image($alt)];
            }}
            $id = wp_insert_post($fields, true);
            if (is_wp_error($id)) {{ throw new Exception($id->get_error_message()); }}
            return $id;
        """
        return int(self.php(_IMAGE_HELPER + code))

    def update_post(self, post_id: int, **fields: Any) -> None:
        fields["ID"] = post_id
        self.php(f"""
            $r = wp_update_post(json_decode({_php_string(json.dumps(fields))}, true), true);
            if (is_wp_error($r)) {{ throw new Exception($r->get_error_message()); }}
            return $r;
        """)

    def trash_post(self, post_id: int) -> None:
        self.php(f"return (bool) wp_trash_post({post_id});")

    def publish_scheduled(self, post_id: int) -> None:
        """What WP-Cron does when a scheduled post's time comes."""
        self.php(f"wp_publish_post({post_id}); return get_post_status({post_id});")

    def permalink(self, post_id: int) -> str:
        return str(self.php(f"return get_permalink({post_id});"))

    # -- plugin state -----------------------------------------------------------------------

    def configure_plugin(self, **settings: str) -> None:
        """Change relay_url / secret / api_token (the others are kept)."""
        self.php(f"""
            $s = get_option('relay_connector_settings', []);
            $changes = json_decode({_php_string(json.dumps(settings))}, true);
            update_option('relay_connector_settings', array_merge($s, $changes));
            return get_option('relay_connector_settings')['relay_url'];
        """)

    def scheduled_retries(self) -> list[dict[str, Any]]:
        """The plugin's pending WP-Cron retries: ``[{"at": unix, "id": webhook-id, "delivery": {...}}]``."""
        return list(self.php("""
            $found = [];
            foreach (_get_cron_array() ?: [] as $at => $hooks) {
                foreach ($hooks['relay_connector_retry'] ?? [] as $event) {
                    $id = $event['args'][0];
                    $found[] = ['at' => $at, 'id' => $id,
                                'delivery' => get_option(RelayConnector\\pending_key($id))];
                }
            }
            return $found;
        """))

    def run_retries_now(self) -> list[str]:
        """Run every scheduled retry at once (instead of waiting 1, 5, 30 minutes)."""
        return list(self.php("""
            $ran = [];
            foreach (_get_cron_array() ?: [] as $at => $hooks) {
                foreach ($hooks['relay_connector_retry'] ?? [] as $event) {
                    wp_unschedule_event($at, 'relay_connector_retry', $event['args']);
                    do_action_ref_array('relay_connector_retry', $event['args']);
                    $ran[] = $event['args'][0];
                }
            }
            return $ran;
        """))

    def failures(self) -> list[dict[str, Any]]:
        return list(self.php("return array_values(get_option('relay_connector_failures', []));"))

    def debug_log(self) -> str:
        path = self.root / "debug.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, follow_redirects=True)


_IMAGE_HELPER = """
    function relay_test_image(string $alt): int {
        $image = imagecreatetruecolor(8, 8);
        imagefill($image, 0, 0, imagecolorallocate($image, 200, 120, 40));
        ob_start(); imagepng($image); $png = ob_get_clean();
        $upload = wp_upload_bits('pain-' . wp_generate_password(6, false) . '.png', null, $png);
        if (!empty($upload['error'])) { throw new Exception($upload['error']); }
        $id = wp_insert_attachment(['post_mime_type' => 'image/png', 'post_title' => $alt, 'post_status' => 'inherit'],
                                   $upload['file']);
        wp_update_attachment_metadata($id, wp_generate_attachment_metadata($id, $upload['file']));
        update_post_meta($id, '_wp_attachment_image_alt', $alt);
        return $id;
    }
"""


def _php_string(text: str) -> str:
    """A PHP single-quoted literal of ``text``."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


_WP_CONFIG = """<?php
// Test site configuration written by tests/wordpress_site.py.
define('DB_NAME', {db_name});
define('DB_USER', {db_user});
define('DB_PASSWORD', {db_password});
define('DB_HOST', {db_host});
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
define('WP_HOME', {home});
define('WP_SITEURL', {home});
define('WP_CONTENT_DIR', __DIR__ . '/wp-content');
define('WP_CONTENT_URL', {home} . '/wp-content');
define('WP_DEBUG', true);
define('WP_DEBUG_LOG', __DIR__ . '/debug.log');
define('WP_DEBUG_DISPLAY', false);
define('DISABLE_WP_CRON', true);          // tests run cron events themselves
define('WP_HTTP_BLOCK_EXTERNAL', true);   // no calls to wordpress.org; the site's own host stays allowed
define('AUTOMATIC_UPDATER_DISABLED', true);
define('FS_METHOD', 'direct');
{salts}
// No mail server in tests: WordPress's own wp_mail() is pluggable, so this one wins.
function wp_mail(...$args) {{ return true; }}
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""

_SALTS = ("AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
          "LOGGED_IN_SALT", "NONCE_SALT")


def _build_site(root: Path, *, home: str, database: str, mysql: MySQL) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for entry in WORDPRESS_DIR.iterdir():
        if entry.name in ("wp-config.php", "wp-content"):
            continue
        if entry.name == "wp-includes":
            (root / entry.name).symlink_to(entry.resolve(), target_is_directory=True)
        elif entry.is_dir():
            shutil.copytree(entry, root / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, root / entry.name)
    content = root / "wp-content"
    (content / "plugins").mkdir(parents=True)
    (content / "themes").mkdir()
    (content / "uploads").mkdir()
    for theme in (WORDPRESS_DIR / "wp-content" / "themes").iterdir():
        if theme.is_dir():
            (content / "themes" / theme.name).symlink_to(theme.resolve(), target_is_directory=True)
    shutil.copytree(PLUGIN_DIR, content / "plugins" / PLUGIN_DIR.name)
    for script in ("router.php", "seed.php", "run.php"):
        shutil.copy2(HARNESS_DIR / script, root / script)
    salts = "\n".join(f"define('{name}', '{secrets.token_hex(32)}');" for name in _SALTS)
    (root / "wp-config.php").write_text(
        _WP_CONFIG.format(
            db_name=_php_string(database), db_user=_php_string(mysql.user), db_password=_php_string(mysql.password),
            db_host=_php_string(f"{mysql.host}:{mysql.port}"), home=_php_string(home), salts=salts,
        ),
        encoding="utf-8",
    )


@contextmanager
def running_wordpress(
    workdir: Path, *, relay_url: str = "", secret: str = "", api_token: str = ""
) -> Iterator[WordPressSite]:
    """A freshly installed WordPress with relay-connector active, served on 127.0.0.1; skips when impossible."""
    mysql = MySQL()
    reason = unavailable_reason(mysql)
    if reason:
        pytest.skip(f"real-WordPress test skipped: {reason}")
    php = shutil.which("php")
    assert php is not None
    port = free_port()
    home = f"http://127.0.0.1:{port}"
    database = f"relay_wp_{secrets.token_hex(6)}"
    root = workdir / "site"
    _build_site(root, home=home, database=database, mysql=mysql)
    created = mysql.run(php, "create", database)
    if created.returncode != 0:
        raise AssertionError(f"could not create the test database: {created.stderr}")
    site = WordPressSite(root=root, url=home, database=database, admin_password=secrets.token_urlsafe(12),
                         php_binary=php)
    try:
        seeded = subprocess.run(
            [php, "seed.php"], cwd=root, capture_output=True, text=True, timeout=120,
            env=site._env(WP_TEST_ADMIN_PASSWORD=site.admin_password, WP_TEST_RELAY_URL=relay_url,
                          WP_TEST_RELAY_SECRET=secret, WP_TEST_RELAY_TOKEN=api_token),
        )
        if seeded.returncode != 0:
            raise AssertionError(f"seeding WordPress failed:\n{seeded.stdout}\n{seeded.stderr}\n{site.debug_log()}")
        log = (workdir / "php-server.log").open("wb")
        site.server = subprocess.Popen(
            [php, "-S", f"127.0.0.1:{port}", "router.php"], cwd=root, stdout=log, stderr=subprocess.STDOUT,
            env=site._env(PHP_CLI_SERVER_WORKERS="4"),  # the block editor loads many things at once
        )
        _wait_until_serving(site)
        yield site
    finally:
        if site.server is not None:
            site.server.terminate()
            try:
                site.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                site.server.kill()
        mysql.run(php, "drop", database)


def _wait_until_serving(site: WordPressSite, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if site.server is not None and site.server.poll() is not None:
            raise AssertionError("php -S exited at start")
        try:
            if httpx.get(site.url + "/", timeout=5).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"WordPress did not answer at {site.url} within {timeout:.0f}s")


def _outer_faketime_seconds() -> int:
    """The relative offset this process runs under with libfaketime (``FAKETIME="+365d"``), in seconds; else 0."""
    match = re.fullmatch(r"([+-]\d+(?:\.\d+)?)([smhdy]?)", os.environ.get("FAKETIME", "").strip())
    if match is None:
        return 0
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "y": 365 * 86400}[match.group(2)]
    return round(float(match.group(1)) * unit)
