"""Real sample photos that ship inside scikit-image and scikit-learn, for the demo and tests.

Install them with ``pip install 'lutcli[samples]'``; nothing is downloaded at run time.
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from lutcli.errors import LutcliError
from lutcli.io.images import write_pixels
from lutcli.io.pixels import resize_pixels
from lutcli.kernels.cpu import cpu_count

# Color photos (RGB, uint8) inside the scikit-image wheel, by loader name.
_SKIMAGE_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
)
# Photos inside the scikit-learn wheel.
_SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def sample_photos() -> dict[str, np.ndarray]:
    """Ten distinct real color photos, (H, W, 3) uint8 RGB, by name, in a fixed order."""
    try:
        from skimage import data
        from sklearn.datasets import load_sample_image
    except ImportError:
        raise LutcliError(
            "the sample photos need scikit-image and scikit-learn: pip install 'lutcli[samples]'"
        ) from None
    photos = {name: getattr(data, name)() for name in _SKIMAGE_PHOTOS}
    photos["motorcycle"] = data.stereo_motorcycle()[0]  # the left view of a stereo pair
    photos.update({name.split(".")[0]: load_sample_image(name) for name in _SKLEARN_PHOTOS})
    return {name: np.ascontiguousarray(photo[..., :3]) for name, photo in photos.items()}


# The sample photos that every sample job keeps out of training, to measure on.
UNSEEN_PHOTOS = ("china", "coffee", "motorcycle")


def split_photos() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The sample photos as (the seven to learn from, the three UNSEEN_PHOTOS)."""
    photos = sample_photos()
    seen = {name: pixels for name, pixels in photos.items() if name not in UNSEEN_PHOTOS}
    return seen, {name: photos[name] for name in UNSEEN_PHOTOS}


# A warm, faded look made of ffmpeg's RGB color filters (curves, color balance, vibrance): a
# global color transform like those photographers buy as presets, made by a real tool.
FFMPEG_LOOK = (
    "curves=r='0/0.04 0.35/0.30 0.7/0.78 1/0.97':g='0/0.02 0.5/0.52 1/0.98'"
    ":b='0/0.12 0.5/0.47 1/0.88',"
    "colorbalance=rs=0.06:bs=-0.04:rh=-0.03:bh=0.05,"
    "vibrance=intensity=0.35"
)


