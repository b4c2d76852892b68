"""Peak memory of colorizing a short and a long video: streaming keeps it flat.

Each clip is colorized (`--temporal flow`, the default) in a fresh Python process, whose peak
resident memory (ru_maxrss) is printed, with the ratio of the long clip's to the short one's.

    nice -n 10 python benchmarks/video_memory.py --seconds 10 60 --width 640 --height 360
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from video_clips import make_clip  # noqa: E402

_CHILD = """
import json, resource, sys, time, warnings
warnings.simplefilter("ignore", UserWarning)
sys.path.insert(0, {src!r})
from colorizekit.infer.colorizer import Colorizer
t0 = time.perf_counter()
result = Colorizer(device="cpu").colorize_video({clip!r}, {out!r}, progress=False)
print(json.dumps({{"frames": result.frames, "seconds": time.perf_counter() - t0,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()
    src = str(Path(__file__).resolve().parents[1] / "src")
    peaks = []
    print(f"{args.width} x {args.height} at {args.fps} fps, default model, --temporal flow")
    print("| clip | frames | peak memory (MiB) | s |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for seconds in args.seconds:
            clip = make_clip(Path(folder) / f"clip{seconds:g}.mp4", args.width, args.height, args.fps, seconds)
            code = _CHILD.format(src=src, clip=str(clip), out=str(Path(folder) / f"out{seconds:g}.mp4"))
            run = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                            text=True).stdout.strip().splitlines()[-1])
            peaks.append(run["peak_mib"])
            print(f"| {seconds:g} s | {run['frames']} | {run['peak_mib']:.0f} | {run['seconds']:.0f} |")
    print(f"longest / shortest peak: {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
