"""A plain reimplementation of the image-adaptive 3D LUT, as a reference for lutcli.

Reproduces the method of Zeng et al., "Learning Image-adaptive 3D Lookup Tables for High
Performance Photo Enhancement in Real-time" (TPAMI 2020), written from the paper:

- three basis 3D LUTs of 33^3 entries; the first starts as the identity, the others as zero;
- a 5-layer CNN weight predictor that sees the photo resized to 256x256: conv 3x3 stride 2
  blocks (16-32-64-128-128 channels) with LeakyReLU and instance normalization, dropout 0.5,
  then a final conv over the 8x8 map that predicts the 3 fusion weights;
- the basis LUTs fused by the predicted weights, applied by trilinear interpolation
  (``torch.nn.functional.grid_sample`` on the 5D LUT, ``align_corners=True``);
- loss: MSE + 1e-4 * smoothness (total variation of the LUTs plus the squared weights)
  + 10 * monotonicity; Adam, lr 1e-4, betas (0.9, 0.999), batch size 1, whole images.

The job is lutcli's image-adaptive sample (``lutcli.samples.write_adaptive_job``): reframed,
mis-colored copies of seven real photos, each corrected by ffmpeg's automatic white balance
(grayworld), and four copies of three photos kept out of training. It reports PSNR on the unseen
photos, after rounding to 8 bits, next to the PSNR of the inputs left unchanged.
``adaptive_zoo.py`` runs it beside the zoo, on the same pairs and for the same time.

Run it from the repository root (CPU, about five minutes):

    .venv/bin/python bench/reference_adaptive_lut.py --seconds 300

``--epochs N`` trains a fixed number of epochs instead of a time budget; ``--data DIR`` and
``--json PATH`` choose where the sample pairs and the results go.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lutcli.samples import write_adaptive_job

LUT_SIZE = 33
N_BASIS = 3
PREDICTOR_SIZE = 256
SMOOTHNESS_WEIGHT = 1e-4
MONOTONICITY_WEIGHT = 10.0


def identity_lut(size: int = LUT_SIZE) -> torch.Tensor:
    """The identity LUT, shape (3, size, size, size), indexed [channel, b, g, r].

    ``grid_sample`` reads the last grid coordinate (red here) along the last LUT axis.
    """
    ramp = torch.linspace(0, 1, size)
    b, g, r = torch.meshgrid(ramp, ramp, ramp, indexing="ij")
    return torch.stack([r, g, b])


def apply_lut(lut: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """Trilinear lookup of (N, 3, H, W) images in [0, 1] through (N, 3, S, S, S) LUTs."""
    grid = image.permute(0, 2, 3, 1).unsqueeze(1) * 2 - 1  # (N, 1, H, W, 3): x=r, y=g, z=b
    out = F.grid_sample(lut, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.squeeze(2)


def conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """Conv 3x3 stride 2, LeakyReLU, instance normalization."""
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.InstanceNorm2d(out_channels, affine=True),
    ]


class WeightPredictor(nn.Module):
    """The 5-layer CNN that predicts one fusion weight per basis LUT from a 256x256 thumbnail."""

    def __init__(self, n_basis: int = N_BASIS) -> None:
        super().__init__()
        channels = (3, 16, 32, 64, 128, 128)
        layers: list[nn.Module] = []
        for c_in, c_out in zip(channels[:-1], channels[1:], strict=True):
            layers += conv_block(c_in, c_out)
        final_side = PREDICTOR_SIZE // 2**5  # 8: the final conv covers the whole map
        layers += [nn.Dropout(0.5), nn.Conv2d(channels[-1], n_basis, final_side)]
        self.net = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) images -> (N, n_basis) weights."""
        thumbnail = F.interpolate(
            image, size=(PREDICTOR_SIZE, PREDICTOR_SIZE), mode="bilinear", align_corners=False
        )
        return self.net(thumbnail).flatten(1)


class AdaptiveLut(nn.Module):
    """Basis LUTs fused per image by the weights the CNN predicts."""

    def __init__(self, n_basis: int = N_BASIS, size: int = LUT_SIZE) -> None:
        super().__init__()
        basis = torch.zeros(n_basis, 3, size, size, size)
        basis[0] = identity_lut(size)
        self.basis = nn.Parameter(basis)
        self.predictor = WeightPredictor(n_basis)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) in [0, 1] -> (enhanced images, predicted weights)."""
        weights = self.predictor(image)
        fused = torch.einsum("nk,kcdhw->ncdhw", weights, self.basis)
        return apply_lut(fused, image), weights

    def regularizers(self, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(smoothness, monotonicity) of the basis LUTs; smoothness includes the weights' L2."""
        smooth = weights.pow(2).mean()
        mono = weights.new_zeros(())
        for axis in (2, 3, 4):  # b, g, r axes of (K, 3, S, S, S)
            step = self.basis.diff(dim=axis)
            smooth = smooth + step.pow(2).mean()
            mono = mono + F.relu(-step).mean()  # outputs must not fall as inputs rise
        return smooth, mono


def read_rgb(path: Path) -> torch.Tensor:
    """An 8-bit image file as a (1, 3, H, W) float tensor in [0, 1]."""
    pixels = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).float() / 255


