"""The engine alone, two source trees side by side in one run: ``Engine.process`` events/s.

Each run is a fresh process with ``PYTHONPATH`` set to one tree (e.g. a checkout of main and the
working tree), one torch thread, the bench's synthetic traffic (``bench.events.make_events``:
bursty users, searches and comments with free text) and the untrained serving model with the
packaged text encoder, as in the suite's ``engine`` section. Runs alternate between the trees, so
a machine whose load changes affects both alike; every run is kept, with the load average.

    python -m bench.engine_ab --tree before=/tmp/main --tree after=. --out engine-ab.json

One timed pass of 2,000 events is short enough that a full (generation 2) garbage collection, which
scans every object alive since startup (~375k with torch and the text encoder loaded), can land in
it or not depending on each tree's allocation count; ``--gc-freeze`` moves the startup objects out
of those collections in every run, both trees alike.

``--worker-job`` times what the worker's model thread does per micro-batch, not the engine alone:
``Engine.process``, then every changed profile packed (``to_bytes``) and every list encoded as
the JSON bytes it publishes, each tree the way its own worker does it.

On a shared machine ``--clock cpu`` times each pass in the process's own CPU seconds
(``time.process_time``) instead of wall seconds, and ``--passes N`` times N passes per run and keeps
the fastest: other jobs on the cores then lengthen a run's wall time without changing its figure
much (cache and memory-bandwidth sharing still do).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import numpy as np

RUNNER = r"""
import json, sys, tempfile, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from bench.events import make_events, make_items
from encoders.serving import ServingModel
from profiles.engine import Engine, Incoming
from profiles.policy import PolicyConfig
from profiles.retrieval import ItemIndex
from streams.messages.records import parse_event
size, n, users, items, freeze, job, cpu, passes = (int(a) for a in sys.argv[1:9])
clock = time.process_time if cpu else time.perf_counter
from profiles.engine import RecList
if hasattr(RecList, "to_json_bytes"):
    encode = lambda rec, now: rec.to_json_bytes(now)
else:  # a tree from before the direct list JSON: what its worker does
    from streams.messages.codec import encode_json
    encode = lambda rec, now: encode_json(rec.to_json(published_ts=now))
kw = {"text_memory": 4096} if "text_memory" in ServingModel.load.__code__.co_varnames else {}
model = ServingModel.load(None, device="cpu", cache_dir=Path(tempfile.mkdtemp()), **kw)
index = ItemIndex(model.dim)
for emb in model.embed_items(make_items(items, seed=0)):
    index.upsert(emb.item_id, emb.vec, emb)
engine = Engine(model, index, PolicyConfig(refresh_events=1))
if freeze:
    import gc
    gc.collect()
    gc.freeze()  # startup objects (torch, the text encoder) out of every later full collection
events = list(make_events(n, users, items, seed=0, start_ts=1.8e9))
def once():
    stored = {}
    t0 = clock()
    for start in range(0, n, size):
        chunk = events[start : start + size]
        batch = [Incoming(parse_event(e.to_json()), "events:0", start + k, k)
                 for k, e in enumerate(chunk)]
        result = engine.process(batch, {e.user_id: stored.get(e.user_id) for e in chunk})
        stored.update(result.profiles)
        if job:  # the rest of the worker's model-thread job: pack profiles, encode lists
            packed = {u: p.to_bytes() for u, p in result.profiles.items()}
            now = time.time()
            lists = [(rec, encode(rec, now)) for rec in result.lists]
    return n / (clock() - t0)
