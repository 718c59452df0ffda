"""The model zoo on the adaptive jobs, beside the literature's model at equal time and converged.

For each job (``bench/jobs.py``: three real tools' per-photo corrections and a global look as a
control, 70 training pairs each), every zoo model trains at the defaults of ``lutcli train``, as
a new user would run it, and is measured on the unseen photos by
``lutcli.training.evaluation.evaluate`` (PSNR of the 8-bit output, as ``lutcli apply`` writes it).
The reference (``reference_adaptive_lut.py``, the published recipe) trains once per job until its
validation PSNR stops improving (or ``--reference-seconds``); its best model is read at each zoo
model's training time (equal time) and at the end (converged). Prints one Markdown table per
job (the README's), writes JSON with every curve, and plots PSNR against seconds for one job.

Run it from the repository root (CPU; hours for every job and model on 2 cores):

    .venv/bin/python bench/adaptive_zoo.py
    .venv/bin/python bench/adaptive_zoo.py --jobs grayworld --models basic,first-linear
    .venv/bin/python bench/adaptive_zoo.py --jobs normalize --models first-linear --features 3
    .venv/bin/python bench/adaptive_zoo.py --jobs grayworld --size sample --epochs 20 \
        --first-stage-epochs 3
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from jobs import SIZES, job_folders
from machine import describe
from reference_adaptive_lut import (
    ReferenceRun,
    load_saved_run,
    split_like_lutcli,
    train_reference,
)

from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model
from lutcli.models.registry import MODELS
from lutcli.samples import CORRECTIONS
from lutcli.training.data import find_pairs
from lutcli.training.evaluation import evaluate
from lutcli.training.folder import train_from_folder
from lutcli.training.options import TrainingOptions

# (row label, zoo model, model options): every model of the zoo at its defaults.
ENTRIES = (
    ("basic", "basic", {}),
    ("first-linear", "first-linear", {}),
    ("first-product", "first-product", {}),
    ("second-linear", "second-linear", {}),
    ("second-product", "second-product", {}),
    ("combined (first + second)", "combined", {}),
)
# The other pairings of a combined model, run with --models.
MORE_ENTRIES = (
    ("combined (first + first)", "combined", {"linear": "first", "product": "first"}),
    ("combined (second + second)", "combined", {"linear": "second", "product": "second"}),
)
REFERENCE = "reference (converged)"
# A run is as good as it got once its validation PSNR is within this many dB of its best.
NEAR_BEST = 0.3


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default=",".join(CORRECTIONS), help="comma-separated jobs")
    parser.add_argument("--size", choices=sorted(SIZES), default="user", help="see bench/jobs.py")
    parser.add_argument("--epochs", type=int, help="default: lutcli train's")
    parser.add_argument("--first-stage-epochs", type=int, help="default: lutcli train's")
    parser.add_argument(
        "--features", type=int, help="the adaptive models' feature version (default: theirs)"
    )
    parser.add_argument(
        "--models", help="comma-separated row labels (default: every model at its defaults)"
    )
    parser.add_argument("--reference-seconds", type=float, default=1800.0)
    parser.add_argument("--no-reference", action="store_true", help="skip the reference model")
    parser.add_argument(
        "--saved-reference",
        action="store_true",
        help="read each job's reference run recorded by reference_adaptive_lut.py instead of "
        "training it here",
    )
    parser.add_argument("--json", type=Path, default=Path("bench-output/adaptive_zoo.json"))
    parser.add_argument("--plot", type=Path, default=Path("bench-output/adaptive_curves.png"))
    parser.add_argument("--plot-job", help="the job whose curves to plot (default: the first)")
    return parser.parse_args()


def main() -> None:
    """Train and measure every entry on every job, print the tables, write JSON and the plot."""
    args = parse_args()
    torch.set_flush_denormal(True)  # see reference_adaptive_lut.main
    labels = {entry[0] for entry in ENTRIES} if args.models is None else set(args.models.split(","))
    known = [entry[0] for entry in ENTRIES + MORE_ENTRIES]
    if not labels <= set(known):
        raise SystemExit(f"--models: unknown {sorted(labels - set(known))}; the rows are {known}")
    results = {
        "machine": f"{describe()}, {torch.get_num_threads()} torch threads",
        "size": args.size,
        "options": _options(args).__dict__,
        "jobs": {},
    }
    for job in args.jobs.split(","):
        train, unseen = job_folders(job, args.size)
        rows = [_row("inputs left as they are", _scores(BasicLookupModel(2), unseen))]
        for label, name, model_options in ENTRIES + MORE_ENTRIES:
            if label in labels:
                if args.features is not None and MODELS[name].adaptive:
                    model_options = {**model_options, "features": args.features}
                entry = (label, name, model_options)
                rows.append(
                    _train_zoo_model(f"{job}-{args.size}", entry, _options(args), train, unseen)
                )
                print(f"{job}: {_format(rows[-1])}", flush=True)
        reference = None
        if args.saved_reference:
            reference = load_saved_run(job, args.size)
        elif not args.no_reference:
            reference = _train_reference(train, unseen, args.reference_seconds)
        if reference is not None:
            rows.append(_reference_row(reference))
        _print_table(job, rows, reference)
        results["jobs"][job] = {
            "rows": rows,
            "reference_curve": reference.curve if reference else [],
            "reference_converged": reference.converged if reference else None,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    plot_job = args.plot_job or args.jobs.split(",")[0]
    if plot_job in results["jobs"]:
        title = f"{plot_job}, {args.size} size"
        plot_curves(results["jobs"][plot_job], title, args.plot)
        print(f"wrote {args.plot}")


def _options(args: argparse.Namespace) -> TrainingOptions:
    """lutcli train's defaults, but for the epochs asked for."""
    options = TrainingOptions()
    if args.epochs is not None:
        options.epochs = args.epochs
    if args.first_stage_epochs is not None:
        options.first_stage_epochs = args.first_stage_epochs
    return options


