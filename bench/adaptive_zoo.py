"""The model zoo on the image-adaptive sample job, beside the literature's reference model.

Every zoo model trains on the training pairs of ``lutcli.samples.write_adaptive_job`` with the
same options, then is measured on the unseen photos by ``lutcli.training.evaluation.evaluate``
(PSNR of the 8-bit output, as ``lutcli apply`` writes it). The reference (``reference_adaptive_
lut.py``, a plain reimplementation of the image-adaptive 3D LUT) then trains on the same pairs
for as long as ``first-linear`` took, its counterpart in the zoo. Prints a Markdown table (the
one in the README) and writes JSON.

Run it from the repository root (CPU; about 45 minutes for the whole zoo on 2 cores):

    .venv/bin/python bench/adaptive_zoo.py
    .venv/bin/python bench/adaptive_zoo.py --models basic,first-linear --epochs 10
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from reference_adaptive_lut import AdaptiveLut, evaluate_reference, load_pairs, train_reference

from lutcli.models.basic import BasicLookupModel
from lutcli.models.files import load_model
from lutcli.samples import write_adaptive_job
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
REFERENCE_BUDGET_FROM = "first-linear"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench-output/adaptive"))
    parser.add_argument("--json", type=Path, default=Path("bench-output/adaptive_zoo.json"))
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of every model")
    parser.add_argument("--first-stage-epochs", type=int, default=3)
    parser.add_argument(
        "--models", help="comma-separated row labels (default: every model at its defaults)"
    )
    parser.add_argument("--no-reference", action="store_true", help="skip the reference model")
    return parser.parse_args()


def main() -> None:
    """Build the job, train and measure each entry, print the table, write the JSON."""
    args = parse_args()
    torch.set_flush_denormal(True)  # see reference_adaptive_lut.main
    if not (args.data / "train").exists():
        write_adaptive_job(args.data)
    train, unseen = args.data / "train", args.data / "unseen"
    options = TrainingOptions(epochs=args.epochs, first_stage_epochs=args.first_stage_epochs)
    wanted = None if args.models is None else set(args.models.split(","))
    rows = [_identity_row(unseen)]
    for label, name, model_options in ENTRIES + MORE_ENTRIES:
        if label not in (wanted or {entry[0] for entry in ENTRIES}):
            continue
        output = args.data / "models" / f"{label.replace(' ', '').replace('+', '-')}.pt"
        output.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        train_from_folder(
            train, output, name, model_options=model_options, options=options, overwrite=True
        )
        seconds = time.perf_counter() - started
        model, _ = load_model(output)
        scores = list(evaluate(model, unseen).values())
        parameters = sum(p.numel() for p in model.parameters())
        rows.append(_row(label, scores, seconds, parameters))
        print(_format(rows[-1]), flush=True)
    budget = next((r["seconds"] for r in rows if r["label"] == REFERENCE_BUDGET_FROM), None)
    if not args.no_reference and budget is not None:
        rows.append(_reference_row(train, unseen, budget))
    _print_table(rows)
    results = {
        "job": "lutcli.samples.write_adaptive_job",
        "epochs": args.epochs,
        "first_stage_epochs": args.first_stage_epochs,
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads",
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


def _row(label: str, scores: list[float], seconds: float | None, parameters: int) -> dict:
    return {
        "label": label,
        "unseen_psnr_mean": float(np.mean(scores)),
        "unseen_psnr_min": float(np.min(scores)),
        "seconds": seconds,
        "parameters": parameters,
    }


def _identity_row(unseen: Path) -> dict:
    """The unseen inputs left as they are (a 2³ identity LUT is exact under trilinear)."""
    scores = list(evaluate(BasicLookupModel(2), unseen).values())
    return _row("identity (inputs unchanged)", scores, None, 0)


def _reference_row(train: Path, unseen: Path, seconds: float) -> dict:
    """The literature's model, trained for ``seconds`` on the same pairs."""
    torch.manual_seed(0)
    model = AdaptiveLut()
    train_reference(model, load_pairs(train), seconds, None, torch.device("cpu"))
    scores = evaluate_reference(model, load_pairs(unseen), torch.device("cpu"))
    parameters = sum(p.numel() for p in model.parameters())
    return _row("reference: image-adaptive 3D LUT", scores, seconds, parameters)


def _format(row: dict, basic: float | None = None) -> str:
    """One Markdown table row: label, mean and worst PSNR, gain over basic, time, parameters."""
    gain = "" if basic is None else f"{row['unseen_psnr_mean'] - basic:+.2f}"
    seconds = "" if row["seconds"] is None else f"{row['seconds']:.0f}"
    return (
        f"| {row['label']} | {row['unseen_psnr_mean']:.2f} | {row['unseen_psnr_min']:.2f} "
        f"| {gain} | {seconds} | {row['parameters']:,} |"
    )


def _print_table(rows: list[dict]) -> None:
    basic = next((r["unseen_psnr_mean"] for r in rows if r["label"] == "basic"), None)
    print()
    print(
        "| model | unseen PSNR (dB) | worst photo (dB) | over basic (dB) | training (s) "
        "| parameters |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(_format(row, basic if row["seconds"] is not None else None))


if __name__ == "__main__":
    main()
