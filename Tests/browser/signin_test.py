"""Browser sessions in headless Chromium (Tests/browser/run.sh starts the stack).

A browser without a session opens a protected page of the example site, lands on
the sign-in page, signs in and is sent back; the page, its image, a download and a
WebSocket through nginx all work on the session cookie, which no script can read; a
page of another origin can neither post a form to a protected location nor open the
socket; after logout the page sends the browser to sign in again and the socket is
refused; a user who must change their password and has a second factor is asked for
each in turn. Screenshots of the sign-in page and the signed-in page are saved.
"""

import base64
import hashlib
import hmac
import os
import struct
import subprocess
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PORT = int(os.environ["CONSOLE_PORT"])
ORIGIN = f"http://127.0.0.1:{PORT}"
SHOTS = os.environ["CONSOLE_SCREENSHOTS"]

# Opens a WebSocket to the site and reports what happened: the echo, or that it
# never opened.
SOCKET_SCRIPT = """
const done = arguments[arguments.length - 1];
const socket = new WebSocket(arguments[0]);
const timer = setTimeout(() => done("timeout"), 8000);
socket.onopen = () => socket.send("hello");
socket.onmessage = (event) => { clearTimeout(timer); done(event.data); socket.close(); };
socket.onerror = () => { clearTimeout(timer); done("refused"); };
"""

FETCH_SCRIPT = """
const done = arguments[arguments.length - 1];
fetch(arguments[0], {method: arguments[1], credentials: "same-origin"})
  .then(async (r) => done([r.status, await r.text()]))
  .catch((e) => done(["error", String(e)]));
"""


def ctl(*args, stdin=None):
    env = dict(os.environ, DURIN_REDIS_URL=os.environ["CTL_REDIS_URL"], DURIN_SECRET_KEY=os.environ["CTL_SECRET"])
    return subprocess.run([os.environ["DURINCTL"], *args], env=env, input=stdin, check=True, capture_output=True,
                          text=True).stdout


