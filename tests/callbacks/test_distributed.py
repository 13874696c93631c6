"""RankFailureGuard: which rank failed first, and what is a collective error."""

from __future__ import annotations


def test_rank_0_names_the_first_failure_and_not_the_ranks_that_followed():
    """The diagnosis of RankFailureGuard: a posted error first, then a signal; ranks that only
    stopped because of another (status 3), or that rank 0 killed itself, are not blamed."""
    from srlab.callbacks.distributed import RankFailureGuard, is_collective_error

    class Proc:
        def __init__(self, pid, code):
            self.pid, self.code = pid, code

        def poll(self):
            return self.code

    guard = RankFailureGuard(grace_s=0.0)
    guard.world, guard.procs = 4, [Proc(11, -9), Proc(12, 3), Proc(13, None)]
    assert guard._failures() == ["rank 1 (pid 11) was killed by SIGKILL"]
    guard._posted = lambda: {3: "step 7: ValueError: bad image"}  # type: ignore[method-assign]
    assert guard._failures() == [
        "rank 3 failed at step 7: ValueError: bad image",
        "rank 1 (pid 11) was killed by SIGKILL",
    ]
    guard.step = 7
    assert guard.diagnose().startswith(
        "distributed training stopped near step 7: rank 3 failed at step 7"
    )
    assert is_collective_error(
        RuntimeError("[../gloo/transport/tcp/pair.cc:534] Connection closed by peer")
    )
    assert not is_collective_error(ValueError("bad image")) and not is_collective_error(
        RuntimeError("timeout")
    )
