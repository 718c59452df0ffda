"""The wheel smoke test (part of ``make test``): lutcli as a pip user gets it.

Builds the wheel from a copy of the checkout (no network, kernels required), installs it into a
fresh venv (the pinned CPU torch first, then the wheel; pip's cache and index as configured),
and runs the installed ``lutcli`` from an empty temporary folder, so that nothing of the source
tree is on ``sys.path``: --version, presets, apply of a shipped .cube look and of the shipped
adaptive model on a real photo, train for one epoch, export-cube (a .cube, a Hald image, a .3dl
converted from it, info and apply of it), and a check that the compiled
CPU kernel is the one installed and in use. Each step prints what it gives; the first failure
stops the run with its output and a non-zero exit, and keeps the folder to look into.

    .venv/bin/python scripts/smoke_wheel.py torch==2.13.0
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
# What a checkout holds besides its source: never part of what the wheel is built from.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.so",
    ".pytest_cache",
    ".ruff_cache",
    "demo-output",
    "bench-output",
)
# The notice lutcli prints when the compiled kernels are missing (lutcli.kernels.cpu).
KERNEL_FALLBACK_NOTICE = "fast CPU kernels are not built"
# Checked by the installed interpreter: every part of lutcli comes from the venv's site-packages.
INSTALLED_CHECK = """
import sysconfig
from pathlib import Path
import lutcli, lutcli.kernels.cpu as cpu, lutcli.presets as presets
from lutcli.kernels import _native
site = Path(sysconfig.get_paths()["platlib"]).resolve()
parts = {
    "lutcli": lutcli.__file__,
    "compiled CPU kernel": _native.__file__,
    "shipped presets": str(presets.SHIPPED_PRESETS),
}
for name, path in parts.items():
    print(f"{name}: {path}")
    assert Path(path).resolve().is_relative_to(site), f"{name} is not from {site}"
assert cpu.available(), "lutcli.kernels.cpu.available() is False"
print("lutcli.kernels.cpu.available(): True")
"""


class SmokeFailure(Exception):
    """A step of the smoke test failed; the message says which and what it printed."""


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, shown: str = "") -> str:
    """Run ``command``, show it (or ``shown``) and its output; SmokeFailure when it fails."""
    shown = shown or shlex.join(command)
    print(f"$ {shown}", flush=True)
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    output = (result.stdout + result.stderr).rstrip()
    for line in output.splitlines():
        print(f"    {line}")
    print(f"    ({time.monotonic() - started:.1f} s, exit {result.returncode})", flush=True)
    if result.returncode != 0:
        raise SmokeFailure(f"`{shown}` exited {result.returncode}")
    return output


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def build_wheel(work: Path) -> Path:
    """The wheel, built without network from a copy of the checkout (no stale build/ in it)."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    # A wheel without the compiled kernels is not the product: its build must fail instead.
    env = {**os.environ, "LUTCLI_REQUIRE_KERNELS": "1"}
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    run([*pip_wheel, "-q", "-w", str(work / "dist"), str(source)], work, env)
    (wheel,) = (work / "dist").glob("lutcli-*.whl")
    print(f"    built {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB)")
    return wheel


def install(work: Path, torch_requirement: str, wheel: Path) -> Path:
    """A fresh venv with ``torch_requirement``, then the wheel; its bin folder."""
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], work)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    # torch first, so that the wheel's torch range is met by the CPU build.
    run([*pip, "-q", "--no-compile", torch_requirement], work)
    run([*pip, "-q", "--no-compile", str(wheel)], work)
    return venv / "bin"


