"""The STATE gate's exactly-once rules, without a database: fake sinks that count batches."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field

from target_flext_oracle._state_gate import StateGate


@dataclass
class FakeSink:
    """A sink as the gate sees it: buffered rows and batch counters."""

    stream_name: str
    buffered: int = 0
    batches_sealed: int = 0
    batches_committed: int = 0

    @property
    def has_pending_rows(self) -> bool:
        return self.buffered > 0

    def add(self, rows: int = 1) -> None:
        self.buffered += rows

    def seal(self) -> None:
        """The buffer becomes a batch (handed to the loader)."""
        self.buffered = 0
        self.batches_sealed += 1

    def commit(self, gate: StateGate) -> None:
        """The oldest uncommitted batch commits."""
        assert self.batches_committed < self.batches_sealed
        self.batches_committed += 1
        gate.batch_committed()


@dataclass
class Out:
    """What the gate wrote."""

    lines: list[str] = field(default_factory=list)

    def __call__(self, text: str) -> None:
        self.lines.append(text)

    @property
    def states(self) -> list[object]:
        return [json.loads(x) for x in self.lines]


def _gate(stall_lines: int = 100) -> tuple[StateGate, Out]:
    out = Out()
    return StateGate(out, stall_lines=stall_lines), out


def test_a_state_with_nothing_uncommitted_before_it_goes_out_at_once() -> None:
    """A STATE that covers no buffered or loading rows is written immediately."""
    gate, out = _gate()
    a = FakeSink("a")
    gate.offer({"s": 0}, [a], line=1)
    assert out.states == [{"s": 0}]


def test_a_state_waits_for_the_batch_holding_buffered_rows() -> None:
    """Rows buffered before a STATE hold it until their batch commits."""
    gate, out = _gate()
    a = FakeSink("a")
    a.add()
    gate.offer({"s": 1}, [a], line=2)
    assert out.states == []
    a.seal()
    assert out.states == []  # sealed is not committed
    a.commit(gate)
    assert out.states == [{"s": 1}]


def test_a_state_waits_for_a_batch_still_loading() -> None:
    """A batch handed to the loader but not committed holds the STATE that follows it."""
    gate, out = _gate()
    a = FakeSink("a")
    a.add()
    a.seal()  # loading in the background, nothing buffered
    gate.offer({"s": 1}, [a], line=2)
    assert out.states == []
    a.commit(gate)
    assert out.states == [{"s": 1}]


def test_states_are_released_in_order_across_streams() -> None:
    """A later STATE never overtakes an earlier one, whichever stream commits first."""
    gate, out = _gate()
    a, b = FakeSink("a"), FakeSink("b")
    a.add()
    gate.offer({"s": 1}, [a, b], line=2)  # waits on a
    b.add()
    gate.offer({"s": 2}, [a, b], line=4)  # waits on a and b
    b.seal()
    b.commit(gate)
    assert out.states == []  # {"s": 2} is ready for b but {"s": 1} still waits on a
    a.seal()
    a.commit(gate)
    # Both are ready together: only the newest is written (it supersedes the first).
    assert out.states == [{"s": 2}]


def test_only_the_newest_of_several_ready_states_is_written() -> None:
    """States that become ready in one release collapse to the newest; identical ones once."""
    gate, out = _gate()
    a = FakeSink("a")
    a.add()
    gate.offer({"s": 1}, [a], line=2)
    gate.offer({"s": 2}, [a], line=3)
    a.seal()
    a.commit(gate)
    gate.offer({"s": 2}, [a], line=4)  # the same text again: not repeated
    assert out.states == [{"s": 2}]


def test_a_failed_batch_never_releases_the_states_after_it() -> None:
    """A sealed batch that never commits holds every STATE after it, whatever else commits."""
    gate, out = _gate()
    a, b = FakeSink("a"), FakeSink("b")
    a.add()
    a.seal()  # this batch fails: it is never committed
    gate.offer({"s": 1}, [a, b], line=3)
    b.add()
    gate.offer({"s": 2}, [a, b], line=5)
    b.seal()
    b.commit(gate)
    assert out.states == []
    assert gate.waiting == 2


def test_the_state_copy_is_taken_when_it_arrives() -> None:
    """Mutating the STATE dict after offering it does not change what is written."""
    gate, out = _gate()
    a = FakeSink("a")
    a.add()
    state = {"bookmarks": {"a": 1}}
    gate.offer(state, [a], line=2)
    state["bookmarks"]["a"] = 99
    a.seal()
    a.commit(gate)
    assert out.states == [{"bookmarks": {"a": 1}}]


def test_a_stream_that_finished_early_is_drained_after_the_stall_window() -> None:
    """A STATE held only by a quiet stream's partial batch names that sink once it waited long."""
    gate, out = _gate(stall_lines=10)
    quiet, busy = FakeSink("quiet"), FakeSink("busy")
    quiet.add()
    gate.offer({"s": "quiet done"}, [quiet, busy], line=3)
    assert gate.stalled(line=12) == []  # waited 9 lines
    assert gate.stalled(line=13) == [quiet]
    quiet.seal()
    # While its batch loads, nothing more to drain: it only needs time.
    assert gate.stalled(line=20) == []
    quiet.commit(gate)
    assert out.states == [{"s": "quiet done"}]


