"""Where a worker's time goes: py-spy samples of a worker subprocess during one burst, summed.

py-spy is not a driftrec dependency (install it anywhere, e.g. ``pip install py-spy``, and put
it on PATH or pass ``--py-spy``). The summary lists, per thread, the share of samples that were
busy, and the busy share of the functions on the stack (inclusive), which is enough to tell the
event loop's Kafka and table work from the model thread's torch work.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError

#: Leaf functions of a thread that waits rather than works (selector, locks, queues, sleeps).
IDLE_FUNCS = frozenset(
    {"select", "wait", "get", "sleep", "acquire", "poll", "_worker", "_wait_for_tstate_lock"}
)


@dataclass
class Recording:
    """A running ``py-spy record`` attached to one process."""

    proc: subprocess.Popen[bytes]
    out: Path

    def stop(self) -> Path:
        """Stop sampling (SIGINT makes py-spy write its output) and return the raw file."""
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            self.proc.kill()
            raise BenchError("py-spy did not stop within 60 s") from exc
        if not self.out.exists():
            raise BenchError(f"py-spy wrote no profile to {self.out} (exit {self.proc.returncode})")
        return self.out


#: Where a busy sample's time goes: the first frame from the leaf up that matches a category
#: decides (so torch under the text encoder counts as the encoder, a Kafka send under the list
#: publisher as Kafka produce).
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("text encoder (free text)", ("TextEncoder.encode", "encode_texts")),
    ("retrieval", ("ItemIndex.top_k", "ItemIndex._explain")),
    ("interest step (fusion + LSTM)", ("ServingModel.step", "update_long_term", "served_interest")),
    ("profile encode/decode", ("UserProfile.from_bytes", "UserProfile.to_bytes")),
    ("JSON encode/decode", ("encode_json", "decode_event", "dumps (json", "loads (json")),
    ("RocksDB", ("rocksdb.py", "Store._get", "Store._set")),
    ("Kafka produce", ("aiokafka/producer", "Sender.", "AIOKafkaClient.send", "publish_message")),
    ("Kafka fetch", ("Fetcher.", "_drain_messages", "getmany", "aiokafka/consumer")),
    ("engine bookkeeping", ("engine.py", "policy.py", "profile.py")),
)

#: Frames that hand work to a thread; what runs below the last of them is the work itself.
DISPATCHERS = frozenset({"Handle._run", "_WorkItem.run", "Thread.run"})


def record(py_spy: str, pid: int, out: Path, rate_hz: int = 100) -> Recording:
    """Start sampling ``pid`` (all threads, idle included) into a raw collapsed-stack file."""
    argv = [py_spy, "record", "-p", str(pid), "-o", str(out), "-f", "raw", "-r", str(rate_hz)]
    proc = subprocess.Popen(
        [*argv, "--threads", "--idle", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Recording(proc, out)


def _name(frame: str) -> str:
    """``func (path/to/module.py:12)`` -> ``func [module.py]``."""
    func, _, where = frame.partition(" (")
    module = where.split(":")[0].rsplit("/", 1)[-1]
    return f"{func} [{module}]" if module else func


def _work(frames: list[str]) -> list[str]:
    """The frames below the last dispatcher (event-loop callback, executor work item, thread
    start): what the thread was actually asked to do."""
    for i in range(len(frames) - 1, -1, -1):
        if frames[i].split(" (")[0] in DISPATCHERS:
            return frames[i + 1 :]
    return frames[1:]


def _category(work: list[str]) -> str:
    for frame in reversed(work):
        for label, needles in CATEGORIES:
            if any(n in frame for n in needles):
                return label
    return "other (event loop, Faust, asyncio)"


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Per thread: samples, busy share, the busiest functions (inclusive share of busy samples,
    counted below the event loop / executor dispatch), and the share spent rescheduling
    coroutines that yield with ``sleep(0)`` (a busy wait)."""
    threads: dict[str, dict[str, Any]] = {}
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_s)
        frames = stack.split(";")
        t = threads.setdefault(
            frames[0],
            {"samples": 0, "busy": 0, "spin": 0, "functions": Counter(), "where": Counter()},
        )
        t["samples"] += count
        if frames[-1].split(" (")[0].rsplit(".", 1)[-1] in IDLE_FUNCS:
            continue
        t["busy"] += count
        work = _work(frames)
        # A C task stepping straight into call_soon: a coroutine that yielded bare (sleep(0)).
        if work and work[0].startswith("BaseEventLoop.call_soon"):
            t["spin"] += count
        for name in {_name(f) for f in work}:
            t["functions"][name] += count
        t["where"][_category(work)] += count
    out: dict[str, Any] = {}
    for name, t in threads.items():
        busy = t["busy"] or 1
        out[name] = {
            "samples": t["samples"],
            "busy_share": t["busy"] / max(t["samples"], 1),
            "sleep0_spin_share_of_busy": t["spin"] / busy,
            "top_inclusive": {f: c / busy for f, c in t["functions"].most_common(top)},
            "where": {c: n / busy for c, n in t["where"].most_common()},
        }
    return out
