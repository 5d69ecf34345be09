"""Catalog order: row ``i`` of every item matrix is the ``i``-th item of the catalog.

Training (:class:`encoders.training.batching.Catalog`) and evaluation
(:class:`encoders.evaluation.base.ItemIndex`) both index items this way; they differ only in what
an item outside the catalog means (training: "no item", -1; evaluation: an error).
"""

from __future__ import annotations

from collections.abc import Sequence

from streams.messages.records import ItemRecord


class CatalogOrder:
    """Catalog order shared by every model: row ``i`` of each item matrix is ``ids[i]``."""

    #: Raised for a catalog that holds an item id twice.
    duplicate_error: type[ValueError] = ValueError

    def __init__(self, items: Sequence[ItemRecord]) -> None:
        self.items = list(items)
        self.ids = [item.item_id for item in self.items]
        self.index = {item_id: i for i, item_id in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            raise self.duplicate_error("catalog has duplicate item ids")

    def __len__(self) -> int:
        return len(self.ids)
