"""Tampering on the terminal is found by the hub and by ``govedge evidence verify``; a cut upload
resumes from the hub's offset; third-party checks of signatures, certificate chain and tus."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import random
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from edge_agent.evidence.sync import EvidenceSync
from govedge.contract import evidence as ev
from hub.inspection.api import INSPECTION
from hub.inspection.uploads import PhotoStore

from .conftest import InspectionHub, Terminal


def photo(i: int, size: int = 50_000) -> bytes:
    return random.Random(i).randbytes(size)


async def record_some(t: Terminal, task_id: str, count: int, first: int = 0) -> None:
    for i in range(count):
        await asyncio.to_thread(
            t.store.append,
            task_id=task_id,
            item_id=f"q{i % 3}",
            answer="pass",
            note="",
            inspector_id="insp-007",
            photo=photo(first + i),
            position=ev.Position(31.2, 121.4, 1, 8, 1.0, 0.2),
            since_contact_s=None,
        )


async def evidence_verify(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "govedge", "evidence", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_altered_record_is_refused_by_name(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-tamper-1")
    await h.task("A1", t.device_id)
    await record_some(t, "A1", 5)
    # someone edits record 3 on the terminal (the answer) after it was recorded
    db = sqlite3.connect(t.store.folder / "evidence.db")
    body = db.execute("SELECT body FROM records WHERE seq = 3").fetchone()[0]
    db.execute("UPDATE records SET body = ? WHERE seq = 3", (body.replace(b'"pass"', b'"fail"'),))
    db.commit()
    db.close()
    # govedge evidence verify on the terminal's store names it
    out = await evidence_verify(str(t.store.folder), "--cert", str(t.identity.cert))
    assert out.returncode == 1
    assert "record seq 3" in out.stdout and "signature" in out.stdout
    async with aiohttp.ClientSession() as session:
        report = await t.sync.sync_once(session)
    assert report.refused is not None
    assert report.refused["seq"] == 3 and "signature" in report.refused["reason"]
    assert report.acked_through == 2  # what was valid is kept
    status, bundle = await h.call("GET", "/api/v1/inspection/tasks/A1/bundle")
    assert status == 200
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    assert sorted(n for n in zf.namelist() if n.endswith(".json") and "/" in n) == [
        "records/1.json",
        "records/2.json",
    ]


async def test_altered_photo_is_refused_by_name(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-tamper-2")
    await h.task("A2", t.device_id)
    await record_some(t, "A2", 4)
    sha = t.store.pending()[1].photo_sha256
    path = t.store.photo_path(sha)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    out = await evidence_verify(str(t.store.folder), "--cert", str(t.identity.cert))
    assert out.returncode == 1 and "record seq 2" in out.stdout and "photo" in out.stdout
    async with aiohttp.ClientSession() as session:
        report = await t.sync.sync_once(session)
    assert report.refused is not None and report.refused["seq"] == 2
    assert sha in report.refused["reason"]
    assert report.acked_through == 1
    assert h.hub.extensions[INSPECTION].photos.counters["hash_mismatch"] == 1


async def test_record_for_another_terminals_task_is_refused(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-own")
    other = h.terminal("insp-other")
    await h.task("MINE", t.device_id)
    await h.task("THEIRS", other.device_id)
    await record_some(t, "MINE", 1)
    await record_some(t, "THEIRS", 1, first=10)
    async with aiohttp.ClientSession() as session:
        report = await t.sync.sync_once(session)
    assert report.refused is not None and report.refused["seq"] == 2
    assert "not assigned" in report.refused["reason"]
    assert report.acked_through == 1


async def test_tampered_bundle_names_the_record(
    inspection_hub: InspectionHub, tmp_path: Path
) -> None:
    h = inspection_hub
    t = h.terminal("insp-bundle")
    await h.task("B1", t.device_id)
    await record_some(t, "B1", 3)
    async with aiohttp.ClientSession() as session:
        assert (await t.sync.sync_once(session)).acked_through == 3
    _, bundle = await h.call("GET", "/api/v1/inspection/tasks/B1/bundle")
    good = tmp_path / "good.zip"
    good.write_bytes(bundle)
    root = tmp_path / "root.pem"
    root.write_bytes(
        h.ca.chain_pem().split(b"-----END CERTIFICATE-----\n")[1] + b"-----END CERTIFICATE-----\n"
    )
    out = await evidence_verify(str(good), "--root", str(root))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "3 records signed by the device and chained by hash" in out.stdout
    assert "3 photos hash to the values their records signed" in out.stdout
    assert "(root trusted)" in out.stdout

    def rewrite(name: str, change: Callable[[bytes], bytes]) -> Path:
        src = zipfile.ZipFile(io.BytesIO(bundle))
        path = tmp_path / f"bad-{name.replace('/', '_')}.zip"
        with zipfile.ZipFile(path, "w") as dst:
            for n in src.namelist():
                data = src.read(n)
                dst.writestr(n, change(data) if n == name else data)
        return path

    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle)).read("manifest.json"))
    sha = manifest["photos"][1]
    bad_photo = rewrite(f"photos/{sha}.jpg", lambda d: d[:-1] + bytes([d[-1] ^ 1]))
    out = await evidence_verify(str(bad_photo))
    assert out.returncode == 1 and "record seq 2: its photo does not hash" in out.stdout
    bad_record = rewrite("records/3.json", lambda d: d.replace(b"insp-007", b"insp-008"))
    out = await evidence_verify(str(bad_record), "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 1 and report["bad_seq"] == 3 and "signature" in report["problem"]
    # a record taken out of the middle breaks the chain at the next one
    src = zipfile.ZipFile(io.BytesIO(bundle))
    m = json.loads(src.read("manifest.json"))
    m["records"] = [r for r in m["records"] if r["seq"] != 2]
    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(cut, "w") as dst:
        for n in src.namelist():
            if n != "manifest.json":
                dst.writestr(n, src.read(n))
        dst.writestr("manifest.json", json.dumps(m))
    out = await evidence_verify(str(cut))
    assert out.returncode == 1 and "record seq 3" in out.stdout and "gap" in out.stdout


async def test_bundle_with_wrong_certificates_is_reported_not_raised(
    inspection_hub: InspectionHub,
) -> None:
    """A device certificate the fleet CA may issue but records cannot be checked with (Ed25519),
    an unreadable chain and a chain of one certificate each become the report's problem."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import Encoding

    from hub.inspection.bundle import verify_bundle

    h = inspection_hub
    t = h.terminal("insp-edkey")
    await h.task("E1", t.device_id)
    await record_some(t, "E1", 2)
    async with aiohttp.ClientSession() as session:
        assert (await t.sync.sync_once(session)).acked_through == 2
    _, bundle = await h.call("GET", "/api/v1/inspection/tasks/E1/bundle")
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(bundle)).read("manifest.json"))
    cert_name = manifest["records"][0]["cert"]

    def rewritten(name: str, data: bytes) -> bytes:
        src = zipfile.ZipFile(io.BytesIO(bundle))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for n in src.namelist():
                dst.writestr(n, data if n == name else src.read(n))
        return out.getvalue()

    assert verify_bundle(bundle).ok
    other_key = ed25519.Ed25519PrivateKey.generate().public_key()
    ed_cert = h.ca.sign_device_key(t.device_id, other_key).public_bytes(Encoding.PEM)
    report = verify_bundle(rewritten(cert_name, ed_cert))
    assert report.problem == f"{cert_name} holds no elliptic-curve key to check signatures with"
    assert report.bad_seq == 1
    report = verify_bundle(rewritten("certs/chain.pem", b"not a certificate"))
    assert (report.problem or "").startswith("the certificate chain does not hold")
    one = h.ca.chain_pem().split(b"-----END CERTIFICATE-----\n")[0] + b"-----END CERTIFICATE-----\n"
    report = verify_bundle(rewritten("certs/chain.pem", one))
    assert (report.problem or "").startswith("the certificate chain does not hold")


