#!/usr/bin/env python3
"""The operator console in a real browser: headless Chromium from Debian, driven by selenium.

Run by scripts/console-browser-test.sh inside a network namespace that has only loopback, so neither the gateway,
the test receiver nor Chromium can reach anything outside this machine. It starts `fieldgate serve` on a fresh
SQLite file with the shared corpus's tenants and a subscriber whose receiver fails once (a dead letter), replays
the shared dev corpus, then walks the console as an operator would. With --screenshots DIR it also saves a PNG of
every page (desktop and phone width).
"""

import argparse
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as conditions
from selenium.webdriver.support.ui import WebDriverWait

ADMIN_TOKEN = "dev-admin-token"
HOSTILE_NOTE = '<img src=x onerror="window.__fieldgateXSS=1"> call <script>window.__fieldgateXSS=2</script> me'
HOSTILE_SITE = '<script>window.__fieldgateXSS=3</script><img src=x onerror="window.__fieldgateXSS=4">Harbor Plaza'


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver(http.server.BaseHTTPRequestHandler):
    """A subscriber that fails its first request (500) and takes every later one (204)."""

    requests = 0
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            Receiver.requests += 1
            first = Receiver.requests == 1
        self.send_response(500 if first else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *arguments):
        pass


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, condition, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   {name}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}", flush=True)


