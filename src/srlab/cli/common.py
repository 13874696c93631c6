"""Shared bits of the entry points: where the configs live and how user errors are reported."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import SRLabError

__all__ = ["CONF_DIR", "plain_dict", "user_error", "report_user_errors"]

F = TypeVar("F", bound=Callable[..., Any])


def _find_conf_dir() -> str:
    env = os.environ.get("SRLAB_CONF_DIR")
    if env:
        return str(Path(env).resolve())
    # shipped inside the package (src/srlab/conf, package data): the same path for an editable
    # install, a checkout and a wheel installed into site-packages
    return str(Path(__file__).resolve().parents[1] / "conf")


CONF_DIR = _find_conf_dir()


def plain_dict(node: Any) -> dict[str, Any]:
    """A config mapping (an OmegaConf ``DictConfig`` or a dict) as a plain dict, resolved."""
    from omegaconf import OmegaConf

    out = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
    if not isinstance(out, dict):
        raise TypeError(f"expected a config mapping, got {type(out).__name__}")
    return {str(k): v for k, v in out.items()}


def user_error(exc: BaseException) -> SRLabError | None:
    """The :class:`SRLabError` behind ``exc`` (Hydra wraps errors raised by ``_target_``s)."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, SRLabError):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None


def _config_error(exc: BaseException) -> str | None:
    from omegaconf.errors import MissingMandatoryValue

    cur: BaseException | None = exc
    while cur is not None:
        if isinstance(cur, MissingMandatoryValue):
            key = getattr(cur, "full_key", None) or ""
            return f"config value {key!r} is required but not set (pass {key}=...)"
        cur = cur.__cause__ or cur.__context__
    return None


def report_user_errors(fn: F) -> F:
    """Turn user errors into one line on stderr and exit status 2, instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            print("srlab: interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as e:  # re-raised unless it is the user's error
            err = user_error(e)
            msg = str(err) if err is not None else _config_error(e)
            if msg is None:
                raise
            print(f"srlab: error: {msg}", file=sys.stderr)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
