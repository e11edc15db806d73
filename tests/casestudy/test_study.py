"""The case study end to end: the quick variant of every method through ``symdual case-study`` (the CI run), its
files read back against the runs, the figure's style, and every bad input as one line with exit 2."""
from __future__ import annotations

import csv
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mlxtend")
pytest.importorskip("matplotlib")

from symdual import casestudy  # noqa: E402
from symdual.casestudy import methods as M  # noqa: E402
from symdual.figures import casestudy as figure  # noqa: E402
from symdual.figures import style  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("case")
    return out, figure.study(out, quick=True, threads=1, progress=False)


def read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_quick_run_writes_every_file_for_every_method(quick):
    out, result = quick
    assert result.paths == [out / name for name in figure.STUDY_FILES]
    assert figure.STUDY_FILES[:3] == casestudy.DATA_FILES
    assert [r.method.key for r in result.runs] == [m.key for m in M.METHODS]
    assert all(r.epochs == casestudy.QUICK_EPOCHS and len(r.history) == casestudy.QUICK_EPOCHS for r in result.runs)
    assert "2000" in result.source and "1600 training / 400 validation" in result.source


def test_history_csv_reads_back_to_the_runs(quick):
    out, result = quick
    rows = read(out / "case_study_history.csv")
    assert len(rows) == len(M.METHODS) * casestudy.QUICK_EPOCHS
    by = {(r["method"], int(r["epoch"])): r for r in rows}
    for run in result.runs:
        for e in run.history:
            row = by[(run.method.key, e.epoch)]
            for name in ("lr", "train_objective", "nonzero", "min_keep_prob", "val_error", "val_error_unpruned"):
                assert float(row[name]) == getattr(e, name), (run.method.key, name)
    curves = figure.curves_from_history(out / "case_study_history.csv")
    assert [c.key for c in curves] == [m.key for m in M.METHODS]
    assert np.array_equal(curves[0].nonzero, [e.nonzero for e in result.runs[0].history])


def test_table_csv_and_markdown(quick):
    out, result = quick
    rows = {r["method"]: r for r in read(out / "case_study_table.csv")}
    md = (out / "case_study_table.md").read_text(encoding="utf-8")
    for run in result.runs:
        row, e = rows[run.method.key], run.final
        assert float(row["sparsity"]) == pytest.approx(1 - e.nonzero, abs=1e-15)
        assert float(row["val_accuracy"]) == pytest.approx(1 - e.val_error, abs=1e-15)
        assert float(row["val_accuracy_unpruned"]) == pytest.approx(1 - e.val_error_unpruned, abs=1e-15)
        assert int(row["steps"]) == run.steps == casestudy.QUICK_EPOCHS * -(-1600 // 128)
        paper = run.method.paper
        assert row["paper_sparsity"] == "" if paper is None else float(row["paper_sparsity"]) == paper[0]
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {run.method.key} |"))
        assert f"| {100 * (1 - e.nonzero):.1f} |" in line
    assert "| vardrop_lr_ar | logsum |" in md and "| bernoulli | logsum |" in md


def test_figure_reads_well_at_full_width(quick):
    out, result = quick
    fig = figure.draw(figure.curves(result.runs), [M.DROPOUT, M.PENALTY])
    assert style.layout_problems(fig) == []
    assert fig.get_size_inches()[0] == pytest.approx(style.FULL_WIDTH)
    assert min(t.get_fontsize() for t in style.drawn_texts(fig)) >= style.MIN_FONT_PT
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) > 1]
    looks = {(str(ln.get_linestyle()), tuple(np.round(ln._dash_pattern[1] or (), 3)), ln.get_marker()) for ln in lines}
    assert len(lines) == len(looks) == len(M.METHODS)
    labels = [t.get_text() for t in fig.legends[0].get_texts() if t.get_text()]
    assert all(t.startswith("$") and t.endswith("$") for t in labels)
    assert (out / "case_study.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "case_study.pdf").read_bytes()[:5] == b"%PDF-"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "symdual", "case-study", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--method", "dropconnect"], "unknown case-study method"),
    (["--epochs", "0"], "--epochs must be >= 1"),
    (["--epochs", "two"], "invalid int value"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--device", "tpu"], "is not a torch device"),
    (["--mnist", "/nonexistent/mnist"], "is not a folder"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    res = cli("--out", str(tmp_path / "out"), *args)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_out_that_is_a_file_and_a_bad_idx_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    res = cli("--out", str(tmp_path / "file"), "--quick")
    assert res.returncode == 2 and "is not a folder" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(b"not an idx file")
    (tmp_path / "mnist" / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x03")
    res = cli("--out", str(tmp_path / "out"), "--mnist", str(tmp_path / "mnist"), "--epochs", "1")
    assert res.returncode == 2 and "not an IDX file" in res.stderr and "Traceback" not in res.stderr


def test_cli_runs_one_method_and_prints_the_table(tmp_path):
    res = cli("--out", str(tmp_path), "--method", "logsum", "--quick", "--epochs", "1", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "| logsum | 0.0001 |" in res.stdout and f"wrote {tmp_path / 'case_study.png'}" in res.stdout
    assert res.stderr == ""


def test_the_figure_is_registered_and_run_study_alone_writes_the_data(tmp_path):
    from symdual import figures

    entry = next(f for f in figures.FIGURES if f.name == "case_study")
    assert entry.files == figure.STUDY_FILES
    result = casestudy.run_study(tmp_path, methods=["logsum"], epochs=1, progress=False)
    assert result.paths == [tmp_path / name for name in casestudy.DATA_FILES]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(casestudy.DATA_FILES)
