"""The vendor-SDK reader through ctypes, against a stand-in library built here with the SDK's
published signatures (SDT_OpenPort, SDT_StartFindIDCard, SDT_ReadBaseMsg, ...). The stand-in
serves the simulator deck's text and photo from files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from drivers.idcard.card import CardType
from drivers.idcard.errors import NoCardError, SamFaultError, SdtapiError, UnknownStatusError
from drivers.idcard.photo import default_decoders
from drivers.idcard.polled import create
from drivers.idcard.sdtapi import SdtapiReader
from sim.idcard.deck import build_deck

STANDIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static int load(const char *name, unsigned char *buf, unsigned int max) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", getenv("STANDIN_SDT_DIR"), name);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, max, f);
    fclose(f);
    return (int)n;
}
int SDT_OpenPort(int port) { return port == 1001 ? 0x90 : 0x01; }
int SDT_ClosePort(int port) { return 0x90; }
int SDT_ResetSAM(int port, int ifopen) { return 0x90; }
int SDT_GetSAMStatus(int port, int ifopen) { return getenv("STANDIN_SAM_FAULT") ? 0x60 : 0x90; }
int SDT_GetSAMIDToStr(int port, char *out, int ifopen) {
    strcpy(out, "05.01-20201231-0000123456-0987654321");
    return 0x90;
}
int SDT_StartFindIDCard(int port, unsigned char *info, int ifopen) {
    if (getenv("STANDIN_NO_CARD")) return 0x80;
    memset(info, 0, 4);
    return 0x9F;
}
int SDT_SelectIDCard(int port, unsigned char *info, int ifopen) {
    memset(info, 0, 8);
    return 0x90;
}
int SDT_ReadBaseMsg(int port, unsigned char *text, unsigned int *tl, unsigned char *photo,
                    unsigned int *pl, int ifopen) {
    *tl = load("text.bin", text, 256);
    *pl = load("photo.bin", photo, 1024);
    return 0x90;
}
int SDT_ReadBaseFPMsg(int port, unsigned char *text, unsigned int *tl, unsigned char *photo,
                      unsigned int *pl, unsigned char *fp, unsigned int *fl, int ifopen) {
    *tl = load("text.bin", text, 256);
    *pl = load("photo.bin", photo, 1024);
    *fl = load("fp.bin", fp, 1024);
    return 0x90;
}
int SDT_ReadNewAppMsg(int port, unsigned char *msg, unsigned int *len, int ifopen) {
    *len = 0;
    return 0x91;
}
int SDT_ReadMngInfo(int port, unsigned char *out, int ifopen) {
    memcpy(out, "\x10\xe4\x10\x01\x02\x03\x04\x05", 8);
    return 0x90;
}
"""


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed to build the stand-in SDK library"
    work = tmp_path_factory.mktemp("sdtapi")
    (work / "standin_sdtapi.c").write_text(STANDIN_C)
    subprocess.run(
        [
            compiler,
            "-shared",
            "-fPIC",
            "-O1",
            "-o",
            str(work / "libsdtapi.so"),
            str(work / "standin_sdtapi.c"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    card = build_deck()["fingerprint"]
    (work / "text.bin").write_bytes(card.text())
    (work / "photo.bin").write_bytes(card.photo)
    (work / "fp.bin").write_bytes(card.fingerprint or b"")
    return work


@pytest.fixture
def reader(standin: Path, monkeypatch: pytest.MonkeyPatch) -> SdtapiReader:
    monkeypatch.setenv("STANDIN_SDT_DIR", str(standin))
    monkeypatch.delenv("STANDIN_NO_CARD", raising=False)
    monkeypatch.delenv("STANDIN_SAM_FAULT", raising=False)
    return SdtapiReader(
        "sdtapi:1001",
        library=str(standin / "libsdtapi.so"),
        retry_delay=0.0,
        decoders=default_decoders(simulated=True),
    )


def test_read_card(reader: SdtapiReader) -> None:
    reader.open()
    try:
        assert reader.sam_info().sam_id == "05.01-20201231-0000123456-0987654321"
        card = reader.read_card()
        assert card.card_type is CardType.RESIDENT
        assert card.name == "测试己"
        assert card.id_number_valid is True
        assert card.photo_format == "jpeg"
        assert (
            reader.read_card(fingerprint=True).fingerprint
            == build_deck()["fingerprint"].fingerprint
        )
        assert reader.read_extra_address() == []
        assert reader.read_chip_id() == "10E4100102030405"
        reader.reset_sam()
    finally:
        reader.close()


def test_status_codes_come_through(reader: SdtapiReader, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_NO_CARD", "1")
    assert reader.find_card() is False
    with pytest.raises(NoCardError):
        reader.read_card()
    monkeypatch.setenv("STANDIN_SAM_FAULT", "1")
    with pytest.raises(SamFaultError):
        reader.sam_status()
    reader.close()


def test_polled_driver_over_the_sdk(standin: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STANDIN_SDT_DIR", str(standin))
    monkeypatch.delenv("STANDIN_NO_CARD", raising=False)
    monkeypatch.delenv("STANDIN_SAM_FAULT", raising=False)
    drv = create("sdtapi:1001", {"sdtapi_library": str(standin / "libsdtapi.so")})
    drv.open()
    try:
        assert drv.poll() == {"sam_ok": 1.0, "card_present": 1.0}
        assert drv.read_card()["name"] == "测试己"
    finally:
        drv.close()


def test_open_errors(standin: Path) -> None:
    with pytest.raises(UnknownStatusError):  # the stand-in refuses any port but 1001
        SdtapiReader("sdtapi:7", library=str(standin / "libsdtapi.so")).open()
    with pytest.raises(SdtapiError, match="cannot load"):
        SdtapiReader("sdtapi:1001", library="/nonexistent/libsdtapi.so").open()
    with pytest.raises(SdtapiError, match="bad sdtapi URL"):
        SdtapiReader("sdtapi:usb", library="x")
