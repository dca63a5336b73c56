"""One live `mlflow server` on 127.0.0.1 for the whole test session, started by whichever
needs it first (a tracking test or the tracked background run of tests/conftest.py) and
stopped when the session ends. Tests keep apart by experiment name."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

MLFLOW = Path(sys.executable).with_name("mlflow")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.root: Path | None = None
        self.url = ""

    def start(self) -> str:
        """The server's URL, once its health check answers (the first call starts it)."""
        with self.lock:
            if self.process is None:
                self._launch()
            return self.url

    def _launch(self) -> None:
        self.root = root = Path(tempfile.mkdtemp(prefix="distillery-mlflow-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = root / "server.log"
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                 "--default-artifact-root", str(root / "art"), "--host", "127.0.0.1",
                 "--port", str(port), "--workers", "1"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                message = f"mlflow server did not start:\n{log.read_text()[-2000:]}"
                self._end()  # the next caller tries again
                raise RuntimeError(message)
            time.sleep(0.25)

    def _end(self) -> None:
        if self.process is not None:
            # the server runs uvicorn and a job runner as children: end its whole session
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, True)
            self.root = None

    def stop(self) -> None:
        with self.lock:
            self._end()


SERVER = MlflowServer()
