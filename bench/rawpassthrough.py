"""The raw aiokafka pass-through: the most plain Python does per event on Kafka.

One consumer in the run's group reads the event topic with ``getmany`` (up to driftrec's batch
size), decodes each event as any consumer must, and produces one message of driftrec's list
size keyed by the same user; the sends of a batch are enqueued without waiting and their
acknowledgements awaited together, once per batch. No framework: no Faust, no tables.

Run as a subprocess: ``python -m bench.rawpassthrough`` with its configuration as JSON in
``BENCH_RAW_CONFIG`` (written by :func:`worker_env`); stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import asdict, dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.passthrough import output_message

CONFIG_ENV = "BENCH_RAW_CONFIG"


@dataclass(frozen=True)
class RawConfig:
    """Where the pass-through reads and writes, its group, batch and output size."""

    group: str
    bootstrap: str
    source: str
    sink: str
    out_bytes: int
    batch_max: int
    batch_wait_s: float


def worker_env(cfg: RawConfig) -> dict[str, str]:
    """The environment entry that configures a raw pass-through subprocess."""
    return {CONFIG_ENV: json.dumps(asdict(cfg))}


async def run(cfg: RawConfig, stop: asyncio.Event) -> None:
    """Pass events through until ``stop`` is set; both clients closed however it ends."""
    consumer = AIOKafkaConsumer(
        cfg.source,
        bootstrap_servers=cfg.bootstrap,
        group_id=cfg.group,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
    )
    producer = AIOKafkaProducer(bootstrap_servers=cfg.bootstrap, linger_ms=0)
    await producer.start()
    try:
        await consumer.start()
        try:
            wait_ms = int(cfg.batch_wait_s * 1000)
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=cfg.batch_max)
                pending = []
                for records in batches.values():
                    for r in records:
                        event = json.loads(r.value or b"{}")
                        value = output_message(event["event_id"], event["ts"], cfg.out_bytes)
                        pending.append(await producer.send(cfg.sink, value=value, key=r.key))
                if pending:
                    await asyncio.gather(*pending)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()


async def _main(cfg: RawConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(cfg, stop)


if __name__ == "__main__":
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise SystemExit(f"set {CONFIG_ENV} to the raw pass-through's JSON config")
    asyncio.run(_main(RawConfig(**json.loads(raw))))
