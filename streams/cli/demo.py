"""``driftrec demo``: the whole pipeline on the shipped sample, end to end, in one command.

Starts the local broker when none answers, creates the demo's own topics (a fresh namespace per
run, deleted at the end), loads the sample catalog, starts a worker, replays the sample's events
(stamped with the time they are sent, so latencies are live ones), shows lists as they arrive and
what changed for a few users, prints a summary, and stops everything it started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import click
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient
from tqdm import tqdm

from encoders.datafolder import read_folder
from encoders.samples import sample_path
from streams.cli.options import bootstrap_option, make_settings
from streams.cli.produce import make_producer, send_events
from streams.cli.tail import format_row
from streams.codec import encode_json
from streams.demo_model import demo_model
from streams.demo_report import changes, summarise
from streams.errors import StreamsError
from streams.localkafka import LocalBroker, free_port, metadata_ok
from streams.settings import Settings
from streams.topics import ensure_topics, topic_specs


def _demo_env(
    settings: Settings, run: str, port: int, data: Path, model: Path | None
) -> dict[str, str]:
    env = {
        "DRIFTREC_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "DRIFTREC_APP_ID": f"driftrec-demo-{run}",
        "DRIFTREC_EVENTS_TOPIC": f"demo-{run}-behaviour-events",
        "DRIFTREC_ITEMS_TOPIC": f"demo-{run}-items",
        "DRIFTREC_RECOMMENDATIONS_TOPIC": f"demo-{run}-recommendations",
        "DRIFTREC_WEB_PORT": str(port),
        "DRIFTREC_DATA_DIR": str(data),
    }
    if model is not None:
        env["DRIFTREC_MODEL_DIR"] = str(model)
    return env


class ListCollector(threading.Thread):
    """Reads the demo's recommendations topic in the background and shows lists as they come."""

    def __init__(self, settings: Settings, show: int) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.show = show
        self.lists: list[dict[str, Any]] = []
        self.stop_event = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        consumer = KafkaConsumer(**self.settings.kafka_python_config(), enable_auto_commit=False)
        try:
            topic = self.settings.recommendations_topic
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            while not self.stop_event.is_set():
                for batch in consumer.poll(timeout_ms=200).values():
                    for m in batch:
                        if m.value is None:
                            continue
                        rec = json.loads(m.value)
                        self.lists.append(rec)
                        if len(self.lists) <= self.show or (
                            rec["trigger"] == "drift" and len(self.lists) % 10 == 0
                        ):
                            tqdm.write("  list  " + format_row(rec))
        except Exception as exc:  # shown by the main thread
            self.error = exc
        finally:
            consumer.close()


def _open(url: str) -> Any:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the demo only talks to its own local worker, not {url}")
    return urllib.request.urlopen(url, timeout=5)  # noqa: S310 - http://127.0.0.1 checked above


def _get(url: str) -> Any:
    try:
        with _open(url) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None


def _metric(url: str, name: str) -> float:
    try:
        with _open(url + "/metrics") as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


def _start_broker(settings: Settings) -> LocalBroker | None:
    """The local broker, started when nothing answers on the configured address."""
    if metadata_ok(settings.bootstrap_servers, **_probe_config(settings)):
        click.echo(f"Kafka: using the broker at {settings.bootstrap_servers}")
        return None
    expected = f"127.0.0.1:{settings.kafka_port}"
    if settings.bootstrap_servers != expected:
        raise StreamsError(
            f"no broker answers at {settings.bootstrap_servers}; the demo only starts a local one "
            f"on {expected} (DRIFTREC_KAFKA_PORT)"
        )
    broker = LocalBroker(
        settings.kafka_dir,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        heap=settings.kafka_heap,
    )
    click.echo(f"Kafka: starting a local broker on {expected} ...")
    info = broker.start(timeout_s=settings.kafka_start_timeout_s)
    click.echo(f"Kafka {info.version} started (pid {info.pid})")
    return broker


def _probe_config(settings: Settings) -> dict[str, Any]:
    cfg = settings.kafka_python_config()
    cfg.pop("bootstrap_servers")
    return cfg


