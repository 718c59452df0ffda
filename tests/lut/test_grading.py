"""lutcli.lut.grading: the color operations the shipped looks are made of, on known colors, on
pictures and lattices alike, and chains of them written as data (``apply_operations``)."""

from __future__ import annotations

import pytest
import torch

from lutcli.lut.grading import (
    LUMA,
    OPERATIONS,
    apply_operations,
    contrast,
    exposure,
    fade,
    luma,
    monochrome,
    saturation,
    split_tone,
    white_balance,
)
from lutcli.lut.lattice import identity_lut


def colors(*rgb: tuple[float, float, float]) -> torch.Tensor:
    """Colors as a (3, N) tensor, channel first as the operations take them."""
    return torch.tensor(rgb, dtype=torch.float32).T.contiguous()


def grays(*levels: float) -> torch.Tensor:
    return colors(*[(level, level, level) for level in levels])


def close(actual: torch.Tensor, expected: torch.Tensor | list, atol: float = 1e-6) -> None:
    expected = torch.as_tensor(expected, dtype=actual.dtype)
    torch.testing.assert_close(actual, expected.expand_as(actual), atol=atol, rtol=0)


# Each operation on known colors ----------------------------------------------------------------


def test_exposure_plus_one_stop_doubles_and_minus_one_halves():
    rgb = colors((0.1, 0.2, 0.3), (0.4, 0.05, 0.0))
    close(exposure(rgb, 1), rgb * 2)
    close(exposure(rgb, -1), rgb / 2)
    close(exposure(rgb, 0), rgb)


def test_white_balance_warmer_scales_red_up_and_blue_down():
    rgb = colors((0.5, 0.5, 0.5), (0.2, 0.6, 0.8))
    warmer = white_balance(rgb, temperature=0.1)
    close(warmer[0], rgb[0] * 1.1)
    close(warmer[1], rgb[1])
    close(warmer[2], rgb[2] * 0.9)
    cooler = white_balance(rgb, temperature=-0.1)
    assert (cooler[0] < rgb[0]).all() and (cooler[2] > rgb[2]).all()


def test_white_balance_tint_lowers_green_only():
    rgb = colors((0.5, 0.5, 0.5), (0.2, 0.6, 0.8))
    tinted = white_balance(rgb, temperature=0.0, tint=0.1)
    close(tinted[0], rgb[0])
    close(tinted[1], rgb[1] * 0.9)
    close(tinted[2], rgb[2])


def test_contrast_zero_is_the_identity():
    rgb = torch.rand(3, 50, generator=torch.Generator().manual_seed(0))
    assert torch.equal(contrast(rgb, 0), rgb)


@pytest.mark.parametrize("strength", [0.5, 2.5, 8.0])
def test_contrast_keeps_black_pivot_and_white_and_makes_an_s_curve(strength):
    out = contrast(grays(0.0, 0.5, 1.0, 0.25, 0.75), strength)
    close(out[:, :3], grays(0.0, 0.5, 1.0), atol=1e-6)
    assert (out[:, 3] < 0.25).all(), out  # shadows darker
    assert (out[:, 4] > 0.75).all(), out  # highlights brighter
    ramp = torch.linspace(0, 1, 101).expand(3, -1)
    curve = contrast(ramp, strength)
    assert (curve.diff(dim=1) > 0).all()  # monotonic: no tone swaps places with another
    assert curve.min() >= 0 and curve.max() <= 1


def test_contrast_is_steepest_at_its_pivot_and_keeps_black_and_white():
    ramp = torch.linspace(0, 1, 101).expand(3, -1)
    curve = contrast(ramp, 4.0, pivot=0.3)
    close(curve[:, [0, -1]], grays(0.0, 1.0))
    steepest = curve[0].diff().argmax().item()
    assert abs((steepest + 0.5) / 100 - 0.3) <= 0.01  # the middle of the steepest step


def test_contrast_negative_strength_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        contrast(grays(0.5), -1.0)


