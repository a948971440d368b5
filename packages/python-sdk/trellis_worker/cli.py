"""``python -m trellis_worker``: start one worker serving the @tool functions of some modules.

Exit codes: 0 after a shutdown (SIGTERM drain, host gone), 1 the host was already gone at start or
the worker failed unexpectedly, 2 bad command line (argparse), 3 the tools could not be loaded,
4 the listen address was refused or could not be bound (a non-loopback address without TLS
included), 5 a tool's allocation was refused by the memory cap (--max-rss-mb), 6 the --tls-* files
are unreadable, not PEM, or do not belong together. Codes 2-4 and 6 are permanent: restarting the
same command cannot help.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import traceback
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from .constants import DEFAULTS, PROTOCOL, READY_PREFIX
from .descendants import become_subreaper, join_cgroup, kill_descendants
from .guard import take_secret
from .inherited_fds import close_inherited_fds
from .lifecycle import arm_parent_death_signal, parent_is_gone, watch_stdin
from .log_format import JsonLineFormatter, StderrFormatter
from .memory import EXIT_MEMORY, arm_memory_cap
from .server import ListenAddressError, Worker
from .socket_cleanup import remove_socket_files
from .tls import TlsConfigError, TlsFiles, TlsUsageError, load_tls
from .tool import ToolSpec, collect_tools, load_module

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Coroutine

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_TOOLS = 3
EXIT_LISTEN = 4
EXIT_TLS = 6

log = logging.getLogger("trellis_worker")

#: Time the worker gives itself at exit to kill and reap its tools' subprocesses.
DESCENDANTS_KILL_BUDGET_S = 0.5


def _positive(value: str) -> int:
    n = int(value)
    if n <= 0:
        import argparse

        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return n


def _non_negative(value: str) -> int:
    n = int(value)
    if n < 0:
        import argparse

        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return n


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# text: one readable line per record; json: one JSON object per line, which a Trellis host parses
# into structured records for its logger (the host passes --log-format json).
LOG_FORMATS = ("text", "json")


class _Option(NamedTuple):
    flags: tuple[str, ...]
    dest: str
    #: Converts the value; None for a flag (present: stores False).
    convert: Callable[[str], Any] | None
    default: Any
    help: str | None = None
    repeat: bool = False
    required: bool = False
    choices: tuple[str, ...] | None = None
    metavar: str | None = None


#: The command line, defined once. Two readers share it: ``_fast_parse`` for the well-formed line a
#: host sends, and argparse (``build_parser``) for everything else, for its help and error messages.
#: Why not argparse alone: importing and setting it up costs several ms of every worker's start.
OPTIONS: tuple[_Option, ...] = (
    _Option(
        ("--tools",),
        "tools",
        str,
        None,
        "module whose @tool functions to serve: dotted name or path to a .py file (repeatable, or comma-separated)",
        repeat=True,
        required=True,
        metavar="MODULE",
    ),
    _Option(
        ("--listen",),
        "listen",
        str,
        "127.0.0.1:0",
        "unix:/path/to.sock, 127.0.0.1:PORT or [::1]:PORT; port 0 picks a free port (default 127.0.0.1:0)",
    ),
    _Option(
        ("--trellis-run-id", "--run-id"),
        "run_id",
        str,
        "",
        "id of the host's run; lets the host find and clean up its own workers",
    ),
    _Option(
        ("--host-address",),
        "host_address",
        str,
        "",
        "address of the host's HostService (unix:/path, or host:PORT dialled with the --tls-* files): "
        "enables host tools and log forwarding",
    ),
    _Option(
        ("--tls-ca",),
        "tls_ca",
        str,
        "",
        "PEM file of the CA whose certificates clients must present (with --tls-cert and --tls-key: the "
        "worker listens with mTLS, and may then listen on a non-loopback address)",
    ),
    _Option(("--tls-cert",), "tls_cert", str, "", "PEM file of this worker's certificate (server and client)"),
    _Option(("--tls-key",), "tls_key", str, "", "PEM file of that certificate's private key"),
    _Option(
        ("--tls-server-name",),
        "tls_server_name",
        str,
        "",
        "DNS name the HostService's certificate must carry when --host-address is dialled by IP "
        "(default: the host of --host-address)",
    ),
    _Option(
        ("--host-pid",),
        "host_pid",
        _positive,
        None,
        "PID of the host; the worker exits at start if its parent is not this process",
    ),
    _Option(
        ("--concurrency",),
        "concurrency",
        _positive,
        DEFAULTS.concurrency,
        f"tool calls run at once (thread pool size for sync tools; default {DEFAULTS.concurrency})",
    ),
    _Option(
        ("--max-message-bytes",),
        "max_message_bytes",
        _positive,
        DEFAULTS.max_message_bytes,
        f"largest request or result message (default {DEFAULTS.max_message_bytes})",
    ),
    _Option(
        ("--grace-ms",),
        "grace_ms",
        _non_negative,
        DEFAULTS.grace_ms,
        f"on SIGTERM, time given to in-flight calls to finish (default {DEFAULTS.grace_ms})",
    ),
    _Option(
        ("--max-rss-mb",),
        "max_rss_mb",
        _positive,
        None,
        "cap this worker's memory so its RSS stays within this many MiB (RLIMIT_DATA); "
        f"a tool allocation past it ends the worker with exit code {EXIT_MEMORY}",
    ),
    _Option(
        ("--no-stdin-watch",),
        "stdin_watch",
        None,
        True,
        "do not exit on stdin EOF (for running by hand with stdin not a pipe from the host)",
    ),
    _Option(("--log-level",), "log_level", str, "INFO", choices=LOG_LEVELS),
    _Option(
        ("--log-format",),
        "log_format",
        str,
        "text",
        "how log records are written to stderr: text (readable) or json (one object per line, for a host)",
        choices=LOG_FORMATS,
    ),
)

_BY_FLAG: dict[str, _Option] = {flag: o for o in OPTIONS for flag in o.flags}


def _fast_parse(argv: list[str]) -> SimpleNamespace | None:
    """The well-formed command line a host sends (``--opt value``, ``--opt=value``, known options
    only), without argparse. Anything else (help, abbreviations, a bad value, a missing required
    option) returns None, and argparse parses it again, with its usual messages and exit code 2."""
    out: dict[str, Any] = {o.dest: ([] if o.repeat else o.default) for o in OPTIONS}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        option = _BY_FLAG.get(name)
        if option is None:
            return None
        convert = option.convert
        if convert is None:
            if eq:
                return None
            out[option.dest] = False
            i += 1
            continue
        if not eq:
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return None
            value = argv[i + 1]
            i += 1
        i += 1
        try:
            converted = convert(value)
        except Exception:  # noqa: BLE001 - argparse will report it
            return None
        if option.choices is not None and converted not in option.choices:
            return None
        if option.repeat:
            out[option.dest].append(converted)
        else:
            out[option.dest] = converted
    for o in OPTIONS:
        if o.required and not out[o.dest]:
            return None
    return SimpleNamespace(**out)


def parse_args(argv: list[str] | None) -> Any:
    """The worker's options: the fast reader for what hosts send, argparse for everything else."""
    if argv is None:
        argv = sys.argv[1:]
    return _fast_parse(argv) or build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m trellis_worker",
        description="Serve the @tool functions of Python modules to a Trellis host over gRPC.",
    )
    for o in OPTIONS:
        kw: dict[str, Any] = {"dest": o.dest, "default": o.default, "help": o.help}
        if o.convert is None:
            kw["action"] = "store_false"
        else:
            if o.convert is not str:
                kw["type"] = o.convert
            if o.repeat:
                kw["action"] = "append"
            if o.choices is not None:
                kw["choices"] = list(o.choices)
            if o.metavar is not None:
                kw["metavar"] = o.metavar
        if o.required:
            kw["required"] = True
        p.add_argument(*o.flags, **kw)
    return p


