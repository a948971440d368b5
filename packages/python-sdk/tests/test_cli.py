"""The worker's command line: the fast parser (what a host sends) agrees with argparse, and leaves
everything else to argparse (help, abbreviations, bad values keep argparse's messages)."""

from __future__ import annotations

import pytest
from trellis_worker.cli import _fast_parse, build_parser, parse_args

HOST_LINES = [
    ["--tools", "a.py"],
    ["--tools=a.py", "--run-id", "r"],
    [
        "--tools",
        "a.py,b",
        "--listen",
        "unix:/tmp/x.sock",
        "--host-pid=42",
        "--concurrency",
        "3",
        "--max-message-bytes",
        "2048",
        "--grace-ms",
        "0",
        "--host-address",
        "unix:/tmp/h.sock",
        "--no-stdin-watch",
        "--log-level",
        "DEBUG",
        "--tools",
        "c",
        "--trellis-run-id=trellis-run-x",
    ],
]


@pytest.mark.parametrize("argv", HOST_LINES)
def test_the_fast_parser_agrees_with_argparse(argv: list[str]):
    fast = _fast_parse(argv)
    assert fast is not None
    assert vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--tools", "a", "--conc", "3"],  # an abbreviation argparse accepts
        ["--tools", "a", "--concurrency", "0"],
        ["--tools", "a", "--log-level", "LOUD"],
        ["--tools"],
        [],
        ["--tools", "a", "extra"],
        ["--no-stdin-watch=1", "--tools", "a"],
    ],
)
def test_anything_else_is_left_to_argparse(argv: list[str]):
    assert _fast_parse(argv) is None


def test_argparse_still_reports_bad_command_lines():
    with pytest.raises(SystemExit) as info:
        parse_args(["--tools", "a", "--concurrency", "0"])
    assert info.value.code == 2
    assert parse_args(["--tools", "a", "--conc", "3"]).concurrency == 3
