"""The scale benchmark: ``lutcli train`` on a FiveK-shaped job of thousands of 12 MP JPEG pairs.

The job is made from the shipped sample photos (``lutcli.samples.split_photos``): each pair is a
random framing of one photo (``reframe``: crop and flip), mis-exposed and mis-colored
(``miscolor``), cut to 3:2, upscaled to 12 MP and saved as a JPEG of quality 90; its target is
that JPEG through ffmpeg's automatic white balance (``FFMPEG_AUTO_CORRECTION``), a per-photo
correction as FiveK's experts make, saved the same way. Training pairs come from the seven seen
photos, the unseen pairs from the other three. Layout as FiveK's users arrange it:
``DATA/train/{input,target}/*.jpg``, ``DATA/unseen/{input,target}``, and ``DATA/trainN`` for each
smaller pair count: links to the first N training pairs. Generation is deterministic from
``--seed``, runs on every core and is resumable: a pair written whole is skipped.

Then, for each pair count: the time to build the prepared training cache (the first run of
``lutcli train --epochs 0`` on an empty cache), and a one-epoch training of ``basic`` and of
``first-linear`` reusing that cache, each with its peak memory (the sum of the resident memory of
the lutcli process and its worker processes, polled every 0.1 s), its steps/s and the PSNR of its
model on the unseen pairs. Every command is printed as ``$ command``. Prints a Markdown table and
writes JSON.

    nice -n 19 .venv/bin/python bench/scale.py --generate-only   # the data (~15 GB, hours)
    nice -n 5 .venv/bin/python bench/scale.py --out bench-output/scale.json
    .venv/bin/python bench/scale.py --quick                      # 20 and 40 pairs of 1 MP
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import psutil

from lutcli.fileutil import atomic_write
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model, load_payload
from lutcli.samples import (
    FFMPEG_AUTO_CORRECTION,
    UNSEEN_VARIANTS,
    ffmpeg_filter,
    miscolor,
    reframe,
    split_photos,
)
from lutcli.training.evaluation import evaluate
from lutcli.training.trainer import STATE_FORMAT, STATE_VERSION, state_path_for

JPEG_QUALITY = 90
# Pixels of the long and short side of every photo: 12 MP at 3:2, as a FiveK camera's.
FULL_SIZE = (4240, 2832)
QUICK_SIZE = (1224, 816)
# The zoo models measured, each for one epoch.
MODELS = ("basic", "first-linear")
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Job:
    """What the generator makes: where, how many pairs, how large, from which seed."""

    data: Path
    train_pairs: int
    unseen_pairs: int
    size: tuple[int, int]
    seed: int


# ---------------------------------------------------------------------------------------------
# The job


_photos: dict[str, dict[str, np.ndarray]] = {}


def _load_photos() -> None:
    """Each generating process loads the sample photos once."""
    cv2.setNumThreads(1)
    seen, unseen = split_photos()
    _photos.update(train=seen, unseen=unseen)


def pair_name(part: str, index: int) -> str:
    """The file name of pair ``index`` of ``part`` (train or unseen): its number, its photo."""
    names = sorted(_photos[part])
    return f"{index:05d}-{names[index % len(names)]}.jpg"


def make_input(
    photo: np.ndarray, generator: np.random.Generator, size: tuple[int, int]
) -> np.ndarray:
    """One input photo: a random framing of ``photo``, mis-colored, cut to 3:2 and upscaled to
    ``size`` (long side, short side), landscape or portrait as the framing is. RGB uint8."""
    window = miscolor(reframe(photo, generator), generator)  # the colors at the photo's size
    height, width = window.shape[:2]
    ratio = size[0] / size[1]
    if width >= height:
        width, height = min(width, round(height * ratio)), min(height, round(width / ratio))
        shape = size
    else:
        width, height = min(width, round(height / ratio)), min(height, round(width * ratio))
        shape = size[::-1]
    top, left = (window.shape[0] - height) // 2, (window.shape[1] - width) // 2
    window = np.ascontiguousarray(window[top : top + height, left : left + width])
    return cv2.resize(window, shape, interpolation=cv2.INTER_CUBIC)


def write_jpeg(path: Path, bgr: np.ndarray) -> None:
    """``bgr`` as a JPEG of JPEG_QUALITY at ``path``, whole or not at all."""
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    with atomic_write(path) as handle:
        handle.write(encoded.tobytes())


def write_pair(task: tuple[Path, str, int, int, tuple[int, int]]) -> bool:
    """Write pair ``index`` of ``part`` under ``folder``, unless it is there whole already.

    The input is written first and the target last, each atomically, so a target on disk means
    the pair is whole. Returns whether it wrote anything."""
    folder, part, index, seed, size = task
    name = pair_name(part, index)
    source, target = folder / "input" / name, folder / "target" / name
    if source.is_file() and target.is_file():
        return False
    # A generator of its own for each pair: the same pair whatever the order or the resumes.
    generator = np.random.default_rng([seed, ("train", "unseen").index(part), index])
    photos = _photos[part]
    photo = photos[sorted(photos)[index % len(photos)]]
    write_jpeg(source, cv2.cvtColor(make_input(photo, generator, size), cv2.COLOR_RGB2BGR))
    # The real tool corrects the input as saved (JPEG and all); its output goes through a
    # lossless temporary file so that the target is a JPEG of the same quality.
    with tempfile.TemporaryDirectory(prefix="lutcli-scale-") as scratch:
        corrected = Path(scratch) / "target.bmp"
        ffmpeg_filter(source, corrected, FFMPEG_AUTO_CORRECTION)
        write_jpeg(target, cv2.imread(str(corrected), cv2.IMREAD_COLOR))
    return True


def train_folder(data: Path, pairs: int, total: int) -> Path:
    """The training folder of ``pairs`` pairs: DATA/train for all of them, else DATA/trainN."""
    return data / "train" if pairs == total else data / f"train{pairs}"


def link_subset(data: Path, pairs: int) -> Path:
    """DATA/trainN: links to the first ``pairs`` training pairs (the same files, no copies)."""
    folder = data / f"train{pairs}"
    names = sorted(path.name for path in (data / "train" / "target").iterdir())[:pairs]
    for side in ("input", "target"):
        (folder / side).mkdir(parents=True, exist_ok=True)
        for name in names:
            link = folder / side / name
            if not link.is_symlink():
                link.symlink_to(Path("..", "..", "train", side, name))
    return folder


def generate(job: Job, subsets: list[int]) -> dict:
    """Write the job's missing pairs on every core; link the subsets. Returns what it did."""
    tasks = []
    for part, count in (("train", job.train_pairs), ("unseen", job.unseen_pairs)):
        folder = job.data / part
        for side in ("input", "target"):
            (folder / side).mkdir(parents=True, exist_ok=True)
        tasks += [(folder, part, index, job.seed, job.size) for index in range(count)]
    started = time.perf_counter()
    written = 0
    with multiprocessing.Pool(os.cpu_count(), initializer=_load_photos) as pool:
        for done, wrote in enumerate(pool.imap_unordered(write_pair, tasks), 1):
            written += wrote
            if done % 50 == 0 or done == len(tasks):
                elapsed = time.perf_counter() - started
                print(f"pairs {done}/{len(tasks)} ({written} written) {elapsed:.0f} s", flush=True)
    seconds = time.perf_counter() - started
    for pairs in subsets:
        if pairs < job.train_pairs:
            link_subset(job.data, pairs)
    used = sum(path.stat().st_size for path in job.data.rglob("*.jpg") if not path.is_symlink())
    return {"pairs_written": written, "seconds": seconds, "bytes_on_disk": used}


