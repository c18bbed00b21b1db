"""Citizen data is masked in helpers and, as a second guard, in every log line."""

from __future__ import annotations

import io
import json
import logging

from govedge.logs import fields, setup_logging
from govedge.privacy import mask_id_number, mask_name, mask_text, mask_value


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


def test_mask_text_covers_every_number_kind_and_keeps_other_numbers() -> None:
    assert mask_text("old card 110105491231002 here") == "old card 110105******002 here"
    assert mask_text("permanent residence USA110080808001") == "permanent residence USA********8001"
    assert mask_text("permit H12345678, M1234567801") == "permit H12****78, M12****7801"
    assert mask_text("hk 810000198808080150 ok") == "hk 810000********0150 ok"
    # timestamps, counters, sequence numbers and hashes stay readable
    for text in ("ts 1796600571480", "seq 12345678901234567890123", "boot 0f3a9c", "port 1883"):
        assert mask_text(text) == text


def test_mask_text_names_and_addresses() -> None:
    assert mask_text("name=张三丰 command name=ping") == "name=张** command name=ping"
    assert mask_text("'name': 'TESTER, JANE SAMPLE'") == "'name': 'T******************'"
    assert mask_text('address="北京市东城区示例大街1号"') == 'address="北京市东城区******"'
    assert "示例大街" not in mask_text("lives at 上海市徐汇区示例大街21号 now")
    assert mask_text("addr=127.0.0.1:1883") == "addr=127.0.0.1:1883"


def test_mask_value_nested() -> None:
    value = {
        "cards": [
            {
                "name": "测试甲",
                "english_name": "TESTER, JANE",
                "address": "上海市徐汇区示例路106号",
                "id_number": "310104190612092627",
                "pass_number": "H1234567801",
                "photo": b"\xff\xd8" * 10,
                "fingerprint": bytearray(512),
                "face": [[0.1, 0.2]],
            }
        ],
        "note": ("old number 110105491231002",),
        "driver": {"name": "camera"},
    }
    out = mask_value(value)
    card = out["cards"][0]
    assert card["name"] == "测**" and card["english_name"] == "T***********"
    assert card["address"] == "上海市徐汇区*******"
    assert card["id_number"] == "310104********2627"
    assert card["pass_number"] == "H12******01"
    assert card["photo"] == "<20 bytes>" and card["fingerprint"] == "<512 bytes>"
    assert card["face"] == "<hidden>"
    assert out["note"] == ("old number 110105******002",)
    assert out["driver"] == {"name": "camera"}  # a thing's name stays


def test_the_handler_masks_every_logger_including_third_party_ones() -> None:
    stream = io.StringIO()
    setup_logging("info", "json", stream)
    logging.getLogger("urllib3.connectionpool").warning(
        "holder %s lives at %s",
        {"name": "测试甲", "id": "110101199003071234"},
        "北京市东城区示例大街1号",
    )
    logging.getLogger("somelib").info(
        "sent", extra={"payload": {"people": [{"name": "测试乙", "permit": "M12345678"}]}}
    )
    logging.getLogger("govedge.x").info(
        "card",
        extra=fields(card={"holder": {"name": "TESTER, JANE", "id_number": "USA110080808001"}}),
    )
    try:
        raise ValueError("bad number 110105491231002")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("handler failed")
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert (
        lines[0]["event"]
        == "holder {'name': '测**', 'id': '110101********1234'} lives at 北京市东城区******"
    )
    assert lines[1]["payload"] == {"people": [{"name": "测**", "permit": "M12****78"}]}
    assert lines[2]["card"]["holder"] == {"name": "T***********", "id_number": "USA110*****8001"}
    assert lines[3]["error"] == "ValueError: bad number 110105******002"
    for secret in (
        "测试甲",
        "测试乙",
        "TESTER",
        "19900307",
        "示例大街",
        "M12345678",
        "491231",
        "110080808",
    ):
        assert secret not in text, secret


def test_text_format_is_masked_too() -> None:
    stream = io.StringIO()
    setup_logging("info", "text", stream)
    logging.getLogger("thirdparty").info("user name=张三丰 id 11010519491231002X")
    assert "张三丰" not in stream.getvalue() and "19491231" not in stream.getvalue()