once()  # warm-up (first texts encoded, caches filled)
rates = [once() for _ in range(passes)]
print(json.dumps({"events_per_s": max(rates), "passes": rates}))
"""


def _run(tree: Path, args: list[str]) -> tuple[float, list[float]]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONWARNINGS": "ignore"}
    with tempfile.TemporaryDirectory() as cwd:
        out = subprocess.run(
            [sys.executable, "-c", RUNNER, *args],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        raise click.ClickException(f"{tree}: engine run failed: {out.stderr.strip()[-400:]}")
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return float(doc["events_per_s"]), [float(r) for r in doc["passes"]]


@click.command()
@click.option("--tree", "trees", multiple=True, required=True, help="NAME=PATH (repeatable).")
@click.option("--batch", default=256, show_default=True)
@click.option("--events", default=2000, show_default=True)
@click.option("--users", default=500, show_default=True)
@click.option("--items", default=256, show_default=True)
@click.option("--repeats", default=5, show_default=True)
@click.option(
    "--gc-freeze/--no-gc-freeze",
    default=False,
    show_default=True,
    help="gc.freeze() after startup in each run: a full collection then scans only the run's own "
    "objects, so where one lands in the timed pass matters less.",
)
@click.option(
    "--worker-job/--engine-only",
    default=False,
    show_default=True,
    help="Time the worker's whole model-thread job per micro-batch: Engine.process, then every "
    "changed profile packed (to_bytes) and every list encoded as JSON bytes, as each tree's "
    "worker does it.",
)
@click.option(
    "--clock",
    type=click.Choice(["wall", "cpu"]),
    default="wall",
    show_default=True,
    help="wall: time.perf_counter; cpu: time.process_time, the run's own CPU seconds, which "
    "other processes sharing the cores change much less than its wall time.",
)
@click.option(
    "--passes",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Timed passes per run (after the warm-up); a run's figure is its fastest pass.",
)
@click.option("--out", type=click.Path(path_type=Path), default=None)
def main(
    trees: tuple[str, ...],
    batch: int,
    events: int,
    users: int,
    items: int,
    repeats: int,
    gc_freeze: bool,
    worker_job: bool,
    clock: str,
    passes: int,
    out: Path | None,
) -> None:
    named = [t.split("=", 1) for t in trees]
    if any(len(t) != 2 for t in named):
        raise click.UsageError("--tree takes NAME=PATH")
    flags = (int(gc_freeze), int(worker_job), int(clock == "cpu"), passes)
    args = [str(a) for a in (batch, events, users, items, *flags)]
    runs: dict[str, list[float]] = {name: [] for name, _ in named}
    pass_rates: dict[str, list[list[float]]] = {name: [] for name, _ in named}
    loads = []
    for r in range(repeats):
        for name, path in named if r % 2 == 0 else named[::-1]:
            best, all_passes = _run(Path(path).resolve(), args)
            runs[name].append(best)
            pass_rates[name].append(all_passes)
            loads.append(os.getloadavg()[0])
            click.echo(f"run {r + 1}/{repeats} {name}: {runs[name][-1]:,.0f} events/s")
    summary = {
        name: {
            "runs": v,
            "min": min(v),
            "median": float(np.median(v)),
            "max": max(v),
            "passes_per_run": pass_rates[name],
        }
        for name, v in runs.items()
    }
    result: dict[str, object] = {
        "command": "python -m bench.engine_ab " + " ".join(sys.argv[1:]),
        "batch": batch,
        "events": events,
        "users": users,
        "items": items,
        "torch_threads": 1,
        "gc_freeze": gc_freeze,
        "timed": "Engine.process + to_bytes + list JSON" if worker_job else "Engine.process",
        "clock": "time.process_time (CPU s)" if clock == "cpu" else "time.perf_counter (wall s)",
        "passes": passes,
        "run_figure": "fastest of the run's timed passes",
        "cpus": os.cpu_count(),
        "load_average_1m_per_run": loads,
        "events_per_s": summary,
    }
    if len(named) == 2:
        a, b = (float(np.median(runs[name])) for name, _ in named)
        result[f"median_{named[1][0]}_vs_{named[0][0]}"] = b / a
        # The two runs of a round ran back to back, under about the same load: their ratio.
        ratios = [y / x for x, y in zip(runs[named[0][0]], runs[named[1][0]], strict=True)]
        result[f"per_round_{named[1][0]}_vs_{named[0][0]}"] = {
            "runs": ratios,
            "min": min(ratios),
            "median": float(np.median(ratios)),
            "max": max(ratios),
        }
    click.echo(json.dumps(result, indent=2))
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
