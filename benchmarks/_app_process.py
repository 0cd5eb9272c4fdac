"""Run `python app.py` as a child process on a free port, for the browser tests and the
app benchmarks: start it, wait until it serves the page and its config, read its log
and memory, stop it. A real process (not demo.launch in-process) so what is measured
is what a visitor gets, and a crash shows up as an exit code with its log.

    with AppProcess.start(AppProcessConfig(log_path=tmp / "app.log")) as app:
        httpx.get(app.url)
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from apron_core.errors import ApronError, ConfigError

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
READY_PATHS = ("/", "/config")  # the page and the config the page fetches first
WARMED_UP = "upload encoder warmed up"  # app.py logs it after its background warm-up


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class AppProcessConfig:
    bundle: Path = ROOT / "assets" / "demo"
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port
    log_path: Path | None = None  # None: a temporary file
    cache_dir: Path | None = None  # render cache; None: app.py's default
    startup_timeout_s: float = 180.0
    torch_threads: int = 1  # OMP_NUM_THREADS of the server (2 shared cores here)
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    app: Path = APP  # another checkout's app.py (run from its folder) to compare with

    def __post_init__(self) -> None:
        if self.startup_timeout_s <= 0:
            raise ConfigError(f"startup_timeout_s={self.startup_timeout_s} must be positive")
        if self.port is not None and not 0 < self.port < 65536:
            raise ConfigError(f"port={self.port} must be between 1 and 65535")


class AppProcess:
    """A running `python app.py`; use as a context manager so it is always stopped."""

    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path) -> None:
        self.proc = proc
        self.url = url  # ends with "/"
        self.log_path = log_path
        self.started_at = time.perf_counter()
        self.ready_s: float | None = None  # seconds from spawn to both READY_PATHS = 200
        self.ready_cpu_s: float | None = None  # CPU seconds the server had used by then

    @classmethod
    def spawn(cls, config: AppProcessConfig) -> AppProcess:
        """Start the process without waiting for it (see `wait_ready`)."""
        port = config.port or free_port(config.host)
        if config.log_path is None:
            fd, name = tempfile.mkstemp(prefix="apron_app_", suffix=".log")
            os.close(fd)
            log_path = Path(name)
        else:
            log_path = Path(config.log_path)
            log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, str(config.app), "--bundle", str(config.bundle)]
        args += ["--host", config.host, "--port", str(port)]
        if config.cache_dir is not None:
            args += ["--cache-dir", str(config.cache_dir)]
        args += list(config.extra_args)
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(config.torch_threads),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "PYTHONUNBUFFERED": "1",
            **config.env,
        }
        with open(log_path, "wb") as log:  # the child keeps its own handle
            proc = subprocess.Popen(
                args, cwd=config.app.parent, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return cls(proc, f"http://{config.host}:{port}/", log_path)

    @classmethod
    def start(cls, config: AppProcessConfig | None = None) -> AppProcess:
        """Spawn and wait until the page is served; stopped again if it never is."""
        config = config or AppProcessConfig()
        app = cls.spawn(config)
        try:
            app.wait_ready(config.startup_timeout_s)
        except BaseException:
            app.stop()
            raise
        return app

    def wait_ready(self, timeout_s: float) -> float:
        """Seconds from spawn until GET / and GET /config both answer 200."""
        deadline = self.started_at + timeout_s
        pending = list(READY_PATHS)
        with httpx.Client(timeout=5.0) as http:
            while pending:
                if self.proc.poll() is not None:
                    raise ApronError(
                        f"app.py exited with code {self.proc.returncode} before serving "
                        f"{self.url}; its log:\n{self.log_tail()}"
                    )
                if time.perf_counter() > deadline:
                    raise ApronError(
                        f"app.py did not serve {self.url}{pending[0].lstrip('/')} within "
                        f"{timeout_s:g} s; its log:\n{self.log_tail()}"
                    )
                try:
                    if http.get(self.url + pending[0].lstrip("/")).status_code == 200:
                        pending.pop(0)
                        continue
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.ready_s = time.perf_counter() - self.started_at
        with contextlib.suppress(psutil.Error):
            self.ready_cpu_s = self.cpu_seconds()
        return self.ready_s

    def wait_log(self, text: str, timeout_s: float = 120.0) -> float:
        """Seconds until `text` appears in the app's log (e.g. WARMED_UP, so that a
        measurement does not count the app's own background warm-up)."""
        deadline = time.perf_counter() + timeout_s
        while text not in self.log_text():
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                raise ApronError(
                    f"app.py never logged {text!r} within {timeout_s:g} s; its log:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)
        return time.perf_counter() - self.started_at

    @property
    def pid(self) -> int:
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far: a start-up cost
        that other jobs on the machine change far less than the wall-clock time."""
        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def rss_bytes(self) -> int:
        """Resident memory of the server process (and any children it started)."""
        p = psutil.Process(self.proc.pid)
        total = p.memory_info().rss
        for child in p.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return int(total)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_text()[-chars:]

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
