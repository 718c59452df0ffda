"""The literature's image-adaptive 3D LUT, as its authors train it: the yardstick for the zoo.

Zeng, Cai, Li, Cao and Zhang, "Learning Image-adaptive 3D Lookup Tables for High Performance
Photo Enhancement in Real-time" (TPAMI 2020), reimplemented from the paper and checked line by
line against the authors' public code (github.com/HuiZeng/Image-Adaptive-3DLUT,
``image_adaptive_lut_train_paired.py``, ``models.py``, ``datasets.py``):

- three basis LUTs of 33³: the first the identity, the other two zero;
- the classifier: the photo resized to 256², conv 3×3 stride 2 blocks of 16, 32, 64, 128 and 128
  channels with LeakyReLU 0.2, instance normalization (affine) after the first four, dropout
  0.5, and a conv 8×8 that gives the three weights; conv weights Xavier-normal, normalization
  weights N(1, 0.02), and the last bias 1, so that training starts from the identity;
- the LUT fused from the weights, applied by trilinear interpolation (``grid_sample`` with
  ``align_corners=True`` computes the authors' CUDA kernel up to its 1.000001 bin width);
- loss: MSE + 1e-4 × (mean squared weight + total variation of each LUT, the border steps
  counted twice) + 10 × monotonicity of each LUT; Adam, lr 1e-4, betas (0.9, 0.999), batch 1;
- each training photo, every time it is drawn: a random crop of 60–100 % of each side, a
  horizontal flip half of the time, and the input's brightness and saturation each scaled by a
  factor in [0.8, 1.2] (the target left alone), all in 8 bits as Pillow does them.

Where this differs: the authors train 400 epochs on 4,500 FiveK photos and report the best test
PSNR over epochs; here training stops when the PSNR on held-out pairs (the validation pairs
``lutcli train`` would hold out: same fraction, same seed) has not improved for ``--patience``
epochs after at least MIN_STEPS steps, or at ``--max-seconds``; the best model by that
validation PSNR is kept, and it is scored on unseen photos, which no choice looked at. Every
epoch records the time and the validation PSNR (the curve), and the unseen PSNR of the best
model so far, so that it can be read at any wall time (``at_seconds``). Time spent scoring
unseen photos is not counted.

Run it from the repository root (CPU):

    .venv/bin/python bench/reference_adaptive_lut.py --job grayworld --max-seconds 600
    .venv/bin/python bench/reference_adaptive_lut.py --job normalize --size sample
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from jobs import SIZES, job_folders
from torch import nn

from lutcli.io.images import read_image
from lutcli.io.pixels import to_tensor
from lutcli.samples import CORRECTIONS
from lutcli.training.data import Pair, find_pairs
from lutcli.training.losses import psnr_from_mse
from lutcli.training.options import TrainingOptions
from lutcli.training.trainer import split_samples

LUT_SIZE = 33
BASIS_LUTS = 3
CLASSIFIER_SIDE = 256
SMOOTHNESS_WEIGHT = 1e-4
MONOTONICITY_WEIGHT = 10.0
LEARNING_RATE = 1e-4
# Steps before a plateau may count as convergence: the reference starts below the inputs left
# as they are and, at 1e-4, climbs through long noisy stretches (on a 70-pair job, 20 epochs
# without a better validation PSNR came after 1,300 steps, still 10 dB below the inputs). The
# authors take 1.8 million steps (400 epochs of 4,500 photos); this is about 1 % of them.
MIN_STEPS = 20_000
# Gray as torchvision's adjust_saturation (ITU-R 601-2 luma) sees it.
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)


def identity_lut(size: int = LUT_SIZE) -> torch.Tensor:
    """The identity LUT, (3, size, size, size) indexed [channel, b, g, r] as the authors'."""
    ramp = torch.linspace(0, 1, size)
    b, g, r = torch.meshgrid(ramp, ramp, ramp, indexing="ij")
    return torch.stack([r, g, b])


