"""Offline evaluation: leave-last-out targets, full ranking, one metrics path, two protocols.

Each model sees each evaluated user's history (every event before the target) through its own
``step``, one event at a time, batched across users: for driftrec this is the serving code path.
Ranks and metrics come from :mod:`encoders.evaluation.ranking`. The same scores are ranked under
each protocol asked for:

* ``masked``: "which *new* item comes next": the items of the user's history are removed from
  the ranking, and only users whose target is not in their history are scored (``users`` in the
  metrics says how many). Scoring a repeat target while masking the rest of the history would
  leak the answer: the target would be the one history item left, and a model that ranks
  history first (``repeat``) would find it at rank 1 (NDCG@10 0.48 on the shipped sample);
* ``unmasked``: nothing is removed, repeats compete with new items: RecBole's protocol for
  sequential models, and the honest one for retail where people buy again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from encoders.data.split import Split, Stage
from encoders.evaluation.base import ItemIndex, StreamModel
from encoders.evaluation.ranking import DEFAULT_KS, RankAccumulator
from streams.messages.records import BehaviourEvent

PROTOCOLS: tuple[str, ...] = ("masked", "unmasked")


@dataclass(frozen=True)
class OfflineResult:
    """Metrics (e.g. ``"NDCG@10"``; ``"users"`` scored) and the per-user 1-based ranks behind
    them (0: not scored under that protocol), for the first protocol asked for; ``by_protocol``
    holds every protocol's."""

    metrics: dict[str, float]
    ranks: npt.NDArray[np.int64]
    by_protocol: dict[str, dict[str, float]]
    ranks_by_protocol: dict[str, npt.NDArray[np.int64]]


def gaps_s(events: Sequence[BehaviourEvent]) -> npt.NDArray[np.float32]:
    """Seconds since the previous event of the same sequence (0.0 for the first): ``(T,)``."""
    ts = np.array([e.ts for e in events], dtype=np.float64)
    out = np.zeros(len(events), dtype=np.float32)
    out[1:] = np.maximum(np.diff(ts), 0.0)
    return out


def replay_histories(
    model: StreamModel, histories: Sequence[Sequence[BehaviourEvent]]
) -> npt.NDArray[np.float32]:
    """Final state of each history after stepping every event in order: ``(U, S)``."""
    states = model.initial_states(len(histories))
    gaps = [gaps_s(h) for h in histories]
    longest = max((len(h) for h in histories), default=0)
    for t in range(longest):
        rows = [r for r, h in enumerate(histories) if len(h) > t]
        events = [histories[r][t] for r in rows]
        step_gaps = np.array([gaps[r][t] for r in rows], dtype=np.float32)
        states[rows] = model.step(states[rows], events, step_gaps)
    return states


def evaluate_offline(
    model: StreamModel,
    split: Split,
    catalog: ItemIndex,
    *,
    stage: Stage = "test",
    ks: Sequence[int] = DEFAULT_KS,
    mask_history: bool = True,
    batch_users: int = 256,
    protocols: Sequence[str] | None = None,
) -> OfflineResult:
    """Rank every evaluated user's ``stage`` target among all items for ``model`` under each of
    ``protocols`` (default: ``masked`` or ``unmasked`` as ``mask_history`` says)."""
    protos = tuple(protocols or (("masked",) if mask_history else ("unmasked",)))
    return evaluate_scorers(
        model,
        {"": model.scores},
        split,
        catalog,
        stage=stage,
        ks=ks,
        batch_users=batch_users,
        protocols=protos,
    )[""]


def evaluate_scorers(
    model: StreamModel,
    scorers: Mapping[str, Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]],
    split: Split,
    catalog: ItemIndex,
    *,
    stage: Stage = "test",
    ks: Sequence[int] = DEFAULT_KS,
    batch_users: int = 256,
    protocols: Sequence[str] = PROTOCOLS,
) -> dict[str, OfflineResult]:
    """:func:`evaluate_offline` for several ways of scoring ``model``'s interests (name ->
    ``interests -> (B, N) scores``), over one replay of the histories."""
    protos = tuple(protocols)
    unknown = [p for p in protos if p not in PROTOCOLS]
    if unknown or not protos:
        raise ValueError(f"protocols must be among {PROTOCOLS}, got {protos}")
    accs = {(name, p): RankAccumulator(ks=ks) for name in scorers for p in protos}
    # Users sorted by history length share batches with similar lengths: fewer near-empty steps.
    users = sorted(split.users, key=lambda u: len(u.history(stage)))
    positions = {id(u): i for i, u in enumerate(split.users)}
    ranks = {key: np.zeros(len(users), dtype=np.int64) for key in accs}
    batches = range(0, len(users), batch_users)
    for start in tqdm(batches, desc=f"offline {model.name}", unit=" batch", leave=False):
        chunk = users[start : start + batch_users]
        histories = [u.history(stage) for u in chunk]
        interests = model.interest(replay_histories(model, histories))
        targets = [catalog.of(u.target(stage)) for u in chunk]
        seen = [{catalog.of(e.item_id) for e in h if e.item_id is not None} for h in histories]
        for name, scorer in scorers.items():
            scores = scorer(interests)  # (B, N)
            for proto in protos:
                rows = list(range(len(chunk)))
                exclude = None
                if proto == "masked":
                    rows = [r for r in rows if targets[r] not in seen[r]]  # new-item targets only
                    exclude = [seen[r] for r in rows]
                if not rows:
                    continue
                acc = accs[(name, proto)]
                chunk_ranks = acc.add(scores[rows], [targets[r] for r in rows], exclude)
                for r, rank in zip(rows, chunk_ranks, strict=True):
                    ranks[(name, proto)][positions[id(chunk[r])]] = rank
    out = {}
    for name in scorers:
        by_protocol = {
            p: accs[(name, p)].result() | {"users": float(accs[(name, p)].count)} for p in protos
        }
        by_ranks = {p: ranks[(name, p)] for p in protos}
        first = protos[0]
        out[name] = OfflineResult(by_protocol[first], by_ranks[first], by_protocol, by_ranks)
    return out