def test_the_stall_rule_names_only_sinks_the_oldest_state_still_needs() -> None:
    """Sinks that committed what the oldest STATE needs, or hold only later rows, are left alone."""
    gate, _ = _gate(stall_lines=1)
    a, b, c = FakeSink("a"), FakeSink("b"), FakeSink("c")
    a.add()
    b.add()
    gate.offer({"s": 1}, [a, b, c], line=1)
    c.add()  # rows after the STATE: not what it waits on
    b.seal()
    b.commit(gate)
    b.add()  # b's new rows came after the STATE too
    assert gate.stalled(line=5) == [a]


def test_overwrite_holds_ready_states_until_the_swap() -> None:
    """While overwrite tables are unswapped, ready STATE is held; the swap writes the newest."""
    gate, out = _gate()
    a = FakeSink("a")
    gate.hold_until_swap()
    gate.offer({"s": 1}, [a], line=1)
    a.add()
    gate.offer({"s": 2}, [a], line=3)
    a.seal()
    a.commit(gate)
    assert out.states == []
    gate.swapped()
    assert out.states == [{"s": 2}]


def test_overwrite_at_stream_end_writes_the_final_state_after_the_swap() -> None:
    """drain_all's final STATE is held behind the swap too, then written once."""
    gate, out = _gate()
    a = FakeSink("a")
    gate.hold_until_swap()
    a.add()
    gate.offer({"s": 1}, [a], line=2)
    a.seal()
    a.commit(gate)
    gate.all_committed({"s": "final"})
    assert out.states == []
    gate.swapped()
    gate.swapped()  # a second call writes nothing more
    assert out.states == [{"s": "final"}]


def test_all_committed_clears_the_queue_and_writes_the_latest_state() -> None:
    """After drain_all every queued STATE is covered; the latest is written, the queue emptied."""
    gate, out = _gate()
    a = FakeSink("a")
    a.add()
    gate.offer({"s": 1}, [a], line=2)
    gate.all_committed({"s": 1})
    assert out.states == [{"s": 1}]
    assert gate.waiting == 0


def test_commits_from_a_loader_thread_release_states_in_order() -> None:
    """Commits from a loader thread and offers from the reader never reorder or repeat STATE."""
    gate, out = _gate()
    a = FakeSink("a")
    sealed: list[int] = []
    done = threading.Event()
    lock = threading.Lock()

    def loader() -> None:
        committed = 0
        while not (done.is_set() and committed == len(sealed)):
            with lock:
                ready = committed < len(sealed)
            if ready:
                committed += 1
                a.commit(gate)

    thread = threading.Thread(target=loader)
    thread.start()
    for i in range(1, 501):
        a.add()
        gate.offer({"s": i}, [a], line=i)
        with lock:
            a.seal()
            sealed.append(i)
    done.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    numbers = [s["s"] for s in out.states]  # type: ignore[index]
    assert numbers == sorted(set(numbers))
    assert numbers[-1] == 500