def write_inputs(folder: Path) -> tuple[Path, Path]:
    """A real photo (a JPEG of scikit-image's astronaut) and five small training pairs."""
    photo = folder / "photo.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    pairs = folder / "pairs"
    for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"):
        before = cv2.resize(getattr(data, name)()[..., :3], (96, 96), interpolation=cv2.INTER_AREA)
        # A warm look: a gamma lift, more red, less blue.
        after = 255 * (before / 255) ** 0.85 * np.array([1.08, 1.0, 0.9])
        for side, pixels in (("input", before), ("target", after)):
            (pairs / side).mkdir(parents=True, exist_ok=True)
            rgb = np.clip(pixels, 0, 255).round().astype(np.uint8)
            cv2.imwrite(str(pairs / side / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return photo, pairs


def changed(before: Path, after: Path) -> float:
    """Mean absolute difference between two 8-bit images, in levels."""
    expect(after.is_file(), f"{after} was not written")
    a, b = (cv2.imread(str(p)).astype(np.float64) for p in (before, after))
    expect(a.shape == b.shape, f"{after} is {b.shape}, not {a.shape}")
    return float(np.abs(a - b).mean())


def smoke(work: Path, torch_requirement: str) -> None:
    wheel = build_wheel(work)
    bin_folder = install(work, torch_requirement, wheel)
    here = work / "run"  # an empty folder: no source tree beside the command
    here.mkdir()
    photo, pairs = write_inputs(here)
    # Nothing from the checkout or the caller's lutcli settings; bytecode is written, so that
    # only the first command pays for compiling the modules it imports.
    unset = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE", "LUTCLI_PRESETS", "LUTCLI_KERNELS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["PATH"] = f"{bin_folder}{os.pathsep}{env.get('PATH', '')}"
    lutcli = str(bin_folder / "lutcli")

    python = [str(bin_folder / "python"), "-I", "-c", INSTALLED_CHECK]
    run(python, here, env, "python -I -c '<lutcli, its kernel and presets from site-packages>'")
    version = run([lutcli, "--version"], here, env)
    expect(wheel.name.split("-")[1] in version, f"--version says {version!r}, not {wheel.name}")
    listed = run([lutcli, "presets"], here, env).splitlines()
    names = {line.split()[0] for line in listed}
    expect({"warm", "film", "auto"} <= names, f"presets lists {sorted(names)}")
    for look in ("warm", "auto"):
        output = here / f"{look}.jpg"
        log = run([lutcli, "apply", "photo.jpg", output.name, "--requirement", look], here, env)
        expect(KERNEL_FALLBACK_NOTICE not in log, "apply ran without the compiled kernels")
        difference = changed(photo, output)
        print(f"    {output.name}: {difference:.1f} levels from the photo on average")
        expect(difference > 1, f"--requirement {look} left the photo as it was")
    # A 17³ lattice: the warm start's exact fit on 33³ alone would take half a minute.
    train = [lutcli, "train", pairs.name, "-o", "look.pt", "--epochs", "1", "--lut-size", "17"]
    run(train, here, env)
    expect((here / "look.pt").is_file(), "train wrote no look.pt")
    run([lutcli, "export-cube", "look.pt", "-o", "look.cube"], here, env)
    cube = (here / "look.cube").read_text()
    expect("LUT_3D_SIZE 17" in cube, "look.cube has no 17³ lattice")
    print(f"    look.cube: {len(cube.splitlines())} lines")
    # Every LUT format ships: a Hald image and a .3dl converted from it apply as the model does.
    run([lutcli, "export-cube", "look.cube", "-o", "look.png"], here, env)
    run([lutcli, "export-cube", "look.png", "-o", "look.3dl"], here, env)
    info = run([lutcli, "info", "look.3dl"], here, env)
    expect("Autodesk .3dl" in info, f"info on look.3dl says {info!r}")
    run([lutcli, "apply", "photo.jpg", "by-model.png", "--model", "look.pt"], here, env)
    run([lutcli, "apply", "photo.jpg", "by-3dl.png", "--lut", "look.3dl"], here, env)
    difference = changed(here / "by-model.png", here / "by-3dl.png")
    print(f"    look.3dl (from a Hald image): {difference:.2f} levels from the model on average")
    expect(difference < 1, "the .3dl exported through a Hald image does not look like the model")
    # Clips go through FFmpeg's libraries in the av wheel: a still clip with a tone, graded by
    # the adaptive preset, keeps its 12 frames and its audio.
    clip = ["ffmpeg", "-v", "error", "-loop", "1", "-i", "photo.jpg", "-f", "lavfi", "-i",
            "sine=duration=1", "-t", "1", "-r", "12", "-vf", "scale=256:256", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "clip.mp4"]  # fmt: skip
    run(clip, here, env)
    run([lutcli, "apply", "clip.mp4", "graded.mp4", "--requirement", "auto"], here, env)
    probe = ["ffprobe", "-v", "error", "-of", "csv=p=0", "graded.mp4"]
    frames = run([*probe, "-select_streams", "v", "-count_frames", "-show_entries",
                  "stream=nb_read_frames"], here, env)  # fmt: skip
    expect(frames == "12", f"graded.mp4 has {frames!r} frames, not 12")
    audio = run([*probe, "-select_streams", "a", "-show_entries", "stream=codec_name"], here, env)
    expect(audio == "aac", f"graded.mp4's audio: {audio!r}, not the clip's aac")


def main(arguments: list[str]) -> None:
    if len(arguments) != 1:
        sys.exit(__doc__)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="lutcli-wheel-"))
    print(f"wheel smoke test in {work}", flush=True)
    try:
        smoke(work, arguments[0])
    except SmokeFailure as failure:
        sys.exit(f"wheel smoke test FAILED: {failure} (files kept in {work})")
    shutil.rmtree(work)
    print(f"wheel smoke test passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
