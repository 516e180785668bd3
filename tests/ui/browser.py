"""Headless Chromium driven over the Chrome DevTools Protocol (CDP): open pages, wait for what a
user would see, click like a mouse, take screenshots.

Raw CDP over one websocket rather than Playwright: the protocol's page, runtime and input
domains are stable across Chromium releases, so this works with whatever `chromium` the
system ships (Playwright pins a browser build of its own, downloaded from a CDN), and it adds no
package: `websockets` already comes with Airflow's api-server.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

# How long to wait for what a page should show: generous, as a page of the local stack can take
# a minute to render on a busy 2-core machine.
WAIT_SECONDS = 180

# The innermost visible element matching a CSS selector whose text contains a string (any text
# when null), scrolled into view; null when there is none.
_FIND = """
((selector, text) => {
  const visible = (e) =>
    e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const shows = (e) => text === null || (e.innerText || e.textContent || '').includes(text);
  const hits = [...document.querySelectorAll(selector)].filter((e) => visible(e) && shows(e));
  const element = hits.find((e) => !hits.some((o) => o !== e && e.contains(o)));
  if (element) element.scrollIntoView({block: 'center', inline: 'center'});
  return element || null;
})
"""


def chromium_path() -> str | None:
    """The system's Chromium: $CHROMIUM, else `chromium` (Debian) or `chromium-browser` on PATH
    or in /usr/bin (a test sandbox's PATH may not name it)."""
    candidates = [os.environ.get("CHROMIUM", "")]
    for name in ("chromium", "chromium-browser"):
        candidates += [shutil.which(name) or "", f"/usr/bin/{name}"]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


class BrowserError(RuntimeError):
    pass


def _describe(selector: str, text: str | None) -> str:
    return f"{selector} containing {text!r}" if text else selector


class Browser:
    """`with Browser(executable) as browser:` one headless Chromium with one page; the process
    group is killed on exit."""

    def __init__(self, executable: str, width: int = 1400, height: int = 900) -> None:
        self.executable, self.size = executable, (width, height)
        self._profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self._process: subprocess.Popen | None = None
        self._next_id = 0

    def __enter__(self) -> Browser:
        self._process = subprocess.Popen(
            [self.executable, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={self._profile}", f"--window-size={self.size[0]},{self.size[1]}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            self._socket = connect(self._page_websocket(), max_size=None, proxy=None)
            self.send("Page.enable")
            self.send("Runtime.enable")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        if getattr(self, "_socket", None) is not None:
            self._socket.close()
        if self._process and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _page_websocket(self, timeout: float = 60) -> str:
        """The page target's debugger URL, once Chromium has written its port file."""
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._process.poll() is not None:
                raise BrowserError(f"{self.executable} exited with {self._process.returncode}")
            if time.monotonic() > deadline:
                raise BrowserError(f"{self.executable} opened no DevTools port in {timeout} s")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            targets = json.load(answer)
        return next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")

    # -- protocol ----------------------------------------------------------------------------

    def send(self, method: str, **params: Any) -> dict:
        """One CDP command; its result (events arriving meanwhile are dropped)."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression[:80]}...: {details.get('exception', details)}")
        return result["result"].get("value")

    # -- what a user does ----------------------------------------------------------------------

    def goto(self, url: str) -> None:
        answer = self.send("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"cannot open {url}: {answer['errorText']}")
        self.wait_until("document.readyState === 'complete'", f"{url} to load")

    @property
    def url(self) -> str:
        return self.evaluate("location.href")

    def text(self) -> str:
        """What the page shows (its body's rendered text)."""
        return self.evaluate("document.body ? document.body.innerText : ''")

    def wait_until(self, expression: str, what: str, timeout: float = WAIT_SECONDS) -> Any:
        """The first truthy value of a JavaScript expression, polled."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"waited {timeout:.0f} s for {what} on {self.url}")
            time.sleep(0.25)

    def wait_for_text(self, text: str, timeout: float = WAIT_SECONDS) -> None:
        self.wait_until(f"document.body && document.body.innerText.includes({json.dumps(text)})",
                        f"the text {text!r}", timeout)

    def wait_for(self, selector: str, text: str | None = None,
                 timeout: float = WAIT_SECONDS) -> None:
        """Until a visible `selector` containing `text` is on the page."""
        self.wait_until(self._on_element(selector, text, "(e) => true"),
                        _describe(selector, text), timeout)

    def click(self, selector: str, text: str | None = None, timeout: float = WAIT_SECONDS) -> None:
        """Press and release the mouse on the first visible `selector` containing `text`."""
        point = self.wait_until(self._on_element(selector, text, """(e) => {
            const box = e.getBoundingClientRect();
            return {x: box.left + box.width / 2, y: box.top + box.height / 2};
        }"""), _describe(selector, text), timeout)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=point["x"], y=point["y"],
                      button="left" if kind != "mouseMoved" else "none", clickCount=1)

    def background_color(self, selector: str, text: str | None = None) -> tuple[int, int, int]:
        """The colour painted behind the element (its own background, else the nearest
        ancestor's that is not transparent) in sRGB, whatever CSS colour space it is set in."""
        return tuple(self.wait_until(self._on_element(selector, text, """(e) => {
            let n = e;
            while (n.parentElement && getComputedStyle(n).backgroundColor === 'rgba(0, 0, 0, 0)')
                n = n.parentElement;
            const pixel = document.createElement('canvas').getContext('2d');
            pixel.fillStyle = getComputedStyle(n).backgroundColor;
            pixel.fillRect(0, 0, 1, 1);
            return [...pixel.getImageData(0, 0, 1, 1).data.slice(0, 3)];
        }"""), _describe(selector, text), timeout=10))

    @staticmethod
    def _on_element(selector: str, text: str | None, function: str) -> str:
        """JavaScript: `function(element)` of the element _FIND finds, or null."""
        args = f"{json.dumps(selector)}, {json.dumps(text)}"
        return f"(() => {{ const e = {_FIND}({args}); return e ? ({function})(e) : null; }})()"

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
