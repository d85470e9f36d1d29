"""The operator console in headless Chromium (Tests/browser/run.sh starts the stack).

A staff user signs in with the keyboard, finds a user, revokes one of their sessions
and that token is refused at once through nginx; a user who is not staff is refused;
a page of another origin cannot make the console change anything; every answer
carries the Content-Security-Policy and the page asks nothing of any other origin;
the idle timeout and last use show; Redis going away shows a banner that goes when it
returns; the pages fit a phone's width. Screenshots of every page are saved.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PORT = int(os.environ["CONSOLE_PORT"])
ORIGIN = f"http://127.0.0.1:{PORT}"
CONSOLE = f"{ORIGIN}/durin/console/"
SHOTS = os.environ["CONSOLE_SCREENSHOTS"]
ROOT = os.environ["DURIN_ROOT"]


def durinctl(*args):
    env = dict(os.environ, DURIN_REDIS_URL=os.environ["CTL_REDIS_URL"], DURIN_SECRET_KEY=os.environ["CTL_SECRET"])
    return subprocess.run([os.environ["DURINCTL"], *args], env=env, check=True, capture_output=True, text=True).stdout


def devstack(command):
    subprocess.run([f"{ROOT}/scripts/devstack.sh", command], check=True, capture_output=True)


def http(method, path, token=None, body=None, headers=None):
    request = urllib.request.Request(f"{ORIGIN}{path}", method=method, data=body, headers=dict(headers or {}))
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def login(user, password, client, agent):
    body = json.dumps({"username": user, "password": password, "client": client, "label": "Bob's phone"}).encode()
    status, _, answer = http("POST", "/api/auth/login/", body=body,
                             headers={"Content-Type": "application/json", "User-Agent": agent})
    assert status == 200, answer
    return json.loads(answer)["token"]


class ConsoleInABrowser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps",
                     # A name an attacker controls, resolving to this host (DNS rebinding).
                     "--host-resolver-rules=MAP rebind.test 127.0.0.1"):
            options.add_argument(flag)
        # Every network request the page makes, to prove it asks no other origin.
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.driver.set_page_load_timeout(20)
        cls.wait = WebDriverWait(cls.driver, 15)
        cls.requests = []
        cls.bob_agent = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/131.0.0.0 Mobile Safari/537.36")

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()

    def collect_requests(self):
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def sign_in(self, user, password):
        """With the keyboard only: focus starts in the username field."""
        self.driver.get(CONSOLE)
        # A fresh browser's state: no session cookie (another test's stays valid on the server).
        self.driver.delete_all_cookies()
        self.driver.get(CONSOLE)
        self.wait.until(EC.visibility_of_element_located((By.NAME, "username")))
        active = self.driver.switch_to.active_element
        self.assertEqual(active.get_attribute("name"), "username", "the sign-in form has the focus")
        active.send_keys(user, Keys.TAB)
        self.driver.switch_to.active_element.send_keys(password, Keys.ENTER)

    def sign_out(self):
        buttons = self.driver.find_elements(By.XPATH, "//button[text()='Sign out']")
        if buttons:
            buttons[0].click()
            self.wait.until(EC.visibility_of_element_located((By.NAME, "username")))

    def test_1_a_staff_user_finds_a_user_and_revokes_a_session(self):
        kiosk = login("bob", "bob-password", "kiosk", self.bob_agent)
        web = login("bob", "bob-password", "web", self.bob_agent)
        self.assertEqual(http("GET", "/api/ping/", token=kiosk)[0], 200)

        self.sign_in("ada", "ada-password")
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h2[text()='Overview']")))
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h3[text()='Live tokens by client']")))
        # The counts come from a count in the background: wait for it.
        self.wait.until(lambda d: "counted at" in d.find_element(By.TAG_NAME, "main").text)
        self.driver.refresh()
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//td[text()='kiosk']")))
        self.shot("overview")

        self.driver.find_element(By.LINK_TEXT, "Users").click()
        search = self.wait.until(EC.visibility_of_element_located((By.NAME, "prefix")))
        search.send_keys("bo")
        self.wait.until(EC.element_to_be_clickable((By.LINK_TEXT, "bob")))
        self.shot("users")
        self.driver.find_element(By.LINK_TEXT, "bob").click()
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h2[text()='bob']")))
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h3[starts-with(text(), 'Sessions (2)')]")))
        page = self.driver.find_element(By.TAG_NAME, "main").text
        # The idle timeout, the last use, the address, the shortened agent and the label show.
        for shown in ("30m", "127.0.0.1", "(Linux; Android 14; Pixel 8) Chrome/131.0.0.0", "Bob's phone", "Last used"):
            self.assertIn(shown, page)
        rows = self.driver.find_elements(By.XPATH, "//tbody/tr[td[2][text()='kiosk']]")
        self.assertEqual(len(rows), 1)
        last_used = rows[0].find_elements(By.TAG_NAME, "td")[3].text
        self.assertRegex(last_used, r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", "the last use is a time")
        self.shot("user")
        rows[0].find_element(By.XPATH, ".//button[text()='Revoke']").click()
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h3[starts-with(text(), 'Sessions (1)')]")))
        self.assertEqual(http("GET", "/api/ping/", token=kiosk)[0], 401, "revoked in the console, refused through nginx")
        self.assertEqual(http("GET", "/api/ping/", token=web)[0], 200, "the other session stays")

        for page_name, heading in (("clients", "Clients"), ("issuers", "Issuers"), ("events", "Events")):
            self.driver.find_element(By.LINK_TEXT, heading).click()
            self.wait.until(EC.visibility_of_element_located((By.XPATH, f"//h2[text()='{heading}']")))
            if page_name == "events":
                self.wait.until(EC.visibility_of_element_located((By.XPATH, "//td[text()='console']")))
            self.shot(page_name)
        # Every control has a label.
        unlabelled = self.driver.execute_script(
            "return Array.from(document.querySelectorAll('input')).filter(function (i) { return i.labels.length === 0; }).length")
        self.assertEqual(unlabelled, 0)
        self.collect_requests()

    def test_2_a_user_who_is_not_staff_is_refused(self):
        self.sign_out()
        self.sign_in("bob", "bob-password")
        alert = self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, "[role=alert].message")))
        self.assertEqual(alert.text, "Only staff users may use the console.")
        self.assertTrue(self.driver.find_element(By.ID, "nav").get_attribute("hidden") is not None)
        self.shot("signin-refused")
        self.collect_requests()

    def test_3_another_origin_cannot_change_anything(self):
        token = login("bob", "bob-password", "kiosk", self.bob_agent)
        self.sign_in("ada", "ada-password")
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h2[text()='Overview']")))
        # A page of another origin (localhost is another site than 127.0.0.1) posts to
        # the console with the browser's credentials, as an attacker's page would: a
        # simple request (no preflight) and a form.
        self.driver.get(f"http://localhost:{PORT}/elsewhere")
        outcome = self.driver.execute_async_script("""
            var done = arguments[arguments.length - 1];
            fetch('%s' + 'api/users/bob/revoke', {method: 'POST', mode: 'no-cors', credentials: 'include',
                  headers: {'Content-Type': 'text/plain'}, body: '{}'})
              .then(function () { done('sent'); }, function (e) { done('blocked: ' + e); });
        """ % CONSOLE)
        self.assertTrue(outcome == "sent" or outcome.startswith("blocked"), outcome)
        self.driver.execute_script("""
            var f = document.createElement('form'); f.method = 'POST'; f.action = arguments[0] + 'api/users/bob/revoke';
            document.body.appendChild(f); f.submit();
        """, CONSOLE)
        time.sleep(1)
        self.assertEqual(http("GET", "/api/ping/", token=token)[0], 200, "the cross-origin posts revoked nothing")
        listed = durinctl("token", "list", "--user", "bob", "--client", "kiosk")
        self.assertIn("kiosk", listed)
        self.collect_requests()

    def test_4_every_answer_has_the_policy_and_nothing_leaves_the_origin(self):
        for path in ("/durin/console/", "/durin/console/console.js", "/durin/console/console.css", "/durin/console/api/me"):
            _, headers, _ = http("GET", path)
            policy = headers.get("Content-Security-Policy", "")
            self.assertIn("default-src 'none'", policy, path)
            self.assertIn("frame-ancestors 'none'", policy, path)
        self.collect_requests()
        console_requests = [u for u in self.requests if "/durin/console" in u or u.startswith(ORIGIN)]
        self.assertTrue(console_requests, "the log saw the console's requests")
        foreign = [u for u in self.requests
                   if not u.startswith(ORIGIN) and not u.startswith(f"http://localhost:{PORT}/")
                   and not u.startswith("data:") and not u.startswith("about:")]
        self.assertEqual(foreign, [], "the console asks no other origin")

    def test_5_redis_down_shows_a_banner_and_the_page_recovers(self):
        self.sign_in("ada", "ada-password")
        self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h2[text()='Overview']")))
        devstack("redis-stop")
        try:
            banner = self.wait.until(EC.visibility_of_element_located((By.ID, "banner")))
            self.assertIn("Token store unavailable.", banner.text)
            self.shot("redis-down")
        finally:
            devstack("redis-start")
        # An empty Redis: the staff user comes back, and the page signs in again.
        subprocess.run([os.environ["DURINCTL"], "user", "add", "ada", "--password-stdin", "--staff"], input="ada-password\n",
                       env=dict(os.environ, DURIN_REDIS_URL=os.environ["CTL_REDIS_URL"], DURIN_SECRET_KEY=os.environ["CTL_SECRET"]),
                       check=True, capture_output=True, text=True)
        self.wait.until(EC.invisibility_of_element_located((By.ID, "banner")))

    def test_6_the_pages_fit_a_phone(self):
        self.driver.set_window_size(390, 844)
        try:
            self.sign_in("ada", "ada-password")
            self.wait.until(EC.visibility_of_element_located((By.XPATH, "//h2[text()='Overview']")))
            overflow = self.driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(overflow, 1, "no sideways scrolling of the page (tables scroll in their own box)")
            self.shot("overview-phone")
        finally:
            self.driver.set_window_size(1280, 900)

    def test_7_another_name_for_this_host_reaches_no_console(self):
        """DNS rebinding: a page under a name that resolves to this host. The example
        site closes every name but its own without an answer (444), and durin answers
        the console only under its own origin (DURIN_CONSOLE_ORIGIN, here
        http://127.0.0.1:PORT): under `localhost`, a name nginx serves, sign-in and
        every console call are refused, and no session is made."""
        sessions = lambda: durinctl("token", "list", "--user", "ada", "--client", "console").count("console")
        before = sessions()
        self.driver.delete_all_cookies()
        self.driver.get(f"http://rebind.test:{PORT}/durin/console/")
        self.assertIn("ERR_EMPTY_RESPONSE", self.driver.page_source, "nginx's default server closed it (444)")
        self.assertEqual(self.driver.find_elements(By.NAME, "username"), [])

        self.driver.get(f"http://localhost:{PORT}/durin/console/")
        self.assertIn("The console answers only at its own address.", self.driver.page_source)
        self.assertEqual(self.driver.find_elements(By.NAME, "username"), [], "no sign-in form")
        answers = self.driver.execute_async_script("""
            var done = arguments[arguments.length - 1], answers = [];
            var calls = [['POST', 'api/session', JSON.stringify({username: 'ada', password: 'ada-password'})],
                         ['GET', 'api/me'], ['GET', 'api/users'], ['GET', 'console.js'],
                         ['POST', 'api/issuers', JSON.stringify({name: 'rebound'})]];
            (function next(i) {
                if (i === calls.length) { done(answers); return; }
                var c = calls[i];
                fetch('/durin/console/' + c[1], {method: c[0], credentials: 'include',
                      headers: {'Content-Type': 'application/json'}, body: c[2]})
                  .then(function (r) { answers.push(r.status); next(i + 1); },
                        function (e) { answers.push('error ' + e); next(i + 1); });
            })(0);
        """)
        self.assertEqual(answers, [421] * 5, answers)
        self.assertEqual(sessions(), before, "no console session was made")
        self.assertNotIn("rebound", durinctl("issuer", "list"))
        self.shot("another-name")


if __name__ == "__main__":
    unittest.main()
