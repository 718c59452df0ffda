"""make demo: the main job end to end on real sample photos.

Seven photos get a look from a real tool (ffmpeg's color filters); lutcli learns it from those
before/after pairs, applies it to three photos it never saw, and exports it as a .cube that
ffmpeg then applies too. Every step is the command a user would type.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from lutcli.samples import FFMPEG_LOOK, UNSEEN_PHOTOS, split_photos, write_pairs

OUTPUT = Path("demo-output")
LUTCLI = str(Path(sys.executable).parent / "lutcli")


def run(*command: str) -> None:
    """Show a command, then run it; stop the demo if it fails."""
    print(f"\n$ {shlex.join(command).replace(LUTCLI, 'lutcli')}", flush=True)
    subprocess.run(command, check=True)


def psnr(path_a: Path, path_b: Path) -> float:
    """PSNR in dB between two 8-bit images."""
    a, b = (cv2.imread(str(p)).astype(np.float64) for p in (path_a, path_b))
    return 10 * np.log10(255**2 / max(np.mean((a - b) ** 2), 1e-12))


def main() -> None:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    seen, unseen = split_photos()
    print(f"The look (ffmpeg filters): {FFMPEG_LOOK}")
    write_pairs(OUTPUT / "pairs", seen)
    # Photos the model never sees, and what ffmpeg's look makes of them (to measure against).
    write_pairs(OUTPUT / "unseen", unseen)

    run(LUTCLI, "train", str(OUTPUT / "pairs"), "-o", str(OUTPUT / "look.pt"))
    run(
        LUTCLI,
        "apply",
        str(OUTPUT / "unseen/input"),
        str(OUTPUT / "graded"),
        "--model",
        str(OUTPUT / "look.pt"),
    )
    run(LUTCLI, "export-cube", str(OUTPUT / "look.pt"), "-o", str(OUTPUT / "look.cube"))
    run(
        "ffmpeg",
        "-v",
        "error",
        "-i",
        str(OUTPUT / "unseen/input/china.png"),
        "-vf",
        f"lut3d=file={OUTPUT / 'look.cube'},format=rgb24",
        str(OUTPUT / "china-by-ffmpeg.png"),
    )

    print("\nOn photos the model never saw, lutcli vs the ffmpeg look it learned:")
    for name in UNSEEN_PHOTOS:
        score = psnr(OUTPUT / "graded" / f"{name}.png", OUTPUT / "unseen/target" / f"{name}.png")
        print(f"  {name:<12} {score:5.1f} dB PSNR")
    agreement = psnr(OUTPUT / "graded/china.png", OUTPUT / "china-by-ffmpeg.png")
    print(f"The exported .cube in ffmpeg vs lutcli apply: {agreement:.1f} dB PSNR")
    print(f"\nResults in {OUTPUT}/: look.pt (model), look.report.png (training curves and")
    print("validation photos), look.cube (for ffmpeg, Resolve, OCIO, Photoshop), graded/ (the")
    print("unseen photos with the learned look), unseen/target/ (the same photos through")
    print("ffmpeg's look), pairs/ (the training pairs).")


if __name__ == "__main__":
    main()