def apply_lut(lut: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of (N, 3, H, W) images in [0, 1] through (N, 3, S, S, S) LUTs."""
    grid = image.permute(0, 2, 3, 1).unsqueeze(1) * 2 - 1  # (N, 1, H, W, 3): x=r, y=g, z=b
    out = F.grid_sample(lut, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.squeeze(2)


def conv_block(in_channels: int, out_channels: int, normalization: bool) -> list[nn.Module]:
    """Conv 3×3 stride 2 and LeakyReLU 0.2, then instance normalization if asked."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
    ]
    if normalization:
        layers.append(nn.InstanceNorm2d(out_channels, affine=True))
    return layers


class Classifier(nn.Module):
    """The CNN that predicts one weight per basis LUT from the photo resized to 256²."""

    def __init__(self, basis_luts: int = BASIS_LUTS) -> None:
        super().__init__()
        channels = (3, 16, 32, 64, 128, 128)
        layers: list[nn.Module] = []
        for index, (c_in, c_out) in enumerate(zip(channels[:-1], channels[1:], strict=True)):
            layers += conv_block(c_in, c_out, normalization=index < 4)
        final_side = CLASSIFIER_SIDE // 2**5  # 8: the last conv covers the whole map
        self.last = nn.Conv2d(channels[-1], basis_luts, final_side)
        self.net = nn.Sequential(*layers, nn.Dropout(0.5), self.last)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_normal_(module.weight)
            elif isinstance(module, nn.InstanceNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)
        nn.init.constant_(self.last.bias, 1.0)  # weights (1, 1, 1): the identity LUT

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) images -> (N, basis_luts) weights."""
        side = (CLASSIFIER_SIDE, CLASSIFIER_SIDE)
        thumbnail = F.interpolate(image, size=side, mode="bilinear", align_corners=False)
        return self.net(thumbnail).flatten(1)


class AdaptiveLut(nn.Module):
    """Basis LUTs fused per photo by the weights the classifier predicts."""

    def __init__(self, basis_luts: int = BASIS_LUTS, size: int = LUT_SIZE) -> None:
        super().__init__()
        basis = torch.zeros(basis_luts, 3, size, size, size)
        basis[0] = identity_lut(size)
        self.basis = nn.Parameter(basis)
        self.classifier = Classifier(basis_luts)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> (enhanced images, predicted weights)."""
        weights = self.classifier(image)
        fused = torch.einsum("nk,kcdhw->ncdhw", weights, self.basis)
        return apply_lut(fused, image), weights

    def regularization(self, weights: torch.Tensor) -> torch.Tensor:
        """1e-4 × (mean squared weight + each LUT's total variation) + 10 × each LUT's
        monotonicity, as the authors' TV_3D: steps into the lattice's border count twice."""
        size = self.basis.shape[-1]
        border = torch.ones(size - 1)
        border[[0, -1]] = 2.0
        smooth = weights.pow(2).mean()
        monotone = weights.new_zeros(())
        for axis in (2, 3, 4):  # b, g, r of (K, 3, S, S, S)
            fall = -self.basis.diff(dim=axis)  # the authors' LUT[i] - LUT[i + 1]
            shape = [1] * 5
            shape[axis] = size - 1
            smooth = smooth + (fall.pow(2) * border.view(shape)).mean(dim=(1, 2, 3, 4)).sum()
            monotone = monotone + F.relu(fall).mean(dim=(1, 2, 3, 4)).sum()
        return SMOOTHNESS_WEIGHT * smooth + MONOTONICITY_WEIGHT * monotone


def read_pair(pair: Pair) -> tuple[torch.Tensor, torch.Tensor]:
    """An input and its target as (3, H, W) float tensors in [0, 1], read as lutcli reads them."""
    image, target = (
        to_tensor(read_image(p).pixels)[0] for p in (pair.input_path, pair.target_path)
    )
    return image, target


