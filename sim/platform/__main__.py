"""``python -m sim.platform``: a simulated 一网通办 platform with sample applications."""

from __future__ import annotations

import argparse
import time
from datetime import datetime, timedelta

from sim.platform.server import CST, PlatformSimulator


def main() -> int:
    """Run the simulated government platform."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--token", default="platform-token")
    args = parser.parse_args()
    sim = PlatformSimulator(token=args.token).start()
    start = datetime.now(CST) - timedelta(days=3)
    sim.add("YW-2026-000123", "residence-permit-endorsement", start)
    sim.step("YW-2026-000123", "02", "材料齐全", start + timedelta(hours=2))
    sim.step("YW-2026-000123", "03", "", start + timedelta(days=1))
    sim.add("YW-2026-000456", "residence-permit-endorsement", start)
    for code, days in (("02", 0.1), ("03", 1), ("04", 2), ("05", 2.5)):
        sim.step("YW-2026-000456", code, "", start + timedelta(days=days))
    print(f"platform on {sim.url} (token {args.token}); applications YW-2026-000123, -000456")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
