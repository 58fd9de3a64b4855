"""One headless Chromium, started early, that prints one HTML page to PDF over the DevTools protocol.

``write_report`` starts it before the report is verified and built, so the browser's start-up
and a first blank tab (a thread drives them; about 0.3 to 0.5 s of the 1.2 to 1.5 s the old
``--print-to-pdf`` command took) run while the report is rendered, instead of after; the page
is then printed with the settings of ``chromium --headless --print-to-pdf --no-pdf-header-footer``
(paper size and margins from the page's CSS ``@page``, backgrounds printed, no browser header or
footer): the same pages, pixel for pixel at 100 dpi, as that command prints.

Chromium's ``--remote-debugging-pipe`` reads protocol commands on file descriptor 3 and writes
replies and events on descriptor 4, each a JSON message ending in a NUL byte. Python's standard
library has no DevTools client, and the protocol needs only the few messages below, so it is
written here. The browser is started with ``os.posix_spawn`` (its file actions place the two
pipes on 3 and 4) rather than with a ``preexec_fn``, which is unsafe in a process with threads.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from medtorch.artefacts import artefact

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-extensions", "--disable-sync",
         "--disable-default-apps", "--mute-audio", "--disable-breakpad"]
PRINT = {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}  # as --print-to-pdf
CLOSE_S = 10  # a browser asked to close that is still running after this is killed
WARM_S = 60  # the longest the browser may take to start and open a blank page (print_pdf's own limit applies too)


class PrintFailed(Exception):
    """The browser did not print: ``timed_out``, or it failed (``returncode``, ``stderr``: its last words)."""

    def __init__(self, why: str, timed_out: bool = False, returncode: int | None = None, stderr: str = ""):
        super().__init__(why)
        self.timed_out, self.returncode, self.stderr = timed_out, returncode, stderr


def _high(fd: int) -> int:
    """``fd`` moved above 9 (close-on-exec), so that placing it on 3 or 4 in the browser never clobbers the other."""
    import fcntl

    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


def print_once(browser: str, page: Path, timeout_s: float) -> bytes:
    """Where ``Printer`` cannot run (no ``os.posix_spawn``, e.g. Windows): one ``--print-to-pdf`` command."""
    with tempfile.TemporaryDirectory(prefix="medtorch-pdf-") as tmp:
        out = Path(tmp) / artefact("report_pdf").name
        cmd = [browser, *FLAGS, f"--user-data-dir={Path(tmp) / 'profile'}", "--no-pdf-header-footer",
               f"--print-to-pdf={out}", page.resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise PrintFailed("no PDF", timed_out=True) from None
        if not out.is_file() or out.stat().st_size == 0:
            raise PrintFailed("no PDF", returncode=proc.returncode, stderr=proc.stderr.strip())
        return out.read_bytes()


class Printer:
    SUPPORTED = hasattr(os, "posix_spawn") and os.name == "posix"

    def __init__(self, browser: str):
        self.browser = browser
        self.returncode: int | None = None
        self._buf, self._id, self._events = b"", 0, []
        self._lock, self._closing = threading.Lock(), False
        self.tmp = Path(tempfile.mkdtemp(prefix="medtorch-pdf-"))
        cmd_r, self._w = os.pipe()
        self._r, res_w = os.pipe()
        cmd_r, res_w = _high(cmd_r), _high(res_w)
        self._err = self.tmp / "stderr.txt"
        err = os.open(self._err, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        argv = [browser, *FLAGS, f"--user-data-dir={self.tmp / 'profile'}", "--remote-debugging-pipe", "about:blank"]
        try:
            self.pid: int | None = os.posix_spawn(browser, argv, dict(os.environ), file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, err, 2), (os.POSIX_SPAWN_DUP2, cmd_r, 3), (os.POSIX_SPAWN_DUP2, res_w, 4)])
        except OSError as e:
            self.pid = None
            self.close()
            raise PrintFailed(f"could not start {browser}: {e}", returncode=None) from None
        finally:
            for fd in (cmd_r, res_w, err):
                os.close(fd)
        self._session: str | None = None
        self._warm_error: PrintFailed | None = None
        self._warm = threading.Thread(target=self._warm_up, name="medtorch-pdf-browser", daemon=True)
        self._warm.start()

    def _warm_up(self) -> None:
        """In the background, while the caller builds the page: a tab on a blank local page, so that the
        page to print (a local file too) loads in a renderer that is already running."""
        try:
            deadline = time.monotonic() + WARM_S
            blank = self.tmp / "blank.html"
            blank.write_text("<!DOCTYPE html><title></title>")
            target = self._call("Target.createTarget", deadline, {"url": "about:blank"})["targetId"]
            session = self._call("Target.attachToTarget", deadline, {"targetId": target, "flatten": True})["sessionId"]
            self._call("Page.enable", deadline, session=session)
            self._open(blank, session, deadline)
            self._session = session
        except PrintFailed as e:
            self._warm_error = e
        except Exception as e:  # a broken pipe or reply: reported by print_pdf, never lost in the thread
            self._warm_error = PrintFailed(f"{type(e).__name__}: {e}", stderr=self.stderr())

    # ------------------------------------------------------------------ protocol
    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise PrintFailed("no reply", timed_out=True)
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise self._gone()
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        try:
            os.write(self._w, json.dumps(msg).encode() + b"\0")
        except BrokenPipeError:
            raise self._gone() from None
        return self._id

    def _gone(self) -> PrintFailed:
        """The browser closed its end of the protocol (it exited, or is about to): why, once it has exited."""
        self._reap(CLOSE_S)
        return PrintFailed("the browser closed its DevTools pipe", returncode=self.returncode, stderr=self.stderr())

    def _call(self, method: str, deadline: float, params: dict | None = None, session: str | None = None) -> dict:
        sent = self._send(method, params, session)
        while True:
            reply = self._read(deadline)
            if reply.get("id") == sent:
                if "error" in reply:
                    why = reply["error"].get("message", reply["error"])
                    raise PrintFailed(f"{method}: {why}", stderr=self.stderr())
                return reply.get("result", {})
            if "method" in reply:  # an event that came before the reply: kept for _wait_event
                self._events.append(reply)

    def _wait_event(self, method: str, session: str, deadline: float) -> None:
        seen = lambda m: m.get("method") == method and m.get("sessionId") == session
        if any(map(seen, self._events)):
            return
        while not seen(self._read(deadline)):
            pass

    def _open(self, page: Path, session: str, deadline: float) -> None:
        self._events.clear()
        navigated = self._call("Page.navigate", deadline, {"url": page.resolve().as_uri()}, session)
        if navigated.get("errorText"):
            raise PrintFailed(f"could not open {page}: {navigated['errorText']}", stderr=self.stderr())
        self._wait_event("Page.loadEventFired", session, deadline)

    def print_pdf(self, page: Path, timeout_s: float) -> bytes:
        """``page`` printed to PDF bytes; ``PrintFailed`` when the browser fails or takes longer than ``timeout_s``.
        One page per printer: the browser is asked to close as soon as the PDF is back."""
        deadline = time.monotonic() + timeout_s
        self._warm.join(max(0.0, deadline - time.monotonic()))
        if self._warm.is_alive():
            raise PrintFailed("no reply", timed_out=True)
        if self._warm_error is not None or self._session is None:
            raise self._warm_error or PrintFailed("the browser opened no page", stderr=self.stderr())
        self._open(page, self._session, deadline)
        data = self._call("Page.printToPDF", deadline, PRINT, self._session).get("data", "")
        self._ask_to_close()  # it shuts down while the caller records the PDF
        return base64.b64decode(data)

    # ------------------------------------------------------------------ end
    def stderr(self) -> str:
        try:
            return self._err.read_text(errors="replace").strip()
        except OSError:
            return ""

    def _reap(self, wait_s: float) -> None:
        with self._lock:
            deadline = time.monotonic() + wait_s
            while self.pid is not None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # already reaped elsewhere (SIGCHLD ignored): gone, exit code unknown
                    self.pid = None
                    break
                if pid:
                    self.returncode, self.pid = os.waitstatus_to_exitcode(status), None
                elif time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    deadline = float("inf")
                else:
                    time.sleep(0.01)

    def _ask_to_close(self) -> None:
        if self.pid is not None and not self._closing:
            self._closing = True
            try:
                self._send("Browser.close")
            except (PrintFailed, OSError):
                pass

    def close(self) -> None:
        """Close the browser (killed if it has not exited within CLOSE_S) and remove its profile; idempotent."""
        self._ask_to_close()
        self._reap(CLOSE_S)
        warm = getattr(self, "_warm", None)
        if warm is not None:
            warm.join(CLOSE_S)  # the browser has exited: its pipe is closed, the warm-up returns
        if warm is None or not warm.is_alive():
            for fd in ("_w", "_r"):
                if getattr(self, fd, None) is not None:
                    os.close(getattr(self, fd))
                    setattr(self, fd, None)
        shutil.rmtree(self.tmp, ignore_errors=True)