def _wait(
    check: Any, timeout_s: float, what: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise StreamsError(f"the worker exited ({proc.returncode}) while {what}:\n{tail}")
        if check():
            return
        time.sleep(0.5)
    raise StreamsError(f"timed out after {timeout_s:.0f}s {what}; worker log: {log}")


def _delete_topics(settings: Settings) -> None:
    admin = KafkaAdminClient(**settings.kafka_python_config(), client_id="driftrec-demo")
    try:
        existing = set(admin.list_topics())
        prefix = settings.app_id + "-"  # Faust's changelog and repartition topics
        names = [s.name for s in topic_specs(settings)] + [
            t for t in existing if t.startswith(prefix)
        ]
        admin.delete_topics([n for n in names if n in existing])
    finally:
        admin.close()


@click.command()
@click.option(
    "--model",
    "model_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Serve this checkpoint instead of the cached demo model.",
)
@click.option("--untrained", is_flag=True, help="Serve an untrained model (no training step).")
@click.option(
    "--train-epochs",
    type=int,
    default=5,
    show_default=True,
    help="Epochs for the demo model when it is not cached yet.",
)
@click.option("--rate", type=float, default=500.0, show_default=True, help="Events per second.")
@click.option("--limit", type=int, default=None, help="Replay only the first N sample events.")
@click.option(
    "--show",
    type=int,
    default=12,
    show_default=True,
    help="Lists printed as they arrive (then every 10th drift list).",
)
@click.option("--keep", is_flag=True, help="Leave the worker running at the end (Ctrl-C stops).")
@bootstrap_option
def demo(
    model_dir: Path | None,
    untrained: bool,
    train_epochs: int,
    rate: float,
    limit: int | None,
    show: int,
    keep: bool,
    bootstrap_servers: str,
) -> None:
    """Run the pipeline on the shipped Online Retail sample and show what it does."""
    base = make_settings(bootstrap_servers=bootstrap_servers)
    data = read_folder(sample_path())
    events = data.events[:limit]
    titles = {i.item_id: i.title for i in data.items}
    click.echo(
        f"Sample: {len(data.items)} items, {len(events)} events of "
        f"{len({e.user_id for e in events})} customers (Online Retail, CC BY 4.0)"
    )
    if model_dir is None and not untrained:
        click.echo(f"Model: the demo model (trained once on the sample, {train_epochs} epochs) ...")
        model_dir = demo_model(base, train_epochs)
    click.echo(f"Model: {model_dir or 'UNTRAINED (lists will be close to random)'}")
    run = uuid.uuid4().hex[:6]
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"driftrec-demo-{run}-"))
    env = _demo_env(base, run, port, workdir / "data", model_dir)
    fields = {k.removeprefix("DRIFTREC_").lower(): v for k, v in env.items()}
    settings = Settings.model_validate({**base.model_dump(), **fields})
    url = f"http://127.0.0.1:{port}"
    broker = proc = collector = None
    try:
        broker = _start_broker(settings)
        ensure_topics(settings)
        producer = make_producer(settings)
        try:
            for item in data.items:
                value = encode_json(item.to_json())
                producer.send(settings.items_topic, key=item.item_id.encode(), value=value)
            producer.flush()
            log = workdir / "worker.log"
            click.echo(f"Worker: starting (log {log}) ...")
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.argv[0] if sys.argv[0].endswith("driftrec") else "driftrec", "worker"],
                    env={**os.environ, **env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started = time.monotonic()
            _wait(
                lambda: (_get(url + "/health") or {}).get("catalog_items") == len(data.items),
                600,
                "loading the model and the catalog",
                proc,
                log,
            )
            health = _get(url + "/health") or {}
            click.echo(
                f"Worker ready in {time.monotonic() - started:.0f}s: model "
                f"{health.get('model_version')}, {health.get('catalog_items')} items, "
                f"web {url}"
            )
            collector = ListCollector(settings, show)
            collector.start()
            click.echo(f"Replaying {len(events)} events at {rate:.0f}/s (stamped now) ...")
            t0 = time.monotonic()
            send_events(
                producer, settings.events_topic, events, total=len(events), rate=rate, retime=True
            )
        finally:
            producer.close()
        _wait(
            lambda: _metric(url, "driftrec_events_consumed_total") >= len(events),
            600,
            "processing the events",
            proc,
            log,
        )
        elapsed = time.monotonic() - t0
        time.sleep(2.0)  # the last lists reach the collector
        collector.stop_event.set()
        collector.join(timeout=10)
        summary = summarise(collector.lists, events, elapsed)
        click.echo("\nWhat changed for a few customers (latest list vs their first):")
        for line in changes(collector.lists, titles):
            click.echo("  " + line)
        click.echo("\nSummary")
        for line in summary.lines():
            click.echo("  " + line)
        dead = _metric(url, "driftrec_dead_letters_total")
        click.echo(f"  dead letters       {dead:.0f}")
        click.echo(
            f"  metrics            {url}/metrics (Prometheus; ops/prometheus, "
            "ops/grafana for the dashboard)"
        )
        click.echo(f"  try                curl {url}/users/{events[-1].user_id}/profile")
        if keep:
            click.echo("Worker left running; Ctrl-C stops it and cleans up.")
            proc.wait()
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        click.echo("interrupted")
    finally:
        if collector is not None:
            collector.stop_event.set()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if broker is None:
            try:
                _delete_topics(settings)
            except Exception as exc:  # cleanup is best effort; say so
                click.echo(f"(could not delete the demo topics: {exc})")
        else:
            broker.stop()
            click.echo("Kafka: the broker the demo started is stopped")
        shutil.rmtree(workdir, ignore_errors=True)
