"""Lut1D, Lut3D and LutSequence: applying them to tensors and to decoded pixels, their input
domains, interpolation and baking, checked against colour-science and np.interp."""

from __future__ import annotations

import colour
import numpy as np
import pytest
import torch

from lutcli.kernels import cpu as kernels_cpu
from lutcli.lut.lattice import identity_lut
from lutcli.lut.luts import Lut1D, Lut3D, LutFile, LutSequence, bake

MAX = {np.uint8: 255, np.uint16: 65535}


def random_table(size: int, seed: int = 0, noise: float = 0.1) -> np.ndarray:
    """A smooth-ish (3, D, D, D) table: identity plus noise."""
    rng = np.random.default_rng(seed)
    return identity_lut(size).numpy() + noise * rng.standard_normal((3, size, size, size))


def as_image(colors: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    """(P, 3) colors -> (1, 3, P, 1) image."""
    return torch.from_numpy(np.ascontiguousarray(colors.T)).to(dtype)[None, :, :, None]


def as_colors(image: torch.Tensor) -> np.ndarray:
    """(1, 3, P, 1) image -> (P, 3) float64 colors."""
    return image[0, :, :, 0].T.double().numpy()


def random_colors(count: int, low=0.0, high=1.0, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=(count, 3))


def random_pixels(dtype, shape=(37, 53, 3), seed: int = 2) -> np.ndarray:
    """Pixels of ``dtype`` (uint8, uint16, or float32 in [0, 1]) covering the whole range."""
    rng = np.random.default_rng(seed)
    if dtype == np.float32:
        return rng.uniform(0, 1, shape).astype(np.float32)
    return rng.integers(0, MAX[dtype], shape, endpoint=True).astype(dtype)


def pixels_as_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) pixels -> (1, 3, H, W) float64 in [0, 1]."""
    scale = 1.0 if pixels.dtype == np.float32 else MAX[pixels.dtype.type]
    return torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float64) / scale)[None]


def assert_pixels_close(ours: np.ndarray, expected: torch.Tensor, levels: float = 1) -> None:
    """``ours`` (H, W, 3) within ``levels`` of the float image ``expected`` (1, 3, H, W) in the
    pixels' own type (float32: within 1e-5)."""
    reference = expected[0].permute(1, 2, 0).numpy()
    if ours.dtype == np.float32:
        np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-5)
        return
    top = MAX[ours.dtype.type]
    difference = np.abs(ours.astype(np.float64) - np.clip(reference, 0, 1) * top)
    assert difference.max() <= levels, difference.max()


def shaper_sequence() -> LutSequence:
    """A Resolve-style pair: gamma-encoding shapers (1/2.2, 1/2.4, 1/2) spreading dark colors
    over a smooth 17³ table that decodes, mixes the channels and bends them a little."""
    curve = np.linspace(0, 1, 1024)[:, None] ** np.array([1 / 2.2, 1 / 2.4, 1 / 2.0])
    lattice = identity_lut(17).double().numpy()
    mix = np.array([[0.9, 0.08, 0.02], [0.05, 0.85, 0.1], [0.0, 0.1, 0.9]])
    table = np.einsum("ij,j...->i...", mix, lattice**2.2) + 0.02 * np.sin(3 * lattice[[1, 2, 0]])
    return LutSequence([Lut1D(curve), Lut3D(table)])


def example_luts() -> dict[str, Lut1D | Lut3D | LutSequence]:
    """One LUT of each kind, over default and other domains (the last run in float strips)."""
    curve = np.linspace(0, 1, 256)[:, None] ** np.array([0.5, 1.0, 2.0])
    return {
        "3d": Lut3D(random_table(17)),
        "3d-tetrahedral": Lut3D(random_table(9), interp="tetrahedral"),
        "1d": Lut1D(curve),
        "sequence": shaper_sequence(),
        "3d-domain": Lut3D(random_table(9), [-0.1, 0, 0.1], [1.1, 1.5, 0.9]),
    }


@pytest.fixture
def strip_path(monkeypatch):
    """No compiled kernel: every LUT runs in float strips (and apply_lut in plain torch)."""
    monkeypatch.setattr(kernels_cpu, "available", lambda: False)


