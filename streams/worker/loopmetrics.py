"""Metrics of the learning loop, labelled by model version so the dashboard compares them.

Created by :class:`streams.worker.metrics.Metrics` on its registry (so they appear wherever the
worker's metrics do, and tests inject a registry the same way).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.worker.buckets import LATENCY_BUCKETS_S, REBUILD_BUCKETS_S, SWAP_BUCKETS_S


class LoopMetrics:
    """Live hit rate, A/B traffic and latency per model version; swaps and rebuilds."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.list_outcomes = Counter(
            "driftrec_live_list_outcomes",
            "Published lists judged: hit = the user acted on a listed item within the next "
            "hit_window events, miss otherwise.",
            ["model_version", "outcome"],
            registry=r,
        )
        self.hit_rate = Gauge(
            "driftrec_live_hit_rate",
            "Share of hits among the last 500 judged lists of each model version.",
            ["model_version"],
            registry=r,
        )
        self.events_by_model = Counter(
            "driftrec_ab_events",
            "Events applied, by the model version serving the user (A/B split).",
            ["model_version", "role"],
            registry=r,
        )
        self.latency_by_model = Histogram(
            "driftrec_model_list_latency_seconds",
            "From the triggering event's timestamp to its list being ready, per model version.",
            ["model_version"],
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self.serving = Gauge(
            "driftrec_serving_model",
            "1 for each model version this worker serves, by role.",
            ["model_version", "role"],
            registry=r,
        )
        self.swaps = Counter(
            "driftrec_model_swaps", "Hot model swaps done without a restart.", registry=r
        )
        self.swap_seconds = Histogram(
            "driftrec_model_swap_seconds",
            "Time to load a promoted model and re-embed the catalog under it.",
            buckets=SWAP_BUCKETS_S,
            registry=r,
        )
        self.rebuilds = Counter(
            "driftrec_profile_rebuilds",
            "Profiles rebuilt under a new model from their recent-event window, by mode.",
            ["mode"],
            registry=r,
        )
        self.rebuild_seconds = Histogram(
            "driftrec_profile_rebuild_seconds",
            "Time of one batched rebuild (lazy: on the event path; background: off it).",
            ["mode"],
            buckets=REBUILD_BUCKETS_S,
            registry=r,
        )
        self.rebuilt_held = Gauge(
            "driftrec_rebuilt_profiles_held",
            "Profiles rebuilt ahead after a swap and held in memory until their user's next "
            "event (at most DRIFTREC_REBUILD_AHEAD_MAX).",
            registry=r,
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
