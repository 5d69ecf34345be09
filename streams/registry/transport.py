"""The model registry on Kafka: a compacted, single-partition topic every worker follows.

The state itself (records, folding, transitions) is :mod:`streams.registry.state`; this module moves
records to and from the topic. Why a topic (see that module for the folder store): workers already
depend on Kafka and nothing else, so a promotion written there reaches every running worker within
a poll, survives restarts (compaction keeps the newest record per key, forever) and needs no shared
filesystem for the *state*. One partition keeps one total order of all registry changes.

* :class:`Registry` — synchronous client (CLI, trainer): read the whole state, register, promote,
  roll back. After each read it mirrors the state to ``<models>/registry.json`` so ``driftrec
  models list`` can still answer (marked stale) when the broker is down.

  Every write is a read-modify-write (a promotion appends to the history the writer read), so
  two writers (``models promote`` and the trainer, two operators) must not interleave. Each
  write runs in a Kafka transaction under ONE transactional id per registry topic:
  ``init_transactions`` fences every other producer of that id (an open transaction of theirs is
  aborted, a committing one completes first), then the state is read (``read_committed``) and
  the records written and committed. A writer fenced between its read and its commit has its
  transaction refused (``ProducerFencedError``) and starts over on the state that now includes
  the other write, so no promotion and no history entry is lost. Readers see only committed
  writes. (An end-offset check before writing would leave a window between the check and the
  write; a single writer service would be one more process to run.)
* :class:`RegistryWatcher` — asyncio follower for workers (aiokafka, no consumer group: every
  worker reads the whole partition), calling back on each change of champion or challenger.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from kafka import KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)

from streams.errors import StreamsError
from streams.kafkaadmin import ClosingAdminClient
from streams.messages.codec import encode_json
from streams.readend import read_to_end, reader
from streams.registry.state import (
    ModelEntry,
    Record,
    RegistryError,
    RegistryState,
    Status,
)
from streams.registry.store import ModelStore
from streams.settings import Settings

log = logging.getLogger(__name__)
MIRROR_FILE = "registry.json"
#: A registry change: the records to write, computed from the state read just before.
Transition = Callable[[RegistryState], list[Record]]


def transactional_id(settings: Settings) -> str:
    """The one transactional id every writer of this registry topic uses (that is the fence)."""
    return f"driftrec-registry-{settings.registry_topic}"


def ensure_registry_topic(settings: Settings) -> None:
    """Create the compacted registry topic when it does not exist."""
    admin = ClosingAdminClient(**settings.kafka_python_config(), client_id="driftrec-registry")
    try:
        if settings.registry_topic in set(admin.list_topics()):
            return
        topic = NewTopic(
            settings.registry_topic,
            num_partitions=1,
            replication_factor=settings.replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        )
        with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile by another
            admin.create_topics([topic])
    except Exception as exc:
        raise StreamsError(
            f"could not create the registry topic {settings.registry_topic!r} on "
            f"{settings.bootstrap_servers}: {exc}"
        ) from exc
    finally:
        admin.close()


def decode_record(key: bytes | None, value: bytes | None) -> Record | None:
    """A registry record, or None (logged) for a message that is not one."""
    if key is None:
        log.error("registry message without a key ignored")
        return None
    try:
        return key.decode("utf-8"), None if value is None else json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.error("registry message %r is not JSON (%s); ignored", key[:60], exc)
        return None


def fold(state: RegistryState, record: Record | None) -> bool:
    """Apply one record; False (logged) when it is malformed."""
    if record is None:
        return False
    try:
        state.apply(*record)
    except RegistryError as exc:
        log.error("registry record %r ignored: %s", record[0][:60], exc)
        return False
    return True


def check_reachable(settings: Settings, timeout_s: float = 2.0) -> None:
    """Fail fast (and without the sockets kafka-python leaks on a failed bootstrap) when no
    bootstrap server accepts a TCP connection."""
    errors = []
    for server in settings.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
                return
        except (OSError, ValueError) as exc:
            errors.append(f"{server}: {exc}")
    raise StreamsError(f"no Kafka broker reachable ({'; '.join(errors)})")


def read_state(settings: Settings, timeout_s: float = 15.0) -> tuple[RegistryState, int]:
    """The whole registry and the next offset to read (its end when this returned)."""
    check_reachable(settings)
    ensure_registry_topic(settings)
    # read_committed: an aborted (fenced) write is no registry change
    consumer = reader(settings, isolation_level="read_committed")
    tp = TopicPartition(settings.registry_topic, 0)
    state = RegistryState()
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        late = (
            f"registry topic {settings.registry_topic!r}: could not read to offset {end} "
            f"within {timeout_s:.0f}s (broker {settings.bootstrap_servers})"
        )
        for m in read_to_end(consumer, {tp: end}, timeout_s, timeout_error=late, poll_ms=200):
            fold(state, decode_record(m.key, m.value))
        return state, end
    finally:
        consumer.close()


class Registry:
    """Synchronous registry client: reads fold the whole topic; writes are acknowledged."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = ModelStore(settings.model_store_dir)

    def state(self) -> RegistryState:
        try:
            state, _ = read_state(self.settings)
        except StreamsError:
            raise
        except Exception as exc:
            raise StreamsError(
                f"cannot read the model registry from {self.settings.bootstrap_servers}: {exc}"
            ) from exc
        self._mirror(state)
        return state

    def mirror(self) -> tuple[RegistryState, float] | None:
        """The last state a read saw and when, from the local mirror file (None when absent)."""
        path = self.store.root / MIRROR_FILE
        if not path.is_file():
            return None
        doc = json.loads(path.read_text("utf-8"))
        return RegistryState.from_records((k, v) for k, v in doc["records"]), float(doc["read_ts"])

    def update(self, transition: Transition, *, timeout_s: float = 60.0) -> RegistryState:
        """Apply ``transition`` (state -> records) atomically; the state it wrote is returned.

        The transition is computed on a state read after this writer fenced all others; when
        another writer fences this one before the commit, the write is refused and the
        transition runs again on the newer state. A :class:`RegistryError` from the transition
        (e.g. the version is the champion by now) is raised as is.
        """
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        while True:
            try:
                return self._update_once(transition)
            except (TransactionalIdAuthorizationFailedError, TopicAuthorizationFailedError) as e:
                raise StreamsError(f"not allowed to write the model registry: {e}") from e
            except KafkaError as exc:  # fenced by a concurrent writer, coordinator moving, ...
                if time.monotonic() + delay > deadline:
                    raise StreamsError(
                        f"could not write to the model registry within {timeout_s:.0f}s: {exc}"
                    ) from exc
                log.info("registry write retried (%s: %s)", type(exc).__name__, exc)
                time.sleep(delay * (0.5 + random.random()))  # noqa: S311  # jitter, not crypto
                delay = min(delay * 2, 2.0)

    def _update_once(self, transition: Transition) -> RegistryState:
        producer = KafkaProducer(
            **self.settings.kafka_python_config(),
            acks="all",
            enable_idempotence=True,
            transactional_id=transactional_id(self.settings),
            transaction_timeout_ms=30_000,  # a writer that dies mid-write blocks readers this long
        )
        try:
            producer.init_transactions()  # fences every other writer of the registry
            state, _ = read_state(self.settings)
            records = transition(state)
            producer.begin_transaction()
            for key, value in records:
                data = None if value is None else encode_json(value)
                producer.send(self.settings.registry_topic, key=key.encode(), value=data)
            producer.commit_transaction()  # ProducerFencedError when another writer came after
        finally:
            producer.close(timeout=5)
        for record in records:
            fold(state, record)
        self._mirror(state)
        return state

    def register(self, entry: ModelEntry) -> RegistryState:
        return self.update(lambda state: state.register(entry))

    def register_promoted(self, entry: ModelEntry, reason: str) -> RegistryState:
        return self.update(
            lambda state: state.register_promoted(entry, reason=reason, now=time.time())
        )

    def promote(self, version: str, reason: str) -> RegistryState:
        return self.update(lambda state: state.promote(version, reason=reason, now=time.time()))

    def rollback(self, reason: str) -> RegistryState:
        return self.update(lambda state: state.rollback(reason=reason, now=time.time()))

    def set_status(self, version: str, status: Status, reason: str) -> RegistryState:
        return self.update(
            lambda state: state.set_status(version, status, reason=reason, now=time.time())
        )

    def _mirror(self, state: RegistryState) -> None:
        root = self.store.root
        try:
            root.mkdir(parents=True, exist_ok=True)
            records = [list(r) for r in state.records()]
            tmp = root / (MIRROR_FILE + ".tmp")
            tmp.write_text(json.dumps({"read_ts": time.time(), "records": records}), "utf-8")
            tmp.replace(root / MIRROR_FILE)
        except OSError as exc:  # a read-only home must not break reads
            log.warning("could not write the registry mirror in %s: %s", root, exc)


