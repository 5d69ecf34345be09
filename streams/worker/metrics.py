"""Prometheus metrics of a driftrec worker, all prefixed ``driftrec_``.

One :class:`Metrics` object owns every metric on a registry passed in, so tests inject a fresh
``CollectorRegistry`` and production uses the process-wide default. Units are in the names; every
histogram's buckets, and why they are where they are, are in :mod:`streams.worker.buckets`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from streams.worker.buckets import (
    BATCH_BUCKETS,
    DRIFT_BUCKETS,
    LATENCY_BUCKETS_S,
    STAGE_BUCKETS_S,
)
from streams.worker.loopmetrics import LoopMetrics


class Metrics:
    """Every metric the worker exports; create one per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.events_consumed = Counter(
            "driftrec_events_consumed", "Behaviour events read from Kafka.", registry=r
        )
        self.events_applied = Counter(
            "driftrec_events_applied",
            "Events applied to a profile (one LSTM step each).",
            registry=r,
        )
        self.events_skipped = Counter(
            "driftrec_events_skipped_duplicate",
            "Events recognised as already applied (redelivery after a crash or rebalance).",
            registry=r,
        )
        self.dead_letters = Counter(
            "driftrec_dead_letters",
            "Messages sent to a dead-letter topic.",
            ["topic", "reason"],
            registry=r,
        )
        self.transient_retries = Counter(
            "driftrec_transient_retries",
            "Retries after a transient failure, by stage (process, publish, dead_letter, items).",
            ["stage"],
            registry=r,
        )
        self.batch_size = Histogram(
            "driftrec_batch_size_events",
            "Events per micro-batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.encode_seconds = Histogram(
            "driftrec_text_encode_seconds",
            "Time to encode one batch of texts.",
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self.step_seconds = Histogram(
            "driftrec_lstm_step_seconds",
            "Time of one LSTM call per micro-batch (each user's new events as one sequence).",
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            "driftrec_retrieval_seconds",
            "Time of one batched top-K retrieval.",
            buckets=STAGE_BUCKETS_S,
            registry=r,
        )
        self.end_to_end_seconds = Histogram(
            "driftrec_end_to_end_latency_seconds",
            "From the triggering event's timestamp to its list being published.",
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.lists_published = Counter(
            "driftrec_lists_published",
            "Recommendation lists published, by trigger.",
            ["trigger"],
            registry=r,
        )
        self.drift = Histogram(
            "driftrec_interest_drift",
            "Drift (1 - cosine) between current interest and the last published one.",
            buckets=DRIFT_BUCKETS,
            registry=r,
        )
        self.profiles = Gauge(
            "driftrec_profiles",
            "User profiles held by this worker (its partitions).",
            registry=r,
        )
        self.catalog_items = Gauge(
            "driftrec_catalog_items", "Items in the in-memory item matrix.", registry=r
        )
        self.catalog_embed_failures = Counter(
            "driftrec_catalog_embed_failures",
            "Catalog items left out of the index because embedding them raised.",
            registry=r,
        )
        self.encoder_cache_hits = Counter(
            "driftrec_encoder_cache_hits", "Item texts found in the vector cache.", registry=r
        )
        self.encoder_cache_misses = Counter(
            "driftrec_encoder_cache_misses", "Item texts that had to be encoded.", registry=r
        )
        self.profile_resets = Counter(
            "driftrec_profile_resets",
            "Profiles reset, by reason (e.g. incompatible model).",
            ["reason"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "driftrec_consumer_lag_messages",
            "Messages between the committed position and the end of each assigned partition.",
            ["topic", "partition"],
            registry=r,
        )
        self.model = Info("driftrec_model", "The serving model: version and device.", registry=r)
        self.loop = LoopMetrics(r)  # the learning loop's metrics (streams.worker.loopmetrics)