# ---------------------------------------------------------------------------------------------
# The measurements


@dataclass
class Run:
    """One command as measured: wall time, the peak memory of its process tree, and when its
    training state said which step it was at (seconds since the start, step)."""

    command: str
    seconds: float
    peak_rss_bytes: int
    peak_pss_bytes: int
    checkpoints: list[tuple[float, int]] = field(default_factory=list)


def _tree_memory(process: psutil.Process, proportional: bool) -> int:
    """Resident bytes of ``process`` and all of its descendants, summed: RSS, or PSS (shared
    pages split among their sharers, so the sum is the memory the tree really takes)."""
    total = 0
    for member in (process, *process.children(recursive=True)):
        try:
            total += member.memory_full_info().pss if proportional else member.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass  # a worker that ended between the listing and the reading
    return total


def _saved_step(state: Path) -> int:
    """The step of the training state at ``state``."""
    return int(load_payload(state, STATE_FORMAT, STATE_VERSION)["step"])


def run_measured(command: list[str], state: Path | None = None) -> Run:
    """Run ``command``, printed as ``$ command``, polling its process tree's memory every
    POLL_SECONDS (PSS every fifth poll: it costs more to read) and, when ``state`` is the
    training state it writes, the step of each state saved; a failure ends the benchmark."""
    shown = shlex.join(command)
    print(f"$ {shown}", flush=True)
    if state is not None:
        state.unlink(missing_ok=True)  # a previous run's
    started, wall_started = time.perf_counter(), time.time()
    process = psutil.Popen(command)
    run = Run(shown, 0.0, 0, 0)
    saved = None
    polls = 0
    while process.poll() is None:
        try:
            run.peak_rss_bytes = max(run.peak_rss_bytes, _tree_memory(process, False))
            if polls % 5 == 0:
                run.peak_pss_bytes = max(run.peak_pss_bytes, _tree_memory(process, True))
        except psutil.NoSuchProcess:
            break  # it ended while being measured
        if state is not None and state.is_file() and state.stat().st_mtime != saved:
            # Written atomically (a whole file, old or new); a step read while a newer state
            # took its place is left for the next poll.
            mtime, step = state.stat().st_mtime, _saved_step(state)
            if state.stat().st_mtime == mtime:
                saved = mtime
                run.checkpoints.append((mtime - wall_started, step))
        polls += 1
        time.sleep(POLL_SECONDS)
    run.seconds = time.perf_counter() - started
    if process.wait() != 0:
        sys.exit(f"the benchmark stops: exit status {process.returncode} of: {shown}")
    return run


