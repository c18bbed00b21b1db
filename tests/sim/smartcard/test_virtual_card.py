"""The simulated card on vpcd's socket, seen through the real pcscd."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from drivers.smartcard.exchange import Iso7816Card
from drivers.smartcard.pcsc import PcscContext
from drivers.smartcard.socialsecurity import read_social_security_card
from sim.smartcard.card import ATR, SocialSecurityCardModel
from sim.smartcard.holders import DECK
from sim.smartcard.pcscd import PrivatePcscd, reader_conf
from sim.smartcard.virtual import VirtualCard

WAIT = 5.0


def test_reader_conf_matches_debians() -> None:
    lib = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
    assert reader_conf(35963, lib) == (
        'FRIENDLYNAME "Virtual PCD"\n'
        "DEVICENAME   /dev/null:0x8C7B\n"
        f"LIBPATH      {lib}\n"
        "CHANNELID    0x8C7B\n"
    )


def test_stack_is_private(pcsc_stack: PrivatePcscd) -> None:
    assert pcsc_stack.running
    assert pcsc_stack.socket_path.startswith(str(pcsc_stack.workdir))
    assert pcsc_stack.environ() == {"PCSCLITE_CSOCK_NAME": pcsc_stack.socket_path}
    import os

    assert os.readlink(pcsc_stack.netns) != os.readlink("/proc/self/ns/net")


def test_card_seen_by_pcscd(
    pcsc_stack: PrivatePcscd, slot_card: Callable[..., VirtualCard]
) -> None:
    reader = pcsc_stack.reader_names[1]
    card = slot_card(SocialSecurityCardModel(DECK["expired"]))
    assert card.wait_connected(WAIT)
    with PcscContext() as context:
        state = context.wait_for_card(reader, WAIT)
        assert state.atr == ATR
        with context.connect(reader) as conn:
            values = read_social_security_card(Iso7816Card(conn.transmit))
    assert values["name"] == "李秀英" and values["sex"] == "2"
    assert card.model.counters.apdus >= 16 and card.model.powered


def test_remove_and_insert(pcsc_stack: PrivatePcscd, slot_card: Callable[..., VirtualCard]) -> None:
    reader = pcsc_stack.reader_names[1]
    card = slot_card(inserted=False)
    with PcscContext() as context:
        assert not context.state(reader).present and not card.connected
        card.insert()
        context.wait_for_card(reader, WAIT)
        card.remove()
        context.wait_for_removal(reader, WAIT)
        assert not card.connected
        card.insert()
        context.wait_for_card(reader, WAIT)
    assert card.connections == 2


def test_unknown_control_code_counted() -> None:
    card = VirtualCard(SocialSecurityCardModel())
    assert card._handle(b"\x09") is None
    assert card._handle(b"\x04") == ATR
    assert card._handle(bytes.fromhex("00FE0000")) == bytes.fromhex("6D00")
    assert card.unknown_controls == 1


def test_another_pcscd_does_not_collide(
    pcsc_stack: PrivatePcscd,
    cli_env: dict[str, str],
    govedge_cmd: list[str],
    tmp_path: Path,
) -> None:
    """A second pcscd on the same vpcd ports (one left over from another run, say), started in
    a work directory holding stale socket and pid files: both run, neither sees the other."""
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "pcscd.comm").write_text("")
    (tmp_path / "run" / "pcscd.pid").write_text("999999\n")
    with PrivatePcscd(workdir=tmp_path) as other:
        assert other.vpcd_port == pcsc_stack.vpcd_port and other.pid != pcsc_stack.pid
        card = VirtualCard(SocialSecurityCardModel(), port=other.vpcd_port, netns=other.netns)
        card.start()
        try:
            assert card.wait_connected(WAIT)
            out = subprocess.run(
                [*govedge_cmd, "device", "smartcard", "read", "--wait", "5", "--json"],
                env=dict(cli_env, **other.environ()),
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            card.stop()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["reader"] == "Virtual PCD 00 00"
    with PcscContext() as context:
        assert context.readers() == pcsc_stack.reader_names
        assert not context.state(pcsc_stack.reader_names[1]).present


def test_stale_workdirs_reaped(tmp_path: Path) -> None:
    import os

    from sim.smartcard.pcscd import reap_stale_workdirs

    dead = tmp_path / "govedge-pcscd-999999999"
    alive = tmp_path / f"govedge-pcscd-{os.getpid()}"
    private = tmp_path / "govedge-pcscd-tmp-x1y2"
    for path in (dead, alive, private):
        (path / "run").mkdir(parents=True)
    assert reap_stale_workdirs(tmp_path) == [dead]
    assert not dead.exists() and alive.exists() and private.exists()
