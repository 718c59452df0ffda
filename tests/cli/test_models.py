"""``lutcli models``: the zoo, one line a model with the settings it takes, and multi-scale
training last, as what any of them can be trained with (not a model of its own)."""

from __future__ import annotations

from lutcli.models.registry import MODELS, create_model


def test_models_lists_every_model_and_its_options(invoke):
    result = invoke("models")
    assert result.exit_code == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    named = [line for line in lines if not line.startswith(" ")]
    assert [line.split()[0] for line in named] == [*MODELS, "multi-scale"]
    for name, model in MODELS.items():
        index = lines.index(next(line for line in named if line.split()[0] == name))
        assert lines[index].split()[1] == ("adaptive" if model.adaptive else "fixed")
        assert model.description in lines[index]
        # The options line shows the settings --model-option takes, with their defaults: just
        # what a model built with defaults stores in its file.
        stored = {k: str(v) for k, v in create_model(name, lut_size=5).config().items()}
        del stored["lut_size"]
        following = lines[index + 1]
        if stored:
            words = following.split()
            assert words[0] == "options:"
            assert dict(word.split("=") for word in words[1:]) == stored
        else:
            assert not following.startswith(" ")


def test_multi_scale_comes_after_the_zoo_as_a_way_to_train_any_model(invoke):
    lines = invoke("models").stdout.splitlines()
    assert lines[-2].split()[:2] == ["multi-scale", "training"]
    assert "any model above, trained on a pyramid" in lines[-2]
    assert lines[-1].split() == ["use:", "train", "--model", "NAME", "--scales", "2,4,8"]
    # In the same columns as the zoo's lines.
    assert lines[-2].index("any model") == lines[0].index(MODELS["basic"].description)
