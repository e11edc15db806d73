"""`symdual figures --out`: the output folder is checked before any work (one line, exit 2); the default is
symdual's cache folder, never the current one."""
from __future__ import annotations

import pytest

import symdual.figures as figures
import symdual.figures.figure1 as figure1
from symdual.cli import main


@pytest.fixture()
def no_work(monkeypatch):
    """Computing the figure's data fails the test: a bad --out must be refused before it."""
    def forbidden(*args, **kwargs):
        raise AssertionError("figure data computed before --out was checked")

    monkeypatch.setattr(figure1, "figure1_data", forbidden)


def run_figures(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["figures", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_out_is_an_existing_file(tmp_path, capsys, no_work):
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    code, out, err = run_figures(capsys, "--out", str(target))
    assert code == 2 and out == ""
    assert err == f"symdual: error: --out {str(target)!r} exists and is not a folder\n"
    assert target.read_text() == "keep me"


def test_out_below_a_file_cannot_be_created(tmp_path, capsys, no_work):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    code, _, err = run_figures(capsys, "--out", str(blocker / "sub"))
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith(f"symdual: error: --out {str(blocker / 'sub')!r}: cannot create the folder (")
    assert blocker.read_text() == ""


@pytest.mark.parametrize("out", ["", "   "])
def test_empty_out_is_refused(tmp_path, monkeypatch, capsys, no_work, out):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_figures(capsys, "--out", out)
    assert code == 2 and err == f"symdual: error: --out must name a folder (got {out!r})\n"
    assert list(tmp_path.iterdir()) == []  # before: figure1.png written into the current folder


@pytest.mark.parametrize("name", figure1.FILES)
def test_a_file_name_taken_by_a_folder(tmp_path, capsys, no_work, name):
    (tmp_path / name).mkdir()
    code, _, err = run_figures(capsys, "--out", str(tmp_path))
    assert code == 2 and err == f"symdual: error: --out {str(tmp_path)!r}: {name} there is a folder\n"


@pytest.fixture()
def figure1_only(monkeypatch):
    """Only Figure 1 registered (the structured figure and the case study are not computed)."""
    monkeypatch.setattr(figures, "FIGURES", figures.FIGURES[:1])


def test_a_new_nested_folder_is_created_and_used(tmp_path, capsys, monkeypatch, figure1_only):
    seen = []
    monkeypatch.setattr(figure1, "write", lambda folder, quick: seen.append((folder, quick)) or [folder / "f.png"])
    code, out, err = run_figures(capsys, "--out", str(tmp_path / "a" / "b"), "--quick")
    assert code == 0 and err == ""
    assert seen == [(tmp_path / "a" / "b", True)] and (tmp_path / "a" / "b").is_dir()
    assert out == f"wrote {tmp_path / 'a' / 'b' / 'f.png'}\n1 figure(s): figure1\n"


def test_default_is_the_cache_folder(tmp_path, capsys, monkeypatch, figure1_only):
    seen = []
    monkeypatch.setattr(figure1, "write", lambda folder, quick: seen.append(folder) or [])
    monkeypatch.setenv("SYMDUAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_figures(capsys)
    assert code == 0 and err == "" and seen == [tmp_path / "cache" / "figures"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_unusable_cache_folder_is_one_line(tmp_path, capsys, monkeypatch, no_work):
    monkeypatch.setenv("SYMDUAL_CACHE_DIR", "~nosuchuser_symdual/x")
    code, out, err = run_figures(capsys)
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("symdual: error: no default output folder (") and err.endswith("give --out DIR\n")
