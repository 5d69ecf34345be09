"""Full-ranking metrics: HR@K, NDCG@K and MRR@K from score matrices over the whole catalog.

Contract: ``scores`` is ``(U, N)`` (one row per user, one column per catalog item), ``targets`` is
``(U,)`` item indices. Every item is ranked; nothing is sampled.

* **History masking** (on by default): the items in a user's history (``exclude[u]``) are removed
  from the ranking before the target is ranked — except the target itself, which is never masked
  (a repeat purchase is still a hit to be ranked, not an automatic miss).
* **Ties are pessimistic**: rank = 1 + number of *other* unmasked items scoring >= the target. A
  model that gives every item the same score therefore ranks each target last, never first.
* NaN scores are an error (they would silently rank anywhere).

With rank r (1-based) and cutoff K, for one user: HR@K = [r <= K], NDCG@K = [r <= K] / log2(r + 1)
(one relevant item, so the ideal DCG is 1), MRR@K = [r <= K] / r. Reported values are means over
users.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

DEFAULT_KS: tuple[int, ...] = (5, 10, 20)
METRIC_NAMES: tuple[str, ...] = ("HR", "NDCG", "MRR")

ArrayLike = npt.NDArray[np.floating] | torch.Tensor


def _as_tensor(scores: ArrayLike) -> torch.Tensor:
    if isinstance(scores, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(scores))
    return scores


def target_ranks(
    scores: ArrayLike,
    targets: Sequence[int] | npt.NDArray[np.integer] | torch.Tensor,
    exclude: Sequence[Iterable[int]] | None = None,
) -> npt.NDArray[np.int64]:
    """1-based pessimistic rank of each user's target among the unmasked items: ``(U,)``.

    ``exclude[u]`` lists item indices to mask for user u (its history); ``None`` masks nothing.
    """
    s = _as_tensor(scores).detach().to(torch.float64)  # (U, N); float64 so ties stay exact ties
    if s.dim() != 2:
        raise ValueError(f"scores must be (U, N), got shape {tuple(s.shape)}")
    n_users, n_items = s.shape
    t = torch.as_tensor(np.asarray(targets), dtype=torch.long, device=s.device).reshape(-1)
    if t.numel() != n_users:
        raise ValueError(f"{t.numel()} targets for {n_users} score rows")
    if n_users and (int(t.min()) < 0 or int(t.max()) >= n_items):
        raise ValueError(f"target indices must be in [0, {n_items}), got {t.min()}..{t.max()}")
    if torch.isnan(s).any():
        raise ValueError("scores contain NaN")
    masked = torch.zeros((n_users, n_items), dtype=torch.bool, device=s.device)
    if exclude is not None:
        if len(exclude) != n_users:
            raise ValueError(f"exclude has {len(exclude)} rows for {n_users} users")
        rows: list[int] = []
        cols: list[int] = []
        for u, items in enumerate(exclude):
            for i in items:
                rows.append(u)
                cols.append(int(i))
        if rows:
            masked[torch.tensor(rows), torch.tensor(cols)] = True
    arange = torch.arange(n_users, device=s.device)
    masked[arange, t] = False  # the target itself is never masked
    target_scores = s[arange, t].unsqueeze(1)  # (U, 1)
    beats = (s >= target_scores) & ~masked  # (U, N), includes the target itself once
    return (beats.sum(dim=1)).cpu().numpy().astype(np.int64)  # target counted once -> 1-based


def metrics_from_ranks(
    ranks: npt.NDArray[np.integer], ks: Sequence[int] = DEFAULT_KS
) -> dict[str, float]:
    """Mean HR@K, NDCG@K, MRR@K over users, keyed e.g. ``"NDCG@10"``. Empty input gives 0.0."""
    r = np.asarray(ranks, dtype=np.float64)
    if r.size and r.min() < 1:
        raise ValueError(f"ranks are 1-based, got {r.min()}")
    out: dict[str, float] = {}
    for k in ks:
        if k < 1:
            raise ValueError(f"K must be >= 1, got {k}")
        if not r.size:
            out.update({f"HR@{k}": 0.0, f"NDCG@{k}": 0.0, f"MRR@{k}": 0.0})
            continue
        hit = r <= k
        out[f"HR@{k}"] = float(hit.mean())
        out[f"NDCG@{k}"] = float(np.where(hit, 1.0 / np.log2(r + 1.0), 0.0).mean())
        out[f"MRR@{k}"] = float(np.where(hit, 1.0 / r, 0.0).mean())
    return out


def ranking_metrics(
    scores: ArrayLike,
    targets: Sequence[int] | npt.NDArray[np.integer] | torch.Tensor,
    exclude: Sequence[Iterable[int]] | None = None,
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, float]:
    """``metrics_from_ranks(target_ranks(scores, targets, exclude), ks)`` in one call."""
    return metrics_from_ranks(target_ranks(scores, targets, exclude), ks)


@dataclass
class RankAccumulator:
    """Collects ranks batch by batch (for catalogs too large to score all users at once)."""

    ks: Sequence[int] = DEFAULT_KS
    _ranks: list[npt.NDArray[np.int64]] = field(default_factory=list)

    def add(
        self,
        scores: ArrayLike,
        targets: Sequence[int] | npt.NDArray[np.integer] | torch.Tensor,
        exclude: Sequence[Iterable[int]] | None = None,
    ) -> npt.NDArray[np.int64]:
        ranks = target_ranks(scores, targets, exclude)
        self._ranks.append(ranks)
        return ranks

    @property
    def count(self) -> int:
        return sum(len(r) for r in self._ranks)

    def ranks(self) -> npt.NDArray[np.int64]:
        return np.concatenate(self._ranks) if self._ranks else np.zeros(0, dtype=np.int64)

    def result(self) -> dict[str, float]:
        return metrics_from_ranks(self.ranks(), self.ks)
