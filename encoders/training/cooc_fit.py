"""The served hybrid's co-occurrence part, fitted at training time: the neighbour table from the
training events (:func:`encoders.cooccurrence.build_table`) and the blend weight ``w`` from a
fixed grid, chosen on the **validation** targets through the serving scorer
(:class:`~encoders.evaluation.driftrec_model.DriftRecStream`, the worker's
:func:`profiles.retrieval.adjust_row`).

Rule: the weight with the best mean validation NDCG@10 over the two protocols (``masked``, what
the ``recent``/``consumed`` exclusion policies serve; ``unmasked``, what ``none`` serves); ties
go to the smaller weight, and ``0`` (the interest model alone) is in the grid, so a blend that
does not help on validation is not served. The test split is never read here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from encoders.cooccurrence import TOP_M, build_table
from encoders.data.split import Split
from encoders.evaluation.base import F32, ItemIndex
from encoders.evaluation.driftrec_model import DriftRecStream
from encoders.evaluation.offline import PROTOCOLS, evaluate_scorers
from encoders.serving import ServingModel
from profiles.cooc import CoocTable
from streams.messages.records import ItemRecord

#: Blend weights tried on validation (0: the interest model alone).
GRID: tuple[float, ...] = (0.0, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
METRIC = "NDCG@10"
RULE = (
    "weight with the best mean of masked and unmasked valid NDCG@10 (ties: the smaller); "
    "0 = the interest model alone"
)


@dataclass(frozen=True)
class CoocFit:
    table: CoocTable
    weight: float
    #: Validation NDCG@10 per weight (``str(w)``): ``masked``, ``unmasked``, ``mean``.
    valid: dict[str, dict[str, float]]

    def meta(self) -> dict[str, Any]:
        """The ``cooc`` entry of ``checkpoint.json`` (without the file's name and hash)."""
        return {
            "weight": self.weight,
            "grid": [str(w) for w in GRID],
            "rule": RULE,
            "valid_NDCG@10": self.valid,
            "top": self.table.params.get("top"),
            "window": self.table.params.get("window"),
            "n_last": self.table.n_last,
            "decay": self.table.decay,
            "items": len(self.table),
            "pairs": len(self.table.indices),
        }


def choose_weight(valid: dict[str, dict[str, float]]) -> float:
    """The rule above over ``valid`` (``str(w)`` -> ``{"mean": ...}``)."""
    return max(GRID, key=lambda w: (valid[str(w)]["mean"], -w))


def fit_cooc(
    serving: ServingModel,
    items: Sequence[ItemRecord],
    split: Split,
    *,
    top: int = TOP_M,
    window: int = 20,
) -> CoocFit:
    """Build the table from ``split``'s training events and choose the weight on its validation
    targets; ``serving`` is left as it was. ``window``: the profile's recent window."""
    table = build_table([i.item_id for i in items], split.train_events(), top=top)
    catalog = ItemIndex(items)
    before = (serving.cooc, serving.cooc_weight)
    serving.set_cooc(table, 0.0)
    try:
        stream = DriftRecStream(serving, catalog, repeat=True, window=window)

        def at(w: float) -> Callable[[F32], F32]:
            return lambda interests: stream.scores(interests, cooc_weight=w)

        results = evaluate_scorers(
            stream,
            {str(w): at(w) for w in GRID},
            split,
            catalog,
            stage="valid",
            ks=(10,),
            protocols=PROTOCOLS,
        )
    finally:
        serving.set_cooc(*before)
    valid: dict[str, dict[str, float]] = {}
    for name, res in results.items():
        row = {p: res.by_protocol[p][METRIC] for p in PROTOCOLS}
        scored = [p for p in PROTOCOLS if res.by_protocol[p]["users"] > 0]
        row["mean"] = float(np.mean([row[p] for p in scored])) if scored else 0.0
        valid[name] = row
    return CoocFit(table, choose_weight(valid), valid)
