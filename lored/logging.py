"""structlog set-up for the daemon: JSON lines under a service manager, console on a TTY.

Both structlog loggers and the standard library's (aiohttp, APScheduler) go through
the same processors, so journald gets one JSON object per line. Tracebacks never
include local variables (they could hold a passphrase or a data key), and values of
keys that look like secrets are masked as a second line of defence.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

LEVELS = ("debug", "info", "warning", "error")
_SECRET_WORDS = ("passphrase", "password", "token", "secret", "data_key", "kek", "authorization")


def _mask_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Replace the value of any key that names a secret (never log one, even by mistake)."""
    for key in list(event):
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and event[key] is not None:
            event[key] = "***"
    return event


def configure_logging(
    level: str = "info", *, json_lines: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog and stdlib logging for the daemon.

    ``json_lines=None`` picks JSON when ``stream`` is not a TTY (systemd, launchd, a
    pipe in tests) and a readable console format on a terminal.
    """
    stream = sys.stderr if stream is None else stream
    if json_lines is None:
        json_lines = not stream.isatty()
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: Processor
    if json_lines:
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
        shared.append(
            structlog.processors.ExceptionRenderer(
                ExceptionDictTransformer(show_locals=False, use_rich=False)
            )
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler logs every job run at INFO; only its warnings matter here
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def cycle_fields(result: dict[str, Any] | None) -> dict[str, Any]:
    """Counts for the one log line per cycle (never session contents or secrets)."""
    if not result:
        return {}
    out: dict[str, Any] = {}
    pull = result.get("pull") if "pull" in result else (result if "pulled" in result else None)
    push = result.get("push") if "push" in result else (result if "pushed" in result else None)
    if isinstance(pull, dict):
        out["pulled"] = pull.get("pulled", 0)
        out["pull_failed"] = len(pull.get("failed") or [])
        out["bytes_down"] = pull.get("bytes_downloaded", 0)
        if "restored" in pull:  # [restore] auto
            out["restored"] = len(pull.get("restored") or [])
    if isinstance(push, dict):
        out["pushed"] = push.get("pushed", 0)
        out["push_skipped"] = len(push.get("skipped") or [])
        out["bytes_up"] = push.get("bytes_uploaded", 0)
    return out
