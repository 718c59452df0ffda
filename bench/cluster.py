"""The cost of the cluster engine: ``lutcli apply --cluster local`` with 2 workers against plain
``lutcli apply --jobs 2`` on the same folder of 12 MP JPEGs, side by side in one run.

The folder is made from the sample photos (``lutcli.samples.sample_photos``), each resized to
12 MP and shifted a little per copy, saved as JPEG at quality 95. Each command runs on the
whole folder (``--photos``) and on a quarter of it: the throughput, photos/s = extra photos
over extra seconds, leaves out what a run pays once (starting Python and torch; for the
cluster, starting its worker processes), which the wall times beside it include. Prints the
commands, a Markdown table with the ratio, and writes JSON.

    .venv/bin/python bench/cluster.py                 # 24 photos, about 3 minutes on 2 cores
    .venv/bin/python bench/cluster.py --photos 48 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from machine import LUTCLI, compile_lutcli

from lutcli.samples import sample_photos

ROOT = Path(__file__).resolve().parent.parent
LOOK = ROOT / "presets" / "film.cube"
MEGAPIXELS = 12e6
JPEG_QUALITY = 95
WORKERS = 2


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=24, help="photos in the folder")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--work", type=Path, default=Path("bench-output/cluster"))
    parser.add_argument("--json", type=Path, default=Path("bench-output/cluster.json"))
    arguments = parser.parse_args()
    if arguments.photos < 4:
        parser.error("--photos must be at least 4 (a quarter of them is the small run)")
    return arguments


def make_folder(folder: Path, count: int) -> Path:
    """``count`` 12 MP JPEGs from the sample photos (kept from an earlier run when there)."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = list(sample_photos().values())
    for index in range(count):
        path = folder / f"{index:04d}.jpg"
        if path.exists():
            continue
        photo = photos[index % len(photos)]
        height, width = photo.shape[:2]
        factor = (MEGAPIXELS / (height * width)) ** 0.5
        size = (round(width * factor), round(height * factor))
        large = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
        large = np.roll(large, 97 * (index // len(photos)), axis=1)  # each copy differs
        bgr = cv2.cvtColor(large, cv2.COLOR_RGB2BGR)
        assert cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return folder


def subset(folder: Path, count: int) -> Path:
    """A folder of the first ``count`` photos of ``folder`` (hard links: no copies)."""
    small = folder.parent / f"{folder.name}-{count}"
    shutil.rmtree(small, ignore_errors=True)
    small.mkdir(parents=True)
    for path in sorted(folder.iterdir())[:count]:
        (small / path.name).hardlink_to(path)
    return small


def seconds(command: list[str], output: Path, repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``command`` into a fresh ``output``."""
    best = float("inf")
    for _ in range(repeats):
        shutil.rmtree(output, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(command, check=True)
        best = min(best, time.perf_counter() - start)
    shutil.rmtree(output, ignore_errors=True)
    return best


def main() -> None:
    arguments = parse_args()
    compile_lutcli()
    lutcli = str(LUTCLI)
    folder = make_folder(arguments.work / "photos", arguments.photos)
    sizes = {arguments.photos // 4: subset(folder, arguments.photos // 4), arguments.photos: folder}
    output = arguments.work / "out"
    ways = {
        f"lutcli apply --jobs {WORKERS}": ["--jobs", str(WORKERS)],
        f"lutcli apply --cluster local --jobs {WORKERS}": [
            "--cluster",
            "local",
            "--jobs",
            str(WORKERS),
        ],
    }
    rows = []
    for name, options in ways.items():
        times = {}
        for count, source in sizes.items():
            command = [lutcli, "apply", str(source), str(output), "--cube", str(LOOK), "-q"]
            command += ["--jpeg-quality", str(JPEG_QUALITY), *options]
            print("$", shlex.join(command), file=sys.stderr)
            times[count] = seconds(command, output, arguments.repeats)
        small, large = sorted(times)
        rate = (large - small) / (times[large] - times[small])
        rows.append({"way": name, "photos": large, "seconds": times[large], "photos_per_s": rate})
        print(f"  {rate:.2f} photos/s, {times[large]:.1f} s for {large}", file=sys.stderr)
    plain, cluster = rows
    overhead = plain["photos_per_s"] / cluster["photos_per_s"]
    print(f"\n{arguments.photos} JPEGs of 12 MP, the film look (33³), quality {JPEG_QUALITY}\n")
    print("| way | photos/s | wall time |")
    print("|---|---|---|")
    for row in rows:
        print(f"| `{row['way']}` | {row['photos_per_s']:.2f} | {row['seconds']:.1f} s |")
    print(f"\nplain / cluster throughput: {overhead:.2f}x (1.00 = no engine overhead)")
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps({"rows": rows, "plain_over_cluster": overhead}, indent=1))


if __name__ == "__main__":
    main()
