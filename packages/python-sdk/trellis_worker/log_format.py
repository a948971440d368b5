"""How the worker formats its own log lines on stderr (without a host to forward them to).

Kept apart from host.py so that a worker without a host never imports the HostService client.
"""

from __future__ import annotations

import json
import logging
import traceback

STDERR_FORMAT = "%(asctime)s %(levelname)s %(name)s%(trellis_where)s: %(message)s"


class StderrFormatter(logging.Formatter):
    """Adds " [tool call_id]" for records made through ToolContext.log."""

    def __init__(self) -> None:
        super().__init__(STDERR_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        call_id = getattr(record, "trellis_call_id", "")
        record.trellis_where = f" [{getattr(record, 'trellis_tool', '')} {call_id}]" if call_id else ""
        return super().format(record)


#: The first key of every JSON log line: how a host tells a record from a tool's own stderr output.
JSON_MARKER = "trellis_log"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line (``--log-format json``): the host parses these into
    structured records (level, logger, message, call id, session id, tool, traceback) for its own
    logger instead of treating them as opaque stderr text."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            JSON_MARKER: 1,
            "level": record.levelno,
            "levelName": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "time": record.created * 1000.0,
        }
        call_id = getattr(record, "trellis_call_id", "")
        if call_id:
            out["callId"] = call_id
            out["sessionId"] = getattr(record, "trellis_session_id", "")
            out["tool"] = getattr(record, "trellis_tool", "")
        if record.exc_info:
            out["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)