def ffmpeg_filter(source: Path, destination: Path, filters: str = FFMPEG_LOOK) -> None:
    """Run ffmpeg's filter chain ``filters`` on one image file (RGB in, 8-bit RGB out)."""
    if shutil.which("ffmpeg") is None:
        raise LutcliError("ffmpeg is not installed (apt-get install ffmpeg)")
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(source)]
    command += ["-vf", f"{filters},format=rgb24", "-frames:v", "1", str(destination)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LutcliError(f"ffmpeg failed on '{source}': {result.stderr.strip()}")


def write_pairs(
    folder: Path, photos: dict[str, np.ndarray], filters: str = FFMPEG_LOOK
) -> list[Path]:
    """Write ``photos`` to ``folder/input/NAME.png`` and their ffmpeg-filtered versions to
    ``folder/target/NAME.png``: a training folder for ``lutcli train``. Returns the inputs."""
    (folder / "input").mkdir(parents=True, exist_ok=True)
    (folder / "target").mkdir(parents=True, exist_ok=True)
    inputs = []
    for name, pixels in photos.items():
        source = folder / "input" / f"{name}.png"
        write_pixels(source, pixels)
        ffmpeg_filter(source, folder / "target" / f"{name}.png", filters)
        inputs.append(source)
    return inputs


# Real tools' corrections that the adaptive sample jobs learn, by name: ffmpeg filter chains run
# on each mis-colored copy. Three depend on each photo, each on a different part of it, so that
# no job is the one the zoo was tuned to; the fourth is a control, where adaptive models must not
# lose to one LUT.
CORRECTIONS = {
    # White balance from the photo's mean color (gray world, in LAB).
    "grayworld": "grayworld",
    # White balance from the colors of its edges (grey edge, first order, Minkowski norm 5).
    "greyedge": "greyedge=difford=1:minknorm=5:sigma=2",
    # Auto levels: each channel stretched from its darkest to its brightest pixel (exposure,
    # contrast and cast at once), which hangs on a few extreme pixels rather than on averages.
    "normalize": "normalize",
    # The control: one global look (FFMPEG_LOOK), the same for every photo.
    "look": FFMPEG_LOOK,
}
# The target is the photo as it was before it was mis-colored (not a tool's correction).
ORIGINAL = "original"


def miscolor(pixels: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """A mis-exposed, off-balance copy of a (H, W, 3) uint8 photo: each channel squeezed into a
    random range (lifted blacks, dimmed whites, a color cast) under a random gamma."""
    unit = pixels.astype(np.float64) / 255
    low = generator.uniform(0.0, 0.2, size=3)
    high = generator.uniform(0.55, 1.0, size=3)
    gamma = generator.uniform(0.75, 1.35)
    out = low + (high - low) * unit**gamma
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def reframe(pixels: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """A random framing of a (H, W, 3) photo: a window of 40–100 % of each side, mirrored half
    of the time. A few photos then give many scenes, so adaptive models learn the color cast,
    not which photo it is."""
    height, width = pixels.shape[:2]
    window_height = round(height * generator.uniform(0.4, 1.0))
    window_width = round(width * generator.uniform(0.4, 1.0))
    top = generator.integers(0, height - window_height + 1)
    left = generator.integers(0, width - window_width + 1)
    window = pixels[top : top + window_height, left : left + window_width]
    return np.ascontiguousarray(window[:, ::-1] if generator.random() < 0.5 else window)


def write_adaptive_pairs(
    folder: Path,
    photos: dict[str, np.ndarray],
    variants: int,
    seed: int = 0,
    max_side: int = 320,
    reframed: bool = True,
    correction: str = "grayworld",
) -> None:
    """An image-adaptive training folder: ``variants`` mis-colored copies of each photo as
    inputs, each with its ``correction`` as the target: the ffmpeg filter chain that
    ``CORRECTIONS`` names, run on the copy, or ``ORIGINAL``, the photo before it was
    mis-colored.

    One fixed LUT cannot do these jobs (but the "look" control): each input needs the
    correction of its own color cast. With ``reframed``, each copy is a random framing of its
    photo (see ``reframe``). Copies are shrunk to ``max_side`` pixels on their long side to keep
    training fast.
    """
    if correction not in (*CORRECTIONS, ORIGINAL):
        raise ValueError(
            f"correction must be one of {(*CORRECTIONS, ORIGINAL)}, got {correction!r}"
        )
    filters = None if correction == ORIGINAL else CORRECTIONS[correction]
    generator = np.random.default_rng(seed)
    for side in ("input", "target"):
        (folder / side).mkdir(parents=True, exist_ok=True)
    corrections = []  # ffmpeg runs once per copy: on every core at once, after the copies
    for name, photo in photos.items():
        for variant in range(variants):
            pixels = reframe(photo, generator) if reframed else photo
            scale = max_side / max(pixels.shape[:2])
            if scale < 1:
                size = (round(pixels.shape[0] * scale), round(pixels.shape[1] * scale))
                pixels = resize_pixels(pixels, size)
            source = folder / "input" / f"{name}-{variant}.png"
            target = folder / "target" / source.name
            shifted = miscolor(pixels, generator)
            write_pixels(source, shifted)
            if filters is None:
                write_pixels(target, pixels)
            else:
                corrections.append((source, target))
    with ThreadPoolExecutor(cpu_count()) as pool:
        runs = [pool.submit(ffmpeg_filter, *pair, filters) for pair in corrections]
        for run in runs:
            run.result()  # ffmpeg's error, if any


# How many mis-colored copies of each unseen photo the image-adaptive job measures on (enough
# that one unlucky cast does not sway the mean).
UNSEEN_VARIANTS = 16


def write_adaptive_job(
    folder: Path,
    variants: int = 128,
    correction: str = "grayworld",
    side: int = 128,
    unseen_side: int = 192,
) -> tuple[Path, Path]:
    """An image-adaptive sample job, as tests and benchmarks measure the model zoo on.

    ``folder/train``: ``variants`` reframed, mis-colored copies of each of seven photos, at
    most ``side`` pixels on their long side; ``folder/unseen``: UNSEEN_VARIANTS mis-colored
    copies (whole, ``unseen_side`` pixels) of each of the three others; targets as
    ``write_adaptive_pairs``'s ``correction`` says. Returns both folders.
    """
    seen, unseen = split_photos()
    write_adaptive_pairs(folder / "train", seen, variants, 1, side, correction=correction)
    write_adaptive_pairs(
        folder / "unseen", unseen, UNSEEN_VARIANTS, 2, unseen_side, False, correction
    )
    return folder / "train", folder / "unseen"
