"""``driftrec bench``: the benchmark suite of bench/ (throughput, latency, cost), JSON + table."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import click

from streams.cli.options import file_out_option, make_settings

SECTION_HELP = (
    "Run only these sections (repeatable): incremental, encoder, catalog, retrieval, storage, "
    "engine, throughput (driftrec, the bare Faust and raw aiokafka pass-throughs and Kafka's "
    "perf tools), latency, batching, batch_mode (adaptive vs fixed micro-batching, two workers), "
    "gc_freeze (DRIFTREC_GC_FREEZE on vs off, two workers), scale_out (1, 2 and 3 workers), "
    "worker_storage (the last five: full mode only by default)."
)


@click.command()
@click.option("--quick", is_flag=True, help="Fewer and shorter runs (under 3 minutes).")
@file_out_option("--json-out", "json_path", help="Write the results here (JSON).", required=True)
@file_out_option(
    "--markdown", "markdown_path", help="Also write the results table here (markdown)."
)
@click.option("--section", "sections", multiple=True, help=SECTION_HELP)
@click.option(
    "--profile",
    is_flag=True,
    help="Also sample both workers with py-spy during one burst and report where time goes "
    "(raw samples kept in <json name>-profiles/).",
)
@click.option(
    "--py-spy",
    "py_spy",
    default=None,
    help="py-spy executable for --profile (default: py-spy on PATH; not a driftrec dependency).",
)
@click.option(
    "--bootstrap-servers",
    envvar="DRIFTREC_BOOTSTRAP_SERVERS",
    show_envvar=True,
    default=None,
    help="Use this running broker when it answers; otherwise (or unset) the benchmark starts a "
    "private local broker on free ports and stops it at the end.",
)
def bench(
    quick: bool,
    json_path: Path,
    markdown_path: Path | None,
    sections: tuple[str, ...],
    profile: bool,
    py_spy: str | None,
    bootstrap_servers: str | None,
) -> None:
    """Measure driftrec against Kafka's own perf tools, a raw aiokafka and a bare Faust
    pass-through on the real broker, rounds alternating.

    Figures are medians of repeated runs with their spread; a target is met only when every run
    meets it. Progress goes to stderr, the table to stdout.
    """
    from bench import resultdoc as report
    from bench.config import FULL, QUICK
    from bench.suite import run_suite
    from ops.localkafka.launcher import metadata_ok

    config = QUICK if quick else FULL
    chosen = tuple(sections) or config.sections
    if profile:
        chosen = (*chosen, "profile")
        py_spy = py_spy or shutil.which("py-spy")
        if py_spy is None:
            raise click.UsageError("--profile needs py-spy: pip install py-spy (or --py-spy PATH)")
    try:
        config = config.only(chosen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--section") from exc
    if bootstrap_servers and not metadata_ok(bootstrap_servers):
        click.echo(f"no broker answers at {bootstrap_servers}; starting a private one", err=True)
        bootstrap_servers = None
    command = "driftrec " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_suite(
        config,
        make_settings(),
        bootstrap=bootstrap_servers,
        command=command,
        py_spy=py_spy,
        artifacts=json_path.parent / f"{json_path.stem}-profiles" if profile else None,
    )
    report.write(result, json_path, markdown_path)
    click.echo(report.render_markdown(result))
    click.echo(f"results: {json_path}" + (f", {markdown_path}" if markdown_path else ""), err=True)
