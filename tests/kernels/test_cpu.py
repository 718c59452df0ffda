"""The compiled CPU kernels (lutcli.kernels.cpu) against the torch reference, and the fallback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lutcli.kernels import cpu, cpu_planar
from lutcli.lut.interpolate import INTERPOLATIONS, apply_lut, reference_apply_lut
from lutcli.lut.lattice import identity_lut

needs_kernels = pytest.mark.skipif(
    not cpu.available(),
    reason="the compiled CPU kernels are not built, or LUTCLI_KERNELS=reference switches them off",
)

LEVELS = {np.uint8: 255, np.uint16: 65535}


def random_lut(size: int, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """The identity plus noise: values leave [0, 1], so integer outputs get clamped too."""
    noise = 0.1 * torch.randn(3, size, size, size, generator=generator)
    return (identity_lut(size) + noise).to(dtype)


def random_pixels(dtype, height: int, width: int, seed: int = 0) -> np.ndarray:
    """(H, W, 3) random pixels whose first row holds the 8 corners of the cube (0 and max)."""
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        pixels = rng.uniform(-0.2, 1.2, size=(height, width, 3)).astype(np.float32)
        top = 1.0
    else:
        top = LEVELS[dtype]
        pixels = rng.integers(0, top + 1, size=(height, width, 3)).astype(dtype)
    corners = [(r, g, b) for b in (0, top) for g in (0, top) for r in (0, top)]
    pixels[0, : len(corners)] = np.array(corners, dtype=dtype)
    return pixels


def to_image(pixels: np.ndarray, scale: float, dtype=torch.float64) -> torch.Tensor:
    """(H, W, 3) pixels -> (1, 3, H, W) float image divided by ``scale``."""
    image = torch.from_numpy(pixels.astype(np.float64) / scale).to(dtype)
    return image.permute(2, 0, 1).unsqueeze(0)


def reference_levels(pixels: np.ndarray, lut: torch.Tensor, interp: str) -> np.ndarray:
    """The exact (float64, unrounded) output of integer pixels in levels, clamped to the range."""
    top = LEVELS[pixels.dtype.type]
    out = reference_apply_lut(to_image(pixels, top), lut.double(), interp)
    return (out[0].permute(1, 2, 0).clamp(0, 1) * top).numpy()


def assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, tol: float = 1e-4):
    """Equal up to ``tol`` times the expected values' magnitude (at least 1)."""
    assert actual is not None and expected is not None
    scale = max(1.0, expected.abs().max().item())
    error = (actual - expected).abs().max().item()
    assert error <= tol * scale, f"max error {error} exceeds {tol} x {scale}"


