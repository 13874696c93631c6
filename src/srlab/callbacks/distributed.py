"""Distributed runs that end instead of hanging: one line naming the rank that failed and why.

Under DDP every rank waits for the others at each collective (the gradient all-reduce, the
metric reductions, barriers). A rank that dies (``kill -9``, out of memory, an exception in its
data) leaves the others waiting: with gloo they get a "connection closed" error a moment later,
with NCCL they block until the process-group timeout (``trainer.strategy.timeout``). Lightning's
own child-process observer then SIGKILLs everything, which prints no reason and leaves rank 0
with status -9. :class:`RankFailureGuard` (added by ``srlab-train`` to every multi-process run)
makes the run end within seconds, with one line on stderr and status 2:

- a rank whose own code fails (not a collective) posts ``step N: ExceptionType: message`` to
  the process group's key-value store and writes its traceback to
  ``<run dir>/rank<r>_error.txt``; it prints nothing (rank 0 reports);
- rank 0 (the process the user started) watches the processes it launched once a second. When
  one exits with an error, or when rank 0's own collective fails, it names the first rank that
  failed and the reason (the posted error, or the signal that killed it) and the checkpoint to
  resume from (``ckpt_path=<run>/checkpoints/last.ckpt``), stops the other ranks and exits. If
  rank 0 is itself blocked in a collective (NCCL waits for a dead peer), its watcher thread
  reports and exits after ``grace_s`` seconds;
- the other ranks exit quietly when a collective fails (rank 0 reports), and on their own, with
  one line, when rank 0 is gone;
- an error decided on every rank together (:class:`~srlab.callbacks.nan.AllRanksStopped`, the
  NaN check) is reported once, by rank 0.

A collective that waits longer than the process-group timeout (``conf/trainer/ddp*.yaml``)
ends the same way, the line naming the collective and where it was called from. Multi-node runs:
rank 0 watches only the processes of its node; a rank of another node that dies is seen through
the failing collective (gloo) or the timeout (NCCL).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from typing_extensions import override

from ..errors import SRLabError
from .nan import _newest_checkpoint

__all__ = ["RankFailureGuard", "rank_failures", "is_collective_error"]

_KEY = "srlab/failed/{rank}"
_OWN_FAILURE, _ALL_RANKS_EXIT, _PEER_FAILURE = 1, 2, 3  # exit statuses of the ranks > 0
_BACKENDS = ("gloo", "nccl", "processgroup", "c10d")
_COMM_WORDS = (
    "connection closed",
    "connection reset",
    "broken pipe",
    "timed out",
    "timeout",
    "socket",
    "peer",
)
_DIST_FILES = ("torch/distributed", "torch/nn/parallel", "torch/autograd")


def is_collective_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a failed collective: a peer gone or a timeout."""
    import torch.distributed as dist

    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, getattr(dist, "DistError", ())):
            return True
        if isinstance(e, RuntimeError):
            msg = str(e).lower()
            if any(w in msg for w in _BACKENDS) or (
                _in_c10d(e) and any(w in msg for w in _COMM_WORDS)
            ):
                return True
        e = e.__cause__ or e.__context__
    return False


def _in_c10d(exc: BaseException) -> bool:
    """Raised inside torch.distributed (or the autograd engine running DDP's reducer)."""
    tb = traceback.extract_tb(exc.__traceback__)
    return any(d in f.filename for f in tb for d in _DIST_FILES)


