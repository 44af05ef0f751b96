"""Print the fault probes' table from the JSON-lines file `make test-faults` collected; exit 1 on a bad count."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from faultlog import BAD_COUNTS, COUNTS  # type: ignore[import-not-found]  # run as a script from tests/faults


def main(path: str) -> int:
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    width = max([len("probe"), *(len(str(row["probe"])) for row in rows)])
    print(f"{'probe':<{width}}  " + "  ".join(f"{name:>10}" for name in COUNTS))
    bad = 0
    for row in rows:
        print(f"{row['probe']:<{width}}  " + "  ".join(f"{row[name]:>10}" for name in COUNTS))
        bad += sum(int(row[name]) for name in BAD_COUNTS)
    totals = {name: sum(int(row[name]) for row in rows) for name in COUNTS}
    print(f"{'total':<{width}}  " + "  ".join(f"{totals[name]:>10}" for name in COUNTS))
    kinds = "/".join(BAD_COUNTS)
    print("every bad count is 0" if bad == 0 else f"{bad} bad outcomes ({kinds})")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