def test_saturation_zero_gives_the_gray_of_equal_luma():
    rgb = colors((1.0, 0.0, 0.0), (0.2, 0.6, 0.8), (0.9, 0.4, 0.1))
    gray = saturation(rgb, 0)
    expected = [sum(w * c for w, c in zip(LUMA, color, strict=True)) for color in rgb.T.tolist()]
    for channel in gray:
        close(channel, expected)
    close(luma(gray), luma(rgb))


def test_saturation_one_is_the_identity_and_above_one_spreads_channels():
    rgb = colors((0.2, 0.6, 0.8), (0.9, 0.4, 0.1))
    close(saturation(rgb, 1), rgb)
    vivid = saturation(rgb, 1.5)
    assert (
        (vivid.max(0).values - vivid.min(0).values) > (rgb.max(0).values - rgb.min(0).values)
    ).all()
    close(luma(vivid), luma(rgb))  # brightness stays


def test_fade_maps_black_and_white_to_its_ends():
    out = fade(grays(0.0, 1.0, 0.5), black=0.1, white=0.8)
    close(out, grays(0.1, 0.8, 0.45))


def test_split_tone_with_amount_zero_changes_nothing():
    rgb = torch.rand(3, 40, generator=torch.Generator().manual_seed(1))
    out = split_tone(rgb, shadows=(-0.1, 0.0, 0.1), highlights=(0.1, 0.0, -0.1), amount=0.0)
    close(out, rgb)


def test_split_tone_tints_shadows_and_highlights_toward_their_colors():
    teal, orange = (-0.1, 0.02, 0.1), (0.1, 0.02, -0.1)
    dark, bright = grays(0.1), grays(0.9)
    moved_dark = split_tone(dark, teal, orange, amount=1.0) - dark
    moved_bright = split_tone(bright, teal, orange, amount=1.0) - bright
    assert moved_dark[2, 0] > 0 > moved_dark[0, 0]  # bluer, less red
    assert moved_bright[0, 0] > 0 > moved_bright[2, 0]  # redder, less blue
    # Pure black takes the whole shadow offset, white the whole highlight offset (× amount).
    close(split_tone(grays(0.0), teal, orange, 0.5), colors(teal) * 0.5)
    close(split_tone(grays(1.0), teal, orange, 0.5), 1 + colors(orange) * 0.5)


def test_monochrome_makes_every_channel_the_mix():
    rgb = colors((1.0, 0.0, 0.0), (0.2, 0.6, 0.8))
    mix = (0.35, 0.55, 0.1)
    out = monochrome(rgb, mix)
    expected = [0.35, 0.35 * 0.2 + 0.55 * 0.6 + 0.1 * 0.8]
    for channel in out:
        close(channel, expected)
    close(monochrome(rgb)[0], luma(rgb)[0])  # the default mix is luma


# Pictures and lattices --------------------------------------------------------------------------

EXAMPLES = {
    "exposure": {"stops": 0.5},
    "white_balance": {"temperature": 0.1, "tint": -0.05},
    "contrast": {"strength": 3.0, "pivot": 0.4},
    "saturation": {"amount": 1.3},
    "fade": {"black": 0.05, "white": 0.9},
    "split_tone": {"shadows": (-0.1, 0.0, 0.1), "highlights": (0.1, 0.05, -0.1), "amount": 0.5},
    "monochrome": {"mix": (0.3, 0.6, 0.1)},
}