def augment(
    image: torch.Tensor, target: torch.Tensor, generator: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' training augmentation of one (3, H, W) pair (``datasets.ImageDataset_sRGB``):
    a crop of 60–100 % of each side, a flip half of the time, and the input's brightness and
    saturation scaled by factors in [0.8, 1.2], each rounded to 8 bits as Pillow's are."""
    height, width = image.shape[1:]
    crop_height = round(height * generator.uniform(0.6, 1.0))
    crop_width = round(width * generator.uniform(0.6, 1.0))
    top = int(generator.integers(0, height - crop_height + 1))
    left = int(generator.integers(0, width - crop_width + 1))
    image = image[:, top : top + crop_height, left : left + crop_width]
    target = target[:, top : top + crop_height, left : left + crop_width]
    if generator.random() > 0.5:
        image, target = image.flip(-1), target.flip(-1)
    image = torch.round((image * generator.uniform(0.8, 1.2)).clamp(0, 1) * 255) / 255
    gray = (image * LUMA).sum(0, keepdim=True)
    image = gray + generator.uniform(0.8, 1.2) * (image - gray)
    image = torch.round(image.clamp(0, 1) * 255) / 255
    return image, target


@torch.no_grad()
def psnr(model: AdaptiveLut | None, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """PSNR (dB) over all pixels of the pairs, of the outputs as they are (validation, as
    ``lutcli train`` scores it), or of the inputs left unchanged when ``model`` is None."""
    squared_error, pixels = 0.0, 0
    for image, target in pairs:
        output = image if model is None else model(image[None])[0][0]
        squared_error += (output.clamp(0, 1) - target).pow(2).sum().item()
        pixels += target.numel()
    return psnr_from_mse(squared_error / pixels)


@torch.no_grad()
def unseen_psnr(
    model: AdaptiveLut | None, pairs: list[tuple[torch.Tensor, torch.Tensor]]
) -> list[float]:
    """PSNR of each unseen pair's output rounded to 8 bits (as a written file holds it, and as
    ``lutcli.training.evaluation.evaluate`` scores the zoo)."""
    scores = []
    for image, target in pairs:
        output = image if model is None else model(image[None])[0][0]
        error = (torch.round(output.clamp(0, 1) * 255) - torch.round(target * 255)) / 255
        scores.append(psnr_from_mse(error.double().pow(2).mean().item()))
    return scores


@dataclass
class ReferenceRun:
    """What a training of the reference gave: per epoch, the seconds of training so far, the
    validation PSNR and the unseen PSNR (mean and worst) of the best model so far."""

    curve: list[dict[str, float]] = field(default_factory=list)
    parameters: int = 0
    converged: bool = False

    def at_seconds(self, seconds: float) -> dict[str, float]:
        """The epoch record of the best model this run had after ``seconds`` of training."""
        done = [entry for entry in self.curve if entry["seconds"] <= seconds] or self.curve[:1]
        return done[-1]

    @property
    def final(self) -> dict[str, float]:
        return self.curve[-1]


def saved_run_path(job: str, size: str) -> Path:
    """Where this script records its run on a job, for ``adaptive_zoo.py --saved-reference``."""
    return Path("bench-output") / f"reference-{job}-{size}.json"


def load_saved_run(job: str, size: str) -> ReferenceRun:
    """The run this script recorded on a job (an error naming the command when there is none)."""
    path = saved_run_path(job, size)
    if not path.is_file():
        raise SystemExit(
            f"no saved reference run at {path}: run "
            f"bench/reference_adaptive_lut.py --job {job} --size {size}"
        )
    saved = json.loads(path.read_text())
    return ReferenceRun(saved["curve"], saved["parameters"], saved["converged"])


def train_reference(
    train_pairs: list[Pair],
    validation_pairs: list[Pair],
    unseen_pairs: list[Pair],
    max_seconds: float,
    patience: int = 20,
    seed: int = 0,
    on_epoch=lambda entry: None,
) -> ReferenceRun:
    """Train the reference by the published recipe until validation PSNR has not improved for
    ``patience`` epochs after at least MIN_STEPS steps (converged), or ``max_seconds`` of
    training have passed."""
    torch.manual_seed(seed)
    generator = np.random.default_rng(seed)
    model = AdaptiveLut()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999))
    train = [read_pair(pair) for pair in train_pairs]
    validation = [read_pair(pair) for pair in validation_pairs]
    unseen = [read_pair(pair) for pair in unseen_pairs]
    run = ReferenceRun(parameters=sum(p.numel() for p in model.parameters()))
    best_validation, best_epoch, best_unseen = -math.inf, 0, None
    trained = 0.0  # seconds of training and validation; scoring unseen photos is not counted
    epoch = 0
    while True:
        started = time.perf_counter()
        if epoch > 0:  # epoch 0 scores the untrained model: the identity
            model.train()
            for index in generator.permutation(len(train)):
                image, target = augment(*train[index], generator)
                output, weights = model(image[None])
                loss = F.mse_loss(output, target[None]) + model.regularization(weights)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        model.eval()
        score = psnr(model, validation)
        trained += time.perf_counter() - started
        if score > best_validation:
            best_validation, best_epoch = score, epoch
            scores = unseen_psnr(model, unseen)
            best_unseen = (float(np.mean(scores)), float(np.min(scores)))
        entry = {
            "epoch": epoch,
            "seconds": trained,
            "validation_psnr": score,
            "best_validation_psnr": best_validation,
            "unseen_psnr_mean": best_unseen[0],
            "unseen_psnr_min": best_unseen[1],
        }
        run.curve.append(entry)
        on_epoch(entry)
        if epoch - best_epoch >= patience and epoch * len(train) >= MIN_STEPS:
            run.converged = True
            return run
        if trained >= max_seconds:
            return run
        epoch += 1


