"""Structured logging: one JSON line per event, with citizen data masked.

Use ``log = get_logger(__name__)`` and ``log.info("event_name", extra=fields(key=value))``; the
event name is the message and the fields become keys of the line.

Masking happens in the handler (:class:`MaskingFilter`, installed by :func:`setup_logging`), so
it covers every record that reaches it, from any logger, third-party ones included: the message
with its arguments, the structured fields and any other extra, nested values too, and the text
of a logged exception (govedge.privacy.mask_value / mask_text).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from typing_extensions import override

from govedge.privacy import mask_text, mask_value

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}
_OURS = {"govedge_fields", "govedge_error"}


def fields(**values: Any) -> dict[str, Any]:
    """Extra fields for one log line (namespaced so they never clash with LogRecord's)."""
    return {"govedge_fields": values}


class MaskingFilter(logging.Filter):
    """Masks citizen data in a record before any formatter sees it (never drops a record)."""

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_govedge_masked", False):
            return True
        try:
            message = record.msg % mask_value(record.args) if record.args else str(record.msg)
        except (TypeError, ValueError, KeyError):
            message = record.getMessage()
        record.msg, record.args = mask_text(message), None
        for key, value in list(vars(record).items()):
            if key == "govedge_fields" and isinstance(value, dict):
                record.govedge_fields = {k: mask_value(v, k) for k, v in value.items()}
            elif key not in _RESERVED and not key.startswith("_"):
                setattr(record, key, mask_value(value, key))
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.govedge_error = mask_text(f"{type(exc).__name__}: {exc}")
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        record._govedge_masked = True
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line."""

    @override
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
                line[key] = mask_value(value, key)
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in _OURS and not key.startswith("_"):
                line[key] = mask_value(value, key)
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = mask_text(f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}")
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable single lines for a terminal, masked the same way."""

    @override
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
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("amqtt", "transitions", "aiohttp.access", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """The logger called ``name``."""
    return logging.getLogger(name)