def post(url, body, headers):
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True, help="the fieldgate executable")
    parser.add_argument("--shared", default="../shared", help="the shared folder (corpus and its configuration)")
    parser.add_argument("--screenshots", help="save a PNG of every page here")
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="fieldgate-console-")
    receiver_port = free_port()
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", receiver_port), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()

    # The corpus's tenants, plus a subscriber whose first delivery dead-letters (an empty retry schedule).
    corpus_config = open(os.path.join(options.shared, "corpus", "fieldgate.yaml")).read()
    config = re.sub(r"(?m)^subscribers: \[\]\s*$", "", corpus_config).replace("storage:", "delivery: {allowNetworks: [\"127.0.0.0/8\"]}\nstorage:", 1)
    config += (
        "\nsubscribers:\n"
        f"  - {{id: billing, url: \"http://127.0.0.1:{receiver_port}/hooks\", secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\","
        " types: [\"job.completed\"], retrySchedule: []}\n"
    )
    config_path = os.path.join(work, "fieldgate.yaml")
    open(config_path, "w").write(config)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(
        [options.binary, "serve", "--config", config_path, "--database", os.path.join(work, "console.db"),
         "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
    )
    driver = None
    checks = Checks()
    try:
        line = gateway.stdout.readline()
        if "listening" not in line:
            raise SystemExit(f"the gateway did not start: {line!r}")
        threading.Thread(target=lambda: [None for _ in gateway.stdout], daemon=True).start()

        replay = subprocess.run(
            [options.binary, "replay", os.path.join(options.shared, "corpus", "dev.ndjson"), "--target", base,
             "--concurrency", "4", "--json"],
            capture_output=True, text=True, timeout=120,
        )
        checks.check("the dev corpus replays", replay.returncode == 0, replay.stderr[-500:])

        techlink = f"{base}/webhooks/techlink/cobalt-pos"
        json_headers = {"Content-Type": "application/json"}
        status, _ = post(techlink, json.dumps({
            "event": "work order note added", "workorder_id": "HOSTILE-1",
            "data": {"note_id": "n-1", "note": HOSTILE_NOTE, "author": "<b>Mallory</b>"},
        }), json_headers)
        checks.check("a hostile TechLink note is accepted", status == 202, status)
        status, _ = post(techlink, json.dumps({
            "event": "site created", "data": {"site_id": "s-666", "site_name": HOSTILE_SITE},
        }), json_headers)
        checks.check("a hostile site name is accepted", status == 202, status)
        # A completed job: its delivery to billing fails once and becomes a dead letter.
        status, body = post(techlink, json.dumps({
            "event": "work order closed", "workorder_id": "DEAD-1",
        }), json_headers)
        checks.check("a job.completed event is accepted", status == 202, status)
        deadline = time.time() + 20
        while Receiver.requests < 1 and time.time() < deadline:
            time.sleep(0.2)
        checks.check("the subscriber got its first (failing) delivery", Receiver.requests >= 1)
        time.sleep(1)

        chrome = webdriver.ChromeOptions()
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-default-apps", "--disable-extensions",
                         "--metrics-recording-only", "--window-size=1280,900"]:
            chrome.add_argument(argument)
        chrome.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        chrome.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        driver = webdriver.Chrome(options=chrome, service=service)
        wait = WebDriverWait(driver, 15)

        def shoot(name):
            if not options.screenshots:
                return
            os.makedirs(options.screenshots, exist_ok=True)
            time.sleep(0.3)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            width = driver.get_window_size()["width"]
            driver.set_window_size(width, min(max(height + 120, 700), 2400))
            driver.save_screenshot(os.path.join(options.screenshots, f"{name}.png"))
            driver.set_window_size(width, 900)

        def errors():
            return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]

        # Nothing without a session.
        driver.get(f"{base}/console/events")
        checks.check("without a session the console asks to sign in", "/console/sign-in" in driver.current_url,
                     driver.current_url)
        checks.check("the sign-in page has a title", driver.title.startswith("Sign in"), driver.title)
        shoot("sign-in")
        token = driver.find_element(By.NAME, "token")
        token.send_keys("not-the-token")
        token.submit()
        wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]")))
        checks.check("a wrong token is refused", "/console/sign-in" in driver.current_url)
        # The refusal is a 401, which Chromium logs; it is the only error this test expects.
        unexpected = [entry for entry in errors() if "/console/sign-in" not in entry["message"] or "401" not in entry["message"]]
        checks.check("the refused sign-in logs nothing but its 401", not unexpected, unexpected)
        token = driver.find_element(By.NAME, "token")
        token.send_keys(ADMIN_TOKEN)
        token.submit()
        wait.until(conditions.url_contains("/console/events"))
        checks.check("signing in returns to the page asked for", "/console/events" in driver.current_url)
        cookies = {cookie["name"]: cookie for cookie in driver.get_cookies()}
        session = cookies.get("fieldgate_session", {})
        checks.check("the session cookie is HttpOnly and SameSite=Strict",
                     session.get("httpOnly") is True and session.get("sameSite") == "Strict", session)

        # The replayed corpus.
        rows = driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
        checks.check("the events page lists the replayed corpus", len(rows) >= 20, len(rows))
        for vendor in ["tracktik", "hellotracks", "techlink"]:
            driver.find_element(By.CSS_SELECTOR, "select[name=vendor] option[value=%s]" % vendor).click()
            driver.find_element(By.XPATH, "//button[text()='Filter']").click()
            wait.until(conditions.url_contains("vendor=" + vendor))
            cells = [row.find_elements(By.TAG_NAME, "td")[1].text for row in driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")]
            checks.check(f"the vendor filter lists {vendor}'s events", cells and all(cell.startswith(vendor) for cell in cells), cells[:3])
        driver.find_element(By.LINK_TEXT, "Clear").click()
        wait.until(conditions.presence_of_element_located((By.ID, "live-status")))

        # Hostile vendor text is text.
        page = driver.find_element(By.ID, "events")
        checks.check("a hostile note is shown as text", "<img src=x onerror=" in page.text, page.text[:300])
        checks.check("a hostile site name is shown as text", "<script>window.__fieldgateXSS=3</script>" in page.text)
        checks.check("no markup from vendor data reached the DOM",
                     not driver.find_elements(By.CSS_SELECTOR, "main img, main script"))
        checks.check("no vendor script ran", driver.execute_script("return window.__fieldgateXSS === undefined"))
        wait.until(conditions.text_to_be_present_in_element((By.ID, "live-status"), "Live"))
        shoot("events")

        # A new event arrives without a reload.
        driver.execute_script("window.__fieldgateNoReload = true")
        status, body = post(techlink, json.dumps({
            "event": "work order status change", "workorder_id": "LIVE-42", "old_status_code": "20",
            "new_status_code": "22",
        }), json_headers)
        checks.check("a live event is accepted", status == 202, status)
        try:
            wait.until(conditions.text_to_be_present_in_element((By.CSS_SELECTOR, "#events tbody tr:first-child"), "LIVE-42"))
            arrived = True
        except TimeoutException:
            arrived = False
        checks.check("the new event appears at the top without a reload",
                     arrived and driver.execute_script("return window.__fieldgateNoReload === true"))

        # Follow links: the event's job, its timeline.
        driver.find_element(By.LINK_TEXT, "LIVE-42").click()
        wait.until(conditions.presence_of_element_located((By.ID, "timeline")))
        checks.check("the job link opens the job's timeline", driver.title.startswith("Job LIVE-42"), driver.title)
        checks.check("the timeline shows the status change",
                     "open → dispatched" in driver.find_element(By.ID, "timeline").text)
        driver.find_element(By.CSS_SELECTOR, "#timeline a.id").click()
        wait.until(conditions.presence_of_element_located((By.ID, "canonical")))
        checks.check("the timeline links to the event's page",
                     '"workorder_id": "LIVE-42"' in driver.find_element(By.ID, "raw-body").text
                     or "LIVE-42" in driver.find_element(By.ID, "raw-body").text)
        # The hostile note's job and event pages.
        driver.get(f"{base}/console/jobs/techlink%3Acobalt-pos%3AHOSTILE-1")
        timeline = driver.find_element(By.ID, "timeline").text
        checks.check("the job timeline shows the hostile note as text", "<img src=x onerror=" in timeline, timeline[:200])
        shoot("job")
        driver.find_element(By.CSS_SELECTOR, "#timeline a.id").click()
        wait.until(conditions.presence_of_element_located((By.ID, "canonical")))
        checks.check("the event page shows the raw request with the note as text",
                     "onerror" in driver.find_element(By.ID, "raw-body").text)
        checks.check("still no vendor script ran", driver.execute_script("return window.__fieldgateXSS === undefined")
                     and not driver.find_elements(By.CSS_SELECTOR, "main img, main script"))
        shoot("event")

        # Jobs board.
        driver.find_element(By.LINK_TEXT, "Jobs").click()
        wait.until(conditions.presence_of_element_located((By.ID, "board")))
        checks.check("the jobs board has columns by status",
                     len(driver.find_elements(By.CSS_SELECTOR, "#board section")) >= 3)
        shoot("jobs")

        # Overview and tenants.
        driver.find_element(By.LINK_TEXT, "Overview").click()
        wait.until(conditions.presence_of_element_located((By.ID, "ingest")))
        overview = driver.find_element(By.ID, "ingest").text
        checks.check("the overview counts the corpus per tenant", "northwind-security" in overview and "cobalt-pos" in overview)
        checks.check("the overview draws charts", len(driver.find_elements(By.CSS_SELECTOR, "#ingest svg.spark")) >= 4)
        shoot("overview")
        driver.find_element(By.LINK_TEXT, "Tenants").click()
        wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "code.route")))
        routes = [element.text for element in driver.find_elements(By.CSS_SELECTOR, "code.route")]
        checks.check("tenants show their route URLs", f"{base}/webhooks/techlink/cobalt-pos" in routes, routes[:3])
        checks.check("tenants never show a secret", "whsec_" not in driver.page_source)
        shoot("tenants")

        # Redeliver the dead letter.
        driver.find_element(By.LINK_TEXT, "Subscribers").click()
        wait.until(conditions.presence_of_element_located((By.ID, "subscribers")))
        shoot("subscribers")
        driver.find_element(By.LINK_TEXT, "billing").click()
        wait.until(conditions.presence_of_element_located((By.LINK_TEXT, "dead letters")))
        driver.find_element(By.LINK_TEXT, "dead letters").click()
        wait.until(conditions.presence_of_element_located((By.ID, "deliveries")))
        shoot("subscriber")
        before = Receiver.requests
        driver.find_element(By.CSS_SELECTOR, "#deliveries button").click()
        wait.until(conditions.presence_of_element_located((By.CSS_SELECTOR, "[role=status]")))
        checks.check("redelivering a dead letter puts it back to pending",
                     "Back to pending" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text)
        deadline = time.time() + 15
        while Receiver.requests == before and time.time() < deadline:
            time.sleep(0.2)
        checks.check("the redelivered dead letter is sent again", Receiver.requests > before)
        time.sleep(0.5)
        driver.refresh()
        checks.check("the delivery shows its attempts", len(driver.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")) >= 2)
        shoot("delivery")

        # Replay quarantined requests: one, then several.
        driver.find_element(By.LINK_TEXT, "Quarantine").click()
        wait.until(conditions.presence_of_element_located((By.ID, "quarantine")))
        shoot("quarantine")
        driver.find_element(By.CSS_SELECTOR, "#quarantine tbody tr td:nth-child(2) a").click()
        wait.until(conditions.presence_of_element_located((By.ID, "reason")))
        shoot("quarantined")
        driver.find_element(By.XPATH, "//button[text()='Replay']").click()
        wait.until(conditions.presence_of_element_located((By.ID, "replay-results")))
        result = driver.find_element(By.ID, "replay-results").text
        checks.check("replaying a quarantined request shows what it produced",
                     "still refused" in result or "accepted" in result or "duplicate" in result, result)
        shoot("replay")
        driver.find_element(By.LINK_TEXT, "Back to the quarantine").click()
        wait.until(conditions.presence_of_element_located((By.ID, "select-all")))
        driver.find_element(By.ID, "select-all").click()
        driver.find_element(By.XPATH, "//button[text()='Replay selected']").click()
        wait.until(conditions.presence_of_element_located((By.ID, "replay-results")))
        checks.check("replaying several shows one result each",
                     len(driver.find_elements(By.CSS_SELECTOR, "#replay-results tbody tr")) >= 2)

        # Phone width.
        if options.screenshots:
            driver.set_window_size(390, 844)
            for name, path in [("overview", "overview"), ("events", "events"), ("jobs", "jobs")]:
                driver.get(f"{base}/console/{path}")
                time.sleep(0.5)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.set_window_size(390, min(max(height + 120, 844), 3000))
                driver.save_screenshot(os.path.join(options.screenshots, f"phone-{name}.png"))
                driver.set_window_size(390, 844)
            driver.set_window_size(1280, 900)
        overflow = driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        checks.check("pages fit the window width", overflow)

        severe = errors()
        checks.check("the browser console logged no errors", not severe, severe)

        # Sign out.
        driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
        wait.until(conditions.url_contains("/console/sign-in"))
        driver.get(f"{base}/console/overview")
        checks.check("after signing out the console asks to sign in again", "/console/sign-in" in driver.current_url)
    finally:
        if driver is not None:
            driver.quit()
        gateway.terminate()
        try:
            gateway.wait(timeout=20)
        except subprocess.TimeoutExpired:
            gateway.kill()
        receiver.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
