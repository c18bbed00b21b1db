"""The driver against the simulated module over a real pty: every flow and every fault."""

from __future__ import annotations

import dataclasses

import pytest

from drivers.errors import DeviceTimeout, FrameError, NoDeviceError, UserActionError
from drivers.fingerprint.commands import Instruction
from drivers.fingerprint.errors import (
    EnrollMismatchError,
    FingerNotLiftedError,
    FingerprintFrameError,
    FingerprintTimeout,
    FingerprintTransportError,
    ImageQualityError,
    ModuleFaultError,
    NoFingerError,
    PasswordError,
    TemplateIdError,
    TemplateReadError,
)
from drivers.fingerprint.module import FingerprintModule, ModuleSettings
from govedge.health import HealthState
from sim.fingerprint import FingerprintSimulator, synthetic_template


def test_open_reads_parameters_and_info(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.enroll(0, "alice")
    info = module.info()
    assert info["library_size"] == 200
    assert info["packet_size"] == 128
    assert info["baudrate"] == 57600
    assert info["address"] == 0xFFFFFFFF
    assert info["password_verified"] is True
    assert info["templates"] == 1
    assert module.count() == {"count": 1}
    assert module.health().state is HealthState.ONLINE


def test_enroll_then_verify_and_search(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.place_finger("alice-right-thumb", tap=True)
    assert module.enroll(5) == {"enrolled": True, "id": 5}
    assert sim.module.library[5] == synthetic_template("alice-right-thumb")
    result = module.verify(5)
    assert result["match"] is True and result["score"] > 0
    assert module.identify() == {"found": True, "id": 5, "score": result["score"]}
    sim.module.place_finger("bob-left-index", tap=True)
    assert module.verify(5) == {"match": False, "score": 0, "id": 5}
    assert module.identify() == {"found": False, "id": -1, "score": 0}
    assert module.count() == {"count": 1}


def test_enroll_runs_the_documented_command_sequence(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.place_finger("carol", tap=True)
    sim.module.received.clear()
    module.enroll(1)
    assert sim.module.received == [
        Instruction.GEN_IMG,  # first capture
        Instruction.IMG2TZ,
        Instruction.GEN_IMG,  # finger lifted
        Instruction.GEN_IMG,  # second capture
        Instruction.IMG2TZ,
        Instruction.REG_MODEL,
        Instruction.STORE,
    ]


def test_high_speed_search(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    sim.module.enroll(42, "dave")
    sim.module.place_finger("dave")
    settings = dataclasses.replace(fast, high_speed_search=True)
    with FingerprintModule(sim.url, settings) as module:
        assert module.identify()["id"] == 42
    assert Instruction.HIGH_SPEED_SEARCH in sim.module.received
    assert Instruction.SEARCH not in sim.module.received


def test_delete_and_clear(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    for page in range(4):
        sim.module.enroll(page, f"finger-{page}")
    assert module.delete(1) == {"deleted": 1, "id": 1}
    assert sorted(sim.module.library) == [0, 2, 3]
    module.delete(2, count=2)
    assert sorted(sim.module.library) == [0]
    assert module.clear() == {"cleared": True}
    assert module.count() == {"count": 0}


def test_template_upload_and_download(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    for packet_size in (32, 64, 128, 256):
        sim.module.packet_size = packet_size
        sim.module.enroll(3, "erin")
        with FingerprintModule(sim.url, fast) as module:
            template = module.read_template(3)
            assert template == synthetic_template("erin")
            module.write_template(9, template)
        assert sim.module.library[9] == template
        del sim.module.library[9]


def test_downloaded_template_is_matched(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    module.write_template(7, synthetic_template("frank"))
    sim.module.place_finger("frank")
    assert module.verify(7)["match"] is True


def test_verify_unknown_or_out_of_range_id(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.received.clear()
    with pytest.raises(TemplateReadError) as empty:
        module.verify(3)
    assert sim.module.received == [Instruction.LOAD_CHAR]  # nobody was asked for a finger
    assert empty.value.code == 0x0C and empty.value.health is HealthState.ONLINE
    with pytest.raises(TemplateIdError) as beyond:
        module.verify(500)
    assert beyond.value.code == 0x0B


def test_no_finger(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    sim.module.enroll(0, "lee")
    with pytest.raises(NoFingerError) as caught:
        module.verify(0)
    assert isinstance(caught.value, UserActionError)
    assert caught.value.health is HealthState.USER_ERROR
    assert "no finger placed within" in str(caught.value)
    assert module.health().state is HealthState.USER_ERROR


def test_finger_not_lifted_between_captures(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.place_finger("gina")  # stays on the sensor
    with pytest.raises(FingerNotLiftedError) as caught:
        module.enroll(1)
    assert caught.value.health is HealthState.USER_ERROR
    assert 1 not in sim.module.library


@pytest.mark.parametrize(
    ("quality", "code"), [("messy", 0x06), ("few_features", 0x07), ("capture_fail", 0x03)]
)
def test_bad_images(
    module: FingerprintModule, sim: FingerprintSimulator, quality: str, code: int
) -> None:
    sim.module.place_finger("hana", quality)
    with pytest.raises(ImageQualityError) as caught:
        module.identify()
    assert caught.value.code == code
    assert caught.value.health is HealthState.USER_ERROR


def test_enroll_mismatch(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    sim.module.place_finger("ivan", tap=True)
    sim.module.force_code(Instruction.REG_MODEL, 0x0A)
    with pytest.raises(EnrollMismatchError) as caught:
        module.enroll(2)
    assert caught.value.code == 0x0A


def test_flash_error_on_store(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    sim.module.place_finger("jo", tap=True)
    sim.module.force_code(Instruction.STORE, 0x18)
    with pytest.raises(ModuleFaultError) as caught:
        module.enroll(2)
    assert caught.value.code == 0x18
    report = module.health()
    assert report.state is HealthState.HARDWARE_ERROR
    assert "flash" in report.detail
    assert module.count() == {"count": 0}
    assert module.health().state is HealthState.ONLINE


def test_wrong_password(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    sim.module.password = 0x0BADC0DE
    sim.module.verified = False
    with pytest.raises(PasswordError) as caught:
        FingerprintModule(sim.url, fast).open()
    assert caught.value.code == 0x13
    with FingerprintModule(sim.url, dataclasses.replace(fast, password=0x0BADC0DE)) as module:
        assert module.count() == {"count": 0}


def test_injected_wrong_password(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    sim.module.inject("wrong_password")
    module = FingerprintModule(sim.url, fast)
    with pytest.raises(PasswordError):
        module.open()
    module.open()  # the fault was for one handshake only
    module.close()


def test_bad_checksum_is_retried_and_counted(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.inject("bad_checksum")
    assert module.count() == {"count": 0}
    report = module.health()
    assert report.counters["bad_checksum"] == 1
    assert report.counters["retries"] == 1
    assert report.errors >= 1
    assert report.state is HealthState.ONLINE


def test_bad_checksum_twice_is_a_frame_error(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.inject("bad_checksum", times=2)
    with pytest.raises(FingerprintFrameError) as caught:
        module.count()
    assert isinstance(caught.value, FrameError)
    assert module.health().counters["bad_checksum"] == 2
    assert module.count() == {"count": 0}  # the next command is fine


def test_torn_answer_is_resynchronised(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.enroll(0, "kim")
    sim.module.inject("torn", times=3)
    assert module.count() == {"count": 1}
    assert module.info()["library_size"] == 200
    assert module.health().counters["retries"] == 0
    assert module.health().errors >= 3


def test_noise_before_an_answer(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    sim.module.inject("noise", times=2)
    assert module.count() == {"count": 0}
    assert module.count() == {"count": 0}
    assert module.health().counters["noise_bytes"] >= 10


def test_silent_module_times_out(module: FingerprintModule, sim: FingerprintSimulator) -> None:
    sim.module.inject("silent")
    with pytest.raises(FingerprintTimeout) as caught:
        module.count()
    assert isinstance(caught.value, DeviceTimeout)
    assert module.health().state is HealthState.OFFLINE
    assert module.health().counters["timeouts"] == 1
    assert module.count() == {"count": 0}


def test_packet_receive_error_is_retried(
    module: FingerprintModule, sim: FingerprintSimulator
) -> None:
    sim.module.force_code(Instruction.TEMPLATE_NUM, 0x01)
    assert module.count() == {"count": 0}
    assert module.health().counters["retries"] == 1


def test_other_address(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    with pytest.raises(FingerprintTimeout):
        FingerprintModule(sim.url, dataclasses.replace(fast, address=0x12345678)).open()
    sim.module.address = 0x12345678
    with FingerprintModule(sim.url, dataclasses.replace(fast, address=0x12345678)) as module:
        assert module.info()["address"] == 0x12345678


def test_no_device(fast: ModuleSettings) -> None:
    with pytest.raises(NoDeviceError):
        FingerprintModule("/dev/no-such-fingerprint", fast).open()


def test_port_vanishes(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    module = FingerprintModule(sim.url, fast)
    module.open()
    sim.stop()
    with pytest.raises((FingerprintTransportError, FingerprintTimeout)) as caught:
        module.count()
    assert caught.value.health in (HealthState.OFFLINE, HealthState.NO_DEVICE)
    module.close()
    module.close()


def test_not_open(fast: ModuleSettings) -> None:
    with pytest.raises(FingerprintTransportError):
        FingerprintModule("/dev/null", fast).count()


def test_url_with_baudrate(sim: FingerprintSimulator, fast: ModuleSettings) -> None:
    for url in (f"{sim.url}?baudrate=57600", f"serial://{sim.url}?baud=115200"):
        with FingerprintModule(url, fast) as module:
            assert module.count() == {"count": 0}