def _claim_stdout() -> int | None:
    """Keeps stdout for the readiness line alone: the real stdout moves to a private descriptor,
    and descriptor 1 (print(), C extensions, subprocesses) now writes to stderr."""
    try:
        ready_fd = os.dup(1)
    except OSError:
        return None
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return ready_fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _load_tools(refs: list[str]) -> dict[str, ToolSpec]:
    names = [r.strip() for ref in refs for r in ref.split(",") if r.strip()]
    tools = collect_tools(load_module(name) for name in names)
    if not tools:
        raise LookupError(f"no @tool functions found in {', '.join(names)}; decorate them with @trellis_worker.tool")
    return tools


async def _serve(
    args: Any,
    tools: dict[str, ToolSpec],
    ready_fd: int | None,
    parent: int,
    secret: bytes | None,
    tls: TlsFiles | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    host = None
    if args.host_address:
        from .host import HostClient, HostLogHandler  # only workers with a host need its client

        host = HostClient(args.host_address, args.max_message_bytes, secret, tls)
        root = logging.getLogger()
        for h in list(root.handlers):
            root.removeHandler(h)
        root.addHandler(HostLogHandler(host))
        host.start()

    worker = Worker(
        tools=tools,
        run_id=args.run_id,
        concurrency=args.concurrency,
        max_message_bytes=args.max_message_bytes,
        host=host,
        secret=secret,
    )
    try:
        address = await worker.start(args.listen, tls)
    except (ListenAddressError, OSError) as exc:
        print(f"trellis_worker: {exc}", file=sys.stderr)
        return EXIT_LISTEN

    if getattr(args, "max_rss_mb", None) is not None:
        # After the imports and gRPC's start (their memory and threads are the baseline), before
        # the first call.
        arm_memory_cap(args.max_rss_mb, args.concurrency)

    drain_requested = asyncio.Event()
    orphaned = asyncio.Event()

    def on_term() -> None:
        # SIGTERM from the parent-death signal, or a second SIGTERM: no one waits for a drain.
        if parent_is_gone(parent) or drain_requested.is_set():
            orphaned.set()
        drain_requested.set()

    def on_host_gone() -> None:
        orphaned.set()
        drain_requested.set()

    loop.add_signal_handler(signal.SIGTERM, on_term)
    loop.add_signal_handler(signal.SIGINT, on_term)
    if args.stdin_watch:
        watch_stdin(lambda: loop.call_soon_threadsafe(on_host_gone))
    # The host may have died while we were starting (before prctl could watch it).
    if parent_is_gone(parent):
        on_host_gone()

    ready = {"address": address, "pid": os.getpid(), "protocol": PROTOCOL, "tools": len(tools)}
    if ready_fd is not None:
        try:
            _write_all(ready_fd, f"{READY_PREFIX} {json.dumps(ready)}\n".encode())
        except OSError:
            on_host_gone()  # nobody reads our stdout: the host is gone
    log.debug("serving %d tools on %s", len(tools), address)

    await drain_requested.wait()
    orphan_budget = DEFAULTS.orphan_exit_ms / 1000
    if not orphaned.is_set():
        log.info("SIGTERM: draining in-flight calls for up to %d ms", args.grace_ms)
        stop = asyncio.ensure_future(worker.stop(args.grace_ms / 1000))
        host_gone = asyncio.ensure_future(orphaned.wait())
        await asyncio.wait({stop, host_gone}, return_when=asyncio.FIRST_COMPLETED)
        host_gone.cancel()
        if not stop.done():  # the host died mid-drain: give up on the remaining calls
            try:
                await asyncio.wait_for(worker.stop(None), orphan_budget)
            except asyncio.TimeoutError:
                pass
    else:
        try:
            await asyncio.wait_for(worker.stop(None), orphan_budget)
        except asyncio.TimeoutError:
            pass
    if host is not None:
        await host.close(timeout=0.5 if not orphaned.is_set() else 0.1)
    return EXIT_OK


def main(argv: list[str] | None = None) -> NoReturn:
    # First of all: what the host did not mean to give (its LMDB files, see inherited_fds.py) must
    # reach neither the tools nor their subprocesses.
    inherited = close_inherited_fds()
    args = parse_args(argv)
    # Before any user code runs: the tools (and their subprocesses) must not inherit the secret,
    # and every process they start must stay findable (descendants.py).
    secret = take_secret()
    cgroup = join_cgroup()
    become_subreaper()
    ready_fd = _claim_stdout()
    # Record the parent before arming the signal: if it is already gone at this point, the signal
    # will never come, and only the comparison below can tell.
    parent = args.host_pid or os.getppid()
    arm_parent_death_signal(signal.SIGTERM)
    if parent_is_gone(parent):
        print(f"trellis_worker: host process {parent} is gone; exiting", file=sys.stderr)
        os._exit(EXIT_FAILURE)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter() if args.log_format == "json" else StderrFormatter())
    logging.basicConfig(level=args.log_level, handlers=[handler], force=True)
    if inherited:
        log.debug(
            "closed %d descriptor(s) inherited from the host: %s",
            len(inherited),
            ", ".join(f"{fd} -> {what}" for fd, what in inherited),
        )

    # Before the tools are imported (slow, and their code runs): a bad file is the command's fault.
    try:
        tls = load_tls(args.tls_ca, args.tls_cert, args.tls_key, args.tls_server_name)
    except TlsConfigError as exc:
        print(f"trellis_worker: {exc}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_USAGE if isinstance(exc, TlsUsageError) else EXIT_TLS)

    try:
        tools = _load_tools(args.tools)
    except SystemExit as exc:
        # sys.exit() at a module's top level (a script's code not under `if __name__ == "__main__"`)
        # would end the worker with that code and no word of why. The hint goes last: the host
        # quotes the end of stderr.
        traceback.print_exc(file=sys.stderr)
        print(
            f"trellis_worker: a tools module called sys.exit({exc.code!r}) while being imported; "
            'move the module\'s script code under `if __name__ == "__main__":` so importing it only '
            "defines the tools",
            file=sys.stderr,
        )
        sys.stderr.flush()
        os._exit(EXIT_TOOLS)
    except Exception:  # noqa: BLE001 - any import-time failure of user code
        print("trellis_worker: could not load the tools:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        os._exit(EXIT_TOOLS)

    code = _run(lambda: _serve(args, tools, ready_fd, parent, secret, tls))
    # Whatever the tools started goes with the worker, escaped or not (host gone, SIGTERM, failure).
    kill_descendants(DESCENDANTS_KILL_BUDGET_S, cgroup)
    remove_socket_files(args.listen, args.host_address, host_gone=parent_is_gone(parent))
    os._exit(code)


def _run(serve: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Runs the server loop and returns the exit code. The process then ends with os._exit: pool
    threads still inside a tool that ignored cancellation must not hold the exit up (a normal
    interpreter exit joins them)."""
    loop = asyncio.new_event_loop()
    try:
        code = loop.run_until_complete(serve())
    except BaseException:  # noqa: BLE001 - report, then still exit
        traceback.print_exc(file=sys.stderr)
        code = EXIT_FAILURE
    logging.shutdown()
    sys.stderr.flush()
    return code
