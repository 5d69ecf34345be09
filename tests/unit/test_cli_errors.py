"""Errors a person can act on: one line, a documented exit status, options that mean one thing.

Exit status: 0 done, 1 runtime failure, 2 usage (bad option, argument or DRIFTREC_* value).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from streams.cli.main import COMMANDS, cli

#: Commands that talk to Kafka (each must take --timeout and fail fast when it is unreachable).
KAFKA_COMMANDS = [
    ["produce", "{data}"],
    ["items", "load", "{data}"],
    ["forget", "u1"],
    ["tail"],
    ["train", "--from-kafka"],
    ["models", "list"],
    ["models", "promote", "m-x"],
    ["trainer", "--once"],
    ["worker"],
]


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _walk(group: click.Group, ctx: click.Context) -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        yield name, cmd
        if isinstance(cmd, click.Group):
            for sub, subcmd in _walk(cmd, ctx):
                yield f"{name} {sub}", subcmd


def _all_commands() -> list[tuple[str, click.Command]]:
    with click.Context(cli) as ctx:
        return list(_walk(cli, ctx))


def test_every_registered_command_loads() -> None:
    names = {name for name, _ in _all_commands()}
    assert set(COMMANDS) <= names


def test_json_is_always_a_flag_and_files_are_json_out() -> None:
    for name, cmd in _all_commands():
        for param in cmd.params:
            if "--json" in getattr(param, "opts", []):
                assert isinstance(param, click.Option) and param.is_flag, name
            if "--json-out" in getattr(param, "opts", []):
                assert isinstance(param.type, click.Path), name


def test_timeout_means_the_kafka_timeout_everywhere() -> None:
    seen = set()
    for name, cmd in _all_commands():
        for param in cmd.params:
            if "--timeout" in getattr(param, "opts", []):
                assert param.envvar == "DRIFTREC_KAFKA_TIMEOUT_S", name
                seen.add(name)
    assert {" ".join(c[:2]) if c[0] in ("items", "models") else c[0] for c in KAFKA_COMMANDS} <= (
        seen
    )


def test_rate_zero_means_as_fast_as_possible_in_demo_and_produce() -> None:
    for name, cmd in _all_commands():
        if name in ("demo", "produce"):
            rate = next(p for p in cmd.params if p.name == "rate")
            assert "0 sends as fast as possible" in (getattr(rate, "help", "") or "")
            assert isinstance(rate.type, click.FloatRange) and rate.type.min == 0


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DRIFTREC_PARTITIONS": "abc"}, "DRIFTREC_PARTITIONS='abc' is not accepted: an integer"),
        ({"DRIFTREC_REBUILD": "eager"}, "DRIFTREC_REBUILD='eager' is not accepted: one of lazy"),
        ({"DRIFTREC_KAFKA_TIMEOUT_S": "-1"}, "DRIFTREC_KAFKA_TIMEOUT_S='-1' is not accepted"),
        ({"DRIFTREC_WEB_PORT": "http"}, "DRIFTREC_WEB_PORT='http' is not accepted: an integer"),
    ],
)
def test_bad_setting_is_one_line_exit_2(env: dict[str, str], needle: str) -> None:
    command = ["worker"] if "WEB_PORT" in env else ["kafka", "status"]
    result = CliRunner().invoke(cli, command, env=env)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_bad_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["produce", "nowhere.jsonl", "--rate", "-1"])
    assert result.exit_code == 2


def test_missing_file_is_a_usage_error() -> None:
    assert CliRunner().invoke(cli, ["items", "load", "/nonexistent/items.jsonl"]).exit_code == 2


@pytest.mark.parametrize("argv", KAFKA_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_unreachable_kafka_is_one_line_exit_1_within_the_timeout(
    argv: list[str], tmp_path: Path
) -> None:
    from encoders.samples import sample_path

    address = f"127.0.0.1:{_closed_port()}"
    args = [a.format(data=sample_path()) for a in argv]
    started = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [*args, "--timeout", "1.5"],
        env={"DRIFTREC_BOOTSTRAP_SERVERS": address, "DRIFTREC_HOME": str(tmp_path)},
    )
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert f"cannot reach Kafka at {address} within 1.5 s" in lines[0]
    assert "DRIFTREC_BOOTSTRAP_SERVERS" in lines[0]
    # The bound is the timeout plus a margin for closing the client (no 30 s retry loop).
    assert elapsed < 15, elapsed


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The real process, not CliRunner: stderr is one line, exit status 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "streams.cli", "kafka", "status"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DRIFTREC_PARTITIONS": "abc"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: DRIFTREC_PARTITIONS='abc' is not accepted: an integer >= 1, <= 1024"
    ]
