"""Web processes share the cores: alone a process computes on all of them, two busy ones get half each."""

import multiprocessing
import os
import signal
import threading

from ml.core_share import CoreShare

fork = multiprocessing.get_context("fork")  # the share is inherited, as by gunicorn's workers


def _busy_until_told(share: CoreShare, started, finish) -> None:
    share.join()
    with share.computing():
        started.set()
        finish.wait(30)


def _other_process_computing(share: CoreShare):
    started, finish = fork.Event(), fork.Event()
    child = fork.Process(target=_busy_until_told, args=(share, started, finish))
    child.start()
    assert started.wait(30)
    return child, finish


def test_a_process_computing_alone_uses_every_core_and_two_split_them():
    share = CoreShare(slots=4, cores=2)
    assert share.join()
    with share.computing() as cores:
        assert cores == 2 and share.busy_processes() == 1
    assert share.busy_processes() == 0

    child, finish = _other_process_computing(share)
    with share.computing() as cores:
        assert cores == 1 and share.busy_processes() == 2
    finish.set()
    child.join(30)
    assert child.exitcode == 0 and share.busy_processes() == 0
    with share.computing() as cores:
        assert cores == 2


def test_a_process_killed_while_computing_is_forgotten_when_it_leaves():
    share = CoreShare(slots=4, cores=2)
    child, _ = _other_process_computing(share)
    assert share.busy_processes() == 1
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert share.busy_processes() == 1  # it died busy: only its parent can tell
    share.leave(child.pid)
    assert share.busy_processes() == 0 and list(share.pids) == [0, 0, 0, 0]


def test_with_every_slot_taken_a_process_leaves_the_cores_to_its_runtime():
    share = CoreShare(slots=1, cores=2)
    child, finish = _other_process_computing(share)
    try:
        assert not share.join()
        with share.computing() as cores:
            assert cores is None and share.busy_processes() == 1
    finally:
        finish.set()
        child.join(30)


def test_answers_computed_by_two_threads_of_one_process_both_count():
    share = CoreShare(slots=2, cores=2)
    assert share.join()
    both_inside, seen = threading.Barrier(2), []

    def answer():
        with share.computing() as cores:
            both_inside.wait(30)
            seen.append((share.busy_processes(), cores))
            both_inside.wait(30)

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(seen) == [(2, 1), (2, 2)] and share.busy_processes() == 0  # the first began alone
