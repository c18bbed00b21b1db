"""Proof services: proofs issued per second (document, COSE_Sign1 signature, zlib, Base45 and the
ledger append, committed) beside bare Ed25519 signatures of the same document; proofs verified
per second beside bare Ed25519 verifications; and one kiosk's proof latency (p95) through the
HTTP API of a real hub on loopback, beside a public GET on the same hub.

All in the same run, on SQLite in a temporary folder; each batch of the figure is timed beside a
batch of its baseline, so that both see the same load on a shared machine.

    python -m bench.services
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.common import BenchResult
from hub.db import make_engine
from hub.services.codec import encode_document, verify_qr
from hub.services.keys import ProofKeyring
from hub.services.ledger import Ledger
from hub.services.proofs import ProofRequest, ProofService, Subject
from hub.services.tables import create_tables
from hub.settings import HubConfig, ServicesConfig

QUICK = os.environ.get("GOVEDGE_BENCH_QUICK") == "1"
PROOFS = 1000 if QUICK else 5000
BATCH = 100
SINGLE = 200 if QUICK else 1000
CONCURRENT = 400 if QUICK else 2000
KIOSKS = 8
KIOSK_CALLS = 100 if QUICK else 400
ID_NUMBER = "11010519491231002X"  # synthetic (GB 11643 check character valid)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def _requests(prefix: str, n: int) -> list[ProofRequest]:
    return [
        ProofRequest(f"{prefix}-{i}", "residence_proof", Subject(ID_NUMBER, "张三丰"), "hall-1")
        for i in range(n)
    ]


def _kiosks_at_once(service: ProofService, reqs: list[ProofRequest]) -> float:
    """Seconds for KIOSKS threads to issue ``reqs`` one by one, started together."""
    barrier = threading.Barrier(KIOSKS + 1)
    errors: list[BaseException] = []

    def kiosk(mine: list[ProofRequest]) -> None:
        try:
            barrier.wait(60)
            for req in mine:
                service.issue(req, "bench")
        except BaseException as exc:  # noqa: BLE001 - raised in the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=kiosk, args=(reqs[k::KIOSKS],)) for k in range(KIOSKS)]
    for t in threads:
        t.start()
    barrier.wait(60)
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def _issue_and_verify(folder: Path) -> list[BenchResult]:
    engine = make_engine(f"sqlite:///{folder / 'bench.db'}")
    create_tables(engine)
    keyring = ProofKeyring(folder / "keys")
    ledger = Ledger(engine, keyring, 1000)
    ledger.ensure_head()
    service = ProofService(engine, keyring, ledger, ServicesConfig())
    service.issue_many(_requests("warm", 10), "bench")

    _, key = keyring.current()
    payload = encode_document(service.document(_requests("x", 1)[0], "1.2.156", 0, 0))
    public = key.public_key()
    signature = key.sign(payload)

    # The machine is shared: each batch of proofs is timed right after as many bare signatures,
    # so that figure and baseline see the same load.
    reqs = _requests("batch", PROOFS)
    issued = []
    t_issue = t_sign = 0.0
    for i in range(0, PROOFS, BATCH):
        started = time.perf_counter()
        for _ in range(BATCH):
            key.sign(payload)
        t_sign += time.perf_counter() - started
        started = time.perf_counter()
        issued += service.issue_many(reqs[i : i + BATCH], "bench")
        t_issue += time.perf_counter() - started
    batch_rate, bare_sign = _rate(PROOFS, t_issue), _rate(PROOFS, t_sign)

    singles = _requests("single", SINGLE)
    t_single = t_sign_single = 0.0
    for req in singles:
        started = time.perf_counter()
        key.sign(payload)
        t_sign_single += time.perf_counter() - started
        started = time.perf_counter()
        service.issue(req, "bench")
        t_single += time.perf_counter() - started
    single_rate, bare_sign_single = _rate(SINGLE, t_single), _rate(SINGLE, t_sign_single)

    # Kiosks calling at once, as the hub's API threads serve them: one request each, with its
    # idempotency lookup; concurrent issues share a transaction (group commit).
    groups_before = service._group.groups
    t_many = t_sign_many = 0.0
    for r in range(0, CONCURRENT, BATCH):
        started = time.perf_counter()
        for _ in range(BATCH):
            key.sign(payload)
        t_sign_many += time.perf_counter() - started
        t_many += _kiosks_at_once(service, _requests(f"conc-{r}", BATCH))
    groups = service._group.groups - groups_before
    concurrent_rate, bare_sign_many = _rate(CONCURRENT, t_many), _rate(CONCURRENT, t_sign_many)

    trust = keyring.trust()
    texts = [p.qr_text for p in issued]
    t_verify = t_bare_verify = 0.0
    for i in range(0, len(texts), BATCH):
        started = time.perf_counter()
        for _ in range(BATCH):
            public.verify(signature, payload)
        t_bare_verify += time.perf_counter() - started
        started = time.perf_counter()
        for text in texts[i : i + BATCH]:
            assert verify_qr(text, trust).valid
        t_verify += time.perf_counter() - started
    verify_rate, bare_verify = _rate(len(texts), t_verify), _rate(len(texts), t_bare_verify)
    report = ledger.verify(trust)
    assert report.ok, report.text()
    engine.dispose()
    return [
        BenchResult(
            name=f"proofs issued, batches of {BATCH} (sign + encode + ledger append, committed)",
            figure=batch_rate,
            unit="proofs/s",
            baseline=bare_sign,
            baseline_label="bare Ed25519 sign of the same document",
            goal=">= 0.3 of bare signing",
        ),
        BenchResult(
            name="proofs issued one by one (one transaction each, idempotency lookup)",
            figure=single_rate,
            unit="proofs/s",
            baseline=bare_sign_single,
            baseline_label="bare Ed25519 sign of the same document",
        ),
        BenchResult(
            name=f"proofs issued by {KIOSKS} kiosks at once, one request each (group commit)",
            figure=concurrent_rate,
            unit="proofs/s",
            baseline=bare_sign_many,
            baseline_label="bare Ed25519 sign of the same document",
            notes=f"{CONCURRENT / max(groups, 1):.1f} proofs per transaction",
        ),
        BenchResult(
            name="proofs verified offline (Base45, zlib, COSE, signature, expiry)",
            figure=verify_rate,
            unit="proofs/s",
            baseline=bare_verify,
            baseline_label="bare Ed25519 verify",
        ),
    ]


async def _kiosk_latency(folder: Path) -> BenchResult:
    import aiohttp
    from aiohttp import web

    from hub.app import create_app
    from hub.context import HUB_KEY

    config = HubConfig(
        database_url=f"sqlite:///{folder / 'hub.db'}",
        telemetry_url=f"sqlite:///{folder / 'telemetry.db'}",
        services=ServicesConfig(proof_keys_dir=str(folder / "hub-keys")),
    )
    app = create_app(config, start_mqtt=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/api/v1"
    token = await asyncio.to_thread(app[HUB_KEY].tokens.create, "kiosk", "kiosk-bench-01")
    headers = {"Authorization": f"Bearer {token}"}
    proof_ms: list[float] = []
    get_ms: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(KIOSK_CALLS + 10):
                body = {
                    "request_id": f"kiosk-{i}",
                    "proof_type": "residence_proof",
                    "subject": {"id_number": ID_NUMBER, "name": "张三丰"},
                    "hall": "hall-1",
                    "lang": "zh-CN",
                }
                started = time.perf_counter()
                async with session.post(url + "/services/proofs", json=body, headers=headers) as r:
                    assert r.status == 201, await r.text()
                    await r.read()
                elapsed = (time.perf_counter() - started) * 1000
                started = time.perf_counter()
                async with session.get(url + "/services/proof-keys") as r:
                    await r.read()
                if i >= 10:  # warm-up
                    proof_ms.append(elapsed)
                    get_ms.append((time.perf_counter() - started) * 1000)
    finally:
        await runner.cleanup()
    return BenchResult(
        name="one kiosk's proof through the HTTP API (POST /services/proofs), p95",
        figure=_p95(proof_ms),
        unit="ms",
        baseline=_p95(get_ms),
        baseline_label="p95 of GET /services/proof-keys on the same hub",
        higher_is_better=False,
        goal="<= 50 ms",
        notes=f"median {statistics.median(proof_ms):.1f} ms over {len(proof_ms)} proofs",
    )


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18]


def run() -> list[BenchResult]:
    """Run the services benchmarks: proofs issued and verified, and the kiosk's latency."""
    with tempfile.TemporaryDirectory(prefix="govedge-bench-services-") as tmp:
        folder = Path(tmp)
        results = _issue_and_verify(folder)
        results.append(asyncio.run(_kiosk_latency(folder)))
    return results


if __name__ == "__main__":
    for result in run():
        print(result.line())
