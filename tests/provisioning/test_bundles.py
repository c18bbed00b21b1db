"""Signed config bundles: what the agent accepts and what it refuses."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.bundles import (
    BundleSigner,
    BundleVerifier,
    canonical_json,
    load_public_key,
    sign,
    verify,
)
from provisioning.ca import FleetCA
from provisioning.errors import BundleSignatureError, ProvisioningError

BUNDLE = {
    "kind": "govedge.device-config",
    "version": 3,
    "device_id": "kiosk-007",
    "config": {"poll_hz": 2.5, "printer": {"url": "socket://127.0.0.1:9100"}, "名称": "大厅"},
}


@pytest.fixture(scope="module")
def key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


def test_signed_bundle_verifies_to_its_payload(key: ed25519.Ed25519PrivateKey) -> None:
    signed = sign(BUNDLE, key)
    assert signed["format"] == "govedge-bundle/1"
    assert verify(signed, key.public_key()) == BUNDLE
    # survives a round trip through a re-indented file
    text = json.dumps(signed, indent=4, sort_keys=False, ensure_ascii=True)
    assert verify(text, key.public_key()) == BUNDLE


def test_canonical_json_is_the_documented_byte_string() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )
    with pytest.raises(ProvisioningError):
        canonical_json({"x": float("nan")})


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: s["payload"].__setitem__("device_id", "kiosk-008"),
        lambda s: s["payload"]["config"].__setitem__("poll_hz", 2.6),
        lambda s: s["payload"].__setitem__("extra", True),
        lambda s: s["payload"]["config"].pop("printer"),
        lambda s: s.__setitem__("signature", s["signature"][:-4] + "AAA="),
        lambda s: s.__setitem__("signature", "not base64!"),
        lambda s: s.__setitem__("signature", base64.b64encode(b"\0" * 64).decode()),
    ],
)
def test_tampered_bundle_is_refused(key: ed25519.Ed25519PrivateKey, tamper) -> None:
    signed = copy.deepcopy(sign(BUNDLE, key))
    tamper(signed)
    with pytest.raises(BundleSignatureError):
        verify(signed, key.public_key())


@pytest.mark.parametrize(
    "unsigned",
    [
        BUNDLE,
        {"format": "govedge-bundle/1", "payload": BUNDLE},
        {"format": "govedge-bundle/1", "payload": BUNDLE, "signature": "", "key_id": "x"},
        {"format": "other", "payload": BUNDLE, "signature": "abc", "key_id": "x"},
        b"not json",
        b"[1, 2, 3]",
        "",
    ],
)
def test_unsigned_or_malformed_bundle_is_refused(key: ed25519.Ed25519PrivateKey, unsigned) -> None:
    with pytest.raises(BundleSignatureError):
        verify(unsigned, key.public_key())


def test_bundle_signed_by_another_key_is_refused(key: ed25519.Ed25519PrivateKey) -> None:
    intruder = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(BundleSignatureError, match="unknown key"):
        verify(sign(BUNDLE, intruder), key.public_key())
    # even when the intruder claims the trusted key's id
    forged = sign(BUNDLE, intruder)
    forged["key_id"] = BundleSigner(key).key_id
    with pytest.raises(BundleSignatureError, match="does not match"):
        verify(forged, key.public_key())


def test_verifier_trusts_old_and_new_keys_across_a_hub_key_rotation(
    key: ed25519.Ed25519PrivateKey,
) -> None:
    new = ed25519.Ed25519PrivateKey.generate()
    verifier = BundleVerifier([key.public_key(), new.public_key()])
    assert verifier.verify(sign(BUNDLE, key)) == BUNDLE
    assert verifier.verify(sign(BUNDLE, new)) == BUNDLE


def test_config_desired_signature_fits_the_contract(key: ed25519.Ed25519PrivateKey) -> None:
    from govedge.contract.messages import ConfigDesiredData

    signer, verifier = BundleSigner(key), BundleVerifier(key.public_key())
    config = {"poll_hz": 2, "names": ["a", "b"]}
    signature = signer.config_signature(7, config)
    data = ConfigDesiredData(version=7, config=config, signature=signature)  # <= 256 chars
    verifier.verify_config(data.version, data.config, data.signature)
    for version, cfg, sig in (
        (8, config, signature),  # replayed under another version
        (7, {**config, "poll_hz": 3}, signature),
        (7, config, ""),
        (7, config, "rsa:abc:def"),
        (7, config, signature.replace("ed25519:", "ed25519:0")),
    ):
        with pytest.raises(BundleSignatureError):
            verifier.verify_config(version, cfg, sig)


def test_factory_bundle_key_pair_from_the_ca_dir(tmp_path: Path) -> None:
    ca = FleetCA.init(tmp_path / "ca")
    signer = BundleSigner.from_file(ca.bundle_key_path)
    verifier = BundleVerifier.from_files(ca.bundle_public_path)
    assert verifier.verify(signer.sign_bytes(BUNDLE)) == BUNDLE
    with pytest.raises(ProvisioningError):
        load_public_key(ca.chain_path)  # a certificate is not an Ed25519 public key


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(
    payload=st.dictionaries(st.text(max_size=8), json_values, max_size=6),
    flip=st.integers(0, 10**6),
)
def test_any_json_payload_round_trips_and_any_byte_flip_in_the_file_is_caught(
    key: ed25519.Ed25519PrivateKey, payload: dict, flip: int
) -> None:
    signer, verifier = BundleSigner(key), BundleVerifier(key.public_key())
    raw = signer.sign_bytes(payload)
    assert verifier.verify(raw) == payload
    damaged = bytearray(raw)
    damaged[flip % len(damaged)] ^= 0x20
    try:
        result = verifier.verify(bytes(damaged))
    except BundleSignatureError:
        return
    # a flip that JSON parsing absorbs (e.g. whitespace) must leave the payload identical
    assert result == payload