@pytest.fixture
def kernel_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The interpolations apply_lut handed to the training kernel, in order."""
    calls: list[str] = []
    original = cpu_planar.interpolate_planar

    def spy(colors, table, interp):
        calls.append(interp)
        return original(colors, table, interp)

    monkeypatch.setattr(cpu_planar, "interpolate_planar", spy)
    return calls


# apply_to_pixels: decoded photos ------------------------------------------------------------


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("size", [2, 17, 33])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_pixels_match_the_reference_within_one_level(dtype, size, interp, generator):
    lut = random_lut(size, generator)
    pixels = random_pixels(dtype, 40, 64)
    out = cpu.apply_to_pixels(pixels, lut, interp)
    assert out.dtype == pixels.dtype and out.shape == pixels.shape
    exact = reference_levels(pixels, lut, interp)
    difference = np.abs(out.astype(np.int64) - np.rint(exact).astype(np.int64))
    assert difference.max() <= 1
    # A level differs only where the exact value lies at a rounding midpoint, within float32's
    # error (a few hundredths of a 16-bit level, far less of an 8-bit one).
    assert np.abs(out - exact).max() <= 0.5 + 0.05
    # float32 cannot round every 16-bit value as float64 does (the float32 reference itself
    # matches on only ~99.5% of them), so 99.9% identical is asked of 8-bit pixels only.
    assert (difference == 0).mean() >= (0.999 if dtype == np.uint8 else 0.99)


def tied_pixels(dtype) -> np.ndarray:
    """Grays and colors with two equal channels, in each order: where the tetrahedral kernel
    chooses its tetrahedron between equal fractions (grays are every photo's neutrals)."""
    top = 1.0 if dtype == np.float32 else LEVELS[dtype]
    levels = np.linspace(0, top, 23)
    levels = levels if dtype == np.float32 else np.rint(levels)
    first, second = np.meshgrid(levels, levels)
    red_is_green = np.stack([first, first, second], axis=-1).reshape(-1, 3)
    tied = np.concatenate([np.roll(red_is_green, shift, axis=1) for shift in range(3)])
    return tied.reshape(-1, 23, 3).astype(dtype)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_tetrahedral_pixels_with_tied_fractions_match_the_reference(dtype, generator):
    lut = random_lut(17, generator)
    pixels = tied_pixels(dtype)
    out = cpu.apply_to_pixels(pixels, lut, "tetrahedral")
    if dtype == np.float32:
        expected = reference_apply_lut(to_image(pixels, 1.0, torch.float32), lut, "tetrahedral")
        np.testing.assert_allclose(out, expected[0].permute(1, 2, 0).numpy(), rtol=0, atol=1e-5)
    else:
        exact = reference_levels(pixels, lut, "tetrahedral")
        assert np.abs(out - exact).max() <= 0.5 + 0.05


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("size", [2, 17, 33])
def test_float_pixels_match_the_reference_and_are_clamped_to_the_cube(size, interp, generator):
    lut = random_lut(size, generator)
    pixels = random_pixels(np.float32, 40, 64)
    assert pixels.min() < 0 and pixels.max() > 1
    out = cpu.apply_to_pixels(pixels, lut, interp)
    assert out.dtype == np.float32 and out.shape == pixels.shape
    expected = reference_apply_lut(to_image(pixels, 1.0, torch.float32), lut, interp)
    np.testing.assert_allclose(out, expected[0].permute(1, 2, 0).numpy(), rtol=0, atol=1e-5)


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_in_place_gives_the_same_pixels_as_a_new_array(dtype, generator):
    lut = random_lut(9, generator)
    pixels = random_pixels(dtype, 30, 50)
    expected = cpu.apply_to_pixels(pixels, lut, "tetrahedral")
    result = cpu.apply_to_pixels(pixels, lut, "tetrahedral", out=pixels)
    assert result is pixels
    np.testing.assert_array_equal(pixels, expected)


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_one_thread_and_four_threads_give_identical_bytes(dtype, interp, generator):
    lut = random_lut(17, generator)
    pixels = random_pixels(dtype, 256, 256)  # several blocks of pixels, so threads share them
    one = cpu.apply_to_pixels(pixels, lut, interp, threads=1)
    four = cpu.apply_to_pixels(pixels, lut, interp, threads=4)
    assert one.tobytes() == four.tobytes()


@needs_kernels
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_non_contiguous_pixels_are_accepted(dtype, generator):
    lut = random_lut(9, generator)
    pixels = random_pixels(dtype, 20, 60)[:, ::2]
    assert not pixels.flags.c_contiguous
    out = cpu.apply_to_pixels(pixels, lut)
    np.testing.assert_array_equal(out, cpu.apply_to_pixels(np.ascontiguousarray(pixels), lut))


@needs_kernels
@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 5, 4), np.uint8),
        np.zeros((4, 5, 3), np.int32),
        np.zeros((4, 5, 3), np.float64),
        np.zeros((4, 5), np.uint8),
        np.zeros((4, 5, 3, 1), np.uint8),
    ],
    ids=["four-channels", "int32", "float64", "two-dims", "four-dims"],
)
def test_bad_pixel_arrays_are_rejected(pixels):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        cpu.apply_to_pixels(pixels, identity_lut(5))


@needs_kernels
@pytest.mark.parametrize(
    "shape",
    [(3, 5, 5, 4), (4, 5, 5, 5), (3, 1, 1, 1), (1, 3, 5, 5, 5), (3, 125)],
    ids=["not-a-cube", "four-channels", "one-point", "batched", "flat"],
)
def test_bad_luts_are_rejected(shape):
    with pytest.raises(ValueError, match="lut must be"):
        cpu.apply_to_pixels(np.zeros((4, 5, 3), np.uint8), torch.zeros(shape))


