"""Sharing a few CPU cores between web processes that compute answers now and then.

Kept free of heavy imports: gunicorn's master process makes the share before it forks the workers.
"""

from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager

from ml.hardware import cpu_cores


class CoreShare:
    """Splits the CPU's cores between the processes that are computing an answer right now.

    Several web processes (gunicorn workers) on a few cores: a process that computes alone uses every
    core, which answers one review sooner than one core does; while two compute, each uses half. Giving
    each process every core all the time is worse: under load their threads crowd each other out
    (bench/RESULTS.md). Which processes are computing is kept in shared memory, so the parent makes the
    share before it forks the processes; each then ``join``s it, and the parent calls ``leave`` for a
    process that has exited (one killed while computing would otherwise count as busy for ever). A
    gunicorn reload (HUP) makes a new share for the new workers; the old ones finish on the old share.
    """

    def __init__(self, slots: int = 64, cores: int | None = None):
        self.cores = cores or cpu_cores()
        self.pids = multiprocessing.Array("i", slots)  # the process in each slot, 0 when free
        self.busy = multiprocessing.Array("i", slots)  # answers that process is computing now
        self.slot: int | None = None  # this process's slot, after join()

    def join(self) -> bool:
        """Take a slot for this process; False when all are taken (it then keeps its thread count)."""
        with self.pids.get_lock():
            for slot, pid in enumerate(self.pids):
                if pid == 0:
                    self.pids[slot], self.busy[slot], self.slot = os.getpid(), 0, slot
                    return True
        return False

    def leave(self, pid: int) -> None:
        with self.pids.get_lock():
            for slot, owner in enumerate(self.pids):
                if owner == pid:
                    self.pids[slot], self.busy[slot] = 0, 0

    def busy_processes(self) -> int:
        """How many answers are being computed now, by all the processes together."""
        return sum(self.busy)

    @contextmanager
    def computing(self):
        """Inside: this process counts as busy; yields the cores it may compute on (``None`` when it has
        no slot: the runtime's default), which the caller passes to the predictor."""
        if self.slot is None:
            yield None
            return
        with self.pids.get_lock():  # a process with several request threads counts each of them
            self.busy[self.slot] += 1
            computing = self.busy_processes()
        try:
            yield max(1, self.cores // computing)
        finally:
            with self.pids.get_lock():
                self.busy[self.slot] -= 1
