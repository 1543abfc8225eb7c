"""Drive the course as a person meets it: a JupyterLab server on loopback, isolated from
the user's Jupyter settings, and Debian's Chromium driven by Playwright.

Used by tests/test_browser.py and bench/screenshot.py. Playwright's own browser download
does not work on the course's machines: the browser is Debian's ``chromium`` package,
which ``./course test`` installs (with playwright, from the ``dev`` extra).
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ERROR_MIME = "application/vnd.jupyter.stderr"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front

# JupyterLab settings of the test server. Windowing "none": every cell is in the DOM, not
# only those on screen, so each output can be found and counted. No news, no update check.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def missing_tools() -> str | None:
    """Why the browser cannot be driven here, or None if it can."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Debian's Chromium ({CHROMIUM}, apt package 'chromium')")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install playwright; the 'dev' extra)")
    if not missing:
        return None
    return f"the browser test needs {' and '.join(missing)}: `./course test` installs what is missing"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    """A JupyterLab server serving ``root``, with its config, runtime, settings and
    workspaces in ``home`` (never the user's). Use as a context manager.

    ``python`` is the Python whose environment runs the server (default: this one). Jupyter
    finds its extensions and system-wide settings (``<prefix>/etc/jupyter``) by that
    environment, so a student's venv gives the student's JupyterLab: the server starts as
    ``<python> -m jupyterlab`` with that venv's ``bin`` first on its PATH, the venv's
    interpreter path kept as given (a venv's python is a symlink: resolving it would leave
    the venv)."""

    def __init__(self, root: Path, home: Path, cwd: Path | None = None, python: Path | str | None = None):
        self.root, self.home, self.cwd = Path(root), Path(home), Path(cwd or root)
        self.python = Path(os.path.abspath(python or sys.executable))
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return "(no log)"

    def api(self, method: str, path: str, timeout: float = 10) -> object:
        req = urllib.request.Request(self.url(f"api/{path}"), method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def start(self, timeout: float = 90) -> "JupyterLab":
        dirs = {name: self.home / name for name in ("config", "runtime", "ipython", "mpl", "settings", "workspaces")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for rel, value in LAB_SETTINGS.items():
            path = dirs["settings"] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            IPYTHONDIR=str(dirs["ipython"]),
            MPLCONFIGDIR=str(dirs["mpl"]),
            PYTHONDONTWRITEBYTECODE="1",
        )
        for var in ("JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "JUPYTER_TOKEN", "BROWSER"):
            env.pop(var, None)
        if self.python != Path(os.path.abspath(sys.executable)):  # another environment: nothing of ours leaks in
            env.pop("PYTHONPATH", None)
            env.pop("VIRTUAL_ENV", None)
            if (self.python.parent.parent / "pyvenv.cfg").exists():
                env["VIRTUAL_ENV"] = str(self.python.parent.parent)
        env["PATH"] = os.pathsep.join([str(self.python.parent), env.get("PATH", os.defpath)])
        cmd = [
            str(self.python), "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={dirs['settings']}",
            f"--LabApp.workspaces_dir={dirs['workspaces']}",
            "--LabApp.expose_app_in_browser=True",
            "--LanguageServerManager.autodetect=False",
        ]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.proc.returncode}; its log:\n{self.log()}")
            try:
                self.api("GET", "status", timeout=2)
                return self
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"JupyterLab did not answer on {self.base} within {timeout:.0f} s; its log:\n{self.log()}")

    def kernels(self) -> list[dict]:
        return self.api("GET", "kernels")  # type: ignore[return-value]

    def shutdown_kernels(self) -> None:
        try:
            for kernel in self.kernels():
                self.api("DELETE", f"kernels/{kernel['id']}", timeout=20)
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.shutdown_kernels()
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        try:  # anything left in the server's process group
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # kernels run in sessions of their own; those left (the server killed before it
        # could shut them down) are known by their connection file in our runtime folder
        for pid in self._own_kernels():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.proc = None

    def _own_kernels(self) -> list[int]:
        runtime = str(self.home / "runtime").encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if runtime in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
        return [pid for pid in pids if pid != os.getpid()]

    def __enter__(self) -> "JupyterLab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def chromium(viewport: tuple[int, int] = (1400, 1000)):
    """A headless Debian Chromium page (Playwright sync API); closed whatever happens."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            yield context.new_page()
        finally:
            browser.close()


@dataclass
class Output:
    mime: str  # the rendered MIME type (data-mime-type), "" if none
    text: str  # what the output shows as text, its first 6000 characters (pictures: "")
    last_line: str  # its last non-blank line: for a traceback, "SomeError: message"
    pictures: int  # <img> and <svg> elements in it holding a loaded, non-empty picture

    @property
    def error(self) -> bool:
        """Shown in the red error box: a traceback, or anything written to stderr."""
        return self.mime == ERROR_MIME


@dataclass
class Cell:
    index: int
    kind: str  # "code", "markdown" or "raw"
    prompt: str  # e.g. "[3]:", "[*]:", "[ ]:"
    outputs: list[Output] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return re.fullmatch(r"\[\d+\]:", self.prompt) is not None

    @property
    def errors(self) -> list[Output]:
        return [o for o in self.outputs if o.error]

    def pictures(self, mime: str) -> int:
        return sum(o.pictures for o in self.outputs if o.mime == mime)


_READ_CELLS = """
() => {
  const nb = document.querySelector('PANEL .jp-Notebook');
  if (!nb) return null;
  const loaded = el => el.tagName === 'IMG'
    ? el.complete && el.naturalWidth > 0 && el.naturalHeight > 0
    : el.getBoundingClientRect().width > 0 && el.getBoundingClientRect().height > 0;
  return [...nb.querySelectorAll(':scope .jp-Cell')].map((cell, index) => {
    const kind = cell.classList.contains('jp-CodeCell') ? 'code'
      : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw';
    const prompt = cell.querySelector('.jp-InputArea-prompt');
    const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
      mime: o.getAttribute('data-mime-type') || '',
      text: (o.innerText || '').slice(0, 6000),
      last_line: (o.innerText || '').split('\\n').filter(l => l.trim()).pop() || '',
      pictures: [...o.querySelectorAll('img, svg')].filter(loaded).length,
    }));
    return {index, kind, prompt: prompt ? prompt.innerText.trim() : '', outputs};
  });
}
""".replace("PANEL", PANEL)

# window.jupyterapp exists because the server runs with --LabApp.expose_app_in_browser
_CURRENT = "const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
_KERNEL_STATUS = f"""
() => {{ {_CURRENT}
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return kernel ? kernel.status : 'none';
}}"""
_WINDOWING = f"() => {{ {_CURRENT} return panel ? panel.content.notebookConfig.windowingMode : null; }}"
_SCROLL_TO = f"""
([index, offset]) => {{ {_CURRENT}
  const cell = panel.content.widgets[index].node;
  const scroller = cell.closest('.jp-WindowedPanel-outer') || panel.content.node;
  scroller.scrollTop += cell.getBoundingClientRect().top - scroller.getBoundingClientRect().top - offset;
}}"""
_ON_SCREEN = f"""
() => {{ {_CURRENT}
  const scroller = panel.content.node.closest('.jp-WindowedPanel-outer') || panel.content.node;
  const view = scroller.getBoundingClientRect();
  const top = Math.max(view.top, 0), bottom = Math.min(view.bottom, window.innerHeight);
  const box = cell => {{  // what the cell draws: its input and outputs, not its padding
    const parts = [...cell.node.querySelectorAll(':scope .jp-InputArea, :scope .jp-OutputArea-child')]
      .map(e => e.getBoundingClientRect()).filter(r => r.height > 0);
    if (!parts.length) return cell.node.getBoundingClientRect();
    const t = Math.min(...parts.map(r => r.top)), b = Math.max(...parts.map(r => r.bottom));
    return {{top: t, bottom: b, height: b - t}};
  }};
  return panel.content.widgets.map((cell, index) => {{
    const r = box(cell);
    return {{index, top: r.top - top, bottom: r.bottom - top, shown: Math.min(r.bottom, bottom) - Math.max(r.top, top),
             height: r.height, view: bottom - top}};
  }});
}}"""
_IMAGES_LOADED = f"() => [...document.querySelectorAll('{PANEL} .jp-OutputArea-output img')].every(i => i.complete)"
_CLOSE = f"""
async () => {{ {_CURRENT}
  if (!panel || !panel.sessionContext) return;
  await panel.sessionContext.shutdown();
  panel.context.model.dirty = false;
  panel.dispose();
}}"""


class Notebook:
    """One notebook open in JupyterLab, in the page, driven through the menus a person uses."""

    def __init__(self, page, lab: JupyterLab, path: str):
        self.page, self.lab, self.path = page, lab, path

    def open(self, timeout: float = 60) -> "Notebook":
        # a workspace of its own: no tab of an earlier notebook is restored next to it
        self.page.goto(self.lab.url(f"lab/workspaces/{secrets.token_hex(4)}/tree/{self.path}"))
        self.page.wait_for_selector(f"{PANEL} .jp-Notebook .jp-Cell", timeout=timeout * 1000)
        self.wait_kernel("idle", timeout)
        return self

    def kernel_status(self) -> str:
        return self.page.evaluate(_KERNEL_STATUS)

    def windowing_mode(self) -> str | None:
        return self.page.evaluate(_WINDOWING)

    def wait_kernel(self, status: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seen = None
        while time.monotonic() < deadline:
            seen = self.kernel_status()
            if seen == status:
                return
            self.page.wait_for_timeout(200)
        raise TimeoutError(f"{self.path}: the kernel is {seen!r}, not {status!r}, after {timeout:.0f} s")

    def menu(self, top: str, item: str) -> None:
        """Click a menu of the menu bar, then one of its items."""
        self.page.get_by_role("menuitem", name=top, exact=True).click()
        self.page.get_by_role("menuitem", name=item, exact=True).click()

    def menu_items(self, top: str) -> list[str]:
        """The labels of a menu of the menu bar (opened, read, closed)."""
        self.page.get_by_role("menuitem", name=top, exact=True).click()
        self.page.locator(".lm-Menu .lm-Menu-itemLabel").first.wait_for()
        labels = [t.strip() for t in self.page.locator(".lm-Menu .lm-Menu-itemLabel").all_inner_texts()]
        self.page.keyboard.press("Escape")
        return [t for t in labels if t]

    def run_all(self, timeout: float = 180) -> list[Cell]:
        """Edit → Clear Outputs of All Cells, then Run → Run All Cells; wait until nothing
        runs; the cells as shown. Clearing first: a stored output never counts as a new one."""
        self.menu("Edit", "Clear Outputs of All Cells")
        stale = [c.index for c in self.cells() if c.outputs or c.ran]
        if stale:
            raise AssertionError(f"{self.path}: cells {stale} still show outputs after Clear Outputs of All Cells")
        self.menu("Run", "Run All Cells")
        return self.wait_idle(timeout)

    def wait_idle(self, timeout: float = 180) -> list[Cell]:
        """Wait until no cell shows [*], the kernel is idle and every picture has loaded, a second in a row."""
        deadline = time.monotonic() + timeout
        quiet, running = 0, []
        self.page.wait_for_timeout(300)
        while time.monotonic() < deadline:
            cells = self.cells()
            running = [c.index for c in cells if "*" in c.prompt]
            if not running and self.kernel_status() == "idle" and self.page.evaluate(_IMAGES_LOADED):
                quiet += 1
                if quiet >= 4:
                    return cells
            else:
                quiet = 0
            self.page.wait_for_timeout(250)
        raise TimeoutError(
            f"{self.path}: still running after {timeout:.0f} s (cells {running} show [*], "
            f"kernel {self.kernel_status()!r}, images loaded: {self.page.evaluate(_IMAGES_LOADED)})"
        )

    def cells(self) -> list[Cell]:
        raw = self.page.evaluate(_READ_CELLS)
        if raw is None:
            raise RuntimeError(f"{self.path}: no notebook on the page")
        return [Cell(c["index"], c["kind"], c["prompt"], [Output(**o) for o in c["outputs"]]) for c in raw]

    def scroll_to(self, index: int, offset: int = 0) -> None:
        """Scroll the notebook so that cell ``index`` starts ``offset`` pixels below its top."""
        self.page.evaluate(_SCROLL_TO, [index, offset])
        self.page.wait_for_timeout(300)

    def on_screen(self, min_pixels: float = 1) -> dict[int, dict]:
        """The cells visible in the notebook's scrolled view now (at least ``min_pixels``
        of what they draw, input and outputs, on screen; their padding does not count), by
        index: each one's ``top`` and ``bottom`` relative to the view's top, its
        ``height``, the pixels ``shown`` and the ``view``'s height."""
        boxes = self.page.evaluate(_ON_SCREEN)
        return {b["index"]: b for b in boxes if b["shown"] >= min_pixels and b["height"] > 0}

    def command(self, command_id: str, args: dict | None = None) -> None:
        """Run a JupyterLab command (e.g. "application:toggle-left-area") as its menu item would."""
        self.page.evaluate("([id, args]) => window.jupyterapp.commands.execute(id, args)", [command_id, args or {}])
        self.page.wait_for_timeout(300)

    def plugins(self, prefix: str) -> list[str]:
        """The ids of the activated JupyterLab plugins starting with ``prefix``: a plugin
        disabled in labconfig is not registered at all."""
        return self.page.evaluate(
            "(prefix) => window.jupyterapp.listPlugins().filter(p => p.startsWith(prefix) "
            "&& window.jupyterapp.isPluginActivated(p))",
            prefix,
        )

    def commands(self, prefix: str) -> list[str]:
        """The ids of the registered commands starting with ``prefix``."""
        return self.page.evaluate(
            "(prefix) => window.jupyterapp.commands.listCommands().filter(c => c.startsWith(prefix))", prefix
        )

    def sidebar_tabs(self, side: str) -> list[str]:
        """The tabs of the ``left`` or ``right`` sidebar: each one's label, or its tooltip
        when it shows only an icon."""
        return self.page.locator(f".jp-SideBar.jp-mod-{side} .lm-TabBar-tab").evaluate_all(
            "els => els.map(e => (e.innerText || '').trim() || e.getAttribute('title') || '')"
        )

    def toolbar_items(self) -> dict[str, str]:
        """The notebook toolbar's items: name (data-jp-item-name) -> the text shown."""
        return self.page.locator(f"{PANEL} .jp-NotebookPanel-toolbar > *").evaluate_all(
            "els => Object.fromEntries(els.map((e, i) => "
            "[e.getAttribute('data-jp-item-name') || `#${i}`, (e.innerText || '').trim()]))"
        )

    def select(self, index: int) -> None:
        """Make cell ``index`` the active cell (the blue bar), in command mode."""
        self.page.evaluate(
            f"(i) => {{ {_CURRENT} panel.content.mode = 'command'; panel.content.activeCellIndex = i; }}", index
        )

    def validate(self, screenshot: Path | None = None, timeout: float = 180) -> tuple[bool, str]:
        """Press nbgrader's Validate button; (passed, the text of the result dialog),
        with a screenshot of the dialog if asked."""
        self.page.locator(f"{PANEL} .jp-NotebookPanel-toolbar .validate-button").click()
        dialog = self.page.locator(".jp-Dialog")
        dialog.wait_for(timeout=timeout * 1000)
        body = dialog.locator("#validation-message")
        body.wait_for(timeout=10_000)
        passed = "validation-success" in (body.get_attribute("class") or "").split()
        text = dialog.inner_text()
        if screenshot is not None:
            self.screenshot(screenshot)
        dialog.locator(".jp-mod-accept").click()
        return passed, text

    def screenshot(self, path: Path) -> Path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return Path(path)

    def close(self) -> None:
        """Shut the kernel down and close the tab without saving."""
        self.page.evaluate(_CLOSE)
