"""The bare Faust pass-through: the yardstick driftrec's throughput and latency are held against.

One agent consumes the benchmark's event topic in micro-batches the way driftrec's worker does
(``take_events`` with driftrec's batch size and wait), decodes each event (any consumer must) and
produces one message of a fixed size (that of a driftrec recommendation list) keyed by the same
user to an output topic with the same partitions, on the same broker. The sends of a batch are
enqueued without waiting for their acknowledgements, which are awaited together once per batch
(as driftrec does before its table write). Nothing else: no tables, no model, no web server. It
is the most a Faust worker does per event on this machine, written the fastest idiomatic way.

Run as a subprocess: ``python -m bench.passthrough worker -l warning`` with its configuration as
JSON in the ``BENCH_PASSTHROUGH_CONFIG`` environment variable (written by :func:`worker_env`);
Faust's command line owns argv, so the environment is the one channel left.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import faust

CONFIG_ENV = "BENCH_PASSTHROUGH_CONFIG"


@dataclass(frozen=True)
class PassthroughConfig:
    """Where the pass-through reads, writes, and how big its output messages are."""

    app_id: str
    bootstrap: str
    source: str
    sink: str
    partitions: int
    out_bytes: int
    datadir: str
    batch_max: int = 256
    batch_wait_s: float = 0.05


def worker_env(cfg: PassthroughConfig) -> dict[str, str]:
    """The environment entry that configures a pass-through worker subprocess."""
    return {CONFIG_ENV: json.dumps(asdict(cfg))}


def output_message(event_id: str, event_ts: float, size: int) -> bytes:
    """A JSON message of exactly ``size`` bytes (or the minimum it can be) echoing the event."""
    head = {"event_id": event_id, "event_ts": event_ts, "pad": ""}
    base = len(json.dumps(head, separators=(",", ":")).encode())
    head["pad"] = "x" * max(0, size - base)
    return json.dumps(head, separators=(",", ":")).encode()


def build_app(cfg: PassthroughConfig) -> faust.App:
    """A Faust app with the single pass-through agent."""
    app = faust.App(
        cfg.app_id,
        broker=f"kafka://{cfg.bootstrap}",
        store="memory://",  # stateless: no table at all
        topic_partitions=cfg.partitions,
        datadir=cfg.datadir,
        web_enabled=False,
        autodiscover=False,
    )
    source = app.topic(
        cfg.source, key_serializer="raw", value_serializer="raw", partitions=cfg.partitions
    )
    sink = app.topic(
        cfg.sink, key_serializer="raw", value_serializer="raw", partitions=cfg.partitions
    )

    @app.agent(source)
    async def passthrough(stream: Any) -> None:
        async for batch in stream.take_events(cfg.batch_max, within=cfg.batch_wait_s):
            pending = []
            for ev in batch:
                event = json.loads(ev.value)
                value = output_message(event["event_id"], event["ts"], cfg.out_bytes)
                # Returns once the record is in the producer's buffer; not its acknowledgement.
                pending.append(await sink.send(key=ev.key, value=value))
            await asyncio.gather(*pending)

    return app


def _config_from_env() -> PassthroughConfig | None:
    raw = os.environ.get(CONFIG_ENV)
    return PassthroughConfig(**json.loads(raw)) if raw else None


_cfg = _config_from_env()
#: Module-level app for ``faust -A bench.passthrough``; None when imported without a config.
app: faust.App | None = build_app(_cfg) if _cfg is not None else None

if __name__ == "__main__":
    if app is None:
        raise SystemExit(f"set {CONFIG_ENV} to the pass-through's JSON config")
    app.main()
