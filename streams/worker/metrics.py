"""Every Prometheus metric of a driftrec worker, declared once here, all prefixed ``driftrec_``.

A metric is one row: a class attribute of a :class:`Group` made by :func:`counter`, :func:`gauge`,
:func:`histogram` or :func:`info` (name, help, labels, buckets). Creating a group creates its rows
on the registry passed in, so tests inject a fresh ``CollectorRegistry`` and production uses the
process-wide default. :class:`Metrics` is the worker's group; it holds the learning loop's
(:class:`LoopMetrics`) and the item hold's (:class:`WaitMetrics`). Units are in the names; every
histogram's buckets, and why they are where they are, are in :mod:`streams.worker.buckets`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from streams.worker.buckets import (
    BATCH_BUCKETS,
    DRIFT_BUCKETS,
    LATENCY_BUCKETS_S,
    REBUILD_BUCKETS_S,
    STAGE_BUCKETS_S,
    SWAP_BUCKETS_S,
)

M = TypeVar("M")


class Row(Generic[M]):
    """One metric's declaration. On a :class:`Group` instance the attribute is the metric itself,
    created on the group's registry (the instance's value hides this non-data descriptor)."""

    def __init__(self, name: str, make: Callable[[CollectorRegistry], M]) -> None:
        self.name = name
        self.make = make

    @overload
    def __get__(self, obj: None, owner: type) -> Row[M]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> M: ...
    def __get__(self, obj: object, owner: type) -> Row[M] | M:
        if obj is None:
            return self
        raise AttributeError(f"{self.name} is created by Group.__init__, on an instance")


def counter(name: str, doc: str, *labels: str, preset: tuple[str, ...] = ()) -> Row[Counter]:
    """A counter; ``preset``: values of its one label exported (at zero) from the start."""

    def make(registry: CollectorRegistry) -> Counter:
        metric = Counter(name, doc, labels, registry=registry)
        for value in preset:
            metric.labels(value)
        return metric

    return Row(name, make)


def gauge(name: str, doc: str, *labels: str) -> Row[Gauge]:
    return Row(name, lambda registry: Gauge(name, doc, labels, registry=registry))


def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Row[Histogram]:
    return Row(
        name, lambda registry: Histogram(name, doc, labels, buckets=buckets, registry=registry)
    )


def info(name: str, doc: str) -> Row[Info]:
    return Row(name, lambda registry: Info(name, doc, registry=registry))


class Group:
    """Metrics declared as :class:`Row` class attributes, created on ``registry`` in order."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        rows: dict[str, Row[Any]] = {}
        for cls in reversed(type(self).__mro__):
            rows.update((a, r) for a, r in vars(cls).items() if isinstance(r, Row))
        for attr, row in rows.items():
            setattr(self, attr, row.make(registry))


class LoopMetrics(Group):
    """The learning loop's: live hit rate, A/B traffic and latency per model version (labelled by
    version so the dashboard compares them); swaps and rebuilds."""

    list_outcomes = counter(
        "driftrec_live_list_outcomes",
        "Published lists judged: hit = the user acted on a listed item within the next "
        "hit_window events, miss otherwise.",
        "model_version",
        "outcome",
    )
    hit_rate = gauge(
        "driftrec_live_hit_rate",
        "Share of hits among the last 500 judged lists of each model version.",
        "model_version",
    )
    events_by_model = counter(
        "driftrec_ab_events",
        "Events applied, by the model version serving the user (A/B split).",
        "model_version",
        "role",
    )
    latency_by_model = histogram(
        "driftrec_model_list_latency_seconds",
        "From the triggering event's timestamp to its list being ready, per model version.",
        LATENCY_BUCKETS_S,
        "model_version",
    )
    serving = gauge(
        "driftrec_serving_model",
        "1 for each model version this worker serves, by role.",
        "model_version",
        "role",
    )
    swaps = counter("driftrec_model_swaps", "Hot model swaps done without a restart.")
    swap_seconds = histogram(
        "driftrec_model_swap_seconds",
        "Time to load a promoted model and re-embed the catalog under it.",
        SWAP_BUCKETS_S,
    )
    rebuilds = counter(
        "driftrec_profile_rebuilds",
        "Profiles rebuilt under a new model from their recent-event window, by mode.",
        "mode",
    )
    rebuild_seconds = histogram(
        "driftrec_profile_rebuild_seconds",
        "Time of one batched rebuild (lazy: on the event path; background: off it).",
        REBUILD_BUCKETS_S,
        "mode",
    )
    rebuilt_held = gauge(
        "driftrec_rebuilt_profiles_held",
        "Profiles rebuilt ahead after a swap and held in memory until their user's next "
        "event (at most DRIFTREC_REBUILD_AHEAD_MAX).",
    )

    def retire(self, version: str) -> None:
        """Remove every series of a model version no longer served: zeroed series of retired
        versions would otherwise stay in every scrape forever, one set per promotion."""
        for metric in (
            self.list_outcomes,
            self.hit_rate,
            self.events_by_model,
            self.latency_by_model,
            self.serving,
        ):
            metric.remove_by_labels({"model_version": version})