@pytest.fixture
def kernel_calls(monkeypatch) -> list[str]:
    """The interpolations the compiled pixel kernel was called with."""
    calls: list[str] = []
    kernel = kernels_cpu.apply_to_pixels

    def spy(pixels, lut, interp, threads=None, out=None):
        calls.append(interp)
        return kernel(pixels, lut, interp, threads, out)

    monkeypatch.setattr(kernels_cpu, "apply_to_pixels", spy)
    return calls


# Tensors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_identity_3d_returns_the_image(interp, dtype):
    image = torch.rand(2, 3, 5, 7, dtype=dtype)
    out = Lut3D(identity_lut(17).numpy(), interp=interp).apply(image)
    assert out.dtype == dtype and out.shape == image.shape
    torch.testing.assert_close(out, image, rtol=0, atol=1e-6)


@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_3d_agrees_with_colour_on_a_domain(interp):
    table = random_table(9, seed=3)
    low, high = np.array([-0.1, 0.0, 0.2]), np.array([1.5, 2.0, 1.2])
    ours = Lut3D(table, low, high, interp)
    theirs = colour.LUT3D(table.transpose(3, 2, 1, 0), domain=np.array([low, high]))
    interpolator = {
        "trilinear": colour.algebra.table_interpolation_trilinear,
        "tetrahedral": colour.algebra.table_interpolation_tetrahedral,
    }[interp]
    colors = random_colors(500, low, high)
    expected = theirs.apply(colors, interpolator=interpolator)
    np.testing.assert_allclose(as_colors(ours.apply(as_image(colors))), expected, atol=1e-6)


def test_1d_applies_per_channel_curves_like_np_interp():
    curve = np.linspace(0, 1, 9)[:, None] ** np.array([0.5, 1.0, 3.0]) * 2
    low, high = np.array([-0.5, 0.0, 0.25]), np.array([1.5, 1.0, 4.0])
    lut = Lut1D(curve, low, high)
    colors = random_colors(300, -1.0, 5.0)  # inputs outside the domain are clamped
    ours = as_colors(lut.apply(as_image(colors)))
    for c in range(3):
        grid = np.linspace(low[c], high[c], 9)
        expected = np.interp(colors[:, c], grid, curve[:, c])
        np.testing.assert_allclose(ours[:, c], expected, rtol=0, atol=1e-6)


def test_a_sequence_applies_its_luts_in_order():
    sequence = shaper_sequence()
    image = as_image(random_colors(300))
    shaper, lut3d = sequence.luts
    torch.testing.assert_close(sequence.apply(image), lut3d.apply(shaper.apply(image)))
    reverse = LutSequence([lut3d, shaper])
    torch.testing.assert_close(reverse.apply(image), shaper.apply(lut3d.apply(image)))


@pytest.mark.parametrize("lut", [Lut3D(random_table(5)), Lut1D(np.zeros((2, 3)))])
@pytest.mark.parametrize("shape", [(3, 4, 4), (1, 4, 4, 4), (1, 3, 4)])
def test_apply_rejects_a_wrong_image_shape(lut, shape):
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        lut.apply(torch.zeros(shape))


def test_apply_rejects_an_integer_tensor():
    with pytest.raises(ValueError, match="must be float"):
        Lut1D(np.zeros((2, 3)), -1, 1).apply(torch.zeros(1, 3, 2, 2, dtype=torch.uint8))


# Domains ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["1d", "3d"])
def test_a_domain_maps_its_range_onto_the_table_and_clamps_outside(kind):
    """An identity table over low..high gives (x - low) / (high - low), 0 below low and 1 above
    high, on each channel with its own domain."""
    low, high = np.array([-0.5, 0.25, 1.0]), np.array([0.5, 2.25, 5.0])
    if kind == "1d":
        lut = Lut1D(np.linspace(0, 1, 5)[:, None].repeat(3, 1), low, high)
    else:
        lut = Lut3D(identity_lut(5).numpy(), low, high)
    colors = np.concatenate([random_colors(200, low - 1, high + 1), [low - 3, high + 3]])
    expected = np.clip((colors - low) / (high - low), 0, 1)
    np.testing.assert_allclose(as_colors(lut.apply(as_image(colors))), expected, atol=1e-6)
    np.testing.assert_array_equal(lut.domain_min, low)
    assert not lut.has_default_domain


