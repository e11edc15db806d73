"""`symdual figures --out`: the output folder is checked before any work (one line, exit 2)."""
from __future__ import annotations

import pytest

import symdual.figures as figures
from symdual.cli import main


@pytest.fixture()
def no_work(monkeypatch):
    """Computing the figure's data fails the test: a bad --out must be refused before it."""
    def forbidden(*args, **kwargs):
        raise AssertionError("figure data computed before --out was checked")

    monkeypatch.setattr(figures, "figure1_data", forbidden)


def run_figures(capsys, out: str) -> tuple[int, str, str]:
    code = main(["figures", "--out", out])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_out_is_an_existing_file(tmp_path, capsys, no_work):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    code, out, err = run_figures(capsys, str(target))
    assert code == 2 and out == ""
    assert err == f"symdual: error: --out {str(target)!r} exists and is not a folder\n"
    assert target.read_text() == "keep me"


def test_out_below_a_file_cannot_be_created(tmp_path, capsys, no_work):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    code, _, err = run_figures(capsys, str(blocker / "sub"))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"symdual: error: --out {str(blocker / 'sub')!r}: cannot create the folder (")
    assert blocker.read_text() == ""


@pytest.mark.parametrize("out", ["", "   "])
def test_empty_out_is_refused(tmp_path, monkeypatch, capsys, no_work, out):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_figures(capsys, out)
    assert code == 2 and err == f"symdual: error: --out must name a folder (got {out!r})\n"
    assert list(tmp_path.iterdir()) == []  # before: figure1.png written into the current folder


def test_figure_name_taken_by_a_folder(tmp_path, capsys, no_work):
    (tmp_path / "figure1.png").mkdir()
    code, _, err = run_figures(capsys, str(tmp_path))
    assert code == 2 and err == f"symdual: error: --out {str(tmp_path)!r}: figure1.png there is a folder\n"


def test_a_new_nested_folder_is_created_and_used(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(figures, "plot_figure1", lambda path: seen.append(path) or path)
    code, out, err = run_figures(capsys, str(tmp_path / "a" / "b"))
    assert code == 0 and err == ""
    assert seen == [tmp_path / "a" / "b" / "figure1.png"] and (tmp_path / "a" / "b").is_dir()
    assert out == f"wrote {tmp_path / 'a' / 'b' / 'figure1.png'}\n"