@needs_kernels
def test_bad_out_arrays_and_interpolation_names_are_rejected():
    pixels = np.zeros((4, 6, 3), np.uint8)
    lut = identity_lut(5)
    for out in (np.zeros((4, 6, 3), np.uint16), np.zeros((4, 5, 3), np.uint8)):
        with pytest.raises(ValueError, match="out must be"):
            cpu.apply_to_pixels(pixels, lut, out=out)
    with pytest.raises(ValueError, match="out must be"):
        cpu.apply_to_pixels(pixels, lut, out=np.zeros((4, 12, 3), np.uint8)[:, ::2])
    with pytest.raises(ValueError, match="interpolation"):
        cpu.apply_to_pixels(pixels, lut, "cubic")


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("size", [2, 17, 33, 65])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_identity_lut_leaves_integer_pixels_unchanged(dtype, size, interp):
    # Every level of the type appears in every channel.
    levels = np.arange(LEVELS[dtype] + 1, dtype=dtype)
    rng = np.random.default_rng(1)
    pixels = np.stack([levels, rng.permutation(levels), rng.permutation(levels)], axis=-1)
    pixels = pixels.reshape(-1, 256, 3)
    out = cpu.apply_to_pixels(pixels, identity_lut(size), interp)
    np.testing.assert_array_equal(out, pixels)


# SIMD levels, chunks and tails -----------------------------------------------------------------

# apply_packed works on chunks of 128 pixels (64 for float pixels) in blocks of 16384: pixel
# counts around each, and the smallest pictures.
CHUNKS, BLOCK = (64, 128), 16384
PIXEL_COUNTS = [1, 2, 3, 15, 17, *(n + d for n in CHUNKS for d in (-1, 0, 1)), 389, BLOCK + 131]


@pytest.fixture(params=cpu.simd_levels() or ["none"])
def simd_level(request):
    """Each SIMD level this CPU runs, in turn; the best one is put back afterwards."""
    if request.param == "none":
        pytest.skip("the compiled CPU kernels are not built")
    previous = cpu.use_simd(request.param)
    yield request.param
    cpu.use_simd(previous)


def expected_pixels(pixels: np.ndarray, lut: torch.Tensor, interp: str) -> np.ndarray:
    """The reference's output for (H, W, 3) pixels, in their type's levels (unrounded)."""
    if pixels.dtype == np.float32:
        out = reference_apply_lut(to_image(pixels, 1.0, torch.float32), lut, interp)
        return out[0].permute(1, 2, 0).numpy()
    return reference_levels(pixels, lut, interp)


@needs_kernels
@pytest.mark.parametrize("in_place", [False, True], ids=["new-array", "in-place"])
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_every_simd_level_matches_the_reference_at_every_tail(
    simd_level, dtype, interp, in_place, generator
):
    lut = random_lut(17, generator)
    for count in PIXEL_COUNTS:
        pixels = random_pixels(dtype, 1, max(count, 8), seed=count)[:, :count]
        pixels = np.ascontiguousarray(pixels)
        expected = expected_pixels(pixels, lut, interp)
        out = cpu.apply_to_pixels(pixels, lut, interp, out=pixels if in_place else None)
        if dtype == np.float32:
            np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5, err_msg=f"{count} px")
        else:
            assert np.abs(out - expected).max() <= 0.5 + 0.05, f"{count} pixels"


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_large_float_outputs_streamed_past_the_caches_equal_small_ones(simd_level, interp):
    # A float output of 16 MiB or more is written with non-temporal stores, four pixels at a
    # time; the pixel count leaves a tail of one. Bands of 100 rows stay under the threshold.
    lut = random_lut(17, torch.Generator().manual_seed(3))
    pixels = random_pixels(np.float32, 1001, 1401)
    assert pixels.nbytes >= 16 << 20 and (1001 * 1401) % 4 == 1
    streamed = cpu.apply_to_pixels(pixels, lut, interp)
    bands = [cpu.apply_to_pixels(pixels[r : r + 100], lut, interp) for r in range(0, 1001, 100)]
    np.testing.assert_array_equal(streamed, np.concatenate(bands))
    in_place = cpu.apply_to_pixels(pixels, lut, interp, out=pixels)
    np.testing.assert_array_equal(in_place, streamed)


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_every_simd_level_gives_the_training_kernels_reference_gradients(
    simd_level, interp, generator
):
    image, lut = training_case(generator, shared=True, batch=2, shape=(13, 21))
    image.requires_grad_(True)
    lut.requires_grad_(True)
    upstream = torch.randn(image.shape, generator=generator)
    out = apply_lut(image, lut, interp)
    expected = reference_apply_lut(image, lut, interp)
    assert torch.allclose(out, expected, rtol=0, atol=1e-5)
    grads = torch.autograd.grad(out, (image, lut), upstream)
    expected_grads = torch.autograd.grad(expected, (image, lut), upstream)
    for actual, wanted in zip(grads, expected_grads, strict=True):
        assert_close_to_scale(actual, wanted)


