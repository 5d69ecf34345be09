"""A serving model that fails on purpose, for fault-injection tests on a real worker.

Selected with ``DRIFTREC_MODEL_LOADER=tests.integration.faulty_model:load``: the worker's own model
(:func:`streams.runtime.load_model`), whose ``step`` and ``step_sequences`` fail on marked items:

* ``poison-*``: raises ``ValueError`` every time (a processing error: dead-lettered);
* ``flaky-*``: raises :class:`~streams.errors.TransientError` the first ``FLAKY_TIMES`` times per
  item in this process, then works (retried, never dead-lettered);
* ``stall-*``: raises :class:`~streams.errors.TransientError` every time (the worker retries and
  stops making progress: what ``/health`` must report);
* ``crash-*``: raises :class:`AgentKilled`, a ``BaseException`` that no handler catches, so the
  events agent's task ends while the process, its web server and its other agents stay up (what
  ``/health`` must report too);

and whose ``embed_items`` raises ``ValueError`` for an item titled ``embed-poison`` (a catalog
record that passes validation but cannot be embedded).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from encoders.serving import ItemEmbedding, ServingModel, StepEvent
from streams.errors import TransientError
from streams.messages.records import ItemRecord
from streams.settings import Settings
from streams.worker.modelload import load_model

FLAKY_TIMES = 3


class AgentKilled(BaseException):
    """Escapes every ``except Exception``: ends the events agent's task (Faust restarts an agent
    only after an ``Exception``)."""


_flaky_seen: Counter[str] = Counter()


class FaultyModel(ServingModel):
    def step(self, states, events: Sequence[StepEvent]):  # type: ignore[no-untyped-def]
        _inject(events)
        return super().step(states, events)

    def step_sequences(
        self, states: npt.NDArray[np.float32], events: Sequence[Sequence[StepEvent]]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        _inject([e for seq in events for e in seq])
        return super().step_sequences(states, events)

    def embed_items(self, items: Sequence[ItemRecord]) -> list[ItemEmbedding]:
        for item in items:
            if item.title == "embed-poison":
                raise ValueError(f"injected embedding failure on {item.item_id}")
        return super().embed_items(items)


def _inject(events: Sequence[StepEvent]) -> None:
    for e in events:
        item = "" if e.item is None else e.item.item_id
        if item.startswith("poison-"):
            raise ValueError(f"injected failure on {item}")
        if item.startswith("crash-"):
            raise AgentKilled(f"injected agent death on {item}")
        if item.startswith("stall-"):
            raise TransientError(f"injected stall on {item}")
        if item.startswith("flaky-") and _flaky_seen[item] < FLAKY_TIMES:
            _flaky_seen[item] += 1
            raise TransientError(f"injected transient failure on {item}")


def load(settings: Settings) -> ServingModel:
    model = load_model(settings)
    model.__class__ = FaultyModel
    return model
