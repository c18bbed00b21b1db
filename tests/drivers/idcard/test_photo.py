"""Photo decoders: the simulator's format, the vendor WLT slot (with a stand-in C library built
here with the vendor's signature), and the BMP -> PNG conversion."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from drivers.idcard.errors import DecoderUnavailableError, PhotoDecodeError
from drivers.idcard.photo import (
    BMP_SIZE,
    WLT_LIBRARY_ENV,
    PhotoDecoderChain,
    SimPhotoDecoder,
    WltLibraryDecoder,
    bmp_to_png,
    default_decoders,
    encode_sim_photo,
)
from drivers.idcard.reader import SamSerialReader
from sim.idcard.photo_data import ASTRONAUT_JPEG
from sim.idcard.server import IdCardSimulator

# A stand-in for the vendor's libwlt2bmp: same signature, writes a 102x126 24-bit BMP whose
# pixels are R = 2x, G = 2y (y counted from the top), B = the 4th input byte; refuses input not
# starting with "WLf" (returns -1) and returns 0 for input starting with "WLf0".
STANDIN_C = r"""
#include <string.h>
static void put32(unsigned char *p, unsigned int v) { p[0]=v; p[1]=v>>8; p[2]=v>>16; p[3]=v>>24; }
int unpack(const char *wlt, char *out, int flag) {
    unsigned char *bmp = (unsigned char *)out;
    const int w = 102, h = 126, stride = 308;
    if (wlt[0] != 'W' || wlt[1] != 'L' || wlt[2] != 'f') return -1;
    if (wlt[3] == '0') return 0;
    memset(bmp, 0, 54 + stride * h);
    bmp[0] = 'B'; bmp[1] = 'M';
    put32(bmp + 2, 54 + stride * h); put32(bmp + 10, 54); put32(bmp + 14, 40);
    put32(bmp + 18, w); put32(bmp + 22, h);
    bmp[26] = 1; bmp[28] = 24;
    put32(bmp + 34, stride * h);
    for (int row = 0; row < h; row++) {
        int y = h - 1 - row;  /* stored bottom-up */
        for (int x = 0; x < w; x++) {
            unsigned char *px = bmp + 54 + row * stride + 3 * x;
            px[0] = (unsigned char)wlt[3];
            px[1] = (unsigned char)(2 * y);
            px[2] = (unsigned char)(2 * x);
        }
    }
    return 1;
}
"""


@pytest.fixture(scope="module")
def standin_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "a C compiler is needed to build the stand-in WLT library"
    work = tmp_path_factory.mktemp("wlt")
    source = work / "standin_wlt.c"
    source.write_text(STANDIN_C)
    library = work / "libstandin_wlt.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return library


def png_pixels(data: bytes) -> Callable[[int, int], tuple[int, ...]]:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (102, 126)
    rgb = image.convert("RGB")
    return lambda x, y: tuple(rgb.getpixel((x, y)))  # type: ignore[arg-type]


def test_sim_photo_round_trip() -> None:
    packed = encode_sim_photo(ASTRONAUT_JPEG)
    assert len(packed) == 1024
    assert packed[:8] == b"GVSIMPH1"
    assert int.from_bytes(packed[8:10], "big") == len(ASTRONAUT_JPEG)
    decoded = SimPhotoDecoder().decode(packed)
    assert decoded.format == "jpeg"
    assert decoded.data == ASTRONAUT_JPEG


def test_sim_photo_errors() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_sim_photo(b"\xff\xd8" + bytes(1100))
    broken = bytearray(encode_sim_photo(ASTRONAUT_JPEG))
    broken[8:10] = (2000).to_bytes(2, "big")
    with pytest.raises(PhotoDecodeError, match="declares 2000"):
        SimPhotoDecoder().decode(bytes(broken))
    with pytest.raises(PhotoDecodeError, match="neither JPEG nor PNG"):
        SimPhotoDecoder().decode(encode_sim_photo(b"GIF89a"))


def test_png_in_sim_format() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(buffer, "PNG")
    assert SimPhotoDecoder().decode(encode_sim_photo(buffer.getvalue())).format == "png"


def test_wlt_without_library_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WLT_LIBRARY_ENV, raising=False)
    with pytest.raises(DecoderUnavailableError, match=WLT_LIBRARY_ENV):
        WltLibraryDecoder().decode(b"WLf" + bytes(1021))
    with pytest.raises(DecoderUnavailableError, match="cannot load"):
        WltLibraryDecoder("/nonexistent/libwlt2bmp.so").decode(b"WLf1")


def test_wlt_library_missing_function(standin_library: Path) -> None:
    with pytest.raises(DecoderUnavailableError, match="no function 'GetBmp'"):
        WltLibraryDecoder(str(standin_library), "GetBmp").decode(b"WLf1")


def test_wlt_library_decodes_to_png(standin_library: Path) -> None:
    decoder = WltLibraryDecoder(str(standin_library))
    decoded = decoder.decode(b"WLf\x07" + bytes(1020))
    assert decoded.format == "png"
    pixel = png_pixels(decoded.data)
    assert pixel(0, 0) == (0, 0, 7)
    assert pixel(10, 0) == (20, 0, 7)
    assert pixel(0, 5) == (0, 10, 7)
    assert pixel(101, 125) == (202, 250, 7)


def test_wlt_library_failure(standin_library: Path) -> None:
    with pytest.raises(PhotoDecodeError, match="returned 0"):
        WltLibraryDecoder(str(standin_library)).decode(b"WLf0" + bytes(1020))


def test_wlt_library_from_environment_over_the_wire(
    standin_library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WLT_LIBRARY_ENV, str(standin_library))
    with IdCardSimulator("wlt_photo") as sim, SamSerialReader(sim.url, timeout=1.0) as reader:
        card = reader.read_card()
    assert card.photo_format == "png"
    assert card.photo is not None
    png_pixels(card.photo)


def test_chain() -> None:
    chain = PhotoDecoderChain([SimPhotoDecoder()])
    with pytest.raises(PhotoDecodeError, match="holds no photo"):
        chain.decode(bytes(1024))
    with pytest.raises(PhotoDecodeError, match="no decoder"):
        chain.decode(b"WLf" + bytes(1021))
    packed = encode_sim_photo(ASTRONAUT_JPEG)
    assert default_decoders(simulated=True).decode(packed).format == "jpeg"
    with pytest.raises(PhotoDecodeError, match="no decoder"):
        default_decoders().decode(packed)  # a reader not configured as simulated


def test_bmp_to_png_hand_made() -> None:
    # 2x2, 24-bit, bottom-up: the first stored row is the bottom one. Rows padded to 8 bytes.
    header = b"BM" + struct.pack("<IHHI", 54 + 16, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 16, 0, 0, 0, 0)
    bottom = bytes([255, 0, 0, 0, 255, 0]) + b"\x00\x00"  # blue, green
    top = bytes([0, 0, 255, 255, 255, 255]) + b"\x00\x00"  # red, white
    image = Image.open(io.BytesIO(bmp_to_png(header + info + bottom + top))).convert("RGB")
    assert image.getpixel((0, 0)) == (255, 0, 0)
    assert image.getpixel((1, 0)) == (255, 255, 255)
    assert image.getpixel((0, 1)) == (0, 0, 255)
    assert image.getpixel((1, 1)) == (0, 255, 0)


def test_bmp_errors() -> None:
    with pytest.raises(PhotoDecodeError, match="did not produce a BMP"):
        bmp_to_png(bytes(BMP_SIZE))
    header = b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 8, 0, 0, 0, 0, 0, 0)
    with pytest.raises(PhotoDecodeError, match="unsupported BMP"):
        bmp_to_png(header + info)
    info = struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 24, 0, 0, 0, 0, 0, 0)
    with pytest.raises(PhotoDecodeError, match="truncated"):
        bmp_to_png(header + info)
