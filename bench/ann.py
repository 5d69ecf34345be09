"""A minimal inverted-file (IVF) index in numpy: the "simple alternative" to exact retrieval.

It answers one question honestly: at what catalog size does an approximate index start to pay
for itself on this machine, and at what recall? Items are clustered by a few rounds of k-means
(``nlist`` ≈ √N lists); a query scores the centroids, scans the ``nprobe`` best lists exactly and
takes the top K of those candidates. Not a production ANN (that would be FAISS/hnswlib); if the
crossover is far above driftrec's catalogs, neither is needed.
"""

from __future__ import annotations

import numpy as np


class IVFIndex:
    """``search(queries (B, D), k) -> (B, k)`` item rows, approximately by inner product."""

    def __init__(self, items: np.ndarray, nlist: int, *, iters: int = 8, seed: int = 0) -> None:
        if items.ndim != 2 or len(items) < nlist or nlist < 1:
            raise ValueError(
                f"need a (N, D) matrix with N >= nlist >= 1, got {items.shape}, {nlist}"
            )
        self.items = np.ascontiguousarray(items, dtype=np.float32)  # (N, D)
        rng = np.random.default_rng(seed)
        sample = self.items[rng.choice(len(items), size=min(len(items), 64 * nlist), replace=False)]
        centroids = sample[rng.choice(len(sample), size=nlist, replace=False)].copy()  # (L, D)
        for _ in range(iters):  # spherical k-means on the sample
            assign = np.argmax(sample @ centroids.T, axis=1)  # (n,)
            for c in range(nlist):
                members = sample[assign == c]
                if len(members):
                    centroids[c] = members.mean(axis=0)
        self.centroids = centroids
        assign = np.argmax(self.items @ centroids.T, axis=1)  # (N,)
        order = np.argsort(assign, kind="stable")
        self.rows = order  # item rows grouped by list
        self.bounds = np.searchsorted(assign[order], np.arange(nlist + 1))  # (L + 1,)

    def search(self, queries: np.ndarray, k: int, nprobe: int) -> np.ndarray:
        """(B, D) -> (B, k) item rows, best first (fewer candidates than k: padded with -1)."""
        probe = np.argsort(-(queries @ self.centroids.T), axis=1)[:, :nprobe]  # (B, nprobe)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for b, lists in enumerate(probe):
            cand = np.concatenate([self.rows[self.bounds[c] : self.bounds[c + 1]] for c in lists])
            scores = self.items[cand] @ queries[b]  # (C,)
            kk = min(k, len(cand))
            top = np.argpartition(-scores, kk - 1)[:kk]
            top = top[np.argsort(-scores[top])]
            out[b, :kk] = cand[top]
        return out


def exact_top_k(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(N, D), (B, D) -> (B, k) rows of the exact top-k by inner product, best first."""
    scores = queries @ items.T  # (B, N)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (B, k) unordered
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def recall_at_k(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k rows that the approximate answer found."""
    hits = [
        len(set(a.tolist()) & set(e.tolist())) / len(e) for a, e in zip(approx, exact, strict=True)
    ]
    return float(np.mean(hits))


def clustered_vectors(n: int, dim: int, clusters: int, seed: int = 0) -> np.ndarray:
    """(n, dim) unit vectors around ``clusters`` random centres (catalogs cluster by category)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    vecs = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim)).astype(
        np.float32
    )
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs
