from pathlib import Path

import pytest

from engine import config
from engine.config import PRESETS, TrainConfig, from_dict, load_toml, resolve, to_toml
from engine.errors import UserError


def test_every_preset_resolves_and_validates():
    for name in PRESETS:
        cfg = resolve(name)
        assert isinstance(cfg, TrainConfig)


def test_baby_is_nanogpts_cpu_recipe():
    cfg = resolve("baby")
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.batch_size) == (4, 4, 128,
                                                                                      64, 12)
    assert (cfg.max_iters, cfg.learning_rate, cfg.min_lr, cfg.warmup_iters) == (2000, 1e-3,
                                                                                1e-4, 100)
    assert (cfg.beta2, cfg.dropout, cfg.eval_interval, cfg.decay_iters) == (0.99, 0.0, 250, 2000)


def test_shakespeare_char_and_lecture_share_a_shape():
    sc, lecture = resolve("shakespeare-char"), resolve("lecture")
    shape = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "dropout")
    assert [getattr(sc, k) for k in shape] == [6, 6, 384, 256, 64, 0.2]
    assert [getattr(lecture, k) for k in shape] == [getattr(sc, k) for k in shape]
    assert (lecture.learning_rate, lecture.eval_interval) == (3e-4, 500)
    assert (sc.max_iters, sc.eval_interval) == (5000, 250)


def test_overrides_are_typed_and_win_in_order(tmp_path: Path):
    toml = tmp_path / "c.toml"
    toml.write_text("n_layer = 3\nlearning_rate = 2\n")
    cfg = resolve("baby", toml, ["n_layer=5", "dropout=0.1", "bias=true", "max_iters=1e3"])
    assert cfg.n_layer == 5 and cfg.learning_rate == 2.0 and isinstance(cfg.learning_rate, float)
    assert cfg.dropout == 0.1 and cfg.bias is True and cfg.max_iters == 1000


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("n_layr=3", "Did you mean 'n_layer'"),
        ("learning_rat=1", "Did you mean 'learning_rate'"),
        ("n_layer=two", "must be an integer"),
        ("n_layer=2.5", "must be an integer"),
        ("dropout=high", "must be a number"),
        ("bias=maybe", "true or false"),
        ("n_embd=130", "divisible by n_head"),
        ("learning_rate=0", "learning_rate must be positive"),
        ("learning_rate=-1", "learning_rate must be positive"),
        ("max_iters=0", "max_iters must be positive"),
        ("dropout=1.0", "dropout must be in [0, 1)"),
        ("dropout=-0.1", "dropout must be in [0, 1)"),
        ("optimizer=sgd", "optimizer must be one of adamw, muon"),
        ("min_lr=1", "above learning_rate"),
        ("novalue", "key=value"),
    ],
)
def test_bad_values_get_one_line_that_says_what_to_do(override: str, message: str):
    with pytest.raises(UserError) as err:
        resolve("baby", None, [override])
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_n_head_hint_names_a_divisor():
    with pytest.raises(UserError, match=r"try n_head=5"):
        resolve("baby", None, ["n_embd=100", "n_head=6"])


def test_unknown_preset_suggests():
    with pytest.raises(UserError, match="Did you mean 'baby'"):
        resolve("bbay")


def test_toml_round_trip_keeps_every_key(tmp_path: Path):
    cfg = resolve("baby-muon", None, ["data=/some/text.txt"])
    path = tmp_path / "config.toml"
    path.write_text(to_toml(cfg, {"name": "x", "preset": "baby-muon", "created": 1.5}))
    assert from_dict(load_toml(path)) == cfg


def test_bad_toml_files(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text("n_layer = \n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_toml(broken)
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('n_layer = "four"\n')
    with pytest.raises(UserError, match="must be an integer"):
        load_toml(wrong_type)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("n_heads = 4\n")
    with pytest.raises(UserError, match="Did you mean 'n_head'"):
        load_toml(unknown)
    with pytest.raises(UserError, match="does not exist"):
        load_toml(tmp_path / "missing.toml")


def test_every_field_documents_itself():
    for f in config.FIELDS.values():
        assert f.metadata["help"] and f.metadata["group"]
