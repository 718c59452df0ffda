"""The scale benchmark: ``lutcli train`` on a FiveK-shaped job of thousands of 12 MP JPEG pairs.

The job is made from the shipped sample photos (``lutcli.samples.split_photos``): each pair is a
random framing of one photo (``reframe``: crop and flip), mis-exposed and mis-colored
(``miscolor``), cut to 3:2, upscaled to 12 MP and saved as a JPEG of quality 90; its target is
that JPEG through ffmpeg's automatic white balance (``CORRECTIONS["grayworld"]``), a per-photo
correction as FiveK's experts make, saved the same way. Training pairs come from the seven seen
photos, the unseen pairs from the other three. Layout as FiveK's users arrange it:
``DATA/train/{input,target}/*.jpg``, ``DATA/unseen/{input,target}``, and ``DATA/trainN`` for each
smaller pair count: links to the first N training pairs. Generation is deterministic from
``--seed``, runs on every core and is resumable: a pair written whole is skipped.

Then, for each pair count: the time to build the prepared training cache (the first run of
``lutcli train --epochs 0`` on an empty cache), and a one-epoch training of ``basic`` and of
``first-linear`` reusing that cache (or stopped after ``--max-steps``), each with its peak
memory (the sum of the resident memory of the lutcli process and its worker processes, polled
every 0.1 s), its steps/s and the PSNR of its model on the unseen pairs. Every command is
printed as ``$ command``. Prints a Markdown table and writes JSON.

    nice -n 19 .venv/bin/python bench/scale.py --generate-only   # the data (3 GB, 1 h on 2 cores)
    nice -n 5 .venv/bin/python bench/scale.py --out bench-output/scale.json
    .venv/bin/python bench/scale.py --quick                      # 20 and 40 pairs of 1 MP
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from machine import LUTCLI, compile_lutcli, describe

from lutcli.fileutil import atomic_write
from lutcli.models.base import LutModel
from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model, load_payload
from lutcli.samples import (
    CORRECTIONS,
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
        ffmpeg_filter(source, corrected, CORRECTIONS["grayworld"])
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
    # The time that writing the job took, over all the runs that wrote part of it.
    record = job.data / "generation.json"
    total = json.loads(record.read_text()) if record.is_file() else {"seconds": 0, "pairs": 0}
    if written:
        total = {"seconds": total["seconds"] + seconds, "pairs": total["pairs"] + written}
        with atomic_write(record) as handle:
            handle.write(json.dumps(total).encode())
    used = sum(path.stat().st_size for path in job.data.rglob("*.jpg") if not path.is_symlink())
    return {"pairs_written": written, "seconds": seconds, "bytes_on_disk": used, "total": total}


# ---------------------------------------------------------------------------------------------
# The measurements


@dataclass
class Run:
    """One command as measured: wall time; the peak over the run of its process tree's memory
    summed over the processes (RSS; its anonymous part, which is what no file backs; PSS, shared
    pages split among their sharers); and when its training state said which step it was at
    (seconds since the start, step)."""

    command: str
    seconds: float = 0.0
    peak_rss_bytes: int = 0
    peak_anonymous_bytes: int = 0
    peak_pss_bytes: int = 0
    checkpoints: list[tuple[float, int]] = field(default_factory=list)
    stopped: bool = False


def _process_tree(pid: int) -> list[int]:
    """``pid`` and all of its descendants (the DataLoader workers, the preparing processes)."""
    tree = [pid]
    for member in tree:  # grows while it is walked
        for children in Path(f"/proc/{member}/task").glob("*/children"):
            with contextlib.suppress(OSError):  # a thread or process that just ended
                tree += [int(child) for child in children.read_text().split()]
    return tree


def _kilobytes(path: str, fields: tuple[str, ...]) -> list[int]:
    """The values (in bytes) of ``fields`` ("VmRSS", ...) of a /proc file given in kB; zeros
    for a process that has ended."""
    values = dict.fromkeys(fields, 0)
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name in values:
                values[name] = int(value.split()[0]) * 1024
    return list(values.values())


def _poll_memory(run: Run, pid: int, proportional: bool) -> None:
    """Sum the tree's memory now and raise ``run``'s peaks (PSS only when ``proportional``:
    it costs the kernel a walk of every mapping)."""
    tree = _process_tree(pid)
    rss = anonymous = 0
    for member in tree:
        member_rss, member_anonymous = _kilobytes(f"/proc/{member}/status", ("VmRSS", "RssAnon"))
        rss, anonymous = rss + member_rss, anonymous + member_anonymous
    run.peak_rss_bytes = max(run.peak_rss_bytes, rss)
    run.peak_anonymous_bytes = max(run.peak_anonymous_bytes, anonymous)
    if proportional:
        pss = sum(_kilobytes(f"/proc/{p}/smaps_rollup", ("Pss",))[0] for p in tree)
        run.peak_pss_bytes = max(run.peak_pss_bytes, pss)


def _saved_state(state: Path) -> dict:
    """The training state at ``state``."""
    return load_payload(state, STATE_FORMAT, STATE_VERSION)


def run_measured(command: list[str], state: Path | None = None, max_steps: int = 0) -> Run:
    """Run ``command``, printed as ``$ command``, polling its process tree's memory every
    POLL_SECONDS (PSS every tenth poll) and, when ``state`` is the training state it writes,
    the step of each state saved; past ``max_steps`` (0: no limit) the run is stopped as a user
    stops it (SIGTERM; lutcli exits cleanly). A failure ends the benchmark."""
    shown = shlex.join(command)
    print(f"$ {shown}", flush=True)
    if state is not None:
        state.unlink(missing_ok=True)  # a previous run's
    run = Run(shown)
    started, wall_started = time.perf_counter(), time.time()
    process = subprocess.Popen(command)
    saved, polls = None, 0
    while process.poll() is None:
        _poll_memory(run, process.pid, polls % 10 == 0)
        polls += 1
        if state is not None and state.is_file() and state.stat().st_mtime != saved:
            # Written atomically (a whole file, old or new); a step read while a newer state
            # took its place is left for the next poll.
            mtime, step = state.stat().st_mtime, int(_saved_state(state)["step"])
            if state.stat().st_mtime == mtime:
                saved = mtime
                run.checkpoints.append((mtime - wall_started, step))
                if max_steps and step >= max_steps and not run.stopped:
                    process.send_signal(signal.SIGTERM)
                    run.stopped = True
        time.sleep(POLL_SECONDS)
    run.seconds = time.perf_counter() - started
    if process.returncode != 0 and not (run.stopped and process.returncode == 128 + 15):
        sys.exit(f"the benchmark stops: exit status {process.returncode} of: {shown}")
    return run


def steps_per_second(checkpoints: list[tuple[float, int]], steps_per_epoch: int) -> float:
    """Training speed between the first and the last state saved during an epoch (those saved
    at an epoch's end, after its validation, and the warm start's are left out)."""
    during = [(time, step) for time, step in checkpoints if step % steps_per_epoch]
    if len(during) < 2:
        return math.nan
    (first_time, first_step), (last_time, last_step) = during[0], during[-1]
    return (last_step - first_step) / (last_time - first_time)


def lutcli_command() -> str:
    """LUTCLI as a reader would type it from here."""
    try:
        return str(LUTCLI.relative_to(Path.cwd()))
    except ValueError:
        return str(LUTCLI)


def train_command(
    pairs: Path, output: Path, model: str, epochs: int, args: argparse.Namespace, cache: Path
) -> list[str]:
    """The ``lutcli train`` command line that the benchmark measures."""
    command = [lutcli_command(), "train", str(pairs), "-o", str(output), "--model", model]
    command += ["--epochs", str(epochs), "--resolution", str(args.resolution)]
    command += ["--workers", str(args.workers), "--cache", str(cache), "--device", args.device]
    command += ["--checkpoint-every", str(args.checkpoint_every)]
    return [*command, "--quiet", "--overwrite"]


def unseen_psnr(model: LutModel, unseen: Path) -> float:
    """Mean PSNR (dB) of the model's outputs on the unseen pairs, as ``lutcli apply`` writes."""
    return float(np.mean(list(evaluate(model, unseen).values())))


