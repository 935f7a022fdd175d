"""structlog set-up for lore-server: JSON lines, or readable lines on a terminal.

``--log-format auto`` (the default) writes structlog's ConsoleRenderer lines when
stderr is a terminal (someone is watching ``lore-server serve``) and one JSON object
per line otherwise (journald, files, log shippers). Tracebacks never carry locals in
either form (JSON: structlog's dict transformer with ``show_locals=False``; console:
the plain traceback formatter, never rich's, which would print locals).

Request bodies and tokens are never logged; as a second line of defence the values of
keys that name a secret are masked. Access log lines carry method, path, status,
duration and peer, never headers (so never the Authorization header).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

import structlog
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_WORDS = ("password", "token", "secret", "authorization", "passphrase", "envelope")


#: loggers that would log SQL parameters
_QUIET_LOGGERS = ("aiosqlite", "asyncpg", "sqlite3")


def _mask_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key in list(event):
        if any(word in key.lower() for word in _SECRET_WORDS) and event[key] is not None:
            event[key] = "***"
    return event


def use_console(fmt: str, stream: TextIO) -> bool:
    """``console`` / ``json`` as asked; ``auto``: console exactly when ``stream`` is a TTY."""
    if fmt != "auto":
        return fmt == "console"
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def configure_logging(level: str = "info", stream: TextIO | None = None,
                      fmt: str = "auto") -> None:
    """Route structlog and stdlib logging (aiohttp) through one renderer (see above)."""
    out = stream or sys.stderr
    console = use_console(fmt, out)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _mask_secrets,
    ]
    renderer: Processor
    if console:
        renderer = structlog.dev.ConsoleRenderer(
            colors=not os.environ.get("NO_COLOR"),
            exception_formatter=structlog.dev.plain_traceback)  # never rich: no locals
    else:
        # locals could hold a token or a password: never render them
        shared.append(structlog.processors.ExceptionRenderer(
            ExceptionDictTransformer(show_locals=False, use_rich=False)))
        renderer = structlog.processors.JSONRenderer()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # the database drivers log every statement with its parameters at DEBUG (aiosqlite's
    # "executing functools.partial(...)" carries Argon2 hashes, token hashes and sealed
    # bytes): they never log below WARNING, whatever --log-level says
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class AccessLogger(AbstractAccessLogger):
    """One structured line per request, without headers, query secrets or bodies."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit the access line."""
        structlog.get_logger("lorecloud.access").info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(time * 1000, 1),
            peer=request.remote,
            bytes_out=response.body_length,
        )
