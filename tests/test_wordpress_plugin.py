"""The relay-connector plugin in a real WordPress, talking to a real ``relay serve`` process.

WordPress is Debian's package on a fresh MariaDB database, served by ``php -S`` (see
tests/wordpress_site.py); posts are published with ``wp_insert_post`` / ``wp_update_post``,
which fire ``wp_after_insert_post`` exactly as the editors do. X is the emulator. The whole
module skips, saying why, without php, the WordPress files or MariaDB.
"""

from __future__ import annotations

import base64
import html
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import create_engine, select

from relay.core.links import add_utm, post_slug
from relay.store.schema import deliveries, feeds, posts, webhook_ids
from relay.testing.x_emulator import EmulatorServer
from tests.processes import free_port, relay_env, run_relay, start_relay, wait_for
from tests.wordpress_site import WordPressSite, running_wordpress

pytestmark = pytest.mark.slow

SECRET = "whsec_" + base64.b64encode(b"wordpress plugin test key 32 b!!").decode()
API_TOKEN = "relay-api-token-for-the-plugin-test"
FAKE_X = {
    "RELAY_X_CONSUMER_KEY": "ck-wp",
    "RELAY_X_CONSUMER_SECRET": "cs-wp",
    "RELAY_X_ACCESS_TOKEN": "at-wp",
    "RELAY_X_ACCESS_TOKEN_SECRET": "ats-wp",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WordPressSite]:
    with running_wordpress(tmp_path_factory.mktemp("wordpress"), secret=SECRET, api_token=API_TOKEN) as site:
        yield site
        problems = [line for line in site.debug_log().splitlines()
                    if "relay-connector/" in line and ("PHP " in line or "Fatal" in line)]
        assert not problems, "the plugin raised PHP warnings or errors:\n" + "\n".join(problems)


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@dataclass
class RelayProcess:
    url: str
    database: Path
    log: Path
    env: dict[str, str]

    def query(self, statement: Any) -> list[Any]:
        engine = create_engine(f"sqlite:///{self.database}")
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement))
        finally:
            engine.dispose()

    def webhook_ids(self) -> list[str]:
        return [row.webhook_id for row in self.query(select(webhook_ids.c.webhook_id).order_by(webhook_ids.c.id))]

    def post_data(self, wordpress_id: int) -> dict[str, Any]:
        rows = self.query(select(posts.c.data).where(posts.c.dedup_key == f"wp:127.0.0.1:{wordpress_id}"))
        assert len(rows) == 1, rows
        data = rows[0].data
        return json.loads(data) if isinstance(data, str) else dict(data)

    def delivery_states(self, wordpress_id: int) -> list[str]:
        rows = self.query(
            select(deliveries.c.status).join(posts, posts.c.id == deliveries.c.post_id)
            .where(posts.c.dedup_key == f"wp:127.0.0.1:{wordpress_id}")
        )
        return [row.status for row in rows]


@contextmanager
def relay_serve(tmp_path: Path, emulator: EmulatorServer, *, config: str = "", **env: str) -> Iterator[RelayProcess]:
    port = free_port()
    config_path = tmp_path / "relay.toml"
    # A one-minute tick: a tweet within seconds proves the webhook woke the worker.
    config_path.write_text("[polling]\npublish_interval_seconds = 60\n" + config, encoding="utf-8")
    database = tmp_path / "relay.db"
    environment = relay_env(
        RELAY_CONFIG=str(config_path), RELAY_SERVER_PORT=str(port), RELAY_DATABASE_URL=f"sqlite:///{database}",
        RELAY_X_API_BASE_URL=emulator.base_url, RELAY_WORDPRESS_SECRET=SECRET, RELAY_API_TOKEN=API_TOKEN,
        **FAKE_X, **env,
    )
    log = tmp_path / "relay.log"
    process = start_relay(["serve"], environment, log, tmp_path)
    relay = RelayProcess(f"http://127.0.0.1:{port}", database, log, environment)
    try:
        wait_for(lambda: _healthy(relay, process, log), timeout=30, what="relay serve to answer /healthz")
        yield relay
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert SECRET not in log.read_text(encoding="utf-8"), "relay logged the webhook secret"


