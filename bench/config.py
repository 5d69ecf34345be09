"""How much work each benchmark does, in quick and full mode (one frozen object per run)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

#: Every section, in the order the suite runs them (model-only ones first: no broker needed).
SECTIONS = (
    "incremental",
    "encoder",
    "catalog",
    "retrieval",
    "storage",
    "engine",
    "throughput",
    "latency",
    "batching",
    "batch_mode",
    "gc_freeze",
    "scale_out",
    "worker_storage",
    "profile",
)
#: Opt-in sections (``--profile``): not part of a default run.
OPT_IN = frozenset({"profile"})
#: Quick mode leaves out what needs extra workers started (each start costs tens of seconds):
#: the worker batch sweep (the in-process engine sweep stands in), the batch-mode and gc-freeze
#: A/Bs, scale-out,
#: and the worker's storage at 10k/100k users (minutes of events).
QUICK_SECTIONS = tuple(
    s
    for s in SECTIONS
    if s not in {"batching", "batch_mode", "gc_freeze", "scale_out", "worker_storage", *OPT_IN}
)


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and repeat counts; ``quick`` trades precision for a run under three minutes."""

    quick: bool
    #: Repeats of each broker run (worker start to last output); figures are their medians.
    repeats: int
    #: Repeats of in-process timings (each itself a median over many calls).
    micro_repeats: int
    #: Events pre-produced for one throughput run (the worker drains them flat out).
    throughput_events: int
    #: Records per run of Kafka's producer/consumer performance tools (the broker's limit).
    broker_records: int
    #: Offered rates for the latency runs (events/s); saturation is added at the measured rate.
    latency_rates: tuple[float, ...]
    #: Seconds each offered rate lasts.
    latency_seconds: float
    partitions: int
    users: int
    items: int
    #: Batch sizes tried by the batching sweep (1 is the unbatched baseline).
    batch_sweep: tuple[int, ...]
    history_lengths: tuple[int, ...]
    catalog_sizes: tuple[int, ...]
    storage_users: tuple[int, ...]
    #: Texts per encoder measurement (hits and misses).
    encoder_texts: int
    sections: tuple[str, ...] = SECTIONS
    seed: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def only(self, sections: tuple[str, ...]) -> BenchConfig:
        """The same sizes, restricted to ``sections`` (validated against :data:`SECTIONS`)."""
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise ValueError(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
        return replace(self, sections=tuple(s for s in SECTIONS if s in sections))


QUICK = BenchConfig(
    quick=True,
    repeats=3,
    micro_repeats=3,
    throughput_events=1_500,
    broker_records=100_000,
    latency_rates=(200.0, 1_000.0, 5_000.0),
    latency_seconds=2.0,
    partitions=6,
    users=500,
    items=1_000,
    batch_sweep=(1, 64),
    history_lengths=(10, 50, 200),
    catalog_sizes=(10_000, 100_000),
    storage_users=(10_000, 100_000),
    encoder_texts=64,
    sections=QUICK_SECTIONS,
)

FULL = BenchConfig(
    quick=False,
    repeats=3,
    micro_repeats=5,
    throughput_events=5_000,
    broker_records=300_000,
    latency_rates=(200.0, 1_000.0, 5_000.0),
    latency_seconds=5.0,
    partitions=6,
    users=2_000,
    items=10_000,
    batch_sweep=(1, 16, 64, 256),
    history_lengths=(10, 50, 200),
    catalog_sizes=(1_000, 10_000, 100_000),
    storage_users=(10_000, 100_000),
    encoder_texts=256,
    sections=tuple(s for s in SECTIONS if s not in OPT_IN),
)
