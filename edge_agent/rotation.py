"""The ``rotate_certificate`` command: a new key and certificate, proven before they are kept.

The agent makes a new key and CSR, has the hub renew it (``POST {identity.hub_url}/api/v1/renew``,
proven with the current key), then reconnects its own MQTT link with the candidate (an identity
trial, edge_agent.identity_trial): the broker makes the certificate's name the client id, so the
link's reconnect is the only proof that does not disturb the device's session. Only a CONNACK
success keeps the new identity; a refusal anywhere (hub, TLS handshake, CONNACK, timeout)
removes the candidate files and the link goes back to the old identity, untouched
(provisioning.rotation). Once proven, the agent confirms the new identity to the hub (signed with
the new key), which revokes the old certificate after its grace period. The outcome goes in the
cmd/ack.

The identity is broker.tls's ``cert_file``/``key_file``/``ca_file``, in one directory (as
``govedge provision`` writes them). :func:`recover_identity` runs at start and finishes or undoes
a switch cut short by a power loss.
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.errors import CommandError
from govedge.errors import GovedgeError
from govedge.logs import fields, get_logger

if TYPE_CHECKING:
    from edge_agent.agent import Agent
    from provisioning.device.identity import IdentityPaths

log = get_logger(__name__)

PROOF_TIMEOUT_S = 10.0
"""How long the broker has to accept the candidate (TLS handshake and CONNACK)."""

RENEW_TIMEOUT_S = 15.0

_locks: weakref.WeakKeyDictionary[Agent, asyncio.Lock] = weakref.WeakKeyDictionary()


def identity_paths(agent: Agent) -> IdentityPaths:
    """The agent's identity files (broker.tls) as provisioning's IdentityPaths."""
    from edge_agent.agent import resolve_path
    from provisioning.device.identity import IdentityPaths

    tls = agent.config.broker.tls
    if tls is None or not tls.cert_file or not tls.key_file:
        raise CommandError("this device has no client certificate (broker.tls.cert_file)")
    cert = resolve_path(agent.base_dir, tls.cert_file)
    key = resolve_path(agent.base_dir, tls.key_file)
    ca = resolve_path(agent.base_dir, tls.ca_file)
    if not cert.parent == key.parent == ca.parent:
        raise CommandError(
            "broker.tls cert_file, key_file and ca_file must share one directory to rotate"
        )
    return IdentityPaths(cert.parent, key_name=key.name, cert_name=cert.name, ca_name=ca.name)


def _hub_tls(agent: Agent, paths: IdentityPaths) -> ssl.SSLContext:
    from edge_agent.agent import resolve_path

    configured = agent.config.identity.hub_ca_file
    cafile = resolve_path(agent.base_dir, configured) if configured else paths.ca
    try:
        return ssl.create_default_context(cafile=str(cafile))
    except (OSError, ssl.SSLError) as exc:
        raise CommandError(f"cannot load the hub's trust anchor {cafile}: {exc}") from None


async def rotate_certificate(agent: Agent, args: Mapping[str, Any]) -> dict[str, Any]:
    """Run one rotation; return what the ack reports, or raise CommandError with the reason."""
    from provisioning.device.client import renew_certificate
    from provisioning.device.rotation import ObtainResult, days_left, rotate_identity_async

    hub_url = agent.config.identity.hub_url
    if not hub_url:
        raise CommandError("identity.hub_url is not set: there is no hub to renew with")
    paths = identity_paths(agent)
    context = _hub_tls(agent, paths)
    timeout = args.get("proof_timeout_s", PROOF_TIMEOUT_S)
    if not isinstance(timeout, int | float) or not 0 < timeout <= 30:
        raise CommandError("args.proof_timeout_s must be a number of seconds in (0, 30]")
    lock = _locks.setdefault(agent, asyncio.Lock())
    if lock.locked():
        raise CommandError("a certificate rotation is already running")
    link = agent.link
    proof: dict[str, str] = {}

    async def obtain(csr: bytes) -> ObtainResult:
        result = await renew_certificate(
            hub_url, current=paths, csr_pem=csr, ssl=context, request_timeout=RENEW_TIMEOUT_S
        )
        return result.certificate.encode(), result.chain.encode()

    async def prove(candidate: IdentityPaths) -> bool:
        ok, reason = await asyncio.to_thread(
            link.try_identity,
            str(candidate.cert),
            str(candidate.key),
            str(candidate.ca),
            float(timeout),
        )
        proof["reason"] = reason
        return ok

    async with lock:
        try:
            result = await rotate_identity_async(paths, obtain, prove)
        except GovedgeError as exc:  # no readable current certificate
            raise CommandError(f"rotation not started: {exc}") from None
        if not result.ok:
            why = result.reason
            if proof.get("reason") and proof["reason"] != "accepted":
                why = f"{why} ({proof['reason']})"
            log.warning(
                "certificate_rotation_failed",
                extra=fields(serial=result.old_serial, reason=why),
            )
            raise CommandError(f"rotation failed, still on certificate {result.old_serial}: {why}")
        # the proven files were renamed into place: later connections use them there
        link.use_identity(str(paths.cert), str(paths.key), str(paths.ca))
        confirmed = await _confirm(hub_url, paths, context)
    return {
        "rotated": True,
        "device_id": result.device_id,
        "old_serial": result.old_serial,
        "serial": result.new_serial,
        "days_left": round(days_left(paths.cert), 2),
        "confirmed": confirmed,
    }


async def _confirm(hub_url: str, paths: IdentityPaths, context: ssl.SSLContext) -> bool:
    """Tell the hub the new identity is proven, so that it revokes the old certificate after
    its grace period. A failure does not undo the rotation (the hub's operator can still
    revoke); it is logged and reported in the ack."""
    from provisioning.device.rotation import confirm_rotation

    try:
        await confirm_rotation(hub_url, paths, ssl=context, request_timeout=RENEW_TIMEOUT_S)
    except GovedgeError as exc:
        log.warning("certificate_rotation_not_confirmed", extra=fields(error=str(exc)))
        return False
    return True


def recover_identity(agent: Agent) -> str:
    """Finish or undo a rotation cut short (call before the link starts); "" if no identity."""
    from provisioning.device.rotation import recover
    from provisioning.errors import RotationError

    try:
        paths = identity_paths(agent)
    except CommandError:
        return ""
    if not Path(paths.cert).exists():
        return ""
    try:
        return recover(paths)
    except RotationError as exc:
        log.error("identity_recovery_failed", extra=fields(error=str(exc)))
        return "failed"