def _healthy(relay: RelayProcess, process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError("relay serve exited:\n" + log.read_text(encoding="utf-8"))
    try:
        return httpx.get(relay.url + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def relay(tmp_path: Path, emulator: EmulatorServer, site: WordPressSite) -> Iterator[RelayProcess]:
    with relay_serve(tmp_path, emulator) as process:
        site.configure_plugin(relay_url=process.url, secret=SECRET)
        yield process


def tweets_linking(emulator: EmulatorServer, link: str) -> list[str]:
    return [t.text for t in emulator.tweets() if link.split("://", 1)[1] in t.text]


# -- the main story ----------------------------------------------------------------------------


def test_a_published_post_is_tweeted_once_and_edits_protected_posts_and_drafts_are_not(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    post_id = site.insert_post(
        "Le pain au levain, pas à pas", excerpt="Farine, eau, sel et beaucoup de patience.",
        categories=("Boulangerie",), tags=("levain",), featured_image_alt="Une miche dorée",
    )
    link = site.permalink(post_id)
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the tweet at the X emulator")
    tweet = emulator.tweets()[0].text
    assert "Le pain au levain, pas à pas" in tweet
    assert link.split("://", 1)[1] in tweet
    assert relay.webhook_ids() == [relay.webhook_ids()[0]]
    assert relay.webhook_ids()[0].startswith(f"wp_127.0.0.1_{post_id}_") and relay.webhook_ids()[0].endswith(
        "_publish")
    # wp_after_insert_post runs after terms and the featured image are saved: relay got them
    data = relay.post_data(post_id)
    assert data["categories"] == ["Boulangerie", "levain"]
    assert data["image_url"].endswith(".png") and data["image_alt"] == "Une miche dorée"
    assert data["excerpt_html"].startswith("<p>Farine, eau, sel")

    site.update_post(post_id, post_title="Le pain au levain, pas à pas (corrigé)")
    wait_for(lambda: len(relay.webhook_ids()) == 2, timeout=10, what="the update event at relay")
    assert relay.webhook_ids()[1].endswith("_update")

    protected = site.insert_post("Réservé aux abonnés", password="pain2026")
    wait_for(lambda: len(relay.webhook_ids()) == 3, timeout=10, what="the protected post's event at relay")
    assert f"_{protected}_" in relay.webhook_ids()[2]

    site.insert_post("Un brouillon", status="draft")
    site.insert_post("En attente de relecture", status="pending")
    site.insert_post("Privé", status="private")
    time.sleep(1.0)
    assert len(relay.webhook_ids()) == 3, "drafts, pending and private posts are not even sent"
    assert [t.text for t in emulator.tweets()] == [tweet], "one tweet: no edit, protected post or draft posted"

    site.update_post(protected, post_password="")  # now every reader sees it: it is news
    wait_for(lambda: len(emulator.tweets()) == 2, timeout=15, what="the tweet of the post made public")
    assert relay.webhook_ids()[-1].endswith("_publish")
    assert "Réservé aux abonnés" in emulator.tweets()[1].text


def test_a_scheduled_post_is_tweeted_when_wordpress_publishes_it(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    post_id = site.insert_post("Le pain de demain", status="future", date_gmt=later)
    assert site.php(f"return get_post_status({post_id});") == "future"
    time.sleep(0.5)
    assert relay.webhook_ids() == [] and emulator.tweets() == []
    site.publish_scheduled(post_id)  # what WP-Cron's publish_future_post does
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the scheduled post's tweet")
    assert "Le pain de demain" in emulator.tweets()[0].text


def test_a_post_trashed_while_its_tweet_waits_is_never_posted(
    tmp_path: Path, site: WordPressSite, emulator: EmulatorServer
) -> None:
    now = datetime.now(UTC)
    quiet = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    with relay_serve(tmp_path, emulator, RELAY_PUBLISHING_QUIET_HOURS=quiet) as relay:
        site.configure_plugin(relay_url=relay.url, secret=SECRET)
        post_id = site.insert_post("Publié puis retiré")
        wait_for(lambda: relay.delivery_states(post_id) == ["queued"], timeout=10, what="the queued delivery")
        site.trash_post(post_id)
        wait_for(lambda: relay.delivery_states(post_id) == ["skipped"], timeout=10, what="the withdrawn delivery")
        assert relay.webhook_ids()[-1].endswith("_trash")
        deleted = site.insert_post("Publié puis supprimé sans passer par la corbeille")
        wait_for(lambda: relay.delivery_states(deleted) == ["queued"], timeout=10, what="the second delivery")
        site.php(f"return (bool) wp_delete_post({deleted}, true);")
        wait_for(lambda: relay.delivery_states(deleted) == ["skipped"], timeout=10, what="the deleted post withdrawn")
    assert emulator.tweets() == []


# -- when relay is unreachable or refuses ------------------------------------------------------


def test_a_delivery_relay_missed_is_retried_with_the_same_id(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    site.configure_plugin(relay_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    before = time.time()
    post_id = site.insert_post("Publié pendant une panne")
    retries = site.scheduled_retries()
    assert len(retries) == 1
    retry = retries[0]
    assert retry["id"].startswith(f"wp_127.0.0.1_{post_id}_") and retry["id"].endswith("_publish")
    assert before + 55 <= retry["at"] <= time.time() + 65, "first retry after one minute"
    assert retry["delivery"]["attempts"] == 1
    assert "impossible de joindre relay" in retry["delivery"]["last_error"], "the site is in French"
    assert emulator.tweets() == []

    site.configure_plugin(relay_url=relay.url)  # relay is back
    assert site.run_retries_now() == [retry["id"]]
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the tweet after the retry")
    assert relay.webhook_ids() == [retry["id"]], "relay saw the delivery under the id WordPress chose first"
    assert site.scheduled_retries() == [] and site.failures() == []


def test_retries_back_off_then_give_up_with_an_admin_notice(site: WordPressSite, relay: RelayProcess) -> None:
    site.configure_plugin(relay_url=f"http://127.0.0.1:{free_port()}")
    site.php("delete_option('relay_connector_failures'); return true;")
    post_id = site.insert_post("Jamais arrivé")
    delays = []
    for _ in range(3):
        (retry,) = site.scheduled_retries()
        delays.append(retry["at"] - time.time())
        site.run_retries_now()
    assert [round(d, -1) for d in delays] == [60, 300, 1800]
    assert site.scheduled_retries() == []
    (failure,) = site.failures()
    assert failure["post_id"] == post_id and "impossible de joindre relay" in failure["message"]
    notice = site.php("ob_start(); RelayConnector\\show_delivery_failures(); return ob_get_clean();")
    assert "Jamais arrivé" in notice and "impossible de joindre relay" in notice and "_wpnonce=" in notice
    assert "relay n’a pas reçu ces articles" in notice and "Tester la connexion" in notice
    assert relay.webhook_ids() == []


def test_a_refused_delivery_is_not_retried_and_the_notice_says_why(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    site.php("delete_option('relay_connector_failures'); return true;")
    wrong = "whsec_" + base64.b64encode(b"not the secret relay knows about").decode()
    site.configure_plugin(secret=wrong)
    site.insert_post("Signé avec la mauvaise clé")
    assert site.scheduled_retries() == [], "a 401 is not fixed by retrying"
    (failure,) = site.failures()
    assert "relay a répondu 401" in failure["message"] and "same secret" in failure["message"]
    notice = site.php("ob_start(); RelayConnector\\show_delivery_failures(); return ob_get_clean();")
    assert "relay a répondu 401" in notice and wrong not in notice
    assert "La clé secrète n’est pas celle que relay connaît." in notice  # what it means, in the owner's words
    assert "(publié)" in notice, "the event named in French, not 'publish'"
    assert emulator.tweets() == [] and relay.webhook_ids() == []


# -- one post through two doors -------------------------------------------------------------------


def test_the_same_post_by_webhook_and_by_feed_is_one_tweet(
    tmp_path: Path, site: WordPressSite, emulator: EmulatorServer
) -> None:
    config = f'[[feeds]]\nurl = "{site.url}/feed/"\n'
    with relay_serve(tmp_path, emulator, config=config) as relay:
        site.configure_plugin(relay_url=relay.url, secret=SECRET)
        wait_for(lambda: any(row.baseline_at for row in relay.query(select(feeds.c.baseline_at))), timeout=20,
                 what="relay's first look at the WordPress feed")
        # As in the editor: a draft first (its GUID is ?p=ID), published later.
        post_id = site.insert_post("Deux portes, un tweet", status="draft")
        site.update_post(post_id, post_status="publish")
        wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the webhook's tweet")
        assert f"?p={post_id}" in site.get("/feed/").text  # the feed carries the same post, GUID ?p=ID
        # A poll of every feed now, by a second relay process on the same database.
        polled = run_relay(["poll", "--once"], relay.env, cwd=tmp_path)
        assert polled.returncode == 0, polled.stdout + polled.stderr
        time.sleep(0.5)
        assert len(emulator.tweets()) == 1
        assert len(relay.query(select(posts.c.id).where(posts.c.title == "Deux portes, un tweet"))) == 1


# -- the admin side --------------------------------------------------------------------------------


def test_the_settings_page_never_shows_the_secrets(site: WordPressSite) -> None:
    site.configure_plugin(secret=SECRET, api_token=API_TOKEN, relay_url="https://relay.example")
    page = site.php("""
        set_current_screen('settings_page_relay-connector');
        RelayConnector\\register_settings();
        ob_start(); RelayConnector\\render_settings_page(); return ob_get_clean();
    """)
    assert 'value="https://relay.example"' in page
    assert SECRET not in page and SECRET.removeprefix("whsec_") not in page and API_TOKEN not in page
    assert page.count('type="password"') == 2 and "enregistrée ; laissez vide pour la garder" in page
    kept = site.php("""
        return RelayConnector\\sanitize_settings(['relay_url' => 'https://relay.example/', 'secret' => '',
                                                  'api_token' => '']);
    """)
    assert kept == {"relay_url": "https://relay.example", "secret": SECRET, "api_token": API_TOKEN,
                    "share_default": True}
    refused = site.php("""
        return RelayConnector\\sanitize_settings(['relay_url' => 'ftp://x', 'secret' => 'whsec_***']);
    """)
    assert refused["secret"] == SECRET and refused["relay_url"] == "https://relay.example"


class _Capture(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Capture.received.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        answer = b'{"outcome": "queued"}'
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_relay_again_calls_the_republish_api_with_the_token(site: WordPressSite) -> None:
    _Capture.received.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        site.configure_plugin(relay_url=f"http://127.0.0.1:{server.server_address[1]}", api_token=API_TOKEN,
                              secret="")  # no secret: publishing sends no webhook here
        post_id = site.insert_post("À relayer encore")
        actions = site.php(f"return apply_filters('post_row_actions', [], get_post({post_id}));", admin=True)
        assert "relay_again" in actions
        link = html.unescape(actions["relay_again"].split('href="', 1)[1].split('"', 1)[0])
        assert f"/wp-admin/admin-post.php?action=relay_connector_republish&post={post_id}&_wpnonce=" in link
        draft = site.insert_post("Pas encore publié", status="draft")
        draft_actions = site.php(f"return apply_filters('post_row_actions', [], get_post({draft}));", admin=True)
        assert "relay_again" not in draft_actions

        # The click, over HTTP, as the logged-in admin: the nonce is checked, then relay is called.
        session = site.php(f"""
            $expires = time() + 3600;
            $token = WP_Session_Tokens::get_instance(1)->create($expires);
            $_COOKIE[LOGGED_IN_COOKIE] = wp_generate_auth_cookie(1, $expires, 'logged_in', $token);
            return ['cookie' => AUTH_COOKIE . '=' . wp_generate_auth_cookie(1, $expires, 'auth', $token)
                                . '; ' . LOGGED_IN_COOKIE . '=' . $_COOKIE[LOGGED_IN_COOKIE],
                    'nonce' => wp_create_nonce('relay_connector_republish_{post_id}')];
        """)
        click = f"{site.url}/wp-admin/admin-post.php?action=relay_connector_republish&post={post_id}"
        headers = {"Cookie": session["cookie"], "Referer": f"{site.url}/wp-admin/edit.php"}
        forged = httpx.get(click + "&_wpnonce=0123456789", headers=headers, timeout=30)
        assert forged.status_code == 403 and _Capture.received == []
        clicked = httpx.get(click + f"&_wpnonce={session['nonce']}", headers=headers, timeout=30)
        assert clicked.status_code == 302 and clicked.headers["location"] == f"{site.url}/wp-admin/edit.php"
        notice = site.php("ob_start(); RelayConnector\\show_republish_result(); return ob_get_clean();")
        assert "relay va publier à nouveau « À relayer encore »." in notice
    finally:
        server.shutdown()
        server.server_close()
    (request,) = _Capture.received
    assert request["path"] == "/api/republish"
    assert request["headers"]["Authorization"] == f"Bearer {API_TOKEN}"
    assert request["body"] == {"url": site.permalink(post_id)}
    site.configure_plugin(secret=SECRET)


# -- in French, with the editor's controls (issue 15) ------------------------------------------------

SHOTS = Path("/tmp/shots")


def test_the_settings_page_speaks_french_and_refuses_an_address_without_https(site: WordPressSite) -> None:
    site.configure_plugin(secret=SECRET, relay_url="https://relay.example")
    assert site.php("return get_locale();") == "fr_FR"
    page = site.php("""
        set_current_screen('settings_page_relay-connector');
        RelayConnector\\register_settings();
        ob_start(); RelayConnector\\render_settings_page(); return ob_get_clean();
    """)
    for words in ("Relayer sur X", "Adresse de relay", "Clé secrète", "Partager les nouveaux articles sur X",
                  "Clé pour « Relayer à nouveau »", "Tester la connexion", "Tout fonctionne ?",
                  "Un mot de passe commun à votre site et à relay"):
        assert words in page, words
    assert "Webhook secret" not in page and "Test the connection" not in page
    refused = site.php("""
        $saved = RelayConnector\\sanitize_settings(['relay_url' => 'relay.boulangerie.fr']);
        return ['url' => $saved['relay_url'], 'errors' => get_settings_errors('relay_connector_settings')];
    """)
    assert refused["url"] == "https://relay.example", "an address without https:// is not saved as http://"
    (error,) = refused["errors"]
    assert "« relay.boulangerie.fr » n’a pas été enregistrée" in error["message"]
    assert "https://relay.boulangerie.fr" in error["message"]
    off = site.php("return RelayConnector\\sanitize_settings(['relay_url' => '', 'share_default' => '0']);")
    assert off["share_default"] is False
    site.php("update_option('relay_connector_settings', array_merge(get_option('relay_connector_settings'),"
             " ['share_default' => true])); return true;")


def test_the_connection_test_says_in_words_what_is_wrong(site: WordPressSite, relay: RelayProcess) -> None:
    test = "return RelayConnector\\test_connection();"
    good = site.php(test)
    assert good["ok"] is True and good["kind"] == "ok" and good["message"].startswith("Tout va bien")
    late = site.php(test, clock_offset=11 * 60)
    assert late["kind"] == "clock" and "avance de 11 minutes" in late["message"], late
    early = site.php(test, clock_offset=-7 * 60)
    assert early["kind"] == "clock" and "retarde de 7 minutes" in early["message"], early

    wrong = "whsec_" + base64.b64encode(b"a key relay has never heard of!!").decode()
    site.configure_plugin(secret=wrong)
    refused = site.php(test)
    assert refused["kind"] == "secret" and "la clé secrète n’est pas la même" in refused["message"]
    assert site.php(test, clock_offset=11 * 60)["kind"] == "secret", "a wrong key is not mistaken for the clock"
    assert wrong not in json.dumps(refused)

    site.configure_plugin(secret=SECRET, relay_url=f"http://127.0.0.1:{free_port()}")
    down = site.php(test)
    assert down["kind"] == "down" and "relay ne répond pas" in down["message"]
    site.configure_plugin(relay_url=site.url)  # something answers, but it is WordPress, not relay
    elsewhere = site.php(test)
    assert elsewhere["kind"] == "address" and "ce n’est pas relay" in elsewhere["message"]
    site.configure_plugin(relay_url=relay.url)

    # The button, over HTTP: the nonce is checked, the result is shown once on the settings page.
    session = _admin_session(site, "relay_connector_test")
    button = httpx.post(f"{site.url}/wp-admin/admin-post.php", data={"action": "relay_connector_test",
                                                                     "_wpnonce": session["nonce"]},
                        headers={"Cookie": session["cookie"]}, timeout=30)
    assert button.status_code == 302 and "page=relay-connector" in button.headers["location"]
    settings = httpx.get(button.headers["location"], headers={"Cookie": session["cookie"]}, timeout=30)
    assert "Connexion testée :" in settings.text and "Tout va bien" in settings.text
    assert SECRET not in settings.text and SECRET.removeprefix("whsec_") not in settings.text
    forged = httpx.post(f"{site.url}/wp-admin/admin-post.php", data={"action": "relay_connector_test",
                                                                     "_wpnonce": "0123456789"},
                        headers={"Cookie": session["cookie"]}, timeout=30)
    assert forged.status_code == 403


def _admin_session(site: WordPressSite, nonce_action: str) -> dict[str, str]:
    return dict(site.php(f"""
        $expires = time() + 3600;
        $token = WP_Session_Tokens::get_instance(1)->create($expires);
        $logged_in = wp_generate_auth_cookie(1, $expires, 'logged_in', $token);
        $_COOKIE[LOGGED_IN_COOKIE] = $logged_in;
        return ['cookie' => AUTH_COOKIE . '=' . wp_generate_auth_cookie(1, $expires, 'auth', $token)
                            . '; ' . LOGGED_IN_COOKIE . '=' . $logged_in,
                'auth_name' => AUTH_COOKIE, 'auth' => wp_generate_auth_cookie(1, $expires, 'auth', $token),
                'logged_in_name' => LOGGED_IN_COOKIE, 'logged_in' => $logged_in,
                'nonce' => wp_create_nonce('{nonce_action}')];
    """))


def _insert_with_choices(site: WordPressSite, title: str, *, share: bool, message: str = "") -> int:
    """A post published with the editor's choices saved with it (meta_input, as the editors save meta)."""
    return int(site.php(f"""
        $id = wp_insert_post(['post_title' => {json.dumps(title)}, 'post_status' => 'publish',
            'post_type' => 'post', 'post_author' => 1, 'post_content' => '<p>Farine, eau, sel : le pain.</p>',
            'meta_input' => ['_relay_connector_share' => {'true' if share else 'false'},
                             '_relay_connector_message' => {json.dumps(message)}]], true);
        if (is_wp_error($id)) {{ throw new Exception($id->get_error_message()); }}
        return $id;
    """))


def test_a_custom_message_is_exactly_the_tweet_and_an_opted_out_post_is_not_posted(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    message = "Tout chaud sorti du four : {title} {link} #boulangerie"
    post_id = _insert_with_choices(site, "La fougasse aux olives", share=True, message=message)
    link = site.permalink(post_id)
    wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the tweet of the custom message")
    tagged = add_utm(link, campaign=post_slug(link, "La fougasse aux olives"))
    assert emulator.tweets()[0].text == f"Tout chaud sorti du four : La fougasse aux olives {tagged} #boulangerie"

    quiet = _insert_with_choices(site, "Fermeture exceptionnelle lundi", share=False)
    wait_for(lambda: any(f"_{quiet}_" in i for i in relay.webhook_ids()), timeout=10, what="the opted-out event")
    time.sleep(1.0)
    assert len(emulator.tweets()) == 1, "an opted-out post is not posted"
    assert relay.delivery_states(quiet) == [] and relay.post_data(quiet)["title"] == "Fermeture exceptionnelle lundi"

    # What the editor shows after publishing: the status, the tweet on X, the visits (asked of relay).
    session = _admin_session(site, "wp_rest")
    headers = {"Cookie": session["cookie"], "X-WP-Nonce": session["nonce"]}
    wait_for(lambda: httpx.get(f"{site.url}/wp-json/relay-connector/v1/status/{post_id}", headers=headers,
                               timeout=30).json().get("status") == "sent", timeout=15, what="the sent status")
    sent = httpx.get(f"{site.url}/wp-json/relay-connector/v1/status/{post_id}", headers=headers, timeout=30).json()
    assert sent["tweet_url"] == f"https://x.com/i/web/status/{emulator.tweets()[0].id}"
    assert sent["human_clicks"] == 0
    not_shared = httpx.get(f"{site.url}/wp-json/relay-connector/v1/status/{quiet}", headers=headers, timeout=30)
    assert not_shared.json()["status"] == "not_shared"
    # The live preview, through WordPress: nonce and capability checked, relay's key never in the answer.
    preview = httpx.post(f"{site.url}/wp-json/relay-connector/v1/preview/{post_id}", headers=headers, timeout=30,
                         json={"message": "Nouveau : {title} {link}", "title": "La fougasse (titre en cours)"})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["text"].startswith("Nouveau : La fougasse (titre en cours) ") and body["weighted_length"] <= 280
    assert SECRET not in preview.text and API_TOKEN not in preview.text
    long = httpx.post(f"{site.url}/wp-json/relay-connector/v1/preview/{post_id}", headers=headers, timeout=30,
                      json={"message": "Du bon pain chaud, croustillant et doré ! " * 12})
    assert long.status_code == 200, long.text
    assert long.json()["cut"] is True and long.json()["weighted_length"] <= 280
    anonymous = httpx.post(f"{site.url}/wp-json/relay-connector/v1/preview/{post_id}", json={}, timeout=30)
    assert anonymous.status_code == 401
    no_nonce = httpx.post(f"{site.url}/wp-json/relay-connector/v1/preview/{post_id}", json={}, timeout=30,
                          headers={"Cookie": session["cookie"]})
    assert no_nonce.status_code in (401, 403), "a cookie without the REST nonce is not the editor"
    assert len(emulator.tweets()) == 1, "previews post nothing"


def test_relay_again_posts_the_title_as_it_is_now(
    tmp_path: Path, site: WordPressSite, emulator: EmulatorServer
) -> None:
    config = '[fetch]\nallow_hosts = ["127.0.0.1"]\n'
    with relay_serve(tmp_path, emulator, config=config) as relay:
        site.configure_plugin(relay_url=relay.url, secret=SECRET, api_token=API_TOKEN)
        post_id = site.insert_post("Le titre d’avant")
        wait_for(lambda: len(emulator.tweets()) == 1, timeout=15, what="the first tweet")
        site.update_post(post_id, post_title="Le titre d’après")
        wait_for(lambda: relay.webhook_ids()[-1].endswith("_update"), timeout=10, what="the update at relay")
        result = site.php(f"return RelayConnector\\request_republish({post_id});")
        assert result["ok"] is True and "« Le titre d’après »" in result["message"]
        wait_for(lambda: len(emulator.tweets()) == 2, timeout=15, what="the tweet of 'Relay again'")
        again = emulator.tweets()[1].text
        assert "Le titre d’après" in again and "Le titre d’avant" not in again, again


def test_the_editor_controls_in_french(site: WordPressSite) -> None:
    site.configure_plugin(secret=SECRET, relay_url="https://relay.example")
    post_id = site.insert_post("Un article à régler", status="draft")
    box = site.php(f"ob_start(); RelayConnector\\render_meta_box(get_post({post_id})); return ob_get_clean();",
                   admin=True)
    for words in ("Partager cet article sur X", "Votre message (facultatif)", "Afficher le tweet",
                  "Le tweet, tel qu’il paraîtra", "{title} {summary} {hashtags} {link}"):
        assert words in box, words
    assert 'id="relay-connector-share" value="1"  checked=\'checked\'' in box, "shared by default"
    strings = site.php("return RelayConnector\\editor_strings();")
    assert strings["panelTitle"] == "Partager sur X" and strings["statusNames"]["sent"] == "Publié."
    registered = site.php("return array_keys(get_registered_meta_keys('post', 'post'));")
    assert {"_relay_connector_share", "_relay_connector_message"} <= set(registered)
    # The meta box's save: nonce and capability checked.
    site.php(f"""
        $_POST = ['relay_connector_meta_nonce' => wp_create_nonce('relay_connector_meta_{post_id}'),
                  'relay_connector_message' => 'Mon message <3 à 100%20', 'relay_connector_share' => ''];
        RelayConnector\\save_meta_box({post_id}); return true;
    """)
    assert site.php(f"return RelayConnector\\author_choices(get_post({post_id}));") == {
        "share": False, "message": "Mon message <3 à 100%20"}


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_the_settings_page_and_the_block_editor_panel_in_chromium(
    site: WordPressSite, relay: RelayProcess, emulator: EmulatorServer
) -> None:
    """Debian's chromium, driven by Playwright (no browser download), logged in as the admin.

    Screenshots go to /tmp/shots/ (settings-fr.png, editor-fr.png, editor-panel-fr.png) to be looked at.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    session = _admin_session(site, "wp_rest")
    site.php("""update_user_meta(1, $GLOBALS['wpdb']->get_blog_prefix() . 'persisted_preferences',
                 ['core/edit-post' => ['welcomeGuide' => false], '_modified' => gmdate('c')]); return true;""")
    post_id = int(site.php("""
        $id = wp_insert_post(['post_title' => 'Le pain de campagne du samedi', 'post_status' => 'draft',
            'post_type' => 'post', 'post_author' => 1,
            'post_content' => '<!-- wp:paragraph --><p>Levain naturel, farine de meule, feu de bois.</p>'
                              . '<!-- /wp:paragraph -->',
            'meta_input' => ['_relay_connector_message' => 'Ce samedi : {title} {link} #boulangerie']], true);
        return $id;
    """))
    cookies = [{"name": session["auth_name"], "value": session["auth"], "url": site.url},
               {"name": session["logged_in_name"], "value": session["logged_in"], "url": site.url}]
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
            context.add_cookies(cookies)  # type: ignore[arg-type]
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{site.url}/wp-admin/options-general.php?page=relay-connector", timeout=120_000)
            page.click("#relay-connector-test")
            page.wait_for_selector("#relay-connector-test-result", timeout=60_000)
            assert "Tout va bien" in page.inner_text("#relay-connector-test-result")
            assert page.locator("label[for=relay_connector_secret]").inner_text() == "Clé secrète"
            page.screenshot(path=str(SHOTS / "settings-fr.png"), full_page=True)

            page.goto(f"{site.url}/wp-admin/post.php?post={post_id}&action=edit", timeout=120_000)
            panel = page.wait_for_selector(".relay-connector-panel", timeout=120_000)
            assert panel is not None
            if page.locator(".relay-connector-panel textarea").count() == 0:  # WordPress keeps panels closed
                page.click(".relay-connector-panel button.components-panel__body-toggle")
            try:
                page.wait_for_selector(".relay-connector-tweet", timeout=60_000)
            except Exception:
                page.screenshot(path=str(SHOTS / "editor-panel-fr-failed.png"))
                raise AssertionError(page.inner_text(".relay-connector-panel") + "\n" + "\n".join(errors)
                                     + "\n" + site.debug_log()[-2000:]) from None
            text = page.locator(".relay-connector-panel").text_content() or ""
            assert "Partager sur X" in text and "Partager cet article sur X" in text
            assert "Votre message (facultatif)" in text
            assert "Ce samedi : Le pain de campagne du samedi http://127.0.0.1" in page.inner_text(
                ".relay-connector-tweet")
            assert "caractères sur 280, comptés comme X les compte" in page.inner_text(".relay-connector-count")
            # Typing changes the preview: asked of relay through WordPress, live.
            page.fill(".relay-connector-panel textarea", "Tout frais : {title} {link}")
            page.wait_for_function(
                "() => (document.querySelector('.relay-connector-tweet') || {}).textContent"
                "?.startsWith('Tout frais : Le pain de campagne du samedi')", timeout=30_000)
            page.screenshot(path=str(SHOTS / "editor-fr.png"), full_page=False)
            page.locator(".relay-connector-panel").screenshot(path=str(SHOTS / "editor-panel-fr.png"))
            html_text = page.content()
            assert SECRET not in html_text and SECRET.removeprefix("whsec_") not in html_text
            assert API_TOKEN not in html_text
        finally:
            browser.close()
    assert not [e for e in errors if "relay" in e.lower()], errors
    assert emulator.tweets() == [], "a draft and its previews post nothing"