def steps_per_second(checkpoints: list[tuple[float, int]]) -> float:
    """Training speed between the first and the last checkpoint saved during an epoch (the
    warm start's and the epoch's end, which also validate, left out)."""
    during = [(seconds, step) for seconds, step in checkpoints[:-1] if step > 0]
    if len(during) < 2:
        return math.nan
    (first_time, first_step), (last_time, last_step) = during[0], during[-1]
    return (last_step - first_step) / (last_time - first_time)


def lutcli_command() -> str:
    """The lutcli beside this Python (the venv's), as a reader would type it from here."""
    path = Path(sys.executable).parent / "lutcli"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def train_command(
    pairs: Path, output: Path, model: str, epochs: int, args: argparse.Namespace, cache: Path
) -> list[str]:
    """The ``lutcli train`` command line that the benchmark measures."""
    command = [lutcli_command(), "train", str(pairs), "-o", str(output), "--model", model]
    command += ["--epochs", str(epochs), "--resolution", str(args.resolution)]
    command += ["--workers", str(args.workers), "--cache", str(cache), "--device", args.device]
    command += ["--checkpoint-every", str(args.checkpoint_every)]
    return [*command, "--quiet", "--overwrite"]


def unseen_psnr(model_path: Path, unseen: Path) -> float:
    """Mean PSNR (dB) of the model's outputs on the unseen pairs, as ``lutcli apply`` writes."""
    model, _ = load_model(model_path)
    return float(np.mean(list(evaluate(model, unseen).values())))


def unseen_psnr_identity(unseen: Path) -> float:
    """Mean PSNR (dB) of the unseen inputs left as they are (a 2³ identity LUT is exact)."""
    return float(np.mean(list(evaluate(BasicLookupModel(2), unseen).values())))