def load_pairs(folder: Path) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, input, target) for every ``folder/input/*.png`` with its ``folder/target`` twin."""
    inputs = sorted((folder / "input").glob("*.png"))
    if not inputs:
        raise SystemExit(f"no pairs in {folder}")
    return [(p.stem, read_rgb(p), read_rgb(folder / "target" / p.name)) for p in inputs]


def psnr_8bit(output: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of ``output`` rounded to 8 bits against an 8-bit ``target`` (both in [0, 1])."""
    a = torch.round(output.clamp(0, 1) * 255).double()
    b = torch.round(target * 255).double()
    mse = (a - b).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def train_reference(
    model: AdaptiveLut,
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]],
    seconds: float | None,
    epochs: int | None,
    device: torch.device,
) -> dict[str, float]:
    """Train with batch size 1 until the time budget or the epoch count runs out."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
    order_generator = torch.Generator().manual_seed(0)
    model.train()
    steps = 0
    epoch_loss = 0.0
    start = time.perf_counter()
    done = False
    while not done:
        for index in torch.randperm(len(pairs), generator=order_generator).tolist():
            _, image, target = pairs[index]
            image, target = image.to(device), target.to(device)
            output, weights = model(image)
            smooth, mono = model.regularizers(weights)
            loss = F.mse_loss(output, target) + SMOOTHNESS_WEIGHT * smooth
            loss = loss + MONOTONICITY_WEIGHT * mono
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps += 1
            epoch_loss += loss.item()
            elapsed = time.perf_counter() - start
            if seconds is not None and elapsed >= seconds:
                done = True
                break
        if steps % (10 * len(pairs)) == 0:
            print(
                f"  epoch {steps // len(pairs):4d}  {time.perf_counter() - start:6.1f} s  "
                f"loss {epoch_loss / len(pairs):.5f}",
                flush=True,
            )
        epoch_loss = 0.0
        if epochs is not None and steps >= epochs * len(pairs):
            done = True
    return {
        "seconds": time.perf_counter() - start,
        "steps": steps,
        "epochs": steps / len(pairs),
    }


@torch.no_grad()
def evaluate_reference(
    model: AdaptiveLut | None,
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]],
    device: torch.device,
) -> list[float]:
    """PSNR of each pair's model output (or of its input unchanged, when ``model`` is None)."""
    if model is not None:
        model.eval()
    scores = []
    for _, image, target in pairs:
        output = image if model is None else model(image.to(device))[0].cpu()
        scores.append(psnr_8bit(output, target))
    return scores


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("bench-output/adaptive"))
    parser.add_argument(
        "--json", type=Path, default=Path("bench-output/reference_adaptive_lut.json")
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="training time budget")
    parser.add_argument("--epochs", type=int, default=None, help="train N epochs instead")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def main() -> None:
    """Build the data, train, evaluate, print a table and write the JSON results."""
    args = parse_args()
    torch.manual_seed(0)
    # Adam's second moments for LUT cells no photo visits decay into subnormal floats, which
    # slow CPU arithmetic several-fold; flushing them to zero only drops values below 1e-38.
    torch.set_flush_denormal(True)
    device = torch.device(args.device)
    if not (args.data / "train").exists():
        write_adaptive_job(args.data)
    train_pairs = load_pairs(args.data / "train")
    unseen_pairs = load_pairs(args.data / "unseen")

    model = AdaptiveLut().to(device)
    n_params = sum(p.numel() for p in model.parameters())
    seconds = None if args.epochs is not None else args.seconds
    stats = train_reference(model, train_pairs, seconds, args.epochs, device)

    unseen = evaluate_reference(model, unseen_pairs, device)
    identity = evaluate_reference(None, unseen_pairs, device)
    train_scores = evaluate_reference(model, train_pairs, device)

    results = {
        "method": "image-adaptive 3D LUT (Zeng et al., TPAMI 2020), plain reimplementation",
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "train_pairs": len(train_pairs),
        "unseen_pairs": len(unseen_pairs),
        "unseen_psnr_mean": float(np.mean(unseen)),
        "unseen_psnr_min": float(np.min(unseen)),
        "identity_psnr_mean": float(np.mean(identity)),
        "identity_psnr_min": float(np.min(identity)),
        "train_psnr_mean": float(np.mean(train_scores)),
        "train_seconds": stats["seconds"],
        "epochs": stats["epochs"],
        "steps": stats["steps"],
        "parameters": n_params,
        "unseen_psnr": {name: s for (name, _, _), s in zip(unseen_pairs, unseen, strict=True)},
    }

    print(f"{'':24} {'mean dB':>8} {'min dB':>8}")
    print(f"{'identity (unseen)':24} {np.mean(identity):8.2f} {np.min(identity):8.2f}")
    print(f"{'adaptive LUT (unseen)':24} {np.mean(unseen):8.2f} {np.min(unseen):8.2f}")
    print(f"{'adaptive LUT (train)':24} {np.mean(train_scores):8.2f} {np.min(train_scores):8.2f}")
    print(
        f"trained {stats['seconds']:.1f} s, {stats['epochs']:.2f} epochs, {stats['steps']} steps, "
        f"{n_params} parameters, {len(train_pairs)} training pairs, device {device}"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
