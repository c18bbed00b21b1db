"""Citizen data is masked in helpers and, as a second guard, in every log line."""

from __future__ import annotations

import io
import json
import logging

from govedge.logs import fields, setup_logging
from govedge.privacy import mask_id_number, mask_name, mask_text


def test_masks() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_name("张三丰") == "张**"
    assert mask_text("id 11010519491231002X ok") == "id 110105********002X ok"
    assert mask_text("seq 12345678901234567890123") == "seq 12345678901234567890123"


def test_log_lines_are_json_and_masked() -> None:
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    logging.getLogger("t").info("card_read", extra=fields(id_number="11010519491231002X", n=1))
    line = json.loads(stream.getvalue().strip())
    assert line["event"] == "card_read"
    assert line["id_number"] == "110105********002X"
    assert line["n"] == 1
    assert "19491231" not in stream.getvalue()
