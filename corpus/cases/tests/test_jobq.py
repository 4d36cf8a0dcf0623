"""Job queues, retries, dead letters and timers."""

from jobq import queue


def _fail():
    raise RuntimeError("backend down")


def test_priority_queue_runs_in_order():
    q = queue.PriorityQueue()
    for p in (3, 1, 2):
        q.push(queue.Job(p, name=f"j{p}", func=lambda p=p: p))
    assert q.run_all() == [1, 2, 3]


def test_shared_queue_drained():
    queue.shared_queue.push(queue.Job(1, func=lambda: "x"))
    assert queue.shared_queue.run_all() == ["x"]


def test_backoff_capped():
    assert [queue.backoff(a) for a in (1, 10)] == [0.2, 5.0]


def test_worker_done_history_bounded():
    assert queue.default_worker.process(queue.Job(1, name="ok", func=lambda: 1))


def test_dead_letters_accumulate():
    # Failed jobs (with their closures) are kept in the long-lived worker's dead letters.
    assert not queue.default_worker.process(queue.Job(1, name="bad", func=_fail))


def test_dead_letters_on_fresh_worker():
    assert not queue.Worker().process(queue.Job(1, name="bad", func=_fail))


def test_cancelled_timers_stay_in_heap():
    # Cancelled timers stay queued until their deadline, far in the future here.
    timer = queue.wheel.call_later(3600.0, lambda: None)
    timer.cancelled = True
    assert queue.wheel.advance(0.1) == 0


def test_cancelled_timers_purged():
    timer = queue.wheel.call_later(3600.0, lambda: None)
    timer.cancelled = True
    queue.wheel.purge_cancelled()
    assert queue.wheel.advance(0.1) == 0


def test_timers_fire():
    wheel = queue.TimerWheel()
    fired = []
    wheel.call_later(1.0, lambda: fired.append(1))
    assert wheel.advance(2.0) == 1 and fired == [1]
