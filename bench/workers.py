"""Worker subprocesses under benchmark: start, watch memory, stop, and explain failures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError


def rss_bytes(pid: int) -> int | None:
    """Resident set size of a process (Linux /proc), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class WorkerProcess:
    """One worker subprocess with its output in a log file; stopped by its own pid."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
    ) -> None:
        self.argv = list(argv)
        self.log = log
        self._log_fh = log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env={**os.environ, **env},
            cwd=cwd,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started = time.monotonic()
        self.peak_rss = 0

    @property
    def pid(self) -> int:
        return self.proc.pid

    def sample_rss(self) -> int | None:
        """Current RSS; also tracks the peak seen by any sample."""
        rss = rss_bytes(self.pid)
        if rss is not None:
            self.peak_rss = max(self.peak_rss, rss)
        return rss

    def check_alive(self) -> None:
        """Raise with the log's tail when the worker has exited."""
        code = self.proc.poll()
        if code is not None:
            raise BenchError(
                f"worker {' '.join(self.argv[:4])} exited with code {code}; "
                f"last lines of {self.log}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (Faust shuts down cleanly), SIGKILL after ``timeout_s``."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_fh.close()


@contextlib.contextmanager
def running(
    argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None
) -> Iterator[WorkerProcess]:
    """A worker for the duration of a ``with`` block, stopped however the block ends."""
    worker = WorkerProcess(argv, env, log, cwd)
    try:
        yield worker
    finally:
        worker.stop()


def get_view(url: str, path: str, timeout_s: float = 10.0) -> tuple[int, Any]:
    """GET one HTTP view of the worker at ``url``: (status, parsed JSON body), the text for
    ``/metrics``; ``(0, {})`` while nothing answers and ``{}`` for a body that is not JSON."""
    try:
        with urllib.request.urlopen(url + path, timeout=timeout_s) as resp:  # noqa: S310
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except OSError:
        return 0, {}
    if path == "/metrics":
        return status, raw.decode()
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {}


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
