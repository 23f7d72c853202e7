"""Logging for every Bitewing process: readable lines by default, one JSON object per line when
`BITEWING_LOG_JSON` is set (for log collectors), through structlog's formatter for stdlib records."""

from __future__ import annotations

import logging

import structlog

from bitewing.core.config import Settings


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Send stdlib and structlog records to stderr in one format; quiet chatty libraries."""
    renderer = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("pynetdicom", "botocore", "urllib3", "rq.worker"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
