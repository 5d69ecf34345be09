"""The benchmark suite: runs the selected sections in order and assembles one report.

A section is a function ``(ctx) -> dict`` whose keys are merged into the report. One that cannot
run yet (a component missing) raises :class:`SectionSkipped`; one that fails raises
:class:`BenchError`; either way the rest of the suite still runs and the reason is recorded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import modelbench, pipelinebench, scaleout, settingab, yardsticks
from bench import resultdoc as rpt
from bench.config import BenchConfig
from bench.errors import BenchError, SectionSkipped
from bench.kafkaio import Broker, bench_broker
from bench.machine import machine_info
from streams.settings import Settings


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Context:
    """What sections share: config, a scratch folder, the broker (started on first use), output."""

    config: BenchConfig
    settings: Settings
    scratch: Path
    stack: contextlib.ExitStack
    bootstrap: str | None = None
    echo: Callable[[str], None] = _stderr
    started: float = field(default_factory=time.monotonic)
    report: dict[str, Any] = field(default_factory=rpt.skeleton)
    #: Values sections hand on to later ones (the event set, measured throughputs).
    shared: dict[str, Any] = field(default_factory=dict)
    _broker: Broker | None = None

    def say(self, msg: str) -> None:
        """One progress line, stamped with the seconds since the suite started."""
        self.echo(f"[bench {time.monotonic() - self.started:6.1f}s] {msg}")

    def broker(self) -> Broker:
        """The suite's broker: the one given, or a private one started now and stopped at exit."""
        if self._broker is None:
            self.say("starting a private Kafka broker" if not self.bootstrap else "using broker")
            self._broker = self.stack.enter_context(bench_broker(self.settings, self.bootstrap))
            self.report["machine"]["kafka"] = self._broker.version
            self.say(f"broker {self._broker.bootstrap} (Kafka {self._broker.version or '?'})")
        return self._broker


Section = Callable[[Context], dict[str, Any]]


def _sections() -> dict[str, Section]:
    return {
        "incremental": modelbench.incremental,
        "encoder": modelbench.encoder,
        "catalog": modelbench.catalog,
        "retrieval": modelbench.retrieval,
        "storage": modelbench.storage,
        "engine": modelbench.engine,
        "throughput": yardsticks.throughput,
        "latency": pipelinebench.latency,
        "batching": pipelinebench.batching,
        "batch_mode": settingab.section("batch_mode"),
        "gc_freeze": settingab.section("gc_freeze"),
        "scale_out": scaleout.scale_out,
        "worker_storage": pipelinebench.worker_storage,
        "profile": pipelinebench.profile,
    }


def _merge(report: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key].update(value)
        else:
            report[key] = value


@contextlib.contextmanager
def _context(config: BenchConfig, settings: Settings, bootstrap: str | None) -> Iterator[Context]:
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="driftrec-bench-")))
        yield Context(
            config=config, settings=settings, scratch=scratch, stack=stack, bootstrap=bootstrap
        )


def run_suite(
    config: BenchConfig,
    settings: Settings,
    *,
    bootstrap: str | None = None,
    command: str | None = None,
    echo: Callable[[str], None] = _stderr,
    py_spy: str | None = None,
    artifacts: Path | None = None,
) -> dict[str, Any]:
    """Run ``config.sections`` and return the report (see :mod:`bench.resultdoc`).

    ``py_spy`` is the py-spy executable for the opt-in ``profile`` section, which keeps its raw
    samples in ``artifacts`` (default: the suite's temporary folder, removed at the end).
    """
    import torch

    from bench.machine import blas_threads, set_blas_threads

    # The bench process runs the in-process model timings with the worker's thread count: on a
    # small busy machine more threads make small steps much slower (OpenMP spinning).
    threads, blas = torch.get_num_threads(), blas_threads()
    torch.set_num_threads(settings.torch_threads)
    set_blas_threads(settings.torch_threads)  # numpy's BLAS spins the same way
    try:
        return _run(config, settings, bootstrap, command, echo, py_spy, artifacts)
    finally:
        torch.set_num_threads(threads)
        if blas is not None:
            set_blas_threads(blas)


def _run(
    config: BenchConfig,
    settings: Settings,
    bootstrap: str | None,
    command: str | None,
    echo: Callable[[str], None],
    py_spy: str | None,
    artifacts: Path | None,
) -> dict[str, Any]:
    sections = _sections()
    with _context(config, settings, bootstrap) as ctx:
        ctx.echo = echo
        ctx.shared["py_spy"] = py_spy
        ctx.shared["artifacts"] = artifacts
        ctx.report.update(
            {
                "mode": "quick" if config.quick else "full",
                "command": command,
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "config": config.to_json(),
                "machine": machine_info(),
            }
        )
        for name in config.sections:
            ctx.say(f"== {name}")
            t0 = time.monotonic()
            try:
                _merge(ctx.report, sections[name](ctx))
            except SectionSkipped as exc:
                ctx.report["skipped"][name] = str(exc)
                ctx.say(f"{name}: skipped ({exc})")
            except BenchError as exc:
                ctx.report["errors"][name] = str(exc)
                ctx.say(f"{name}: FAILED ({exc})")
            except Exception as exc:  # a bug or a broken component: record it, run the rest
                ctx.report["errors"][name] = f"{type(exc).__name__}: {exc}"
                ctx.say(f"{name}: FAILED with {type(exc).__name__}\n{traceback.format_exc()}")
            ctx.report.setdefault("section_seconds", {})[name] = round(time.monotonic() - t0, 1)
            ctx.report.setdefault("load_avg_after_section", {})[name] = round(os.getloadavg()[0], 2)
        eb = ctx.report.get("engine_batching")
        if ctx.report.get("batching_ratio") is None and eb:
            # Without the worker sweep (quick mode) the in-process engine's ratio stands in.
            ctx.report["batching_ratio"] = eb["default_vs_1"]
            ctx.report["batching_method"] = "engine in-process (no Kafka)"
        elif ctx.report.get("batching_ratio") is not None:
            ctx.report["batching_method"] = "driftrec worker on the broker"
        try:
            ctx.report["capacity"] = scaleout.capacity(ctx.report)
        except Exception as exc:  # a bug in the arithmetic must not lose the measured run
            ctx.report["capacity"] = None
            ctx.report["errors"]["capacity"] = f"{type(exc).__name__}: {exc}"
        ctx.report["machine"]["load_avg_at_end"] = list(os.getloadavg())
        ctx.report["duration_s"] = round(time.monotonic() - ctx.started, 1)
        ctx.report["targets"] = rpt.check_targets(ctx.report)
        return ctx.report