def measure(job: Job, pairs: int, args: argparse.Namespace) -> dict:
    """Cache build, then each model's one-epoch training, on the first ``pairs`` pairs."""
    folder = train_folder(job.data, pairs, job.train_pairs)
    work = job.data / "runs"
    work.mkdir(exist_ok=True)
    cache = work / f"cache-{pairs}"
    shutil.rmtree(cache, ignore_errors=True)  # the first run builds it
    built = run_measured(train_command(folder, work / f"{pairs}-cache.pt", "basic", 0, args, cache))
    result = {"pairs": pairs, "cache_build": asdict(built)}
    result["cache_bytes"] = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    for model in MODELS:
        output = work / f"{pairs}-{model}.pt"
        command = train_command(folder, output, model, args.epochs, args, cache)
        run = run_measured(command, state_path_for(output))
        result[model] = {
            **asdict(run),
            "steps": _saved_step(state_path_for(output)),
            "steps_per_second": steps_per_second(run.checkpoints),
            "unseen_psnr": unseen_psnr(output, job.data / "unseen"),
        }
        shown = {key: value for key, value in result[model].items() if key != "checkpoints"}
        print(f"{pairs} pairs, {model}: {json.dumps(shown)}", flush=True)
    return result


def table(results: list[dict], identity: float) -> str:
    """The Markdown table of the measurements."""
    lines = [
        "| pairs | cache build | model | training run | steps | steps/s | peak RSS | unseen PSNR |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        built = result["cache_build"]
        cache = f"{built['seconds']:.0f} s ({built['peak_rss_bytes'] / 1e9:.2f} GB)"
        for model in MODELS:
            run = result[model]
            lines.append(
                f"| {result['pairs']:,} | {cache} | {model} | {run['seconds']:.0f} s "
                f"| {run['steps']:,} | {run['steps_per_second']:.2f} "
                f"| {run['peak_rss_bytes'] / 1e9:.2f} GB | {run['unseen_psnr']:.2f} dB |"
            )
            cache = ""
    lines.append(f"| | | unseen inputs as they are | | | | | {identity:.2f} dB |")
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="the job's folder (default /work/scale-data)")
    parser.add_argument("--out", type=Path, default=Path("bench-output/scale.json"))
    parser.add_argument("--quick", action="store_true", help="20 and 40 pairs of 1 MP")
    parser.add_argument("--pairs", help="comma-separated pair counts (default 200,2000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each training run")
    parser.add_argument("--resolution", default="480", help="lutcli train --resolution")
    parser.add_argument("--workers", type=int, default=2, help="lutcli train --workers")
    parser.add_argument("--device", default="auto", help="lutcli train --device")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        help="lutcli train --checkpoint-every: the steps/s are timed between checkpoints "
        "(default 25, 4 with --quick)",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="make the job, measure nothing"
    )
    return parser.parse_args()


def main() -> None:
    """Make (or complete) the job, then measure each pair count; print the table, write JSON."""
    args = parse_args()
    quick = args.quick
    args.checkpoint_every = args.checkpoint_every or (4 if quick else 25)
    counts = [int(n) for n in (args.pairs or ("20,40" if quick else "200,2000")).split(",")]
    default = Path("/tmp/lutcli-scale-quick") if quick else Path("/work/scale-data")
    job = Job(
        data=args.data or default,
        train_pairs=max(counts),
        unseen_pairs=2 * 3 if quick else UNSEEN_VARIANTS * 3,
        size=QUICK_SIZE if quick else FULL_SIZE,
        seed=args.seed,
    )
    print(f"making the job in {job.data}: {job.train_pairs} + {job.unseen_pairs} pairs", flush=True)
    generation = generate(job, counts)
    print(
        f"generation: {generation['pairs_written']} pairs written "
        f"in {generation['seconds']:.0f} s, "
        f"{generation['bytes_on_disk'] / 1e9:.1f} GB on disk",
        flush=True,
    )
    if args.generate_only:
        return
    identity = unseen_psnr_identity(job.data / "unseen")
    results = [measure(job, pairs, args) for pairs in counts]
    print(table(results, identity))
    report = {
        "job": {**asdict(job), "data": str(job.data), "jpeg_quality": JPEG_QUALITY},
        "generation": generation,
        "settings": {
            "resolution": args.resolution,
            "workers": args.workers,
            "epochs": args.epochs,
            "device": args.device,
            "checkpoint_every": args.checkpoint_every,
        },
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "unseen_identity_psnr": identity,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as handle:
        handle.write((json.dumps(report, indent=2) + "\n").encode())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