def _scores(model, unseen: Path) -> list[float]:
    return list(evaluate(model, unseen).values())


def _row(label: str, scores: list[float], **more) -> dict:
    return {
        "label": label,
        "unseen_psnr_mean": float(np.mean(scores)),
        "unseen_psnr_min": float(np.min(scores)),
        "seconds": None,
        "parameters": 0,
        **more,
    }


def _train_zoo_model(
    job: str, entry: tuple, options: TrainingOptions, train: Path, unseen: Path
) -> dict:
    """Train one zoo model; its row, with its validation curve."""
    label, name, model_options = entry
    output = Path("bench-output/models") / job / f"{label.replace(' ', '').replace('+', '-')}.pt"
    output.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = train_from_folder(
        train, output, name, model_options=model_options, options=options, overwrite=True
    )
    seconds = time.perf_counter() - started
    model, _ = load_model(output)
    # A model that trains from the identity has the fit as its model to beat at epoch 0.
    curve = [
        {
            "seconds": h["seconds"],
            "validation_psnr": max(h["validation_psnr"], h.get("fit_psnr", -math.inf)),
        }
        for h in result.history
    ]
    return _row(
        label,
        _scores(model, unseen),
        seconds=seconds,
        parameters=sum(p.numel() for p in model.parameters()),
        curve=curve,
    )


def _train_reference(train: Path, unseen: Path, seconds: float) -> ReferenceRun:
    """The reference trained on the same pairs, held out as lutcli holds them out."""
    train_pairs, validation_pairs = split_like_lutcli(find_pairs(train))
    return train_reference(train_pairs, validation_pairs, find_pairs(unseen), seconds)


def _reference_row(run: ReferenceRun) -> dict:
    final = run.final
    label = REFERENCE if run.converged else f"reference (stopped at {final['seconds']:.0f} s)"
    return {
        "label": label,
        "unseen_psnr_mean": final["unseen_psnr_mean"],
        "unseen_psnr_min": final["unseen_psnr_min"],
        "seconds": final["seconds"],
        "parameters": run.parameters,
    }


def seconds_to_near_best(curve: list[dict], within: float = NEAR_BEST) -> float:
    """The first second of training at which validation PSNR came ``within`` dB of the run's
    best: how soon the run was as good as it got."""
    best = max(entry["validation_psnr"] for entry in curve)
    return next(e["seconds"] for e in curve if e["validation_psnr"] >= best - within)


def _format(row: dict, basic: float | None = None, reference: ReferenceRun | None = None) -> str:
    """One Markdown row: label, mean and worst PSNR, gain over basic, the reference at equal
    time, time, time to within NEAR_BEST dB of the run's best, parameters."""
    trained = row["seconds"] is not None and not row["label"].startswith("reference")
    gain = f"{row['unseen_psnr_mean'] - basic:+.2f}" if basic is not None and trained else ""
    equal_time = ""
    if reference is not None and trained:
        at = reference.at_seconds(row["seconds"])["unseen_psnr_mean"]
        equal_time = f"{at:.2f} ({row['unseen_psnr_mean'] - at:+.2f})"
    seconds = "" if row["seconds"] is None else f"{row['seconds']:.0f}"
    near_best = f"{seconds_to_near_best(row['curve']):.0f}" if row.get("curve") else ""
    parameters = f"{row['parameters']:,}" if row["parameters"] else ""
    return (
        f"| {row['label']} | {row['unseen_psnr_mean']:.2f} | {row['unseen_psnr_min']:.2f} "
        f"| {gain} | {equal_time} | {seconds} | {near_best} | {parameters} |"
    )


def _print_table(job: str, rows: list[dict], reference: ReferenceRun | None) -> None:
    basic = next((r["unseen_psnr_mean"] for r in rows if r["label"] == "basic"), None)
    print(f"\n{job}\n")
    print(
        "| model | unseen PSNR (dB) | worst photo (dB) | over basic (dB) "
        f"| reference at equal time (dB) | training (s) | within {NEAR_BEST} dB of its best "
        "after (s) | parameters |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(_format(row, basic, reference))


def plot_curves(job_results: dict, title: str, path: Path) -> None:
    """Validation PSNR against seconds of training, each zoo model and the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for row in job_results["rows"]:
        if row.get("curve"):
            seconds = [entry["seconds"] for entry in row["curve"]]
            axes.plot(
                seconds, [entry["validation_psnr"] for entry in row["curve"]], label=row["label"]
            )
    curve = job_results["reference_curve"]
    if curve:
        seconds = [entry["seconds"] for entry in curve]
        axes.plot(seconds, [e["validation_psnr"] for e in curve], "k--", label="reference")
    axes.set_xscale("symlog", linthresh=10)
    axes.set_xlabel("seconds of training (2 CPU cores)")
    axes.set_ylabel("validation PSNR (dB)")
    axes.set_title(f"The zoo at lutcli's defaults and the reference: {title}")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main()
