"""Structured logging: one JSON line per event, with citizen data masked.

Use ``log = get_logger(__name__)`` and ``log.info("event_name", extra=fields(key=value))``; the
event name is the message and the fields become keys of the line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from govedge.privacy import mask_text

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


def fields(**values: Any) -> dict[str, Any]:
    """Extra fields for one log line (namespaced so they never clash with LogRecord's)."""
    return {"govedge_fields": values}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_text(record.getMessage()),
        }
        extra = getattr(record, "govedge_fields", None)
        if isinstance(extra, dict):
            for key, value in extra.items():
                line[key] = mask_text(value) if isinstance(value, str) else value
        for key, value in vars(record).items():
            if key not in _RESERVED and key != "govedge_fields" and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = mask_text(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable single lines for a terminal, masked the same way."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        extra = getattr(record, "govedge_fields", None)
        tail = ""
        if isinstance(extra, dict) and extra:
            tail = " " + " ".join(f"{k}={v}" for k, v in extra.items())
        text = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}{tail}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" error={type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return mask_text(text)


def setup_logging(level: str = "info", fmt: str = "json", stream: Any = None) -> None:
    """Configure the root logger once for a process."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("amqtt", "transitions", "aiohttp.access", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
