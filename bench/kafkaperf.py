"""The broker's own limit on this machine: Kafka's producer and consumer performance tools.

``org.apache.kafka.tools.ProducerPerformance`` (``kafka-producer-perf-test``) writes N records of
a fixed size as fast as the Java client can; ``ConsumerPerformance`` (``kafka-consumer-perf-test``)
reads them back. Their jars come from Maven Central (``ops/localkafka/tools-pom.xml``, the broker's
Kafka version), resolved once into ``<home>/kafka/jars-<hash>/libs`` like the broker's own.

No Python client can move records faster than these on the same broker and machine, so they
bound every pass-through the suite measures. Their text output is parsed into records/s and MB/s
(the tools' MB is 2**20 bytes).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError, SectionSkipped
from ops.localkafka.launcher import OPS_KAFKA, fetch_jars
from streams.errors import BrokerError

PRODUCER_CLASS = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_CLASS = "org.apache.kafka.tools.ConsumerPerformance"
#: The JVM heap of each tool run (small: the records are small and few).
HEAP = "512m"

# "50000 records sent, 12106.537530 records/sec (3.46 MB/sec), 80.08 ms avg latency,
#  2220.00 ms max latency, 66 ms 50th, 213 ms 95th, 295 ms 99th, 411 ms 99.9th."
_PRODUCER_FINAL = re.compile(
    r"(?P<records>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th"
)
_CONSUMER_HEADER = "start.time, end.time, data.consumed.in.MB"


@dataclass(frozen=True)
class ToolRun:
    """One tool run: records and MB per second (the consumer's exclude its group join)."""

    tool: str
    records: int
    records_per_s: float
    mb_per_s: float
    extra: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_producer(output: str) -> ToolRun:
    """The final summary line of ProducerPerformance (progress lines before it are ignored)."""
    found = list(_PRODUCER_FINAL.finditer(output))
    if not found:
        raise BenchError(f"no ProducerPerformance summary in its output:\n{output[-1500:]}")
    m = found[-1]
    return ToolRun(
        tool="producer",
        records=int(m["records"]),
        records_per_s=float(m["rps"]),
        mb_per_s=float(m["mbps"]),
        extra={
            "avg_latency_ms": float(m["avg"]),
            "max_latency_ms": float(m["max"]),
            "p50_latency_ms": float(m["p50"]),
            "p95_latency_ms": float(m["p95"]),
            "p99_latency_ms": float(m["p99"]),
        },
    )


def parse_consumer(output: str) -> ToolRun:
    """ConsumerPerformance's CSV summary: header line, then one row of the same fields.

    The rate is the fetch rate (``fetch.nMsg.sec``: records over the time spent fetching, group
    join excluded), the tool's own figure for the broker-to-consumer path.
    """
    lines = [ln.strip() for ln in output.splitlines()]
    for i, line in enumerate(lines):
        if line.startswith(_CONSUMER_HEADER) and i + 1 < len(lines):
            names = [c.strip() for c in line.split(",")]
            values = [c.strip() for c in lines[i + 1].split(",")]
            if len(values) != len(names):
                break
            row = dict(zip(names, values, strict=True))
            try:
                records = int(row["data.consumed.in.nMsg"])
                if records <= 0:
                    raise BenchError(f"ConsumerPerformance read no records:\n{output[-1500:]}")
                return ToolRun(
                    tool="consumer",
                    records=records,
                    records_per_s=float(row["fetch.nMsg.sec"]),
                    mb_per_s=float(row["fetch.MB.sec"]),
                    extra={
                        "overall_records_per_s": float(row["nMsg.sec"]),
                        "rebalance_ms": float(row["rebalance.time.ms"]),
                        "fetch_ms": float(row["fetch.time.ms"]),
                    },
                )
            except (KeyError, ValueError) as exc:
                raise BenchError(f"unreadable ConsumerPerformance row {row}: {exc}") from exc
    raise BenchError(f"no ConsumerPerformance summary in its output:\n{output[-1500:]}")


def tools_classpath(kafka_dir: Path) -> str:
    """The tools' classpath (resolved with Maven on first use); SectionSkipped without Java."""
    if shutil.which("java") is None:
        raise SectionSkipped("java not found: the Kafka performance tools need Java 17+")
    try:
        libs = fetch_jars(kafka_dir, pom=OPS_KAFKA / "tools-pom.xml")
    except BrokerError as exc:
        raise SectionSkipped(f"Kafka's performance tools are not available: {exc}") from exc
    return f"{libs}/*"


def _java(classpath: str, main: str, args: list[str], timeout_s: float) -> str:
    cmd = ["java", f"-Xmx{HEAP}", "-cp", classpath, main, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{main} ran past {timeout_s:.0f} s") from exc
    if proc.returncode != 0:
        raise BenchError(f"{main} exited with {proc.returncode}:\n{proc.stderr[-1500:]}")
    return proc.stdout + proc.stderr


def producer_perf(
    classpath: str, bootstrap: str, topic: str, records: int, size: int, timeout_s: float = 300
) -> ToolRun:
    """ProducerPerformance flat out (``--throughput -1``), batching like the bench's own
    load generator (acks=1, linger 5 ms, 256 KiB batches)."""
    out = _java(
        classpath,
        PRODUCER_CLASS,
        [
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--record-size",
            str(size),
            "--throughput",
            "-1",
            "--command-property",
            f"bootstrap.servers={bootstrap}",
            "acks=1",
            "linger.ms=5",
            "batch.size=262144",
        ],
        timeout_s,
    )
    return parse_producer(out)


def consumer_perf(
    classpath: str, bootstrap: str, topic: str, records: int, timeout_s: float = 300
) -> ToolRun:
    """ConsumerPerformance reading ``records`` from the start of ``topic`` (a fresh group)."""
    out = _java(
        classpath,
        CONSUMER_CLASS,
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--timeout",
            str(int(timeout_s * 1000 / 2)),
        ],
        timeout_s,
    )
    return parse_consumer(out)
