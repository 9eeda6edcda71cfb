"""Headless Chromium driven over the DevTools protocol (raw CDP on a WebSocket, no Playwright).

`Browser.open(url)` navigates a tab; `wait_until(js)` polls a JavaScript condition until it holds
(content drawn, not a fixed sleep); `screenshot(path)` resizes the viewport to the page's full
height first, because Streamlit scrolls inside its main section and a plain shot would cut it.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0",
]
WIDTH = 1440
# No network but this machine: every host name fails to resolve except the loopback address.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, executable: str = CHROMIUM, width: int = WIDTH, height: int = 1000,
                 extra_flags: tuple[str, ...] = ()) -> None:
        self.width, self.height = width, height
        self.profile = Path(tempfile.mkdtemp(prefix="cdp-profile-"))
        self.proc = subprocess.Popen([executable, *FLAGS, *extra_flags, f"--user-data-dir={self.profile}",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CdpError("chromium did not open its DevTools port within 30 s")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024))
        self._ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.resize(height)

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:  # events arrive in between; skip them
            message = json.loads(self.ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
            if message.get("id") == ident:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def resize(self, height: int) -> None:
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CdpError(f"script failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def open(self, url: str) -> None:
        self.resize(self.height)
        self.send("Page.navigate", {"url": url})

    def wait_until(self, expression: str, timeout: float = 60, what: str = "") -> float:
        """Poll `expression` until truthy; seconds waited. Raises with the page's text on timeout."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.evaluate(expression):
                    return time.monotonic() - start
            except CdpError:
                pass  # the page is between documents
            time.sleep(0.25)
        text = self.text()[:2000]
        raise CdpError(f"timed out after {timeout:.0f} s waiting for {what or expression}; page text:\n{text}")

    def text(self) -> str:
        try:
            return str(self.evaluate("document.body ? document.body.innerText : ''") or "")
        except CdpError:
            return ""

    def screenshot(self, path: Path) -> int:
        """Full-page PNG of the Streamlit app; returns its height in pixels."""
        height = int(self.evaluate(
            "Math.max(...[document.querySelector('[data-testid=\"stMain\"]'), document.querySelector("
            "'[data-testid=\"stMainBlockContainer\"]'), document.body].filter(Boolean).map(e => e.scrollHeight))"
        ) or self.height)
        height = max(min(height + 40, 8000), self.height)
        self.resize(height)
        time.sleep(0.5)  # one layout pass after the resize (plotly re-flows its charts to the new size)
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        self.resize(self.height)
        return height

    def close(self) -> None:
        try:
            if hasattr(self, "_stack"):
                self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.profile, ignore_errors=True)
