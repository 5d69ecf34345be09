"""A real single-node Apache Kafka broker (KRaft, combined mode) run from Maven Central's jars.

There is no Docker engine on our machines and no Kafka in PyPI or Debian, so the broker's jars are
resolved by Maven from ``ops/localkafka/pom.xml`` and the JVM is started directly, as Kafka's own
``bin/`` scripts do: ``StorageTool format`` once per data folder, then ``kafka.Kafka``.

Layout under ``<home>/kafka``::

    jars-<pom hash>/libs/*.jar      the broker's classpath (shared by every broker)
    broker-<port>/server.properties generated config
    broker-<port>/data/             log.dirs (formatted once)
    broker-<port>/broker.log        the JVM's output
    broker-<port>/broker.json       pid, ports, version of the running broker
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import string
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ops.localkafka.tls import SecureListeners
from streams.errors import BrokerError

#: pom.xml, log4j2.yaml and server.properties.template, packaged beside this module.
OPS_KAFKA = Path(__file__).resolve().parent
HOST = "127.0.0.1"
JAVA_HINT = "install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"


def _require(tool: str, hint: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise BrokerError(f"{tool} not found on PATH: {hint}")
    return path


def fetch_jars(kafka_dir: Path, *, quiet: bool = True, pom: Path | None = None) -> Path:
    """Resolve the broker jars with Maven into a cache keyed by the pom; return the libs dir.

    ``pom`` defaults to the broker's ``pom.xml``; the benchmark passes ``tools-pom.xml`` for
    Kafka's performance tools, which resolve into their own folder.
    """
    pom = pom or OPS_KAFKA / "pom.xml"
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:12]
    libs = kafka_dir / f"jars-{digest}" / "libs"
    marker = libs.parent / ".complete"
    if marker.exists():
        return libs
    mvn = _require("mvn", "install Maven (Debian: apt-get install maven); it fetches Kafka's jars")
    _require("java", JAVA_HINT)
    if libs.exists():
        shutil.rmtree(libs)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={libs}",
    ]
    if quiet:
        cmd.insert(1, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise BrokerError(f"Maven could not resolve the Kafka jars from {pom}:\n{tail}")
    marker.touch()
    return libs


def kafka_version(libs: Path) -> str:
    """The broker version, read from the kafka_2.13-<version>.jar on the classpath."""
    for jar in sorted(libs.glob("kafka_2.13-*.jar")):
        return jar.stem.removeprefix("kafka_2.13-")
    raise BrokerError(f"no kafka_2.13 jar in {libs}; run `driftrec kafka fetch`")


@dataclass(frozen=True)
class BrokerInfo:
    """What `status` reports about a running broker."""

    pid: int
    port: int
    controller_port: int
    version: str
    runtime_dir: str
    log: str

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port (a bind succeeds).

    SO_REUSEADDR as the JVM sets it: connections of a just-stopped broker linger in TIME_WAIT
    for a minute, which does not stop the broker from listening again, so it must not stop us.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port the OS says is free right now on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # A recycled pid belongs to some other program: only a Kafka JVM counts.
    return b"kafka.Kafka" in cmdline


def _log_tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"


class LocalBroker:
    """One local broker, identified by its client port; its state lives in ``runtime_dir``."""

    def __init__(
        self,
        kafka_dir: Path,
        port: int = 9092,
        controller_port: int | None = None,
        runtime_dir: Path | None = None,
        heap: str = "512m",
        secure: SecureListeners | None = None,
    ) -> None:
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port}")
        self.kafka_dir = kafka_dir
        self.port = port
        self.controller_port = controller_port or port + 1
        if self.controller_port == port:
            raise ValueError(f"controller port must differ from the client port {port}")
        self.runtime_dir = runtime_dir or kafka_dir / f"broker-{port}"
        self.heap = heap
        self.secure = secure
        self._proc: subprocess.Popen[bytes] | None = None  # set when this object started it

    @property
    def info_file(self) -> Path:
        return self.runtime_dir / "broker.json"

    @property
    def log_file(self) -> Path:
        return self.runtime_dir / "broker.log"

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def status(self) -> BrokerInfo | None:
        """The running broker's info, or None when it is not running (stale files are removed)."""
        try:
            info = BrokerInfo(**json.loads(self.info_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if not _pid_alive(info.pid):
            self.info_file.unlink(missing_ok=True)
            return None
        return info

    def _write_config(self, data_dir: Path) -> Path:
        template = string.Template((OPS_KAFKA / "server.properties.template").read_text())
        extra = self.secure.listeners(HOST) if self.secure else []
        config = self.runtime_dir / "server.properties"
        config.write_text(
            template.substitute(
                host=HOST,
                port=self.port,
                controller_port=self.controller_port,
                data_dir=data_dir,
                extra_listeners="".join(f",{name}://{addr}" for name, addr in extra),
                extra_advertised="".join(f",{name}://{addr}" for name, addr in extra),
                extra_protocols="".join(f",{name}:{name}" for name, _ in extra),
                extra_settings=self.secure.server_properties() if self.secure else "",
            )
        )
        return config

    def start(
        self, timeout_s: float = 90.0, progress: Callable[[str], None] | None = None
    ) -> BrokerInfo:
        """Start the broker in the background and wait until a metadata request succeeds."""
        running = self.status()
        if running is not None:
            return running
        java = _require("java", JAVA_HINT)
        secure_ports = [self.secure.ssl_port, self.secure.sasl_port] if self.secure else []
        for p in (self.port, self.controller_port, *filter(None, secure_ports)):
            if not port_is_free(p):
                raise BrokerError(
                    f"port {p} on {HOST} is already in use by another process; stop it or pick "
                    "another port (--port / DRIFTREC_KAFKA_PORT)"
                )
        libs = fetch_jars(self.kafka_dir)
        version = kafka_version(libs)
        classpath = f"{libs}/*"
        data_dir = self.runtime_dir / "data"
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config(data_dir)

        if not (data_dir / "meta.properties").exists():
            cluster_id = _run_java(java, classpath, ["kafka.tools.StorageTool", "random-uuid"])
            _run_java(
                java,
                classpath,
                [
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id.strip(),
                    "-c",
                    str(config),
                    *(self.secure.format_args() if self.secure else []),
                ],
            )

        log_config = OPS_KAFKA / "log4j2.yaml"
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                [
                    java,
                    f"-Xmx{self.heap}",
                    "-Xms128m",
                    "-XX:+UseG1GC",
                    f"-Dlog4j2.configurationFile={log_config}",
                    "-cp",
                    classpath,
                    "kafka.Kafka",
                    str(config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI; stopped by pid
            )
        info = BrokerInfo(
            pid=proc.pid,
            port=self.port,
            controller_port=self.controller_port,
            version=version,
            runtime_dir=str(self.runtime_dir),
            log=str(self.log_file),
        )
        self.info_file.write_text(json.dumps(asdict(info)))

        deadline = time.monotonic() + timeout_s
        while True:
            if proc.poll() is not None:
                self.info_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"Kafka exited with code {proc.returncode} during start-up; "
                    f"last lines of {self.log_file}:\n{_log_tail(self.log_file)}"
                )
            # Probe the port first: a metadata request to a closed port costs a client set-up.
            if not port_is_free(self.port) and metadata_ok(self.bootstrap):
                self._proc = proc
                return info
            if time.monotonic() > deadline:
                self.stop()
                raise BrokerError(
                    f"Kafka did not answer a metadata request on {self.bootstrap} within "
                    f"{timeout_s:.0f}s; last lines of {self.log_file}:\n{_log_tail(self.log_file)}"
                )
            if progress is not None:
                progress(f"waiting for Kafka on {self.bootstrap}")
            time.sleep(0.5)

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop the broker by its pid (SIGTERM, then SIGKILL). False when none was running."""
        info = self.status()
        if info is None:
            return False
        if self._proc is not None and self._proc.pid == info.pid:
            # Started by this process: wait on the child itself, which also reaps it.
            self._proc.terminate()
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _pid_alive(info.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _pid_alive(info.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.pid, signal.SIGKILL)
        self.info_file.unlink(missing_ok=True)
        return True


def _run_java(java: str, classpath: str, args: list[str]) -> str:
    proc = subprocess.run(
        [java, "-cp", classpath, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise BrokerError(f"`{' '.join(args[:2])}` failed:\n{proc.stderr[-2000:]}")
    return proc.stdout


def metadata_ok(bootstrap: str, timeout_s: float = 3.0, **client_config: object) -> bool:
    """True when the broker at ``bootstrap`` answers a metadata request (lists topics)."""
    from kafka.errors import KafkaConfigurationError, KafkaError

    from streams.kafkaadmin import ClosingAdminClient

    timeout_ms = int(timeout_s * 1000)
    try:
        admin = ClosingAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
            **client_config,
        )
    except KafkaConfigurationError:
        raise  # our mistake, not an unreachable broker
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()
