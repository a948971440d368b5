"""Removes a worker's Unix socket files when it exits, and the host's socket folder once empty.

Why here: the host makes one private temp folder per pool (``trellis-XXXXXX``) for the sockets and
removes it when the pool stops. When the host is killed (kill -9) nobody else is left to do it, but
its workers still run their exit path (they notice the host is gone): each removes its own socket,
the host's socket too once the host is gone, and tries to remove the folder, which succeeds for the
last one out (rmdir refuses a folder that still holds another worker's socket).
"""

from __future__ import annotations

import os


def _unix_path(address: str) -> str | None:
    if not address.startswith("unix:"):
        return None
    path = address[len("unix:") :]
    if path.startswith("///"):
        path = path[2:]
    return os.path.abspath(path) if path else None


def remove_socket_files(listen: str, host_address: str, host_gone: bool) -> None:
    own = _unix_path(listen)
    # The worker's call lane listens beside its gRPC socket, on ``<socket>.lane`` (lane.py).
    paths = [own, None if own is None else own + ".lane"]
    if host_gone:
        paths.append(_unix_path(host_address))
    folders: list[str] = []
    for path in paths:
        if path is None:
            continue
        try:
            os.unlink(path)
        except OSError:
            pass
        folder = os.path.dirname(path)
        if folder not in folders:
            folders.append(folder)
    for folder in folders:
        # Only the folder the host made for its sockets (mkdtemp's "trellis-" prefix), never a
        # folder the user named.
        if os.path.basename(folder).startswith("trellis-"):
            try:
                os.rmdir(folder)
            except OSError:
                pass
