"""``govedge verify-proof``: check a proof from its QR text or a photo of the receipt.

Offline with a trust list (``--trust trust.json``, the file in the hub's proof-keys folder or the
answer of ``/api/v1/services/proof-keys``); with ``--hub URL`` it fetches the trust list and
adds the proof's revocation status. Exit 0: valid; 1: not valid; 2: bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from hub.services.codec import Verdict, verify_qr
from hub.services.errors import KeyringError, ServicesError
from hub.services.keys import TrustList


def register(parser: argparse.ArgumentParser) -> None:
    """Add the proof verify command's arguments."""
    parser.add_argument("text", nargs="?", help="the QR text (GE1:...); or use --image")
    parser.add_argument("--image", type=Path, help="a photo or scan of the receipt (PNG, JPEG)")
    parser.add_argument("--trust", type=Path, help="trust list (JSON) of the issuers' public keys")
    parser.add_argument("--hub", help="hub URL: fetch its public keys and the revocation status")
    parser.add_argument(
        "--at", type=float, help="check as of this Unix time (default: now)", default=None
    )
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.set_defaults(func=run)


def read_qr_image(path: Path) -> str:
    """The text of the QR code in an image, decoded with OpenCV's QR detector."""
    try:
        import cv2
    except ImportError:
        raise ServicesError(
            "reading a photo needs OpenCV (pip install opencv-python-headless, or the face "
            "extra); or give the QR text"
        ) from None

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise ServicesError(f"{path}: not a readable image")
    # A receipt is tall and narrow with text around the code; try the image as it is, then
    # padded with white (a quiet zone) and scaled, as a photo or scan may need. OpenCV's classic
    # detector misses a few codes in every hundred, whatever their size; its ArUco-based one
    # (OpenCV 4.7+) reads most of those, so both are tried.
    detectors: list[Any] = [cv2.QRCodeDetector()]
    if hasattr(cv2, "QRCodeDetectorAruco"):
        detectors.append(cv2.QRCodeDetectorAruco())
    padded = cv2.copyMakeBorder(image, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    candidates = [
        image,
        padded,
        cv2.resize(padded, None, fx=0.5, fy=0.5),
        cv2.resize(padded, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST),
    ]
    for detector in detectors:
        for candidate in candidates:
            ok, texts, _, _ = detector.detectAndDecodeMulti(candidate)
            found = [t for t in (texts if ok else ()) if t]
            if found:
                proofs = [t for t in found if t.startswith("GE1:")]
                return str((proofs or found)[0])
            text, _, _ = detector.detectAndDecode(candidate)
            if text:
                return str(text)
    raise ServicesError(f"{path}: no QR code found in the image")


def _fetch_json(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ServicesError(f"{url}: the hub's address must start with http:// or https://")
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - http(s), checked above
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise ServicesError(f"{url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServicesError(f"{url}: {exc}") from None


def check(
    text: str, trust: TrustList, at: float | None, hub: str | None
) -> tuple[bool, Verdict, dict[str, Any] | None]:
    """Check a proof offline and, given a hub, its revocation status there."""
    verdict = verify_qr(text, trust, now=at)
    status = None
    valid = verdict.valid
    if verdict.valid and hub:
        proof_id = str(verdict.document.get("id", ""))
        status = _fetch_json(
            f"{hub.rstrip('/')}/api/v1/services/proofs/{urllib.parse.quote(proof_id)}/status"
        )
        if status is not None and (
            status.get("revoked") or status.get("document_hash") != verdict.document_hash
        ):
            valid = False
    return valid, verdict, status


def run(args: argparse.Namespace) -> int:
    """Verify a proof from its text or a photo and print the verdict; exit 1 when invalid."""
    try:
        if args.image:
            text = read_qr_image(args.image)
        elif args.text:
            text = args.text
        else:
            print("verify-proof: give the QR text or --image FILE", file=sys.stderr)
            return 2
        if args.trust:
            trust = TrustList.from_file(args.trust)
        elif args.hub:
            trust = TrustList.from_json(
                _fetch_json(args.hub.rstrip("/") + "/api/v1/services/proof-keys")
            )
        else:
            print("verify-proof: give --trust FILE or --hub URL", file=sys.stderr)
            return 2
        valid, verdict, status = check(text, trust, args.at, args.hub)
    except (ServicesError, KeyringError) as exc:
        print(f"verify-proof: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {"valid": valid, "offline": verdict.as_json(), "status": status},
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0 if valid else 1
    print(_describe(valid, verdict, status, args.at))
    return 0 if valid else 1


def _describe(
    valid: bool, verdict: Verdict, status: dict[str, Any] | None, at: float | None
) -> str:
    doc = verdict.document
    lines = [("VALID" if valid else "NOT VALID") + f": {verdict.message}"]
    if status is not None and status.get("revoked"):
        lines.append(f"REVOKED at {status.get('revoked_at')}: {status.get('revoke_reason')}")
    elif status is not None and status.get("document_hash") != verdict.document_hash:
        lines.append("the issuer does not know this document under this proof id")
    if doc:
        title = doc.get("ti") or {}
        subject = doc.get("sb") or {}
        issuer = doc.get("is") or {}
        lines += [
            f"  proof      {title.get('zh-CN', '')} / {title.get('en', '')}",
            f"  proof id   {doc.get('id')}",
            f"  subject    {subject.get('nm')}  {subject.get('id')}",
            f"  issued by  {issuer.get('nm')} ({issuer.get('en')}), {issuer.get('hl')}",
            f"  issued     {_iso(doc.get('iat'))}",
            f"  expires    {_iso(doc.get('exp'))}",
        ]
        for key, value in (doc.get("at") or {}).items():
            lines.append(f"  {key:<10} {value}")
    if verdict.kid:
        lines.append(f"  key id     {verdict.kid}")
    if status is None and valid:
        lines.append("  (offline check; revocation not checked: give --hub URL to check it)")
    if at is not None:
        lines.append(f"  checked as of {_iso(at)}")
    return "\n".join(lines)


def _iso(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))
    except (TypeError, ValueError):
        return "?"
