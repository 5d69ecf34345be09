"""Text-vector caches: persistent (sqlite, keyed by sha256(encoder id + text)) and in memory (LRU).

A restarted worker (or a second training run) finds every item text it encoded before, so a catalog
is encoded once per encoder, not once per process. Vectors are stored as float32 bytes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

CACHE_FILE = "text-vectors.sqlite"


def text_key(encoder_id: str, text: str) -> bytes:
    """The cache key of one text under one encoder."""
    return hashlib.sha256(encoder_id.encode() + b"\x00" + text.encode("utf-8")).digest()


class TextVectorCache:
    """``get_many`` / ``put_many`` over a sqlite file; ``hits`` and ``misses`` only ever grow.

    Thread-safe (one connection behind a lock), so a worker may call it from an executor thread.
    """

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir() or not path.suffix:
            path.mkdir(parents=True, exist_ok=True)
            path = path / CACHE_FILE
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        # WAL: a reader (second process) never blocks the writer; NORMAL sync is durable enough
        # for a cache (a lost tail is re-encoded, never wrong).
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, dim INT, data BLOB)"
        )
        self._db.commit()

    def get_many(self, keys: Sequence[bytes]) -> list[npt.NDArray[np.float32] | None]:
        """The stored vector for each key, None where absent (counted as a miss)."""
        out: list[npt.NDArray[np.float32] | None] = [None] * len(keys)
        index: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            index.setdefault(k, []).append(i)
        unique = list(index)
        with self._lock:
            for start in range(0, len(unique), 500):  # sqlite's bound-parameter limit
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, dim, data FROM vec WHERE key IN ({marks})",  # noqa: S608 (only ? marks)
                    chunk,
                ).fetchall()
                for key, dim, data in rows:
                    vec = np.frombuffer(data, dtype=np.float32, count=dim).copy()
                    for i in index[key]:
                        out[i] = vec
            found = sum(v is not None for v in out)
            self.hits += found
            self.misses += len(keys) - found
        return out

    def put_many(self, keys: Sequence[bytes], vectors: npt.NDArray[np.float32]) -> None:
        """Store ``vectors`` ``(B, dim)`` under ``keys``."""
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        rows = [(k, int(v.shape[0]), v.tobytes()) for k, v in zip(keys, vecs, strict=True)]
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?, ?)", rows)
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM vec").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class MemoryTextCache:
    """A bounded in-memory LRU of text vectors keyed by a hash of (encoder id, text), in front of
    the persistent cache: repeated texts (an event's free text: the same searches come back all
    the time) are never encoded twice while they stay among the ``capacity`` most recent ones.
    Keys are 16-byte digests, so long texts cost no more memory than short ones."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._vecs: OrderedDict[bytes, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(encoder_id: str, text: str) -> bytes:
        data = encoder_id.encode() + b"\x00" + text.encode("utf-8")
        return hashlib.blake2b(data, digest_size=16).digest()

    def get(self, key: bytes) -> npt.NDArray[np.float32] | None:
        with self._lock:
            vec = self._vecs.get(key)
            if vec is None:
                self.misses += 1
                return None
            self._vecs.move_to_end(key)
            self.hits += 1
            return vec

    def put(self, key: bytes, vec: npt.NDArray[np.float32]) -> None:
        with self._lock:
            self._vecs[key] = vec
            self._vecs.move_to_end(key)
            while len(self._vecs) > self.capacity:
                self._vecs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vecs)