class WaitMetrics(Group):
    """The item hold's (:mod:`streams.worker.agents.waiting`)."""

    waiting = gauge(
        "driftrec_events_waiting_for_item",
        "Events held until the catalog item they name (or one before them) arrives.",
    )
    outcomes = counter(
        "driftrec_events_waited_for_item",
        "Held events by outcome: released (applied in order), given_up (DLQ unknown_item), "
        "forgotten (forget request), reassigned (partition left this worker: read again).",
        "outcome",
        preset=("released", "given_up", "forgotten", "reassigned"),
    )


class Metrics(Group):
    """Every metric the worker exports; create one per registry."""

    events_consumed = counter("driftrec_events_consumed", "Behaviour events read from Kafka.")
    events_applied = counter(
        "driftrec_events_applied", "Events applied to a profile (one LSTM step each)."
    )
    events_skipped = counter(
        "driftrec_events_skipped_duplicate",
        "Events recognised as already applied (redelivery after a crash or rebalance).",
    )
    dead_letters = counter(
        "driftrec_dead_letters", "Messages sent to a dead-letter topic.", "topic", "reason"
    )
    transient_retries = counter(
        "driftrec_transient_retries",
        "Retries after a transient failure, by stage (process, publish, dead_letter, items).",
        "stage",
    )
    batch_size = histogram("driftrec_batch_size_events", "Events per micro-batch.", BATCH_BUCKETS)
    encode_seconds = histogram(
        "driftrec_text_encode_seconds", "Time to encode one batch of texts.", STAGE_BUCKETS_S
    )
    step_seconds = histogram(
        "driftrec_lstm_step_seconds",
        "Time of one LSTM call per micro-batch (each user's new events as one sequence).",
        STAGE_BUCKETS_S,
    )
    retrieval_seconds = histogram(
        "driftrec_retrieval_seconds", "Time of one batched top-K retrieval.", STAGE_BUCKETS_S
    )
    end_to_end_seconds = histogram(
        "driftrec_end_to_end_latency_seconds",
        "From the triggering event's timestamp to its list being published.",
        LATENCY_BUCKETS_S,
    )
    lists_published = counter(
        "driftrec_lists_published", "Recommendation lists published, by trigger.", "trigger"
    )
    drift = histogram(
        "driftrec_interest_drift",
        "Drift (1 - cosine) between current interest and the last published one.",
        DRIFT_BUCKETS,
    )
    profiles = gauge("driftrec_profiles", "User profiles held by this worker (its partitions).")
    catalog_items = gauge("driftrec_catalog_items", "Items in the in-memory item matrix.")
    catalog_embed_failures = counter(
        "driftrec_catalog_embed_failures",
        "Catalog items left out of the index because embedding them raised.",
    )
    encoder_cache_hits = counter(
        "driftrec_encoder_cache_hits", "Item texts found in the vector cache."
    )
    encoder_cache_misses = counter(
        "driftrec_encoder_cache_misses", "Item texts that had to be encoded."
    )
    profile_resets = counter(
        "driftrec_profile_resets", "Profiles reset, by reason (e.g. incompatible model).", "reason"
    )
    consumer_lag = gauge(
        "driftrec_consumer_lag_messages",
        "Messages between the committed position and the end of each assigned partition.",
        "topic",
        "partition",
    )
    model = info("driftrec_model", "The serving model: version and device.")
    # The event agent's parts (streams.worker.agents.events) report through these callbacks.
    users_forgotten = counter("driftrec_users_forgotten", "Forget requests carried out.")
    held_back = counter(
        "driftrec_events_held_back",
        "Events delivered past a gap in their partition, held back and read again in order.",
    )
    forwarded = counter(
        "driftrec_events_forwarded",
        "Records re-produced on their user's partition (reason: misplaced key hash, no key).",
        "reason",
        preset=("misplaced", "keyless"),
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.loop = LoopMetrics(registry)
        self.wait = WaitMetrics(registry)
