"""A fix for faust-streaming 0.15.3 that loses events at a rebalance (at-least-once broken).

What happens (found by ``tests/integration/test_rebalance.py``, reproduced from the logs and the
changelog): when a rebalance starts, Faust suspends the flow. Messages that reach a stream while
the flow is suspended, or that were fetched under an older group generation, are *skipped* and,
so that lag does not grow, *acknowledged* (``faust/streams.py``, ``value is skipped_value``). The
revocation has just forgotten the partition's committed offset, which disables the check that
stops a commit from jumping over unacknowledged offsets (``Consumer._new_offset``). The next
commit, often the periodic one firing late during the rebalance, then commits past the skipped
events: no worker ever processes them. In the test, a worker that lost a partition committed
offset 164 having applied events up to 152; the new owner started at 164 and 11 events were gone
(same family as faust-streaming issues #312 and #606).

The fix: an acknowledgement of a message that never went through a stream (``message.tracked`` is
False for a skipped message; every event a stream yields is tracked first) marks the message done
but does not record its offset as safe to commit. The commit stays below it, so the partition's
next owner (or this worker after seeking back to the committed offset) reads it again; redelivery
is harmless because profiles skip events they already applied.
"""

from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer

_original_ack = Consumer.ack


def ack_processed_only(consumer: Any, message: Any) -> bool:
    """``Consumer.ack`` that records only offsets a stream actually processed."""
    if not message.tracked:
        message.acked = True  # done with this object; its offset is read again later
        return False
    return bool(_original_ack(consumer, message))


def install() -> None:
    """Patch Faust's consumer (idempotent)."""
    Consumer.ack = ack_processed_only  # type: ignore[method-assign,assignment]  # on purpose
