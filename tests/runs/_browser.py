"""Headless Chromium for the browser tests of rnnscope's HTML pages, over the DevTools protocol.

Chromium is started with ``--remote-debugging-pipe``: it reads protocol commands (JSON, each ended
by a NUL byte) on file descriptor 3 and writes answers and events on descriptor 4. This needs
nothing but Chromium itself (the OS package): no driver binary whose version must match the
browser's (chromedriver), no Node.js runtime or browser download (Playwright), no websocket client.

    with Browser() as browser:
        visit = browser.visit(path, ready="document.body.dataset.ready === 'true'")
        visit.errors        # script errors, console.error/assert calls, error-level log entries
        visit.requests      # every URL the page asked for (file: and data: only, for an offline page)
        visit.screenshot()  # PNG bytes of the viewport, or of one element
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: Flags for a root user on a machine without a display or a network: no sandbox (root), no GPU
#: (WebGL through SwiftShader, opted into explicitly: the automatic software fallback is deprecated),
#: and none of the background connections Chromium makes to Google's hosts.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--hide-scrollbars", "--mute-audio")


def chromium_path() -> str | None:
    """The Chromium (or Chrome) executable on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Visit:
    """What happened while a page was open in a tab."""

    def __init__(self, browser: Browser, session: str) -> None:
        self._browser = browser
        self._session = session
        self.errors: list[str] = []
        self.requests: list[str] = []

    def evaluate(self, expression: str, *, await_promise: bool = False) -> Any:
        """The value of a JavaScript expression in the page; a thrown exception fails."""
        result = self._browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                         "awaitPromise": await_promise}, session=self._session)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw in the page: {_exception_text(result['exceptionDetails'])}")
        return result["result"].get("value")

    def wait_for(self, expression: str, *, timeout: float = 60.0) -> None:
        """Wait until a JavaScript expression is true in the page."""
        end = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > end:
                raise TimeoutError(f"the page did not reach {expression!r} within {timeout:g} s "
                                   f"(errors so far: {self.errors})")
            self._browser.pump(0.1)

    def screenshot(self, selector: str | None = None) -> bytes:
        """A PNG of the viewport, or of the element matched by a CSS selector (scrolled into view)."""
        params: dict[str, Any] = {"format": "png"}
        if selector is not None:
            box = self.evaluate(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                                "e.scrollIntoView();var r=e.getBoundingClientRect();"
                                "return [r.left+scrollX,r.top+scrollY,r.width,r.height]})()")
            self._browser.pump(0.3)  # let the page repaint after scrolling
            params["clip"] = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": 1}
            params["captureBeyondViewport"] = True
        data = self._browser.send("Page.captureScreenshot", params, session=self._session)["data"]
        return base64.b64decode(data)

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            self.errors.append("uncaught exception: " + _exception_text(params["exceptionDetails"]))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.errors.append(f"console.{params['type']}: {args}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(f"log ({params['entry']['source']}): {params['entry']['text']}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])


def _above_9(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


def _exception_text(details: dict[str, Any]) -> str:
    exc = details.get("exception") or {}
    return str(exc.get("description") or details.get("text") or details)


class Browser:
    """One headless Chromium, driven over a pipe; a context manager that closes it."""

    def __init__(self, executable: str | None = None, *, window: tuple[int, int] = (1280, 900)) -> None:
        executable = executable or chromium_path()
        if executable is None:
            raise FileNotFoundError("no Chromium on PATH (Debian: apt-get install chromium)")
        self._profile = tempfile.mkdtemp(prefix="rnnscope-chromium-")
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()
        # the child's ends above 9, so that moving them to 3 and 4 clobbers neither
        commands_read, answers_write = (_above_9(fd) for fd in (commands_read, answers_write))
        self._stderr = tempfile.TemporaryFile()
        # bash (dash takes no descriptor above 9) moves the pipe ends to the descriptors 3 and 4 that Chromium expects, then becomes
        # Chromium (no preexec_fn: forking a process that runs torch's threads through Python is unsafe)
        move = f'exec "$@" 3<&{commands_read} 4>&{answers_write} {commands_read}<&- {answers_write}>&-'
        self._process = subprocess.Popen(
            ["bash", "-c", move, "bash", executable, *FLAGS, f"--window-size={window[0]},{window[1]}",
             f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            pass_fds=(commands_read, answers_write))
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._id = 0
        self._visits: dict[str, Visit] = {}

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                self.send("Browser.close", timeout=10)
                self._process.wait(10)
        except (OSError, TimeoutError, EOFError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait(10)
        finally:
            for fd in (self._commands, self._answers):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._stderr.close()
            shutil.rmtree(self._profile, ignore_errors=True)

    def visit(self, path: str | Path, *, ready: str | None = None, timeout: float = 60.0) -> Visit:
        """Open a file in the browser's tab, recording its errors and requests from the first byte;
        wait for the load event, then for the JavaScript expression ``ready`` if given."""
        target = next(t for t in self.send("Target.getTargets")["targetInfos"] if t["type"] == "page")
        session = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
        visit = Visit(self, session)
        self._visits[session] = visit
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable", session=session)
        self.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
        self._wait_event("Page.loadEventFired", session, timeout)
        if ready is not None:
            visit.wait_for(ready, timeout=timeout)
        return visit

    # ------------------------------------------------------------------ the protocol
    def send(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
        """Send one command and return its result, dispatching the events that arrive meanwhile."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        end = time.monotonic() + timeout
        while True:
            answer = self._read(end, method)
            if answer is None:
                continue
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method} failed: {answer['error']}")
                return answer.get("result", {})

    def pump(self, seconds: float) -> None:
        """Dispatch the events that arrive during ``seconds``."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self._read(end, "events")
            except TimeoutError:
                return

    def _wait_event(self, name: str, session: str, timeout: float) -> None:
        self._awaited = (name, session, False)
        end = time.monotonic() + timeout
        while not self._awaited[2]:
            self._read(end, name)

    _awaited: tuple[str, str, bool] = ("", "", True)

    def _read(self, end: float, waiting_for: str) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"Chromium did not answer {waiting_for} in time")
            ready, _, _ = select.select([self._answers], [], [], left)
            if ready:
                chunk = os.read(self._answers, 1 << 20)
                if not chunk:
                    self._stderr.seek(0)
                    raise EOFError("Chromium closed the pipe: " + self._stderr.read()[-2000:].decode(errors="replace"))
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message = json.loads(raw)
        if "method" in message:
            visit = self._visits.get(message.get("sessionId", ""))
            if visit is not None:
                visit._event(message["method"], message.get("params", {}))
            name, session, _ = self._awaited
            if message["method"] == name and message.get("sessionId") == session:
                self._awaited = (name, session, True)
            return None
        return message