def totp(secret):
    """The current code of a base32 secret, by RFC 6238 (Python's hmac, not durin's)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


class EvilPage(BaseHTTPRequestHandler):
    """Another origin of the same site (another port of 127.0.0.1): its form and its
    socket carry the SameSite=Lax cookie, so only the origin check stops them."""

    def do_GET(self):
        page = (f'<!doctype html><html><body><form id="f" method="post" action="{ORIGIN}/app/page">'
                '<input name="amount" value="1000"></form>'
                '<script>document.getElementById("f").submit()</script></body></html>'
                if self.path == "/form.html" else "<!doctype html><html><body>another origin</body></html>")
        data = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class BrowserSessions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.evil = ThreadingHTTPServer(("127.0.0.1", 0), EvilPage)
        threading.Thread(target=cls.evil.serve_forever, daemon=True).start()
        cls.evil_origin = f"http://127.0.0.1:{cls.evil.server_address[1]}"
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--disable-gpu", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-default-apps"):
            options.add_argument(flag)
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.driver.set_page_load_timeout(20)
        cls.driver.set_script_timeout(15)
        # A page being replaced (a form posting, a redirect) makes the element just
        # found stale: look again rather than fail.
        cls.wait = WebDriverWait(cls.driver, 15, ignored_exceptions=[StaleElementReferenceException])

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()
        cls.evil.shutdown()

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))

    def socket(self):
        return self.driver.execute_async_script(SOCKET_SCRIPT, f"ws://127.0.0.1:{PORT}/app/socket")

    def fetch(self, path, method="GET"):
        return self.driver.execute_async_script(FETCH_SCRIPT, path, method)

    def sign_in_from_the_page(self, user, password):
        self.driver.get(f"{ORIGIN}/app/")
        self.wait.until(EC.url_contains("/api/auth/signin/"))
        self.assertEqual(self.driver.current_url, f"{ORIGIN}/api/auth/signin/?next=%2Fapp%2F")
        field = self.wait.until(EC.visibility_of_element_located((By.ID, "durin-username")))
        # The form has the focus (autofocus applies once the page is ready).
        self.wait.until(lambda d: d.switch_to.active_element == field)
        field.send_keys(user, Keys.TAB)
        self.driver.switch_to.active_element.send_keys(password, Keys.ENTER)

    def test_1_sign_in_then_page_image_download_and_socket(self):
        self.driver.delete_all_cookies()
        self.driver.get(f"{ORIGIN}/app/")
        self.wait.until(EC.visibility_of_element_located((By.ID, "durin-username")))
        self.shot("browser-signin")
        # A wrong password: the page says so, and stays.
        self.sign_in_from_the_page("carol", "not-carol")
        error = self.wait.until(EC.visibility_of_element_located((By.ID, "durin-error")))
        self.assertEqual(error.text, "Unable to log in with provided credentials.")
        self.shot("browser-signin-error")

        self.sign_in_from_the_page("carol", "carol-password")
        try:
            self.wait.until(EC.url_to_be(f"{ORIGIN}/app/"))
        except Exception:
            self.shot("browser-signin-stuck")
            raise AssertionError(f"not sent back: {self.driver.current_url}: {self.driver.find_element(By.TAG_NAME, 'body').text}")
        heading = self.wait.until(EC.visibility_of_element_located((By.TAG_NAME, "h1")))
        self.assertEqual(heading.text, "Signed in as carol")
        self.wait.until(lambda d: d.execute_script("const i = document.querySelector('img'); return i.complete && i.naturalWidth > 0"))
        self.shot("browser-app")
        # The token is in an HttpOnly cookie: no script sees it.
        self.assertNotIn("durin_session", self.driver.execute_script("return document.cookie"))
        cookie = self.driver.get_cookie("durin_session")
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Lax")

        status, text = self.fetch("/app/report.csv")
        self.assertEqual(status, 200, text)
        self.assertIn("carol,browser", text)
        self.assertEqual(self.socket(), "carol: hello")

    def test_2_another_origin_can_neither_post_nor_open_the_socket(self):
        self.driver.get(f"{self.evil_origin}/form.html")
        self.wait.until(EC.url_contains(f"{ORIGIN}/app/page"))
        self.wait.until(lambda d: "Cross-origin request refused." in d.find_element(By.TAG_NAME, "body").text)
        self.assertTrue(self.driver.current_url.startswith(f"{ORIGIN}/app/page"))
        self.assertNotIn("amount", self.driver.page_source)
        self.driver.get(f"{self.evil_origin}/")
        self.assertEqual(self.socket(), "refused")
        # The site's own page still opens it: the cookie was sent and is still good.
        self.driver.get(f"{ORIGIN}/app/")
        self.wait.until(EC.visibility_of_element_located((By.TAG_NAME, "h1")))
        self.assertEqual(self.socket(), "carol: hello")

    def test_3_after_logout_the_page_and_the_socket_are_refused(self):
        self.driver.get(f"{ORIGIN}/app/")
        self.wait.until(EC.visibility_of_element_located((By.TAG_NAME, "h1")))
        status, _ = self.fetch("/api/auth/logout/", "POST")
        self.assertEqual(status, 204)
        self.assertIsNone(self.driver.get_cookie("durin_session"), "logout clears the cookie")
        self.assertEqual(self.socket(), "refused")
        self.driver.get(f"{ORIGIN}/app/")
        self.wait.until(EC.url_contains("/api/auth/signin/"))


    def test_4_the_page_asks_for_a_new_password_then_the_code(self):
        ctl("user", "add", "dora", "--password-stdin", stdin="dora-first-pw\n")
        uri = ctl("user", "totp", "enroll", "dora").strip()
        secret = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0]
        ctl("user", "set", "dora", "--require-password-change")
        ctl("client", "set", "browser", "--require-otp")
        try:
            self.driver.delete_all_cookies()
            self.sign_in_from_the_page("dora", "dora-first-pw")
            new = self.wait.until(EC.visibility_of_element_located((By.ID, "durin-new-password-input")))
            self.wait.until(lambda d: d.switch_to.active_element == new)
            self.assertIn("password must be changed", self.driver.find_element(By.ID, "durin-error").text)
            new.send_keys("dora-new-passphrase", Keys.ENTER)
            code = self.wait.until(EC.visibility_of_element_located((By.ID, "durin-otp-code")))
            self.wait.until(lambda d: d.switch_to.active_element == code)
            self.shot("browser-signin-otp")
            code.send_keys(totp(secret), Keys.ENTER)
            self.wait.until(EC.url_to_be(f"{ORIGIN}/app/"))
            heading = self.wait.until(EC.visibility_of_element_located((By.TAG_NAME, "h1")))
            self.assertEqual(heading.text, "Signed in as dora")
        finally:
            ctl("client", "set", "browser", "--no-require-otp")


if __name__ == "__main__":
    unittest.main()
