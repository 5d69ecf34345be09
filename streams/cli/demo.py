"""``driftrec demo``: the whole pipeline on the shipped sample, end to end, on a real broker.

Starts the local broker when none answers, gives this run its own topics and consumer group (so
a second demo starts clean), loads the sample catalog, starts a worker subprocess with the
packaged model, replays the sample's events in time order, shows lists arriving for a few users,
and ends with a summary computed from what went over Kafka. It stops what it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import click
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from tqdm import tqdm

from encoders.data.folder import DataFolder, read_folder
from encoders.samples import demo_model_path, sample_path
from ops.localkafka.launcher import BrokerInfo, free_port, metadata_ok
from streams.cli.demoreport import summarise, what_changed
from streams.cli.kafka import local_broker
from streams.cli.options import (
    bootstrap_option,
    limit_option,
    make_settings,
    model_dir_option,
    rate_option,
)
from streams.cli.produce import make_producer, send_events
from streams.cli.tail import format_row, open_consumer
from streams.errors import StreamsError
from streams.kafkaadmin import ClosingAdminClient
from streams.messages.codec import encode_json
from streams.settings import Settings
from streams.topics import ensure_topics, topic_specs

#: Lines shown per watched user while the replay runs (the summary shows the rest).
LIVE_LINES_PER_USER = 6


def _run_settings(base: Settings, run: str, port: int) -> Settings:
    """This run's own consumer group, topics, state folder and port."""
    return base.model_copy(
        update={
            "app_id": run,
            "events_topic": f"{run}-behaviour-events",
            "items_topic": f"{run}-items",
            "recommendations_topic": f"{run}-recommendations",
            "registry_topic": f"{run}-model-registry",
            "web_port": port,
            "data_dir": base.home / "demo" / run / "tables",
        }
    )


def _worker_env(settings: Settings) -> dict[str, str]:
    """The worker subprocess reads its settings from the environment."""
    fields = [
        *("bootstrap_servers", "app_id", "events_topic", "items_topic"),
        *("recommendations_topic", "registry_topic", "web_port", "data_dir"),
    ]
    return {f"DRIFTREC_{f.upper()}": str(getattr(settings, f)) for f in fields}