@needs_kernels
def test_the_best_simd_level_runs_until_another_is_chosen_and_unknown_ones_are_refused():
    levels = cpu.simd_levels()
    assert levels[-1] == "portable" and len(set(levels)) == len(levels)
    assert cpu.simd_level() == levels[0]
    assert cpu.use_simd("portable") == levels[0] and cpu.simd_level() == "portable"
    assert cpu.use_simd(levels[0]) == "portable" and cpu.simd_level() == levels[0]
    with pytest.raises(ValueError, match="does not run here"):
        cpu.use_simd("x86-64-v9")
    assert cpu.simd_level() == levels[0]


# The training kernel: apply_lut on float32 CPU tensors, forward and backward -------------------


def training_case(generator: torch.Generator, shared: bool, batch: int = 3, shape=(9, 11)):
    """An image with values slightly outside [0, 1], and a shared or per-image 7³ LUT."""
    image = torch.rand(batch, 3, *shape, generator=generator) * 1.1 - 0.05
    lut = random_lut(7, generator)
    if not shared:
        lut = torch.stack([lut] + [random_lut(7, generator) for _ in range(batch - 1)])
    return image, lut


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-lut", "lut-per-image"])
@pytest.mark.parametrize("shape", [(9, 11), (130, 130)], ids=["small", "several-blocks"])
def test_training_forward_matches_the_reference(shape, shared, interp, generator, kernel_calls):
    image, lut = training_case(generator, shared, batch=2, shape=shape)
    out = apply_lut(image, lut, interp)
    assert kernel_calls == [interp]
    expected = reference_apply_lut(image, lut, interp)
    assert out.shape == image.shape and out.dtype == torch.float32
    assert torch.allclose(out, expected, rtol=0, atol=1e-5)


def gradients(function, image, lut, interp, upstream):
    """Gradients of sum(upstream * function(image, lut)) for fresh leaf copies of both."""
    image = image.detach().clone().requires_grad_(image.requires_grad)
    lut = lut.detach().clone().requires_grad_(lut.requires_grad)
    function(image, lut, interp).backward(upstream)
    return image.grad, lut.grad


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize(
    ("shared", "batch", "shape"),
    [(True, 3, (9, 11)), (False, 3, (9, 11)), (True, 1, (9, 11)), (True, 2, (130, 130))],
    ids=["shared-lut", "lut-per-image", "one-image", "several-blocks"],
)
def test_training_backward_matches_the_reference_gradients(
    shared, batch, shape, interp, generator, kernel_calls
):
    image, lut = training_case(generator, shared, batch, shape)
    image.requires_grad_()
    lut.requires_grad_()
    upstream = torch.randn(image.shape, generator=generator)
    image_grad, lut_grad = gradients(apply_lut, image, lut, interp, upstream)
    assert kernel_calls == [interp]
    expected_image_grad, expected_lut_grad = gradients(
        reference_apply_lut, image, lut, interp, upstream
    )
    assert image_grad.shape == image.shape and lut_grad.shape == lut.shape
    assert_close_to_scale(image_grad, expected_image_grad)
    assert_close_to_scale(lut_grad, expected_lut_grad)