def collective_site(exc: BaseException) -> str:
    """Name the torch.distributed function that failed and its innermost srlab caller.

    For example ``"all_reduce (from srlab/callbacks/images.py:85 in on_validation_epoch_end)"``;
    the innermost Lightning caller stands in when no srlab frame is on the stack.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    idx = [i for i, f in enumerate(frames) if "torch/distributed/distributed_c10d" in f.filename]
    if idx:
        name = frames[idx[-1]].name
    else:  # DDP's own: its buckets (before forward) and gradient all-reduce (hooks of backward)
        idx = [i for i, f in enumerate(frames) if "torch/nn/parallel" in f.filename]
        if idx:
            name = f"DDP's {frames[idx[-1]].name}"
        else:
            idx = [i for i, f in enumerate(frames) if "torch/autograd" in f.filename]
            if not idx:
                return ""
            name = "DDP's gradient all-reduce (in backward)"
    outer = [f for f in frames[: idx[0]] if "/torch/" not in f.filename]

    def where(f: traceback.FrameSummary) -> str:
        path = f.filename.replace("\\", "/")
        for root in ("srlab/", "pytorch_lightning/", "lightning_fabric/", "torchmetrics/"):
            if f"/{root}" in path:
                path = path[path.rfind(f"/{root}") + 1 :]
                break
        return f"{path}:{f.lineno} in {f.name}"

    # the innermost caller outside torch, and the innermost srlab one below the entry points
    parts = [outer[-1]] if outer else []
    entry = (
        "/cli/",
        "callbacks/distributed.py",
        "models/checkpoint.py",
    )  # how fit was called, not the site
    ours = [f for f in outer if "/srlab/" in f.filename and not any(e in f.filename for e in entry)]
    if ours and ours[-1] is not outer[-1]:
        parts.append(ours[-1])
    caller = f" (from {' <- '.join(where(f) for f in parts)})" if parts else ""
    return f"{name}{caller}"


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class RankFailureGuard(Callback):
    """Ends a DDP run with one line when a rank fails (see the module docstring).

    ``srlab-train`` adds it to multi-process runs (:func:`rank_failures`); it does nothing in a
    one-process run.

    Args:
        grace_s: seconds rank 0 gives its own error handling (and the other ranks' reports) once
            a rank is gone, before its watcher reports and exits on its own.
        poll_s: seconds between two looks at the launched processes (and, on the other ranks,
            at rank 0).
    """

    def __init__(self, grace_s: float = 10.0, poll_s: float = 1.0) -> None:
        self.grace_s = float(grace_s)
        self.poll_s = float(poll_s)
        self.rank = 0
        self.world = 1
        self.procs: list[Any] = []  # rank 0: the processes Lightning launched (local ranks 1..)
        self.first_child_rank = 1
        self.out_dir: Path | None = None
        self.step = 0
        self._trainer: pl.Trainer | None = None
        self._done = threading.Event()
        self._reported = threading.Lock()
        self._ppid: int | None = None
        self._killed_by_us: set[int] = set()

    # ------------------------------------------------------------------ set-up
    @override
    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self.world, self.rank = trainer.world_size, trainer.global_rank
        if self.world <= 1:
            return
        self._trainer = trainer
        self.out_dir = Path(trainer.default_root_dir)
        self._done.clear()
        launcher = getattr(trainer.strategy, "launcher", None)
        procs = list(getattr(launcher, "procs", None) or [])
        local_rank = trainer.local_rank
        if procs and local_rank == 0:
            self.procs = procs
            self.first_child_rank = trainer.node_rank * (len(procs) + 1) + 1
            _silence_lightning_observer()
            threading.Thread(
                target=self._watch_children, name="srlab-rank-watch", daemon=True
            ).start()
        elif local_rank > 0 and type(launcher).__name__ == "_SubprocessScriptLauncher":
            self._ppid = os.getppid()  # launched by rank 0 of this node: watch it
            threading.Thread(
                target=self._watch_parent, name="srlab-rank0-watch", daemon=True
            ).start()

    @override
    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        self.step = trainer.global_step

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Post this rank's own failure for rank 0 and keep the traceback in the run folder.

        Collective failures and decisions of all ranks are left to :meth:`handle`.
        """
        if (
            self.world <= 1
            or getattr(exception, "all_ranks", False)
            or is_collective_error(exception)
        ):
            return
        if isinstance(exception, (KeyboardInterrupt, SystemExit)):
            return
        where = ""
        if self.out_dir is not None:
            path = self.out_dir / f"rank{self.rank}_error.txt"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                tmp.write_text("".join(traceback.format_exception(exception)))
                tmp.replace(path)
                where = f"; traceback in {path}"
            except OSError:
                pass
        self._post(f"step {trainer.global_step}: {_first_line(exception)}{where}")

    # ------------------------------------------------------------------ the key-value store
    @staticmethod
    def _store() -> Any:
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized():
            return None
        from torch.distributed.distributed_c10d import _get_default_store

        return _get_default_store()

    def _post(self, reason: str) -> bool:
        """Post this rank's failure reason; ``False`` when the store (rank 0) is unreachable."""
        ok = threading.Event()

        def put() -> None:
            try:
                store = self._store()
                if store is not None:
                    store.set(_KEY.format(rank=self.rank), reason)
                    ok.set()
            except Exception:  # noqa: BLE001 - rank 0 gone: nobody to tell
                pass

        t = threading.Thread(target=put, daemon=True)
        t.start()
        t.join(2.0)
        return ok.is_set()

    def _posted(self) -> dict[int, str]:
        """Reasons posted by the ranks (rank 0 hosts the store: reading it never blocks)."""
        out: dict[int, str] = {}
        try:
            store = self._store()
            if store is None:
                return out
            for r in range(self.world):
                key = _KEY.format(rank=r)
                if store.check([key]):
                    out[r] = store.get(key).decode(errors="replace")
        except Exception:  # noqa: BLE001
            pass
        return out

    # ------------------------------------------------------------------ diagnosis (rank 0)
    def _failures(self) -> list[str]:
        """List what went wrong, the first cause first.

        Posted errors come first, then processes killed by a signal, then processes that exited
        with an error of their own.
        """
        posted = self._posted()
        found = [f"rank {r} failed at {reason}" for r, reason in sorted(posted.items())]
        for i, p in enumerate(self.procs):
            r, code = self.first_child_rank + i, p.poll()
            if (
                r in posted
                or code in (None, 0, _ALL_RANKS_EXIT, _PEER_FAILURE)
                or r in self._killed_by_us
            ):
                continue
            if code < 0:
                found.append(f"rank {r} (pid {p.pid}) was killed by {_signal_name(code)}")
            else:
                found.append(f"rank {r} (pid {p.pid}) exited with status {code}")
        return found

    def _resume_hint(self) -> str:
        trainer = self._trainer
        good = _newest_checkpoint(trainer) if trainer is not None else None
        return f"resume with ckpt_path={good}" if good else "no checkpoint had been written yet"

    def diagnose(self, exc: BaseException | None = None, wait: bool = True) -> str:
        """One line: which rank failed and why (waiting up to ``grace_s`` for the news)."""
        deadline = time.monotonic() + (self.grace_s if wait else 0.0)
        found = self._failures()
        while not found and time.monotonic() < deadline:
            time.sleep(0.2)
            found = self._failures()
        if found:
            what = "; ".join(found)
        elif exc is not None:
            site = collective_site(exc)
            what = (
                f"a collective{' ' + site if site else ''} failed on rank {self.rank} and no rank "
                f"reported an error ({_first_line(exc)}): a rank that never reached it (a hang: "
                "please report it) or one on another machine that died; "
                "trainer.strategy.timeout sets how long a collective may wait"
            )
        else:
            what = "a rank stopped"
        return f"distributed training stopped near step {self.step}: {what}; {self._resume_hint()}"

    # ------------------------------------------------------------------ watchers
    def _watch_children(self) -> None:
        """Rank 0: report and exit when a launched rank failed and rank 0 did not (in time)."""
        while not self._done.wait(self.poll_s):
            if all(p.poll() in (None, 0) for p in self.procs):
                continue
            if self._done.wait(self.grace_s):  # rank 0's own handling took over
                return
            self._report_and_exit(self.diagnose(wait=False))

    def _watch_parent(self) -> None:
        """Ranks > 0 launched by rank 0: stop when rank 0 is gone (killed: nobody else reports)."""
        while not self._done.wait(self.poll_s):
            if os.getppid() != self._ppid:
                # one rank says it (local rank 1), not W - 1 of them
                quiet = self._trainer is not None and self._trainer.local_rank != 1
                self._report_and_exit(
                    f"distributed training stopped near step {self.step}: rank 0 "
                    f"(pid {self._ppid}) is gone; rank {self.rank} stopped too",
                    code=_PEER_FAILURE,
                    quiet=quiet,
                )

    def _report_and_exit(self, message: str, code: int = 2, quiet: bool = False) -> None:
        if not self._reported.acquire(blocking=False):
            return
        if not quiet:
            print(f"srlab: error: {message}", file=sys.stderr, flush=True)
        self._kill_children()
        sys.stdout.flush()
        os._exit(code)

    def _kill_children(self, wait_s: float = 0.0) -> None:
        """Rank 0: let the launched ranks exit on their own for ``wait_s``, then SIGKILL them.

        A rank blocked in a collective never returns.
        """
        deadline = time.monotonic() + wait_s
        while wait_s and time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
            time.sleep(0.1)
        for i, p in enumerate(self.procs):
            if p.poll() is None:
                self._killed_by_us.add(self.first_child_rank + i)
                p.kill()

    # ------------------------------------------------------------------ the end of a run
    def handle(self, exc: BaseException) -> None:
        """Turn the exception that ends ``trainer.fit`` on this rank into the run's one line.

        Rank 0 raises it as an :class:`SRLabError`; ranks > 0 end quietly.
        """
        self._done.set()  # the watchers stand down: this thread reports
        if self.world <= 1 or isinstance(exc, (KeyboardInterrupt, SystemExit)):
            return
        if getattr(exc, "all_ranks", False):  # decided on every rank: rank 0 says it once
            if self.rank == 0:
                self._kill_children(wait_s=5.0)
                return
            _quiet_exit(_ALL_RANKS_EXIT)
        collective = is_collective_error(exc)
        if self.rank == 0:
            if not collective:  # rank 0's own error: reported as in a one-process run
                self._kill_children(wait_s=2.0)
                return
            message = self.diagnose(exc)
            self._kill_children(wait_s=2.0)
            if not self._reported.acquire(blocking=False):
                _quiet_exit(2)
            raise SRLabError(message) from None
        # ranks > 0: rank 0 reports, unless it is gone
        rank0_alive = self._ppid is None or os.getppid() == self._ppid
        if not collective:
            if not (rank0_alive and self.rank in self._posted()):
                # rank 0 cannot hear of it: say it here
                print(
                    f"srlab: error: rank {self.rank} failed near step {self.step}: "
                    f"{_first_line(exc)}",
                    file=sys.stderr,
                    flush=True,
                )
            _quiet_exit(_OWN_FAILURE)
        if not rank0_alive and self._trainer is not None and self._trainer.local_rank == 1:
            print(
                f"srlab: error: distributed training stopped near step {self.step}: rank 0 "
                f"(pid {self._ppid}) is gone; rank {self.rank} stopped too",
                file=sys.stderr,
                flush=True,
            )
        _quiet_exit(_PEER_FAILURE)

    def stand_down(self) -> None:
        """Stop the watcher threads (the run ended, well or not, and was handled)."""
        self._done.set()


def _quiet_exit(code: int) -> None:
    """End a rank > 0 now: no traceback, no interpreter teardown.

    The teardown can block on a broken process group.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _silence_lightning_observer() -> None:
    """Disable Lightning's child-process observer; RankFailureGuard's watcher replaces it.

    That observer SIGKILLs every process, rank 0 included, 5 s after a child fails, with no
    reason given (and status -9).
    """
    for t in threading.enumerate():
        if type(t).__name__ == "_ChildProcessObserver":
            t._run = lambda: True  # type: ignore[attr-defined]  # its loop ends at its next wake-up


@contextmanager
def rank_failures(
    trainer: pl.Trainer, guard: RankFailureGuard | None = None
) -> Iterator[RankFailureGuard | None]:
    """Wrap ``trainer.fit``/``test`` of a possibly multi-process run.

    Adds a :class:`RankFailureGuard` (unless the trainer has one) and turns the end of a failed
    DDP run into one line (see the module docstring). A one-process run is left untouched.

    Example:
        >>> trainer = pl.Trainer(logger=False)
        >>> with rank_failures(trainer) as guard:
        ...     pass
        >>> guard is None
        True
    """
    if trainer.world_size <= 1:
        yield None
        return
    # Trainer.callbacks is set by Lightning's CallbackConnector, not declared on the class
    callbacks: list[pl.Callback] = trainer.callbacks  # type: ignore[attr-defined]
    guard = guard or next((c for c in callbacks if isinstance(c, RankFailureGuard)), None)
    if guard is None:
        guard = RankFailureGuard()
        callbacks.append(guard)
    try:
        yield guard
    except BaseException as exc:
        guard.handle(exc)
        raise
    finally:
        guard.stand_down()
