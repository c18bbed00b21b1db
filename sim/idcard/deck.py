"""The simulator's deck of ID documents. Every name, number and address is SYNTHETIC.

Numbers are built with the GB 11643 check digit (except the card meant to fail it); region codes
are real prefectures so that address-code checks elsewhere behave as with real cards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.idcard.card import CardType
from drivers.idcard.idnumber import check_digit
from drivers.idcard.layout import encode_base_info, encode_extra_address, encode_text
from drivers.idcard.photo import PHOTO_SIZE, encode_sim_photo
from sim.idcard.photo_data import ASTRONAUT_JPEG

DEFAULT_CARD = "valid"


def make_id_number(region: str, birth: str, sequence: str) -> str:
    """A synthetic 18-character number with a correct check digit."""
    head = region + birth + sequence
    return head + check_digit(head)


@dataclass(slots=True)
class SimCard:
    """One document the simulated reader can hold."""

    key: str
    card_type: CardType
    values: dict[str, str]
    photo: bytes = field(default_factory=lambda: encode_sim_photo(ASTRONAUT_JPEG), repr=False)
    fingerprint: bytes | None = field(default=None, repr=False)
    extra_addresses: list[str] = field(default_factory=list)
    chip_id: bytes = bytes.fromhex("10E4100102030405")
    description: str = ""

    def text(self) -> bytes:
        """The card's 256-byte text block: its values in the card type's layout."""
        return encode_text(self.card_type, self.values)

    def base_info(self, with_fingerprint: bool) -> bytes:
        """The payload of a 30 01 answer, or of 30 10 (FP length 0 if the card has none)."""
        fp = (self.fingerprint or b"") if with_fingerprint else None
        return encode_base_info(self.text(), self.photo, fp)

    def extra_address(self) -> bytes:
        """The extra-address field: addresses added after issue, 35 UTF-16 characters each."""
        return encode_extra_address(self.extra_addresses)


def _resident(key: str, description: str, **overrides: str) -> SimCard:
    values = {
        "name": "测试甲",
        "sex_code": "1",
        "nation_code": "01",
        "birth_date": "19900307",
        "address": "北京市东城区示例大街1号",
        "id_number": make_id_number("110101", "19900307", "123"),
        "issuer": "北京市公安局东城分局",
        "valid_from": "20200101",
        "valid_to": "20400101",
    }
    values.update(overrides)
    return SimCard(key, CardType.RESIDENT, values, description=description)


def _fingerprint_data() -> bytes:
    """Two 512-byte synthetic fingerprint feature blocks (not a real template format)."""
    return bytes((i * 7 + 3) % 256 for i in range(512)) + bytes((i * 11) % 256 for i in range(512))


def build_deck() -> dict[str, SimCard]:
    """The default deck, by key."""
    bad = make_id_number("320102", "19851120", "246")
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    cards = [
        _resident("valid", "resident card, valid until 2040"),
        _resident(
            "expired",
            "resident card that expired in 2020",
            name="测试乙",
            sex_code="2",
            nation_code="03",
            birth_date="19700215",
            address="宁夏回族自治区银川市兴庆区示例路8号",
            id_number=make_id_number("640104", "19700215", "002"),
            issuer="银川市公安局兴庆区分局",
            valid_from="20000501",
            valid_to="20200501",
        ),
        _resident(
            "long_term",
            "resident card valid for life (长期)",
            name="测试丙",
            birth_date="19491231",
            address="北京市朝阳区示例胡同3号",
            id_number="11010519491231002X",
            issuer="北京市公安局朝阳分局",
            valid_from="20100101",
            valid_to="长期",
        ),
        _resident(
            "bad_check_digit",
            "resident card whose number fails the GB 11643 check digit",
            name="测试丁",
            sex_code="2",
            birth_date="19851120",
            address="江苏省南京市玄武区示例街道9号",
            id_number=bad,
            issuer="南京市公安局玄武分局",
        ),
        SimCard(
            "hk_mo_tw",
            CardType.HK_MO_TW_RESIDENCE,
            {
                "name": "测试戊",
                "sex_code": "1",
                "birth_date": "19880808",
                "address": "广东省深圳市福田区示例道18号",
                "id_number": make_id_number("810000", "19880808", "015"),
                "issuer": "深圳市公安局福田分局",
                "valid_from": "20190101",
                "valid_to": "20240101",
                "pass_number": "H12345678",
                "issue_count": "01",
            },
            description="港澳台居民居住证 (Hong Kong resident, marker J)",
        ),
        SimCard(
            "foreigner",
            CardType.FOREIGN_PERMANENT_RESIDENCE,
            {
                "english_name": "TESTER, JANE SAMPLE",
                "sex_code": "2",
                "id_number": "USA110080808001",
                "nationality": "USA",
                "chinese_name": "简测试",
                "valid_from": "20180101",
                "valid_to": "20280101",
                "birth_date": "19800808",
                "card_version": "01",
                "issuer_code": "1500",
            },
            description="外国人永久居留身份证 (marker I)",
        ),
        _resident("fingerprint", "resident card holding fingerprint data", name="测试己"),
        _resident(
            "extra_address",
            "resident card with an address appended after issue",
            name="测试庚",
        ),
        _resident("wlt_photo", "resident card whose photo is vendor WLT data", name="测试辛"),
    ]
    deck = {card.key: card for card in cards}
    deck["fingerprint"].fingerprint = _fingerprint_data()
    deck["extra_address"].extra_addresses = ["北京市西城区示例新街5号"]
    # Opaque bytes standing in for a WLT-compressed photo, which only a vendor library decodes.
    deck["wlt_photo"].photo = (b"WLf" + bytes((i * 37 + 11) % 256 for i in range(1021)))[
        :PHOTO_SIZE
    ]
    return deck
