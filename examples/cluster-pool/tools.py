"""Tools of `pnpm example:cluster-pool`. Each answers which node ran it.

lookup(id) is idempotent (safe to run twice: the pool retries it on another node when its node
dies mid-call). charge(id) is not: it appends `<id> <node>` to the ledger file named by LEDGER
(the pool's env option, which travels to the agents), so the example can count how many times each
charge ran: never more than once.
"""

from __future__ import annotations

import os
import time
from typing import Any

from trellis_worker import tool

NODE = os.environ.get("EXAMPLE_NODE", "?")


@tool(idempotent=True)
def lookup(id: int) -> dict[str, Any]:
    """A read: safe to run again."""
    time.sleep(0.03)
    return {"id": id, "node": NODE}


@tool
def charge(id: int) -> dict[str, Any]:
    """A write that must run at most once."""
    with open(os.environ["LEDGER"], "a", encoding="utf-8") as f:
        f.write(f"{id} {NODE}\n")
    time.sleep(0.03)
    return {"id": id, "node": NODE}
