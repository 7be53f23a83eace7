"""Downsampling keeps spikes; the series keeps every point."""

from __future__ import annotations

from nanogpt_tui.loss_chart import LossSeries, _ticks, min_max_downsample


def test_few_points_come_back_unchanged() -> None:
    assert min_max_downsample([1, 2, 3], [3.0, 2.0, 1.0], 10) == ([1, 2, 3], [3.0, 2.0, 1.0])


def test_a_single_spike_survives_heavy_downsampling() -> None:
    xs = list(range(10_000))
    ys = [2.0] * 10_000
    ys[7_777] = 9.0
    ys[3_333] = 0.5
    px, py = min_max_downsample(xs, ys, 50)
    assert len(px) <= 100
    assert 9.0 in py and 0.5 in py
    assert (7_777, 9.0) in zip(px, py, strict=True)
    assert px == sorted(px)


def test_series_splits_rows_by_kind_and_finds_the_best_val() -> None:
    series = LossSeries()
    series.add([
        {"kind": "eval", "step": 0, "train_loss": 4.2, "val_loss": 4.2},
        {"kind": "train", "step": 10, "loss": 3.0},
        {"kind": "eval", "step": 50, "train_loss": 2.4, "val_loss": 2.5},
        {"kind": "eval", "step": 100, "train_loss": 2.3, "val_loss": 2.6},
        {"kind": "train", "step": 20, "loss": float("nan")},
    ])
    assert series.train == ([10], [3.0])
    assert series.val == ([0, 50, 100], [4.2, 2.5, 2.6])
    assert series.best_val == (50, 2.5)
    series.clear()
    assert series.empty and series.best_val is None


def test_step_ticks_are_whole_numbers() -> None:
    assert _ticks(0, 100, 4) == [0, 33, 67, 100]
    assert _ticks(5, 5, 3) == [5]
