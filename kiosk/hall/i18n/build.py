"""Regenerate ``hall_en.ts`` from kiosk.hall.ui.texts and compile it to ``hall_en.qm``.

Run ``python -m kiosk.hall.i18n.build`` after changing a text. Each message's disambiguation
comment is its key, so two keys that share a Chinese text may still differ in English.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

from kiosk.hall.ui.texts import CONTEXT, TEXTS

HERE = Path(__file__).resolve().parent
TS = HERE / "hall_en.ts"
QM = HERE / "hall_en.qm"


def make_ts() -> bytes:
    """The Qt translation source (.ts) of the kiosk's texts."""
    root = ET.Element("TS", version="2.1", language="en_US", sourcelanguage="zh_CN")
    ctx = ET.SubElement(root, "context")
    ET.SubElement(ctx, "name").text = CONTEXT
    for key, (zh, en) in TEXTS.items():
        msg = ET.SubElement(ctx, "message")
        ET.SubElement(msg, "source").text = zh
        ET.SubElement(msg, "comment").text = key
        ET.SubElement(msg, "translation").text = en
    ET.indent(root)
    body: bytes = ET.tostring(root, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + b"\n"


def lrelease() -> str:
    """The path of Qt's lrelease tool."""
    found = shutil.which("pyside6-lrelease") or str(
        Path(sys.executable).with_name("pyside6-lrelease")
    )
    return found


def main() -> int:
    """Write the .ts file and compile it to .qm with lrelease."""
    TS.write_bytes(make_ts())
    done = subprocess.run([lrelease(), str(TS), "-qm", str(QM)], capture_output=True, text=True)  # noqa: S603 - argv of Qt's lrelease, no shell
    if done.returncode != 0:
        print(done.stdout + done.stderr, file=sys.stderr)
        return done.returncode
    print(f"wrote {TS.name} and {QM.name} ({len(TEXTS)} messages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