OnChange = Callable[[RegistryState], Awaitable[None]]


class RegistryWatcher:
    """Follows the registry topic from offset ``start`` (where :func:`read_state` ended) and calls
    ``on_change`` whenever the champion or the challenger changes."""

    def __init__(self, settings: Settings, state: RegistryState, start: int) -> None:
        self.settings = settings
        self.state = state
        self.start = start

    async def run(self, on_change: OnChange, poll_s: float = 0.5) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka import TopicPartition as AioTP

        consumer = AIOKafkaConsumer(
            **self.settings.aiokafka_config(),
            enable_auto_commit=False,
            group_id=None,
            isolation_level="read_committed",
        )
        tp = AioTP(self.settings.registry_topic, 0)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, self.start)
            seen = (self.state.champion, self.state.challenger)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=int(poll_s * 1000))
                for m in batch.get(tp, []):
                    fold(self.state, decode_record(m.key, m.value))
                    self.start = m.offset + 1
                now = (self.state.champion, self.state.challenger)
                if now != seen:
                    seen = now
                    log.info("registry: champion %s, challenger %s", *now)
                    await on_change(self.state)
        except asyncio.CancelledError:
            raise
        finally:
            await consumer.stop()


def store_path(settings: Settings, version: str) -> Path:
    """The folder of a registered model (raising when this machine's store lacks it)."""
    store = ModelStore(settings.model_store_dir)
    if not store.has(version):
        raise StreamsError(
            f"model {version} is in the registry but not in the store {store.root}; copy the "
            "folder there (the store is a local folder or a shared mount)"
        )
    return store.path(version)
