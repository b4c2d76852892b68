"""Photo by photo: on how many photos of each set one setting of weights has lower CIEDE2000 than
another's, from the JSON files `benchmarks/settings_sweep.py --json` writes (each photo's CIEDE2000,
in file order). `colorizekit compare` prints the same count from a fresh evaluation; this reads sweeps
already run.

    python benchmarks/paired_wins.py eff.json lite.json \\
        --a-setting 256 0.25 1.15 --b-setting 128 0.05 1.15
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from colorizekit.evaluate.results import count_wins


def setting_rows(path: Path, size: int, vividness: float | None, saturation: float) -> dict[str, dict]:
    """The rows of one setting in a sweep's JSON, by set name."""
    rows = [r for r in json.loads(path.read_text(encoding="utf-8"))
            if r["size"] == size and r["saturation"] == saturation
            and (r["vividness"] is None or vividness is None or abs(r["vividness"] - vividness) < 1e-9)]
    if not rows:
        raise ValueError(f"{path}: no rows at size {size}, vividness {vividness}, saturation {saturation}")
    return {r["set"]: r for r in rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", type=Path, help="sweep JSON of the first weights")
    p.add_argument("b", type=Path, help="sweep JSON of the second weights")
    p.add_argument("--a-setting", nargs=3, type=float, required=True, metavar=("SIZE", "VIVIDNESS", "SATURATION"),
                   help="the first's setting (vividness -1 for a model without one)")
    p.add_argument("--b-setting", nargs=3, type=float, required=True, metavar=("SIZE", "VIVIDNESS", "SATURATION"))
    args = p.parse_args(argv)
    picked = []
    for path, (size, vividness, saturation) in ((args.a, args.a_setting), (args.b, args.b_setting)):
        picked.append(setting_rows(path, int(size), None if vividness < 0 else vividness, saturation))
    a, b = picked
    print(f"{'set':<12}{'photos':>7}{'A lower':>9}{'B lower':>9}{'A share':>9}{'A dE00':>8}{'B dE00':>8}")
    for name in (n for n in a if n in b):
        x, y = a[name]["de00_photos"], b[name]["de00_photos"]
        if len(x) != len(y):
            raise ValueError(f"{name}: {len(x)} photos in {args.a}, {len(y)} in {args.b}; sweep the same sets")
        a_won, b_won, _ = count_wins(x, y, higher_is_better=False)
        print(f"{name:<12}{len(x):>7}{a_won:>9}{b_won:>9}{a_won / len(x):>9.1%}{a[name]['de00']:>8.3f}"
              f"{b[name]['de00']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