def test_a_scalar_domain_is_the_same_on_every_channel():
    lut = Lut3D(random_table(3), -1, 2.5)
    assert lut.domain_min.tolist() == [-1.0] * 3 and lut.domain_max.tolist() == [2.5] * 3
    assert Lut3D(random_table(3), 0, 1).has_default_domain


def test_a_sequence_has_the_domain_of_its_first_lut():
    sequence = LutSequence([Lut1D(np.eye(2, 3), -0.25, 4), Lut3D(random_table(3), 0, 2)])
    assert sequence.domain_min.tolist() == [-0.25] * 3
    assert sequence.domain_max.tolist() == [4.0] * 3


# Pixels -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("name", list(example_luts()))
def test_pixels_keep_their_type_and_match_the_tensor_apply(dtype, name):
    lut = example_luts()[name]
    pixels = random_pixels(dtype)
    out = lut.apply(pixels)
    assert out.dtype == dtype and out.shape == pixels.shape
    assert_pixels_close(out, lut.apply(pixels_as_tensor(pixels)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("name", list(example_luts()))
def test_rgb_and_bgr_pixels_give_the_same_colors(dtype, name):
    lut = example_luts()[name]
    rgb = random_pixels(dtype)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    from_rgb = lut.apply(rgb)
    from_bgr = lut.apply(bgr, channel_order="BGR")
    if dtype == np.float32:
        np.testing.assert_allclose(from_bgr[..., ::-1], from_rgb, rtol=0, atol=1e-6)
    else:  # the compiled kernel sums in another order for BGR: a rare level of rounding apart
        difference = np.abs(from_bgr[..., ::-1].astype(np.int64) - from_rgb.astype(np.int64))
        assert difference.max() <= 1 and (difference == 0).mean() > 0.999


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("interp", ["trilinear", "tetrahedral"])
def test_the_compiled_kernel_and_the_strip_path_agree_within_one_level(
    dtype, interp, monkeypatch, kernel_calls
):
    assert kernels_cpu.available(), "the compiled kernels must be built for this test"
    lut = Lut3D(random_table(17, seed=7), interp=interp)
    pixels = random_pixels(dtype)
    compiled = lut.apply(pixels)
    assert kernel_calls == [interp]
    monkeypatch.setattr(kernels_cpu, "available", lambda: False)
    in_strips = lut.apply(pixels)
    assert kernel_calls == [interp]  # not called again
    if dtype == np.float32:
        np.testing.assert_allclose(compiled, in_strips, rtol=0, atol=1e-5)
    else:
        difference = np.abs(compiled.astype(np.int64) - in_strips.astype(np.int64))
        assert difference.max() <= 1 and (difference == 0).mean() > 0.99


def test_a_table_on_another_domain_runs_in_strips(kernel_calls):
    """The compiled kernel takes a 0..1 table only: a domain sends the pixels to float strips."""
    lut = Lut3D(random_table(9), -0.5, 1.5)
    pixels = random_pixels(np.uint8)
    assert_pixels_close(lut.apply(pixels), lut.apply(pixels_as_tensor(pixels)))
    assert kernel_calls == []


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("name", list(example_luts()))
def test_out_may_be_the_pixels_themselves(dtype, name):
    lut = example_luts()[name]
    pixels = random_pixels(dtype)
    expected = lut.apply(pixels)
    out = lut.apply(pixels, out=pixels)
    assert out is pixels
    np.testing.assert_array_equal(pixels, expected)


@pytest.mark.parametrize("strip_pixels", [1, 7, 53 * 5 + 3])
@pytest.mark.parametrize("name", list(example_luts()))
def test_strips_smaller_than_the_picture_give_the_same_pixels(
    monkeypatch, strip_path, strip_pixels, name
):
    """STRIP_PIXELS under a row (strips of one row each), and of five rows and a bit (strips of
    five rows, the last one short), give the pixels of one strip for the whole picture."""
    lut = example_luts()[name]
    pixels = random_pixels(np.uint16)
    whole = lut.apply(pixels)
    monkeypatch.setattr("lutcli.io.pixels.STRIP_PIXELS", strip_pixels)
    np.testing.assert_array_equal(lut.apply(pixels), whole)
    np.testing.assert_array_equal(lut.apply(pixels, out=pixels), whole)


@pytest.mark.parametrize("name", ["3d", "1d"])
@pytest.mark.parametrize("order", ["bgr", "RGBA", ""])
def test_an_unknown_channel_order_is_refused(name, order):
    """A typo ("bgr") would otherwise read as RGB and swap red and blue without a word."""
    with pytest.raises(ValueError, match=f"channel_order must be RGB or BGR, got '{order}'"):
        example_luts()[name].apply(random_pixels(np.uint8), channel_order=order)


def test_pixels_of_a_wrong_shape_are_refused(strip_path):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        Lut1D(np.zeros((2, 3))).apply(np.zeros((4, 4), np.uint8))


# Interpolation ----------------------------------------------------------------------------------


def test_with_interp_gives_a_new_lut_sharing_the_table():
    lut = Lut3D(random_table(9, seed=8), -0.5, 1.5)
    tetrahedral = lut.with_interp("tetrahedral")
    assert lut.interp == "trilinear" and tetrahedral.interp == "tetrahedral"
    assert np.shares_memory(tetrahedral.table, lut.table)
    np.testing.assert_array_equal(tetrahedral.domain_min, lut.domain_min)
    image = as_image(random_colors(300, -0.5, 1.5))
    difference = (tetrahedral.apply(image) - lut.apply(image)).abs().max()
    assert difference > 1e-3  # the two interpolations differ on a noisy table


def test_with_interp_on_curves_and_sequences():
    curve = Lut1D(np.linspace(0, 1, 9)[:, None].repeat(3, 1))
    assert curve.with_interp("tetrahedral") is curve  # a curve is always linear
    sequence = shaper_sequence().with_interp("tetrahedral")
    assert [getattr(part, "interp", None) for part in sequence.luts] == [
        None,
        "tetrahedral",
    ]


@pytest.mark.parametrize(
    "lut", [Lut3D(random_table(3)), Lut1D(np.zeros((2, 3))), LutSequence([Lut3D(random_table(2))])]
)
def test_an_unknown_interpolation_is_refused(lut):
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        lut.with_interp("cubic")


def test_an_unknown_interpolation_is_refused_when_made():
    with pytest.raises(ValueError, match="unknown interpolation 'nearest'"):
        Lut3D(random_table(3), interp="nearest")


# Baking -----------------------------------------------------------------------------------------


def test_baking_a_3d_table_at_its_own_size_gives_it_back():
    lut = Lut3D(random_table(9), -0.5, 1.5, "tetrahedral")
    assert bake(lut, 9) is lut


def lattice_points(lut, size: int) -> torch.Tensor:
    """The inputs of a ``size``³ lattice over ``lut``'s domain, as a float32 image."""
    low = torch.from_numpy(lut.domain_min).view(1, 3, 1, 1)
    span = torch.from_numpy(lut.domain_max - lut.domain_min).view(1, 3, 1, 1)
    lattice = identity_lut(size).double().reshape(1, 3, size * size, size)
    return (low + lattice * span).float()


def test_a_shaper_and_3d_sequence_baked_at_33_matches_it():
    """On lattice points the baked table is the sequence's own output, exactly; between them
    the 33³ table follows the sequence within 0.008 (measured on 20,000 random colors, three
    draws: at most 0.0049 to 0.0051, near black where the gamma shaper is steepest; 0.00022 on
    average)."""
    sequence = shaper_sequence()
    baked = bake(sequence, 33)
    assert baked.size == 33 and baked.interp == "trilinear" and baked.has_default_domain
    points = lattice_points(sequence, 33)
    expected = sequence.apply(points).reshape(3, 33, 33, 33).numpy()
    np.testing.assert_array_equal(baked.table, expected)
    torch.testing.assert_close(baked.apply(points), sequence.apply(points), rtol=0, atol=1e-6)
    image = as_image(random_colors(20_000, seed=9), torch.float32)
    error = (baked.apply(image) - sequence.apply(image)).abs()
    assert error.max() < 0.008 and error.mean() < 0.0005, (error.max(), error.mean())


def test_baking_keeps_the_domain_and_the_interpolation():
    lut = Lut3D(random_table(9, seed=10), [-0.5, 0, 0.2], [1.5, 2, 0.8], "tetrahedral")
    baked = bake(lut, 5)
    assert baked.interp == "tetrahedral"
    np.testing.assert_array_equal(baked.domain_min, lut.domain_min)
    np.testing.assert_array_equal(baked.domain_max, lut.domain_max)
    points = lattice_points(lut, 5)
    np.testing.assert_array_equal(baked.table, lut.apply(points).reshape(3, 5, 5, 5).numpy())


def test_baking_a_curve_gives_the_table_of_its_channels():
    """A per-channel curve baked: the red output depends on red input only, and so on."""
    curve = Lut1D(np.linspace(0, 1, 64)[:, None] ** np.array([0.5, 1.0, 2.0]), -1, 2)
    baked = bake(curve, 7)
    grid = np.linspace(-1, 2, 7)
    expected = [np.interp(grid, np.linspace(-1, 2, 64), curve.table[:, c]) for c in range(3)]
    np.testing.assert_allclose(baked.table[0], np.broadcast_to(expected[0], (7, 7, 7)), atol=1e-6)
    np.testing.assert_allclose(
        baked.table[1], np.broadcast_to(expected[1][None, :, None], (7, 7, 7)), atol=1e-6
    )
    np.testing.assert_allclose(
        baked.table[2], np.broadcast_to(expected[2][:, None, None], (7, 7, 7)), atol=1e-6
    )


# Construction -----------------------------------------------------------------------------------


def test_tables_become_float32_without_a_copy_when_they_are():
    table = random_table(5).astype(np.float32)
    assert np.shares_memory(Lut3D(table).table, table)
    assert Lut3D(random_table(5)).table.dtype == np.float32  # float64 converted
    tensor = torch.from_numpy(random_table(3)).float().requires_grad_()
    np.testing.assert_array_equal(Lut3D(tensor).table, tensor.detach().numpy())
    assert Lut1D([[0, 0, 0], [1, 1, 1]]).table.dtype == np.float32


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Lut3D(np.zeros((3, 2, 2, 3))), r"\(3, D, D, D\) with D >= 2"),
        (lambda: Lut3D(np.zeros((3, 1, 1, 1))), r"\(3, D, D, D\) with D >= 2"),
        (lambda: Lut3D(np.zeros((4, 2, 2, 2))), r"\(3, D, D, D\) with D >= 2"),
        (lambda: Lut1D(np.zeros((1, 3))), r"\(N >= 2, 3\)"),
        (lambda: Lut1D(np.zeros((5, 4))), r"\(N >= 2, 3\)"),
        (lambda: Lut1D(np.zeros((2, 3)), 1, 1), "domain_min must be below domain_max"),
        (lambda: Lut3D(np.zeros((3, 2, 2, 2)), [0, 2, 0], 1), "below domain_max"),
        (lambda: Lut3D(np.zeros((3, 2, 2, 2)), 0, np.nan), "below domain_max"),
        (lambda: Lut1D(np.zeros((2, 3)), -np.inf, 1), "below domain_max"),
        (lambda: LutSequence([]), "one or more Lut1D or Lut3D"),
        (lambda: LutSequence([LutSequence([Lut1D(np.zeros((2, 3)))])]), "one or more Lut1D"),
        (lambda: LutSequence([Lut1D(np.zeros((2, 3))), np.zeros((3, 2, 2, 2))]), "Lut1D or"),
    ],
)
def test_invalid_luts_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_lut_files_do_not_share_their_lists():
    first, second = LutFile(Lut1D(np.zeros((2, 3)))), LutFile(Lut1D(np.zeros((2, 3))))
    first.notes.append("a note")
    first.comments.append("a comment")
    assert second.notes == [] and second.comments == [] and second.title is None