def split_like_lutcli(pairs: list[Pair], seed: int = 0) -> tuple[list[Pair], list[Pair]]:
    """(training, validation) pairs as ``lutcli train`` splits them at its defaults."""
    options = TrainingOptions(seed=seed)
    train, validation = split_samples(
        len(pairs), options.validation_fraction, seed, options.validation_pairs
    )
    return [pairs[i] for i in train], [pairs[i] for i in validation]


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job", choices=sorted(CORRECTIONS), default="grayworld")
    parser.add_argument("--size", choices=sorted(SIZES), default="user", help="see bench/jobs.py")
    parser.add_argument(
        "--data", type=Path, help="the job's folder (default bench-output/JOB-SIZE)"
    )
    parser.add_argument("--json", type=Path, help="default bench-output/reference-JOB-SIZE.json")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    parser.add_argument("--patience", type=int, default=20, help="epochs without improvement")
    return parser.parse_args()


def main() -> None:
    """Make the job if needed, train to convergence, print the curve, write the JSON."""
    args = parse_args()
    # Adam's second moments for LUT cells no photo visits decay into subnormal floats, which
    # slow CPU arithmetic several-fold; flushing them to zero only drops values below 1e-38.
    torch.set_flush_denormal(True)
    train_folder, unseen_folder = job_folders(args.job, args.size, args.data)
    train, validation = split_like_lutcli(find_pairs(train_folder))
    unseen = find_pairs(unseen_folder)
    identity = unseen_psnr(None, [read_pair(pair) for pair in unseen])
    print(f"inputs left as they are: unseen {np.mean(identity):.2f} dB (worst {min(identity):.2f})")

    def show(entry: dict[str, float]) -> None:
        print(
            f"  epoch {entry['epoch']:4d}  {entry['seconds']:7.1f} s  validation "
            f"{entry['validation_psnr']:.2f} dB  best model's unseen "
            f"{entry['unseen_psnr_mean']:.2f} dB",
            flush=True,
        )

    run = train_reference(train, validation, unseen, args.max_seconds, args.patience, on_epoch=show)
    final = run.final
    print(
        f"{'converged' if run.converged else 'stopped at --max-seconds'} after "
        f"{final['seconds']:.0f} s: unseen {final['unseen_psnr_mean']:.2f} dB "
        f"(worst {final['unseen_psnr_min']:.2f}), {run.parameters:,} parameters"
    )
    path = args.json or saved_run_path(args.job, args.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"job": args.job, "size": args.size, **asdict(run)}, indent=2) + "\n"
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
