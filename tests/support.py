"""Helpers the tests and the benchmarks share: running calls at the same moment on their
own database connections, waiting for a condition, and finding a process's children."""

import os
import threading
import time

WAIT = 90  # seconds any wait may take before it gives up


class GaveUp(AssertionError):
    """A condition did not come true in time (an AssertionError, so pytest reports it as a failure)."""


def wait_until(condition, what: str, timeout: float = WAIT, interval: float = 0.02):
    """Poll `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise GaveUp(f"gave up after {timeout:g} s waiting until {what}")


def all_at_once(calls: list, *, errors: str = "raise") -> list:
    """Run each call in its own thread, released together by a barrier; each thread closes
    its own database connection. Returns the results in order. With errors="raise" the
    first exception is re-raised in the caller; with errors="return" it takes the call's
    place in the results."""
    from django.db import connection

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    raised: list[BaseException] = []

    def run(index, call):
        try:
            barrier.wait(10)
            results[index] = call()
        except BaseException as error:  # noqa: BLE001  (handed to the calling thread)
            results[index] = error
            raised.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
        assert not thread.is_alive(), "a thread did not finish"
    if raised and errors == "raise":
        raise raised[0]
    return results


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren...), from Linux's /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
