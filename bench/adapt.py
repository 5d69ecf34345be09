"""Time-to-adapt measured on what a real worker publishes (issue 13, "Recommendation quality").

``python -m bench.adapt --data DIR --model MODEL_DIR --json-out FILE`` starts a private Kafka broker
(or uses ``--bootstrap-servers``), one ``driftrec worker`` subprocess serving ``MODEL_DIR`` with the
default publish policy (:class:`bench.targets.Driftrec` with ``refresh_events`` put back to the
Settings default; ``--refresh-events 1`` publishes after every event instead), loads the folder's
items and waits until the worker has embedded them all, produces every event of the synthetic
folder (keyed by user, in the folder's time order, so each user's events arrive in order), waits
until the worker has handled every one of them (applied, skipped as duplicate or dead-lettered,
from its /metrics), reads the recommendations topic back and scores the lists with
:mod:`bench.adaptscore` against ``truth.json``. It prints a table and writes the JSON: the figures,
each target with met / not met, the command, the data spec, the model and the worker's policy.

One run, one seed: the figures carry no interval.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.adaptscore import WINDOW, judge_targets, score_lists
from bench.errors import BenchError
from bench.kafkaio import bench_broker, produce_all, read_topic
from bench.loop_recovery import WorkerClient
from bench.machine import machine_info
from bench.pipeline import Session
from bench.targets import driftrec_target
from encoders.data.folder import DataFolderError, read_folder
from encoders.data.synth import read_truth
from streams.messages.codec import encode_json
from streams.settings import Settings

#: The publish policy fields the result records (the worker's Settings, after overrides).
POLICY_FIELDS = (
    "top_k",
    "exclude",
    "recent_window",
    "drift_floor",
    "drift_ceiling",
    "drift_k",
    "drift_alpha",
    "drift_confirm",
    "drift_direction",
    "drift_refresh_keeps_streak",
    "drift_refresh_keeps_reference",
    "refresh_events",
    "refresh_seconds",
)


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run_adapt(
    data: Path,
    model: Path,
    bootstrap: str,
    scratch: Path,
    *,
    overrides: dict[str, Any],
    timeout_s: float = 3600.0,
) -> dict[str, Any]:
    """Play the folder through one worker on ``bootstrap``; the scores and what produced them."""
    base = Settings()
    try:
        folder = read_folder(data, base.times)
        truth = read_truth(data)
    except (DataFolderError, FileNotFoundError) as exc:
        raise BenchError(str(exc)) from exc
    version = _model_version(model)  # before anything starts: a wrong folder fails at once
    fields = {
        "model_dir": model,
        "device": "cpu",
        "refresh_events": base.refresh_events,  # the target's default of 1 is a throughput knob
        "text_cache_dir": base.cache_dir,  # vectors `driftrec train` cached are reused
        **overrides,
    }
    target = driftrec_target(scratch / "home", folder.items, **fields)
    policy = Settings(**{k: v for k, v in fields.items() if k != "model_dir"})
    with Session(target, bootstrap, scratch, partitions=base.partitions, say=_say) as session:
        worker = session.workers[0]
        client = WorkerClient(target.port(worker), worker)
        pairs = [(e.user_id.encode(), encode_json(e.to_json())) for e in folder.events]
        t0 = time.monotonic()
        produce_all(bootstrap, session.run.source, pairs)
        _say(f"produced {len(pairs):,} events in {time.monotonic() - t0:.1f} s")
        last = [0.0]

        def done() -> bool:
            handled = client.handled()
            if time.monotonic() - last[0] > 10:
                _say(f"worker handled {handled:,.0f}/{len(pairs):,} events")
                last[0] = time.monotonic()
            return handled >= len(pairs)

        client.wait(done, timeout_s, f"the worker to handle {len(pairs):,} events")
        drain_s = time.monotonic() - t0
        published = int(client.total("driftrec_lists_published_total"))
        dead = client.total("driftrec_dead_letters_total")
        applied = client.total("driftrec_events_applied_total")
        records = read_topic(bootstrap, session.run.sink, published, timeout_s=120)
        if len(records) < published:
            raise BenchError(f"read {len(records):,} of the {published:,} published lists")
        lists = [json.loads(r.value) for r in records if r.value is not None]
        startup_s = session.startup_s
    _say(f"read {len(lists):,} lists; scoring")
    scores = score_lists(folder.events, truth, lists)
    return {
        "data": {
            "dir": str(data),
            "generator": truth.get("generator", "topics"),
            "seed": truth.get("seed"),
            "spec": truth.get("spec"),
            "events": len(folder.events),
            "items": len(folder.items),
            "users": len({e.user_id for e in folder.events}),
            "bots_excluded": len(truth["bots"]),
        },
        "model": {"dir": str(model), "version": version},
        "worker_policy": {k: getattr(policy, k) for k in POLICY_FIELDS},
        "run": {
            "worker_startup_s": round(startup_s, 1),
            "produce_to_all_handled_s": round(drain_s, 1),
            "events_applied": applied,
            "dead_letters": dead,
            "lists_published": published,
            "lists_read": len(lists),
        },
        "scores": scores,
        "targets": judge_targets(scores),
        "window_events": WINDOW,
        "note": "one seed, one run: no interval",
    }


def _model_version(model: Path) -> str | None:
    try:
        meta = json.loads((model / "checkpoint.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{model} is not a model folder from `driftrec train`: {exc}") from exc
    version = meta.get("version")
    return str(version) if version is not None else None


def table(result: dict[str, Any]) -> str:
    """The printed summary: one line per target, then the counts behind the ratio."""
    s = result["scores"]
    d = result["data"]
    lines = [
        f"data {d['dir']} ({d['generator']}, seed {d['seed']}): {d['events']:,} events, "
        f"{d['items']:,} items, {s['switches']:,} switches scored ({d['bots_excluded']} bots out)",
        f"model {result['model']['version']}; lists published {result['run']['lists_published']:,}"
        f" (scored, by trigger: {s['lists_scored_by_trigger']})",
        f"{'figure':<34} {'value':>8}  {'target':<8} verdict",
    ]
    for row in result["targets"]:
        undefined = "never" if row["name"] == "median_events_to_adapt" else "n/a"
        value = undefined if row["value"] is None else f"{row['value']:.3g}"
        verdict = "met" if row["met"] else "not met"
        lines.append(f"{row['name']:<34} {value:>8}  {row['goal']:<8} {verdict} {row['why']}")
    share = s["share_adapted"]
    lines.append(f"{'share_adapted (within the segment)':<34} {share:>8.3g}")
    lines.append(
        f"drift lists: at switches {s['drift_lists']['switch']:,}, after noise "
        f"{s['drift_lists']['noise']:,}, other {s['drift_lists']['other']:,}; noise events "
        f"{s['noise_events']:,}"
    )
    lines.append(f"events to adapt: {s['events_to_adapt_distribution']}")
    lines.append(f"first adapted list of a switch, by trigger: {s['adapted_switches_by_trigger']}")
    lines.append(result["note"])
    return "\n".join(lines)


def parse_sets(pairs: Sequence[str]) -> dict[str, str]:
    """``FIELD=VALUE`` pairs as Settings overrides; a malformed pair or an unknown field, or a
    value the field refuses, exits with a one-line error."""
    out: dict[str, str] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or field not in Settings.model_fields:
            raise SystemExit(
                f"bench.adapt: --set {pair!r}: expected FIELD=VALUE of a Settings field"
            )
        out[field] = value
    try:
        Settings(**out)  # type: ignore[arg-type]
    except ValueError as exc:
        first = str(exc).splitlines()[:3]
        raise SystemExit(f"bench.adapt: --set: {' '.join(first)}") from None
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Synthetic folder (truth.json).")
    parser.add_argument("--model", type=Path, required=True, help="Folder of `driftrec train`.")
    parser.add_argument("--json-out", type=Path, required=True, help="Result JSON to write.")
    parser.add_argument("--bootstrap-servers", default=None, help="Default: a private broker.")
    parser.add_argument(
        "--refresh-events",
        type=int,
        default=None,
        help="Override DRIFTREC_REFRESH_EVENTS (default: the Settings default).",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="Another worker Settings field, e.g. drift_confirm=1 (repeatable).",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="Seconds for the drain.")
    args = parser.parse_args(argv)
    overrides = parse_sets(args.sets)
    if args.refresh_events is not None:
        overrides["refresh_events"] = args.refresh_events
    command = shlex.join(["python", "-m", "bench.adapt", *(sys.argv[1:] if argv is None else argv)])
    try:
        with (
            bench_broker(Settings(), args.bootstrap_servers) as broker,
            tempfile.TemporaryDirectory(prefix="driftrec-adapt-") as tmp,
        ):
            result = run_adapt(
                args.data,
                args.model,
                broker.bootstrap,
                Path(tmp),
                overrides=overrides,
                timeout_s=args.timeout,
            )
            kafka_version = broker.version
    except BenchError as exc:
        raise SystemExit(f"bench.adapt: {exc}") from None
    result = {"command": command, **result, "machine": machine_info(kafka_version)}
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(table(result))
    print(f"wrote {args.json_out}")


if __name__ == "__main__":
    main()