@needs_kernels
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("shared", [True, False], ids=["shared-lut", "lut-per-image"])
@pytest.mark.parametrize("frozen", ["lut", "image"])
def test_what_does_not_require_grad_gets_none_and_the_other_the_right_gradient(
    shared, interp, frozen, generator, kernel_calls
):
    image, lut = training_case(generator, shared)
    learned = 0 if frozen == "lut" else 1  # index of the gradient wanted: (image, LUT)
    (image, lut)[learned].requires_grad_()
    upstream = torch.randn(image.shape, generator=generator)
    gradients_ = gradients(apply_lut, image, lut, interp, upstream)
    assert kernel_calls == [interp]
    assert gradients_[1 - learned] is None
    expected = gradients(reference_apply_lut, image, lut, interp, upstream)[learned]
    assert_close_to_scale(gradients_[learned], expected)


# gradcheck in float32: the tolerances allow for float32 rounding of the finite differences.
float32_gradcheck = pytest.mark.filterwarnings("ignore:Input #0 requires gradient:UserWarning")


@needs_kernels
@float32_gradcheck
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("lut_count", [1, 2], ids=["shared-lut", "lut-per-image"])
def test_lut_gradient_passes_gradcheck(lut_count, interp, generator):
    colors = torch.rand(2, 3, 50, generator=generator) * 1.2 - 0.1
    table = torch.stack([random_lut(5, generator) for _ in range(lut_count)]).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: cpu_planar.interpolate_planar(colors, t, interp),
        (table,),
        eps=1e-2,
        atol=1e-3,
        rtol=1e-2,
        raise_exception=True,
    )


def colors_inside_cells(generator: torch.Generator, batch: int, pixels: int, size: int):
    """(N, 3, P) colors whose positions in their cells are at least 0.05 from the cell's faces
    and from each other (the tetrahedra's faces), so small steps stay inside one tetrahedron;
    the last pixels have channels outside the cube, far enough to stay clamped."""
    candidates = 0.05 + 0.9 * torch.rand(batch, 3, 20 * pixels, generator=generator)
    gaps = (candidates.unsqueeze(1) - candidates.unsqueeze(2)).abs()
    gaps = gaps + torch.eye(3).reshape(1, 3, 3, 1)  # ignore each channel's gap to itself
    fracs = []
    for n in range(batch):
        keep = gaps[n].amin(dim=(0, 1)) >= 0.05
        fracs.append(candidates[n][:, keep][:, :pixels])
    corners = torch.randint(0, size - 1, (batch, 3, pixels), generator=generator)
    colors = (corners + torch.stack(fracs)) / (size - 1)
    colors[:, 0, -1], colors[:, 1, -2], colors[:, 2, -3] = -0.3, 1.3, -0.3
    return colors


@needs_kernels
@float32_gradcheck
@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("lut_count", [1, 2], ids=["shared-lut", "lut-per-image"])
def test_color_gradient_passes_gradcheck(lut_count, interp, generator):
    colors = colors_inside_cells(generator, 2, 50, 5).requires_grad_()
    table = torch.stack([random_lut(5, generator) for _ in range(lut_count)])
    assert torch.autograd.gradcheck(
        lambda c: cpu_planar.interpolate_planar(c, table, interp),
        (colors,),
        eps=1e-3,
        atol=2e-3,
        rtol=1e-2,
        raise_exception=True,
    )


# Without the kernels -----------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_reference_switch_turns_the_kernels_off_with_the_same_result(
    interp, generator, monkeypatch, kernel_calls
):
    monkeypatch.setenv("LUTCLI_KERNELS", "reference")
    assert not cpu.available()
    image, lut = training_case(generator, shared=True)
    assert torch.equal(apply_lut(image, lut, interp), reference_apply_lut(image, lut, interp))
    assert kernel_calls == []
    with pytest.raises(RuntimeError, match="available"):
        cpu.apply_to_pixels(np.zeros((2, 2, 3), np.uint8), lut)


def test_missing_extension_falls_back_to_torch_with_one_notice(generator, monkeypatch, capsys):
    monkeypatch.setattr(cpu, "_native", None)
    monkeypatch.setattr(cpu, "_noticed", False)
    assert not cpu.available()
    image, lut = training_case(generator, shared=True)
    for interp in INTERPOLATIONS:  # two calls, one notice
        assert torch.equal(apply_lut(image, lut, interp), reference_apply_lut(image, lut, interp))
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "slower torch path" in lines[0]
    assert captured.out == ""