def _get(url: str, timeout: float = 2.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (our own http URL)
            return bytes(resp.read())
    except (urllib.error.URLError, OSError):
        return None


def _consumed(metrics_url: str) -> float:
    """driftrec_events_consumed_total of the worker (0 while it does not answer)."""
    raw = _get(metrics_url)
    if raw is None:
        return 0.0
    for family in text_string_to_metric_families(raw.decode()):
        if family.name == "driftrec_events_consumed":
            return sum(s.value for s in family.samples if s.name.endswith("_total"))
    return 0.0


class _ListReader(threading.Thread):
    """Reads the run's recommendations topic into memory, echoing the watched users' lists."""

    def __init__(self, settings: Settings, watched: set[str], titles: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.consumer = open_consumer(settings, settings.recommendations_topic, from_beginning=True)
        self.watched, self.titles = watched, titles
        self.lists: list[dict[str, Any]] = []
        self.last_seen = time.monotonic()
        self.stop_flag = threading.Event()
        self._shown: Counter[str] = Counter()

    def run(self) -> None:
        try:
            while not self.stop_flag.is_set():
                for records in self.consumer.poll(timeout_ms=200).values():
                    for record in records:
                        if record.value is None:
                            continue
                        rec = json.loads(record.value)
                        self.lists.append(rec)
                        self.last_seen = time.monotonic()
                        self._echo(rec)
        finally:
            self.consumer.close()

    def _echo(self, rec: dict[str, Any]) -> None:
        user = rec["user_id"]
        if user in self.watched and self._shown[user] < LIVE_LINES_PER_USER:
            self._shown[user] += 1
            top = self.titles.get(rec["items"][0]["item_id"], "?") if rec["items"] else "-"
            tqdm.write(f"  list  {format_row(rec, top=2)}   top: {top[:36]}")


def _sent_times(settings: Settings, n: int) -> dict[str, float]:
    """event_id -> when the producer sent it (the Kafka record's CreateTime), read back."""
    consumer = open_consumer(settings, settings.events_topic, from_beginning=True)
    sent: dict[str, float] = {}
    try:
        while len(sent) < n:
            batch = consumer.poll(timeout_ms=2000)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    sent[json.loads(record.value)["event_id"]] = record.timestamp / 1000.0
    finally:
        consumer.close()
    return sent


def _delete_topics(settings: Settings) -> None:
    """Remove this run's topics, Faust's changelogs included (they share the app id prefix)."""
    admin = ClosingAdminClient(**settings.kafka_python_config(), client_id="driftrec-demo")
    try:
        existing = set(admin.list_topics())
        names = {spec.name for spec in topic_specs(settings)}
        names |= {t for t in existing if t.startswith(settings.app_id + "-")}
        admin.delete_topics(sorted(names & existing))
    finally:
        admin.close()


def _ensure_broker(settings: Settings) -> BrokerInfo | None:
    """A broker that answers; returns the one started here (to stop later), else None."""
    connection = settings.kafka_python_config()
    if metadata_ok(connection.pop("bootstrap_servers"), **connection):
        click.echo(f"using the Kafka broker at {settings.bootstrap_servers}")
        return None
    broker = local_broker(settings)
    if settings.bootstrap_servers != broker.bootstrap:
        raise click.ClickException(
            f"no Kafka broker answers at {settings.bootstrap_servers}; start it, or unset "
            f"DRIFTREC_BOOTSTRAP_SERVERS to let the demo start the local one on {broker.bootstrap}"
        )
    click.echo(f"starting the local Kafka broker on {broker.bootstrap} ...")
    info = broker.start(timeout_s=settings.kafka_start_timeout_s)
    click.echo(f"Kafka {info.version} started (pid {info.pid}, log {info.log})")
    return info


def _start_worker(env: dict[str, str], model_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "streams.cli", "worker", "--model", str(model_dir)]
    with log.open("wb") as fh:
        return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=fh, stderr=subprocess.STDOUT)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, items: int, log: Path) -> str:
    """Wait until /health says the model is loaded and the whole catalog is in the matrix."""
    deadline = time.monotonic() + 300
    with tqdm(total=items, desc="worker: catalog", unit="item") as bar:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-20:]
                raise click.ClickException("the worker exited:\n" + "\n".join(tail))
            raw = _get(url)
            health = json.loads(raw) if raw else {}
            loaded = health.get("catalog_items") or 0
            bar.update(loaded - bar.n)
            if health.get("status") == "ok" and loaded >= items:
                return str(health.get("model_version"))
            time.sleep(0.5)
    raise click.ClickException(f"the worker was not ready after 300 s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _send(producer: KafkaProducer, topic: str, payloads: list[tuple[bytes, bytes]]) -> None:
    for key, value in payloads:
        producer.send(topic, key=key, value=value)
    producer.flush()


@click.command()
@model_dir_option("Checkpoint folder (default: the packaged model trained on the sample).")
@rate_option(
    200.0, "Events per second; 0 sends as fast as possible (then latency is mostly queueing)."
)
@limit_option("Replay only the first N events.")
@click.option(
    "--watch",
    type=click.IntRange(min=0),
    default=3,
    help="Users whose lists are shown as they arrive.",
)
@click.option(
    "--keep-running", is_flag=True, help="Leave the worker (and a broker started here) running."
)
@bootstrap_option
def demo(
    model_dir: Path | None,
    rate: float,
    limit: int | None,
    watch: int,
    keep_running: bool,
    bootstrap_servers: str,
) -> None:
    """Run the pipeline on the shipped Online Retail sample and summarise what happened."""
    base = make_settings(bootstrap_servers=bootstrap_servers)
    if rate < 0 or (limit is not None and limit < 1):
        raise click.BadParameter("--rate must be >= 0 and --limit >= 1")
    data = read_folder(sample_path())
    data = DataFolder(items=data.items, events=data.events[:limit])
    titles = {item.item_id: item.title for item in data.items}
    model_dir = model_dir or demo_model_path()
    run = time.strftime("demo-%Y%m%d-%H%M%S")
    port = base.web_port if _get(f"http://127.0.0.1:{base.web_port}/health") is None else 0
    port = port or free_port()
    settings = _run_settings(base, run, port)
    url = f"http://127.0.0.1:{port}"
    per_user = Counter(e.user_id for e in data.events)
    watched = {u for u, _ in per_user.most_common(watch)}
    click.echo(
        f"driftrec demo {run}: {len(data.items)} items, {len(data.events)} events of "
        f"{len(per_user)} customers (Online Retail sample, CC BY 4.0), model {model_dir}"
    )

    try:
        started = _ensure_broker(base)
    except StreamsError as exc:
        raise click.ClickException(str(exc)) from exc
    proc: subprocess.Popen[bytes] | None = None
    reader: _ListReader | None = None
    log = base.home / "demo" / run / "worker.log"
    try:
        ensure_topics(settings)
        producer = make_producer(settings)
        try:
            items = [
                (i.item_id.encode(), encode_json(i.to_json()))
                for i in tqdm(data.items, desc="catalog -> items topic", unit="item")
            ]
            _send(producer, settings.items_topic, items)
            click.echo(f"starting a worker on {url} (log {log})")
            proc = _start_worker(_worker_env(settings), model_dir, log)
            version = _wait_ready(proc, f"{url}/health", len(data.items), log)
            click.echo(
                f"worker ready: model {version}; watching users {', '.join(sorted(watched))}"
            )
            reader = _ListReader(settings, watched, titles)
            reader.start()
            t0 = time.monotonic()
            send_events(
                producer,
                settings.events_topic,
                data.events,
                total=len(data.events),
                rate=rate or None,
            )
        finally:
            producer.close()
        with tqdm(total=len(data.events), desc="worker: consumed", unit="ev") as bar:
            while (done := _consumed(f"{url}/metrics")) < len(data.events):
                bar.update(int(done) - bar.n)
                if proc.poll() is not None:
                    raise click.ClickException(f"the worker exited early; see {log}")
                time.sleep(0.5)
            bar.update(len(data.events) - bar.n)
        while time.monotonic() - reader.last_seen < 2.0:  # the last lists are on their way
            time.sleep(0.2)
        seconds = reader.last_seen - t0
        reader.stop_flag.set()
        reader.join()
        summary = summarise(
            data.events,
            reader.lists,
            sent_ts=_sent_times(settings, len(data.events)),
            seconds=seconds,
            hit_window=base.hit_window,
        )
        by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in reader.lists:
            by_user[rec["user_id"]].append(rec)
        click.echo("\nWhat changed for the watched users (= kept, + new, - dropped):")
        for user in sorted(watched):
            if by_user[user]:
                click.echo(what_changed(by_user[user], titles))
        where = f"{url}/metrics" + ("" if keep_running else " (while it runs: --keep-running)")
        click.echo(summary.render(where, offered_rate=rate or None))
    finally:
        if reader is not None and reader.is_alive():
            reader.stop_flag.set()
            reader.join()
        if keep_running:
            pid = "" if proc is None else f" (pid {proc.pid}: kill {proc.pid} to stop it)"
            click.echo(f"worker left running on {url}{pid}; profiles: {url}/users/<id>/profile")
            click.echo(
                f"lists: DRIFTREC_RECOMMENDATIONS_TOPIC={settings.recommendations_topic} "
                "driftrec tail --from-beginning"
            )
        else:
            if proc is not None:
                _stop(proc)
            if started is None:  # a broker of the user's: leave no demo topics behind on it
                _delete_topics(settings)
            else:
                local_broker(base).stop()
                click.echo("local Kafka broker stopped")
