"""The web console (``/ui``), driven in a real headless Chromium (Debian's ``chromium``, driven by
Playwright for Python without downloading a browser): creating a connector from the form,
validation errors next to their field, pausing, a failed Python task's traceback, peeking at a
dead letter queue record with its headers, the other pages, a phone-width layout, the
"unreachable" banner, and the console behind HTTPS and basic authentication.

Screenshots of every page go to ``$CONVEYOR_SCREENSHOTS`` when set, else to
``<pytest's base temp>/console-screenshots``; the path is printed in the test report."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import requests
from helpers import Rest, WorkerProcess, read_lines, unique, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from certs import CertificateAuthority  # noqa: E402

CHROMIUM = os.environ.get("CONVEYOR_CHROMIUM", "/usr/bin/chromium")
# Chromium as root in a closed network: no sandbox, and none of its background connections.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"

PLUGINS = """
from conveyor import SourceConnector, SourceTask


class BoomTask(SourceTask):
    def poll(self):
        raise ValueError("boom from the console test")


class BoomSource(SourceConnector):
    task_class = BoomTask

    def task_configs(self, max_tasks):
        return [dict(self.config)]
"""


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    where = os.environ.get("CONVEYOR_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.getbasetemp() / "console-screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} not found: the console tests need Debian's chromium package "
            "(scripts/test.sh installs it; or set CONVEYOR_CHROMIUM)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Console:
    """One browser tab on a worker's console, with the page's console errors collected."""

    def __init__(self, browser, base: str, shots: Path, viewport=DESKTOP, **context):
        self.context = browser.new_context(viewport=viewport, **context)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = base.rstrip("/")
        self.shots = shots

    def open(self, route: str = "/"):
        self.page.goto(f"{self.base}/ui/#{route}")
        self.page.wait_for_selector("main h1")
        return self.page

    def shot(self, name: str, around=None):
        """Saves a screenshot: the whole page, or the window scrolled to ``around`` (a locator)
        for pages with sticky parts."""
        # Let the live charts and refreshes settle into the picture.
        self.page.wait_for_timeout(300)
        path = self.shots / f"{name}.png"
        if around is not None:
            around.evaluate("el => el.scrollIntoView({block: 'center'})")
        else:
            # From the top, so that the sticky header is drawn where it belongs.
            self.page.evaluate("() => window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=around is None)
        print(f"screenshot: {path}")
        return path

    def no_horizontal_scroll(self):
        width = self.page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page is wider than the window: {width}"

    def close(self):
        self.context.close()
        assert not self.errors, f"JavaScript errors on the page: {self.errors}"


@pytest.fixture
def console(browser, screenshots):
    opened: list[Console] = []

    def open_console(worker: WorkerProcess, **kw) -> Console:
        c = Console(browser, worker.rest.base, screenshots, **kw)
        opened.append(c)
        return c

    yield open_console
    for c in opened:
        c.close()


@pytest.fixture
def worker(tmp_path, start_worker):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "console_plugins.py").write_text(PLUGINS)
    return start_worker(
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "plugin.path": plugins,
        }
    )


def test_the_console_is_served_at_ui_and_to_browsers_at_root(worker):
    rest = worker.rest
    # API clients keep Connect's JSON at /.
    r = rest.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200 and "version" in r.json()
    assert "version" in rest.get("/").json()
    # A browser navigating to / is sent to the console.
    r = rest.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, allow_redirects=False)
    assert r.status_code in (303, 307, 308) and r.headers["Location"] == "/ui/", r.headers
    r = rest.get("/ui", allow_redirects=False)
    assert r.status_code == 308 and r.headers["Location"] == "/ui/"
    page = rest.get("/ui/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    # Everything the page loads comes from the worker itself: no CDN.
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)
    app = rest.get("/ui/app.js")
    assert app.status_code == 200 and app.headers["Content-Type"].startswith("text/javascript")
    assert rest.get("/ui/nothing.js").status_code == 404
    # A browser holding the console's credentials must not let another site write.
    body = {"name": "forged", "config": {"connector.class": "FileStreamSource", "topic": "t"}}
    forged = rest.post("/connectors", body, headers={"Origin": "https://elsewhere.example"})
    assert forged.status_code == 403, forged.text
    assert forged.json()["error_code"] == 403
    assert rest.get("/connectors/forged").status_code == 404


def test_create_a_file_source_from_the_form_see_it_running_and_pause_it(worker, console, broker, tmp_path):
    source_file = tmp_path / "lines.txt"
    source_file.write_text("".join(f"line {i}\n" for i in range(200)))
    topic = broker.create_topic(unique("console-src"))
    c = console(worker)
    page = c.open("/new")
    page.get_by_role("link", name=FILE_SOURCE).click()
    page.wait_for_selector('[data-field="file"]')

    # A wrong value gets its error next to its field while typing.
    page.fill("#f-name", "from-the-form")
    batch = page.locator(r"#f-batch\.size")
    batch.fill("lots")
    error = page.locator('[data-error-for="batch.size"]')
    error.filter(has_text="batch.size").wait_for()
    assert "lots" in error.inner_text(), error.inner_text()
    assert batch.get_attribute("aria-invalid") == "true"
    field_box = page.locator('[data-field="batch.size"]').bounding_box()
    error_box = error.bounding_box()
    assert field_box["y"] <= error_box["y"] <= field_box["y"] + field_box["height"], (
        "the error is not at its field"
    )
    c.shot("create-form-with-error", around=batch)
    batch.fill("")
    page.wait_for_function(
        "() => document.querySelector('[data-error-for=\"batch.size\"]').textContent === ''"
    )

    page.fill("#f-file", str(source_file))
    page.fill("#f-topic", topic)
    # The raw JSON mode shows the same config.
    page.get_by_role("button", name="JSON").click()
    raw = json.loads(page.locator("#raw").input_value())
    assert raw["file"] == str(source_file) and raw["topic"] == topic and raw["connector.class"] == FILE_SOURCE
    page.get_by_role("button", name="Form").click()
    page.get_by_role("button", name="Create connector").click()

    # The connector page, with the connector and its task RUNNING.
    page.wait_for_url(re.compile(r".*#/connectors/from-the-form$"))
    page.locator('#state [data-state="RUNNING"]').wait_for()
    page.locator('.task [data-state="RUNNING"]').wait_for()
    assert worker.rest.wait_running("from-the-form")
    assert worker.rest.get("/connectors/from-the-form/config").json()["file"] == str(source_file)
    wait_until(lambda: len(broker.consume(topic, 200, timeout=10)) >= 200, 60, what="the file in Kafka")
    # The worker's metrics, as the console reads them.
    metrics = worker.rest.get("/conveyor/metrics").json()
    mine = [t for w in metrics["workers"] for t in w["tasks"] if t["connector"] == "from-the-form"]
    assert mine and mine[0]["source_record_write_total"] >= 200, metrics
    page.locator("#h-topics ~ #topics li", has_text=topic).wait_for()
    c.shot("connector-running")

    page.get_by_role("button", name="Pause", exact=True).click()
    page.locator('#state [data-state="PAUSED"]').wait_for()
    worker.rest.wait_state("from-the-form", "PAUSED", task=None)
    assert page.get_by_role("button", name="Resume").is_enabled()
    assert page.get_by_role("button", name="Pause", exact=True).is_disabled()

    # The cluster page lists it, PAUSED, with its task counts and charts.
    page.get_by_role("link", name="Cluster").click()
    row = page.locator('tr[data-connector="from-the-form"]')
    row.locator('[data-state="PAUSED"]').wait_for()
    assert "1 paused" in row.inner_text()
    assert row.locator("svg.spark").count() == 1  # a source has no lag chart
    page.locator("table.workers td", has_text=worker.rest.base.split("//")[1]).first.wait_for()
    row.locator("svg.spark polyline").wait_for(state="attached")  # two samples or more
    c.shot("cluster")

    # Keyboard: Tab reaches the connector link, Enter opens it.
    page.keyboard.press("c")
    page.locator('a[href="#/connectors/from-the-form"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*#/connectors/from-the-form$"))

    # Phone width: the same pages, one column, nothing wider than the screen.
    phone = console(worker, viewport=PHONE)
    phone.open("/")
    phone.page.locator('tr[data-connector="from-the-form"]').wait_for()
    phone.no_horizontal_scroll()
    phone.shot("cluster-phone")
    phone.open("/connectors/from-the-form")
    phone.page.locator('#state [data-state="PAUSED"]').wait_for()
    phone.no_horizontal_scroll()
    phone.shot("connector-phone")

    # Delete, after confirming.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(re.compile(r".*#/$"))
    wait_until(lambda: worker.rest.get("/connectors/from-the-form").status_code == 404, 30, what="deleted")


def test_a_failed_python_task_shows_its_traceback(worker, console, broker):
    topic = broker.create_topic(unique("console-boom"))
    worker.create("boom", {"connector.class": "console_plugins:BoomSource", "topic": topic})
    worker.rest.wait_state("boom", "FAILED")
    c = console(worker)
    page = c.open("/connectors/boom")
    task = page.locator('.task[data-task="0"]')
    task.locator('[data-state="FAILED"]').wait_for()
    trace = task.locator("details.trace pre")
    trace.wait_for()
    text = trace.inner_text()
    assert "Traceback (most recent call last)" in text, text
    assert "ValueError: boom from the console test" in text
    assert "console_plugins.py" in text
    c.shot("connector-failed-task")
    # Restart only the failed tasks: the task fails again, and says so.
    page.get_by_role("button", name="Restart failed tasks").click()
    task.locator('[data-state="FAILED"]').wait_for()
    page.get_by_role("link", name="Cluster").click()
    page.locator('tr[data-connector="boom"] .count.bad', has_text="1 failed").wait_for()


def test_peek_at_a_dead_letter_queue_record_with_its_headers(worker, console, broker, tmp_path):
    topic = broker.create_topic(unique("console-in"))
    dlq = unique("console-dlq")
    broker.produce(topic, [b'{"ok": 1}', b"this is not json", b'{"ok": 2}'])
    out = tmp_path / "out.txt"
    worker.create(
        "tolerant",
        {
            "connector.class": "FileStreamSink",
            "file": out,
            "topics": topic,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    wait_until(lambda: len(read_lines(out)) >= 2, 60, what="the good records in the sink")
    broker.consume(dlq, 1, timeout=60)

    # The REST resource behind the page: bounded, decoded, with headers.
    r = worker.rest.get("/conveyor/peek", params={"topic": dlq, "n": 5})
    assert r.status_code == 200, r.text
    record = r.json()["records"][0]
    assert record["value"]["payload"] == "this is not json"
    headers = {h["key"]: h["value"] for h in record["headers"]}
    assert headers["__connect.errors.topic"] == topic
    assert headers["__connect.errors.connector.name"] == "tolerant"
    assert worker.rest.get("/conveyor/peek", params={"topic": dlq, "n": 100000}).status_code == 400
    assert worker.rest.get("/conveyor/peek").status_code == 400

    c = console(worker)
    page = c.open("/connectors/tolerant")
    page.locator('#state [data-state="RUNNING"]').wait_for()
    page.get_by_role("link", name="Peek DLQ").click()
    page.wait_for_url(re.compile(r".*#/peek\?topic="))
    card = page.locator("article.record").first
    card.wait_for()
    assert "this is not json" in card.inner_text()
    header_row = card.locator("tr.error-header", has_text="__connect.errors.topic")
    assert topic in header_row.inner_text()
    assert card.locator("tr.error-header", has_text="__connect.errors.exception.class.name").count() == 1
    c.shot("peek-dlq")

    # The sink's topic, decoded as JSON objects.
    page.fill("#topic", topic)
    page.select_option("#value-converter", "org.apache.kafka.connect.json.JsonConverter")
    page.select_option("#schemas", "false")
    page.get_by_role("button", name="Peek", exact=True).click()
    page.locator("#peek-status", has_text="3 records").wait_for()
    # The bad record cannot be decoded as JSON: it says so, with its bytes as text.
    assert page.locator("article.record .error").count() == 1
    assert '"ok": 2' in page.locator("article.record").last.inner_text()


def test_plugins_and_loggers_pages(worker, console):
    c = console(worker)
    page = c.open("/plugins")
    plugin = page.locator('details.plugin[data-class$="InsertField$Value"]')
    plugin.wait_for()
    for kind in ("Source connectors", "Sink connectors", "Transforms", "Predicates", "Converters"):
        assert page.get_by_role("heading", name=re.compile(kind)).count() == 1, kind
    plugin.locator("summary").click()
    plugin.locator("table.plugin-keys td", has_text="static.field").first.wait_for()
    c.shot("plugins")
    page.fill("#filter", "RegexRouter")
    assert page.locator("details.plugin").count() == 1

    page = c.open("/loggers")
    root = page.locator('select[data-logger="root"]')
    root.wait_for()
    page.fill("#new-logger", "conveyor::rest")
    page.select_option("#new-level", "DEBUG")
    page.get_by_role("button", name="Set level").click()
    page.locator('select[data-logger="conveyor::rest"]').wait_for()
    assert worker.rest.get("/admin/loggers/conveyor::rest").json()["level"] == "DEBUG"
    page.select_option('select[data-logger="conveyor::rest"]', "WARN")
    wait_until(
        lambda: worker.rest.get("/admin/loggers/conveyor::rest").json()["level"] == "WARN", 10, what="WARN"
    )
    c.shot("loggers")


def test_a_follower_shows_the_whole_distributed_cluster_and_forwards_actions(console, broker, tmp_path):
    group = unique("console-cluster")
    started: list[WorkerProcess] = []
    try:
        for name in ("x", "y"):
            started.append(WorkerProcess.distributed(tmp_path, broker.bootstrap, group=group, name=name))

        def both_known():
            answers = [w.rest.get("/conveyor/workers").json() for w in started]
            return answers if all(len(a["workers"]) == 2 for a in answers) else None

        answers = wait_until(both_known, 60, what="both workers known to both")
        followers = [w for w, a in zip(started, answers) if a["leader_url"]]
        assert len(followers) == 1, answers
        follower = followers[0]

        topic = broker.create_topic(unique("console-dist"), partitions=2)
        broker.produce(topic, [f"line {i}".encode() for i in range(500)])
        follower.create(
            "spread",
            {
                "connector.class": "FileStreamSink",
                "file": tmp_path / "out.txt",
                "topics": topic,
                "tasks.max": 2,
            },
        )
        follower.rest.wait_running("spread", tasks=2)
        metrics = follower.rest.get("/conveyor/metrics", params={"scope": "cluster"}).json()
        assert sorted(w["worker_id"] for w in metrics["workers"]) == sorted(
            w["worker_id"] for w in answers[0]["workers"]
        )
        assert all(w["ok"] for w in metrics["workers"]), metrics

        c = console(follower)
        page = c.open("/")
        row = page.locator('tr[data-connector="spread"]')
        row.locator('[data-state="RUNNING"]').wait_for()
        row.locator(".count", has_text="2 running").wait_for()
        workers = page.locator("table.workers tbody tr")
        workers.nth(1).wait_for()
        assert workers.count() == 2
        assert page.locator("table.workers .badge.ok", has_text="answering").count() == 2
        assert page.locator("table.workers td", has_text="leader").count() == 1
        assert page.locator("table.workers td", has_text="this worker").count() == 1
        assert row.locator("svg.spark").count() == 2  # records/s and lag
        row.locator("svg.spark polyline").first.wait_for(state="attached")
        c.shot("cluster-distributed")

        # An action from the follower's console is forwarded to the leader.
        page.get_by_role("link", name="spread").click()
        page.get_by_role("button", name="Pause", exact=True).click()
        page.locator('#state [data-state="PAUSED"]').wait_for()
        for w in started:
            w.rest.wait_state("spread", "PAUSED", task=None)
    finally:
        for w in started:
            w.kill()


def test_the_console_says_when_the_worker_is_unreachable(worker, console):
    c = console(worker)
    page = c.open("/")
    page.locator("#connectors").wait_for()
    assert page.locator("#banner").is_hidden()
    worker.kill()
    banner = page.locator("#banner")
    banner.wait_for(state="visible")
    assert "not answering" in banner.inner_text()
    c.shot("unreachable")
    c.errors.clear()


def test_the_console_sits_behind_https_and_basic_auth(broker, tmp_path, console, tmp_path_factory):
    root = tmp_path_factory.mktemp("console-auth")
    ca = CertificateAuthority(root / "ca")
    cert = ca.issue("worker")
    credentials = root / "credentials.properties"
    credentials.write_text("admin: console-secret\n")
    jaas = root / "jaas.conf"
    jaas.write_text(
        "KafkaConnect {\n"
        "  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n"
        f'    file="{credentials}";\n'
        "};\n"
    )
    w = WorkerProcess.standalone(
        tmp_path,
        broker.bootstrap,
        name="secured",
        scheme="https",
        rest_options={"verify": str(ca.cert), "auth": ("admin", "console-secret")},
        extra={
            "rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension."
            "BasicAuthSecurityRestExtension",
            "java.security.auth.login.config": jaas,
            "listeners.https.ssl.keystore.type": "PKCS12",
            "listeners.https.ssl.keystore.location": cert.keystore("PKCS12", "store-pw"),
            "listeners.https.ssl.keystore.password": "store-pw",
        },
    )
    try:
        anonymous = Rest(w.rest.base, verify=str(ca.cert))
        for path in ("/ui/", "/ui/app.js", "/conveyor/metrics", "/conveyor/peek?topic=x"):
            r = anonymous.get(path)
            assert r.status_code == 401, (path, r.status_code)
            assert r.headers["WWW-Authenticate"].startswith("Basic")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(w.rest.base + "/ui/", timeout=10)

        c = console(
            w,
            ignore_https_errors=True,
            http_credentials={"username": "admin", "password": "console-secret"},
        )
        page = c.open("/")
        page.locator("#connectors .empty").wait_for()
        assert page.url.startswith("https://")
        c.shot("cluster-https-basic-auth")
    finally:
        w.kill()


@pytest.fixture(scope="session", autouse=True)
def _say_where_the_screenshots_are(screenshots):
    yield
    if any(screenshots.iterdir()):
        sys.stderr.write(f"\nconsole screenshots: {screenshots}\n")
    else:
        shutil.rmtree(screenshots, ignore_errors=True)
