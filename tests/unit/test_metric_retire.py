"""Series labelled by model version go when the version is no longer served (they were zeroed and
kept, one more set per promotion, in every scrape forever)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from streams.settings import Settings
from streams.worker.metrics import Metrics
from streams.worker.runtime import Runtime
from tests.fakes import FakeModel
from tests.unit.test_engine import Run, ev, incoming
from tests.unit.test_loop_parts import _engine


def versions_in(registry: CollectorRegistry) -> dict[str, set[str]]:
    """metric family -> model versions it has series for."""
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            version = sample.labels.get("model_version")
            if version is not None:
                out.setdefault(family.name, set()).add(version)
    return out


def test_a_retired_versions_series_are_removed_and_not_recreated() -> None:
    registry = CollectorRegistry()
    runtime = Runtime(
        Settings(ab_share=0.5, watch_registry=False),
        Metrics(registry),
        loader=lambda s: FakeModel(),
    )  # type: ignore[arg-type,return-value]
    m1, m2, m3 = _engine("m1"), _engine("m2"), _engine("m3")
    first = runtime.install({"m1": m1, "m2": m2}, "m1", "m2")
    run = Run(first)
    users = [f"user-{k}" for k in range(30)]
    for i in range(4):  # lists, then the events that judge them: every series gets samples
        run.feed(incoming([ev(i, u, f"tea-{(i + k) % 12}") for k, u in enumerate(users)], 100 * i))
    before = versions_in(registry)
    for family in (
        "driftrec_live_list_outcomes",
        "driftrec_live_hit_rate",
        "driftrec_ab_events",
        "driftrec_model_list_latency_seconds",
        "driftrec_serving_model",
    ):
        assert before[family] == {"m1", "m2"}, family

    # m2 is promoted, m3 is the new challenger: m1 is retired.
    second = runtime.install({"m2": m2, "m3": m3}, "m2", "m3")
    after = versions_in(registry)
    assert all("m1" not in versions for versions in after.values()), after
    text = generate_latest(registry).decode()
    assert 'driftrec_serving_model{model_version="m2",role="champion"} 1.0' in text
    assert 'driftrec_serving_model{model_version="m3",role="challenger"} 1.0' in text
    assert 'driftrec_serving_model{model_version="m2",role="challenger"}' not in text, "old role"

    # Events that judge lists m1 published earlier do not bring its series back.
    run.engine = second
    run.feed(incoming([ev(9, u, "tea-1") for u in users], 900))
    assert all("m1" not in versions for versions in versions_in(registry).values())