def test_the_examples_cover_every_operation():
    assert set(EXAMPLES) == set(OPERATIONS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
@pytest.mark.parametrize(
    "shape", [(3, 6, 7), (3, 5, 5, 5)], ids=["picture (3,H,W)", "lattice (3,D,D,D)"]
)
def test_operations_map_pictures_and_lattices_color_by_color(name, shape):
    rgb = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    operation = OPERATIONS[name]
    out = operation(rgb, **EXAMPLES[name])
    assert out.shape == rgb.shape and out.dtype == rgb.dtype
    # The same as mapping the colors as a flat list: every color alone, nothing mixed in.
    flat = operation(rgb.reshape(3, -1), **EXAMPLES[name])
    close(out.reshape(3, -1), flat)
    assert not torch.allclose(out, rgb)


def test_operations_run_on_an_identity_lattice_sample_the_mapping():
    lattice = identity_lut(5)
    sampled = apply_operations(lattice, [["exposure", {"stops": -1}]])
    close(sampled, lattice / 2)


# apply_operations -------------------------------------------------------------------------------


def test_apply_operations_runs_the_chain_in_order():
    rgb = torch.rand(3, 4, 4, generator=torch.Generator().manual_seed(3))
    chain = [["fade", {"black": 0.1, "white": 0.6}], ["exposure", {"stops": 1}]]
    in_order = apply_operations(rgb, chain)
    close(in_order, exposure(fade(rgb, 0.1, 0.6), 1).clamp(0, 1))
    swapped = apply_operations(rgb, chain[::-1])
    close(swapped, fade(exposure(rgb, 1), 0.1, 0.6).clamp(0, 1))
    assert not torch.allclose(swapped, in_order)


def test_apply_operations_clamps_to_0_1_at_the_end():
    rgb = grays(0.2, 0.8)
    out = apply_operations(rgb, [["exposure", {"stops": 1}]])
    close(out, grays(0.4, 1.0))
    out = apply_operations(rgb, [["fade", {"black": -0.5, "white": 1.0}]])
    assert out.min() == 0.0
    # Out-of-range values in between are carried, not clamped step by step.
    out = apply_operations(grays(0.8), [["exposure", {"stops": 1}], ["exposure", {"stops": -1}]])
    close(out, grays(0.8))


def test_apply_operations_with_no_steps_only_clamps():
    rgb = grays(-0.1, 0.5, 1.2)
    close(apply_operations(rgb, []), grays(0.0, 0.5, 1.0))


def test_apply_operations_takes_tuples_and_json_lists_alike():
    rgb = torch.rand(3, 10, generator=torch.Generator().manual_seed(4))
    as_json = [["split_tone", {"shadows": [0.1, 0, 0], "highlights": [0, 0, 0.1], "amount": 1}]]
    as_tuples = [("split_tone", {"shadows": (0.1, 0, 0), "highlights": (0, 0, 0.1), "amount": 1})]
    close(apply_operations(rgb, as_json), apply_operations(rgb, as_tuples))


def test_an_unknown_operation_lists_the_known_ones():
    with pytest.raises(ValueError) as caught:
        apply_operations(grays(0.5), [["exposure", {"stops": 1}], ["glow", {"amount": 1}]])
    message = str(caught.value)
    assert "'glow'" in message
    for name in OPERATIONS:
        assert name in message


@pytest.mark.parametrize(
    "step",
    [
        ["contrast", {"strenght": 2}],  # misspelt
        ["saturation", {}],  # missing
        ["fade", {"black": 0.1, "white": 0.9, "gamma": 2}],  # extra
    ],
    ids=["misspelt", "missing", "extra"],
)
def test_a_bad_argument_names_the_operation(step):
    with pytest.raises(ValueError, match=f"bad arguments for {step[0]}"):
        apply_operations(grays(0.5), [step])


@pytest.mark.parametrize(
    "step",
    [["exposure"], ["exposure", 1.0], ("exposure", {"stops": 1}, "extra"), "exposure", []],
    ids=["name only", "arguments not a dict", "three items", "a string", "empty"],
)
def test_a_malformed_step_is_refused(step):
    with pytest.raises(ValueError, match=r"an operation is \[name, \{arguments\}\]"):
        apply_operations(grays(0.5), [step])


def test_an_operation_refusing_its_value_is_a_value_error_too():
    with pytest.raises(ValueError, match="contrast strength"):
        apply_operations(grays(0.5), [["contrast", {"strength": -2}]])
