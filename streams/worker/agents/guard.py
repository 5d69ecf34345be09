"""When processing a micro-batch fails: nothing valid is lost, nothing is applied twice.

faust-streaming 0.15.3's ``take_events`` acknowledges every event of a batch in a ``finally``
block, even when the consumer raised, and the in-order gate has already moved past them: an
exception escaping the batch handler commits the whole batch unprocessed. So the handler keeps
processing errors in:

* **Transient failures**, decided by exception type (:func:`is_transient`):
  :class:`~streams.errors.TransientError` (raised for a model swap in progress and the like),
  Kafka errors that aiokafka (or kafka-python) marks ``retriable`` plus aiokafka's
  ``KafkaTimeoutError``, and Python's
  ``TimeoutError`` and ``ConnectionError``. They are retried with exponential backoff
  (:class:`Backoff`: ``DRIFTREC_RETRY_INITIAL_S`` doubling up to ``DRIFTREC_RETRY_MAX_S``) until
  they pass, and never dead-lettered.
* **Processing errors**: any other exception while computing a batch (the model, the tokenizer,
  packing a profile or a list, a bug). :func:`isolate` retries the batch split in two (by users;
  a single user's events into an earlier and a later half, the later continuing from the
  earlier's profile) until the failing event stands alone. It is dead-lettered with reason
  ``processing_error`` and the exception's type and message; every other event is applied exactly
  once. Attempts after a failure run on copies of the stored profiles, so a failed attempt
  leaves no trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from aiokafka.errors import KafkaError, KafkaTimeoutError
from kafka.errors import KafkaError as SyncKafkaError

from profiles.engine import BatchResult, Incoming, RecList
from profiles.profile import UserProfile
from streams.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")
PROCESSING_ERROR: Final = "processing_error"


def is_transient(exc: BaseException) -> bool:
    """True for failures that pass by themselves (retried, never dead-lettered)."""
    if isinstance(exc, TransientError | KafkaTimeoutError | TimeoutError | ConnectionError):
        return True
    return isinstance(exc, KafkaError | SyncKafkaError) and bool(getattr(exc, "retriable", False))


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for logs and dead-letter records."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Backoff:
    """Retries an async call while it fails transiently, waiting longer each time."""

    initial_s: float
    max_s: float
    on_retry: Callable[[str], None] = lambda what: None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delays(self) -> Iterator[float]:
        """initial, 2 x initial, ... up to the maximum, forever."""
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)

    async def retry(
        self,
        call: Callable[[], Awaitable[T]],
        what: str,
        retry_if: Callable[[BaseException], bool] = is_transient,
    ) -> T:
        for delay in self.delays():
            try:
                return await call()
            except Exception as exc:
                if not retry_if(exc):
                    raise
                log.warning("%s failed (%s); retrying in %.1fs", what, describe(exc), delay)
                self.on_retry(what)
                await self.sleep(delay)
        raise AssertionError("unreachable: delays() never ends")


@dataclass
class Computed:
    """One attempt's outcome, ready to write: the result, packed profiles, list values."""

    result: BatchResult
    packed: dict[str, bytes] = field(default_factory=dict)
    lists: list[tuple[RecList, bytes]] = field(default_factory=list)


Stored = Mapping[str, UserProfile | None]
Attempt = Callable[[Sequence[Incoming], Stored], Awaitable[Computed]]


async def isolate(
    attempt: Attempt, incoming: Sequence[Incoming], stored: Stored, error: BaseException
) -> Computed:
    """``attempt(incoming, stored)`` raised ``error`` (not transient): find the failing events.

    ``attempt`` must not change ``stored``'s profiles (it works on copies) and retries transient
    failures itself."""
    if len(incoming) == 1:
        inc = incoming[0]
        why = describe(error)
        log.error(
            "event %r of user %r (%s@%d) failed to process, dead-lettered: %s",
            inc.event.event_id,
            inc.event.user_id,
            inc.source,
            inc.offset,
            why,
            exc_info=error,
        )
        return Computed(BatchResult(rejected=[(inc.ref, PROCESSING_ERROR, why)]))
    users = list(dict.fromkeys(inc.event.user_id for inc in incoming))
    if len(users) > 1:  # independent halves: each starts from the stored profiles
        first = set(users[: len(users) // 2])
        parts = [
            [inc for inc in incoming if inc.event.user_id in first],
            [inc for inc in incoming if inc.event.user_id not in first],
        ]
        sequential = False
    else:  # one user: the later half continues from the earlier half's profile
        mid = len(incoming) // 2
        parts = [list(incoming[:mid]), list(incoming[mid:])]
        sequential = True
    out = Computed(BatchResult())
    for part in parts:
        base = {**stored, **out.result.profiles} if sequential else stored
        try:
            done = await attempt(part, base)
        except Exception as exc:
            done = await isolate(attempt, part, base, exc)
        merge(out, done)
    return out


def merge(into: Computed, later: Computed) -> None:
    """Add ``later``'s outcome to ``into`` (a user's later profile replaces the earlier one)."""
    into.result.merge(later.result)
    into.packed.update(later.packed)
    into.lists.extend(later.lists)
