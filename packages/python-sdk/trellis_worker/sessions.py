"""Per-session state (ToolContext.session), kept per session id until EndSession."""

from __future__ import annotations

from typing import Any


class SessionStore:
    """Only touched from the event loop thread (contexts are built there), so no lock is needed;
    the dict handed to a tool is shared by every concurrent call of that session."""

    def __init__(self) -> None:
        self._sessions: dict[str, dict[str, Any]] = {}

    def get(self, session_id: str) -> dict[str, Any]:
        if not session_id:
            return {}  # no session: state lives for this call only
        state = self._sessions.get(session_id)
        if state is None:
            state = self._sessions[session_id] = {}
        return state

    def end(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def __len__(self) -> int:
        return len(self._sessions)
