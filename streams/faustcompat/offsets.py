"""Reading a partition's committed offset from Faust's consumer, which keeps it privately."""

from __future__ import annotations

from typing import Any


def committed_offset(consumer: Any, tp: Any) -> int | None:
    """The offset Faust last committed for ``tp`` (None before the first commit).

    faust-streaming has no public accessor: its ``Consumer`` keeps committed offsets in the private
    ``_committed_offset`` dict, which the lag gauge reads rather than asking the broker each time.
    """
    value: int | None = consumer._committed_offset.get(tp)
    return value
