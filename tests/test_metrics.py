import json
from pathlib import Path

from engine.metrics import MetricsTail, MetricsWriter


def _row(step: int, kind: str = "train", **extra) -> str:
    return json.dumps({"kind": kind, "step": step, **extra}) + "\n"


def test_tail_reads_only_complete_lines(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.poll() is False  # no file yet
    path.write_text(_row(1) + '{"kind": "train", "st')
    assert tail.poll() is True
    assert [r["step"] for r in tail.rows] == [1]
    with path.open("a") as f:
        f.write('ep": 2}\n')
    assert tail.poll() is True
    assert [r["step"] for r in tail.rows] == [1, 2]
    assert tail.poll() is False


def test_garbage_lines_are_counted_not_fatal(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_row(1) + "not json\n" + '{"no_step": 1}\n' + _row(2))
    tail = MetricsTail(path)
    tail.poll()
    assert [r["step"] for r in tail.rows] == [1, 2]
    assert tail.bad_lines == 2


def test_a_resume_drops_rows_past_the_checkpoint(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(path)
    for step in (10, 20, 30, 40):
        writer.append({"kind": "train", "step": step})
    writer.append({"kind": "eval", "step": 20, "val_loss": 2.0})
    writer.append({"kind": "resume", "step": 20})
    writer.append({"kind": "train", "step": 30})
    writer.close()
    tail = MetricsTail(path)
    tail.poll()
    assert [(r["kind"], r["step"]) for r in tail.rows] == [
        ("train", 10), ("train", 20), ("eval", 20), ("train", 30)]
    assert [r["step"] for r in tail.of_kind("train")] == [10, 20, 30]


def test_a_replaced_file_is_read_from_the_start(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_row(1) + _row(2) + _row(3))
    tail = MetricsTail(path)
    tail.poll()
    path.write_text(_row(7))
    assert tail.poll() is True
    assert [r["step"] for r in tail.rows] == [7]


def test_a_writer_ends_a_torn_line_before_appending(tmp_path: Path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_row(1) + '{"kind": "train", "step": 2, "lo')  # killed mid-write
    writer = MetricsWriter(path)
    writer.append({"kind": "train", "step": 2})
    writer.close()
    tail = MetricsTail(path)
    tail.poll()
    assert [r["step"] for r in tail.rows] == [1, 2]
    assert tail.bad_lines == 1