async def test_third_party_checks_of_the_bundle(
    inspection_hub: InspectionHub, tmp_path: Path
) -> None:
    """cryptography's ECDSA verify on a record directly; openssl verify on the device chain."""
    h = inspection_hub
    t = h.terminal("insp-3p")
    await h.task("C1", t.device_id)
    await record_some(t, "C1", 2)
    async with aiohttp.ClientSession() as session:
        await t.sync.sync_once(session)
    _, bundle = await h.call("GET", "/api/v1/inspection/tasks/C1/bundle")
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    manifest = json.loads(zf.read("manifest.json"))
    cert_pem = zf.read(manifest["records"][0]["cert"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    body, sig = zf.read("records/1.json"), zf.read("records/1.sig")
    key.verify(sig, body, ec.ECDSA(hashes.SHA256()))  # raises if it does not hold
    record = json.loads(body)
    assert (
        record["photo_sha256"]
        == hashlib.sha256(zf.read(f"photos/{record['photo_sha256']}.jpg")).hexdigest()
    )
    assert json.loads(zf.read("records/2.json"))["prev_hash"] == hashlib.sha256(body).hexdigest()
    chain = x509.load_pem_x509_certificates(zf.read("certs/chain.pem"))
    (tmp_path / "device.pem").write_bytes(cert_pem)
    (tmp_path / "intermediate.pem").write_bytes(chain[0].public_bytes(_pem()))
    (tmp_path / "root.pem").write_bytes(chain[1].public_bytes(_pem()))
    out = await asyncio.to_thread(
        subprocess.run,
        [
            "openssl",
            "verify",
            "-CAfile",
            str(tmp_path / "root.pem"),
            "-untrusted",
            str(tmp_path / "intermediate.pem"),
            str(tmp_path / "device.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0 and ": OK" in out.stdout, out.stdout + out.stderr


def _pem():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM


class CuttingProxy:
    """A TCP relay that drops both sides once ``cut_after`` bytes went client to server."""

    def __init__(self, target_port: int, cut_after: int | None) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.forwarded = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, count: bool) -> None:
            try:
                while data := await src.read(65536):
                    if count and self.cut_after is not None:
                        room = self.cut_after - self.forwarded
                        if room <= 0:
                            break
                        data = data[:room]
                        self.forwarded += len(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for w in (writer, up_w):
                    w.close()

        await asyncio.gather(pipe(reader, up_w, True), pipe(up_r, writer, False))

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def _appends_done(photos: PhotoStore, sha: str, timeout: float = 30.0) -> None:
    """Wait until the hub has begun and finished an append to ``sha`` (its lock made, and free)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (lock := photos.locks.get(sha)) is None or lock.locked():
        assert loop.time() < deadline, f"the hub is still appending to {sha}"
        await asyncio.sleep(0.02)


async def test_cut_upload_resumes_from_the_hubs_offset(inspection_hub: InspectionHub) -> None:
    h = inspection_hub
    t = h.terminal("insp-resume")
    await h.task("U1", t.device_id)
    big = random.Random(99).randbytes(3_000_000)
    await asyncio.to_thread(
        t.store.append,
        task_id="U1",
        item_id="q0",
        answer="fail",
        note="",
        inspector_id="insp-007",
        photo=big,
        position=None,
        since_contact_s=None,
    )
    proxy = CuttingProxy(h.port, cut_after=1_500_000)
    await proxy.start()
    cut = EvidenceSync(t.store, f"https://127.0.0.1:{proxy.port}", t.sync.tls)
    async with aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ClientError, ConnectionError)):
            await cut.sync_once(session)
    await proxy.stop()
    photos = h.hub.extensions[INSPECTION].photos
    sha = hashlib.sha256(big).hexdigest()
    await _appends_done(photos, sha)  # the hub may still be writing what it read before the cut
    held = photos.state(sha)
    # the photo went in one request: the hub keeps every byte it read before the cut
    assert held is not None and 0 < held[0] < 3_000_000, held
    assert not held[2]
    before = photos.counters["bytes_received"]
    async with aiohttp.ClientSession() as session:
        report = await t.sync.sync_once(session)
    assert report.refused is None and report.acked_through == 1
    assert report.bytes_resumed == held[0]
    assert report.bytes_sent == len(big) - held[0]  # not from the start
    assert photos.counters["bytes_received"] - before == len(big) - held[0]
    _, bundle = await h.call("GET", "/api/v1/inspection/tasks/U1/bundle")
    zf = zipfile.ZipFile(io.BytesIO(bundle))
    assert zf.read(f"photos/{hashlib.sha256(big).hexdigest()}.jpg") == big


async def test_tuspy_uploads_to_the_hub(
    inspection_hub: InspectionHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reference tus client (tuspy) against the hub's server, with the device certificate."""
    from tusclient import client as tus

    h = inspection_hub
    t = h.terminal("insp-tuspy")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(t.identity.ca))
    data = photo(7, 300_000)
    sha = hashlib.sha256(data).hexdigest()
    my = tus.TusClient(
        h.url + "/api/v1/inspection/uploads",
        client_cert=(str(t.identity.cert), str(t.identity.key)),
    )
    uploader = my.uploader(
        file_stream=io.BytesIO(data), chunk_size=100_000, metadata={"sha256": sha}
    )

    def run() -> None:
        uploader.upload_chunk()  # one chunk, then a fresh uploader asks the offset (resume)
        again = my.uploader(file_stream=io.BytesIO(data), chunk_size=100_000, url=uploader.url)
        assert again.get_offset() == 100_000
        again.offset = again.get_offset()
        again.upload()

    await asyncio.to_thread(run)
    assert h.hub.extensions[INSPECTION].photos.complete(sha)


async def test_hash_taken_across_requests_refuses_a_bad_last_piece(
    inspection_hub: InspectionHub,
) -> None:
    """The hub hashes a photo as its pieces arrive (written and hashed off its event loop, and
    its running hash kept between requests, or taken again from the part file when lost): a
    photo whose last piece is altered is refused with 460 and dropped; sent right, it is held
    whole, byte for byte."""
    h = inspection_hub
    t = h.terminal("insp-pieces")
    data = random.Random(7).randbytes(2_500_000)
    sha = hashlib.sha256(data).hexdigest()
    photos = h.hub.extensions[INSPECTION].photos
    url = f"{h.url}/api/v1/inspection/uploads"
    tus = {"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream"}

    async def send(session: aiohttp.ClientSession, body: bytes, forget: bool) -> int:
        create = {
            **tus,
            "Upload-Length": str(len(body)),
            "Upload-Metadata": "sha256 " + base64.b64encode(sha.encode()).decode(),
        }
        async with session.post(url, data=body[:1_000_000], headers=create, ssl=t.sync.tls) as r:
            assert r.status == 201, await r.text()
            offset = int(r.headers["Upload-Offset"])
        assert offset == 1_000_000
        if forget:  # as after a hub restart: the running hash is taken again from the part
            photos.hashers.clear()
        while True:
            piece = body[offset : offset + 700_000]
            headers = {**tus, "Upload-Offset": str(offset)}
            async with session.patch(
                f"{url}/{sha}", data=piece, headers=headers, ssl=t.sync.tls
            ) as r:
                if r.status != 204:
                    return r.status
                offset = int(r.headers["Upload-Offset"])
            if offset == len(body):
                return 204

    bad = bytearray(data)
    bad[-10] ^= 0x01
    async with aiohttp.ClientSession() as session:
        assert await send(session, bytes(bad), forget=False) == 460
        assert photos.state(sha) is None and photos.counters["hash_mismatch"] == 1
        assert await send(session, bytes(bad), forget=True) == 460
        assert photos.state(sha) is None and photos.counters["hash_mismatch"] == 2
        assert await send(session, data, forget=True) == 204
    assert photos.state(sha) == (len(data), len(data), True)
    assert photos.path(sha).read_bytes() == data
    assert not list(photos.partial.iterdir())