def unseen_psnr_identity(unseen: Path) -> float:
    """Mean PSNR (dB) of the unseen inputs left as they are (a 2³ identity LUT is exact)."""
    return unseen_psnr(BasicLookupModel(2), unseen)


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
    for name in MODELS:
        output = work / f"{pairs}-{name}.pt"
        command = train_command(folder, output, name, args.epochs, args, cache)
        run = run_measured(command, state_path_for(output), args.max_steps)
        state = _saved_state(state_path_for(output))
        model, _ = load_model(output)
        if run.stopped:  # the weights where it stopped; else the model the run kept
            model.load_state_dict(state["state_dict"])
        result[name] = {
            **asdict(run),
            "steps": int(state["step"]),
            "steps_per_epoch": int(state["steps_per_epoch"]),
            "steps_per_second": steps_per_second(run.checkpoints, state["steps_per_epoch"]),
            "unseen_psnr": unseen_psnr(model, job.data / "unseen"),
        }
        shown = {key: value for key, value in result[name].items() if key != "checkpoints"}
        print(f"{pairs} pairs, {name}: {json.dumps(shown)}", flush=True)
    return result


def table(results: list[dict], identity: float) -> str:
    """The Markdown table of the measurements."""
    lines = [
        "| pairs | cache build | model | training run | steps | steps/s "
        "| peak RSS | of it anonymous | peak PSS | unseen PSNR |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        built = result["cache_build"]
        cache = f"{built['seconds']:.0f} s, {_gigabytes(built['peak_rss_bytes'])} RSS"
        for model in MODELS:
            run = result[model]
            steps = f"{run['steps']:,} of {run['steps_per_epoch']:,}"
            lines.append(
                f"| {result['pairs']:,} | {cache} | {model} | {run['seconds']:.0f} s | {steps} "
                f"| {run['steps_per_second']:.2f} | {_gigabytes(run['peak_rss_bytes'])} "
                f"| {_gigabytes(run['peak_anonymous_bytes'])} "
                f"| {_gigabytes(run['peak_pss_bytes'])} "
                f"| {run['unseen_psnr']:.2f} dB |"
            )
            cache = ""
    lines.append(f"| | | unseen inputs as they are | | | | | | | {identity:.2f} dB |")
    return "\n".join(lines)


def _gigabytes(count: int) -> str:
    return f"{count / 1e9:.2f} GB"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, help="the job's folder (default bench-output/scale-data)"
    )
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
        "--max-steps",
        type=int,
        default=0,
        help="stop each training run after this many steps, as a user stops it (default 0: "
        "never, each run trains its whole epoch)",
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="make the job, measure nothing"
    )
    return parser.parse_args()


def main() -> None:
    """Make (or complete) the job, then measure each pair count; print the table, write JSON."""
    args = parse_args()
    compile_lutcli()
    quick = args.quick
    args.checkpoint_every = args.checkpoint_every or (4 if quick else 25)
    counts = [int(n) for n in (args.pairs or ("20,40" if quick else "200,2000")).split(",")]
    default = Path("bench-output") / ("scale-quick" if quick else "scale-data")
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
        f"in {generation['seconds']:.0f} s ({generation['total']['pairs']} "
        f"in {generation['total']['seconds']:.0f} s in all), "
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
            "max_steps": args.max_steps,
        },
        "machine": f"{describe()}, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "unseen_identity_psnr": identity,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as handle:
        handle.write((json.dumps(report, indent=2) + "\n").encode())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
