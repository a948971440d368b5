"""How the worker formats its own log lines on stderr (without a host to forward them to).

Kept apart from host.py so that a worker without a host never imports the HostService client.
"""

from __future__ import annotations

import logging

STDERR_FORMAT = "%(asctime)s %(levelname)s %(name)s%(trellis_where)s: %(message)s"


class StderrFormatter(logging.Formatter):
    """Adds " [tool call_id]" for records made through ToolContext.log."""

    def __init__(self) -> None:
        super().__init__(STDERR_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        call_id = getattr(record, "trellis_call_id", "")
        record.trellis_where = f" [{getattr(record, 'trellis_tool', '')} {call_id}]" if call_id else ""
        return super().format(record)
