"""`symdual table`: formats, method selection, the disk cache (hits, corruption, invalidation)."""
from __future__ import annotations

import json

import pytest

import symdual as sd
from symdual import cache, report, table
from symdual.cli import main

FEW = ["l1", "mcp", "hardthresh"]


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV, str(tmp_path))
    return tmp_path


def body_rows(lines: list[str]) -> dict[str, list[str]]:
    """The text table's rows by method: every physical line of a row (a wrapped cell continues below)."""
    rows: dict[str, list[str]] = {}
    last = None
    start = next(k for k, line in enumerate(lines) if "-+-" in line) + 1  # below the (wrapped) headings
    for line in lines[start:]:
        if not line or line.startswith("-") or " | " not in line:
            if not line:
                break
            continue
        name = line.split(" | ")[0].strip()
        last = name or last
        rows.setdefault(last, []).append(line)
    return rows


def column(row_lines: list[str], k: int) -> str:
    """Column ``k`` of a wrapped row, its lines joined by spaces."""
    return " ".join(c for c in (line.split(" | ")[k].strip() if len(line.split(" | ")) > k else ""
                                for line in row_lines) if c)


def run_table(capsys, *args: str) -> tuple[int, str, str]:
    argv = ["table", *args]
    for name in FEW if "--method" not in args else []:
        argv += ["--method", name]
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_text_table_and_cache_location(cache_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    code, out, _ = run_table(capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split(" | ")[0].strip() == "method" and "sparse" in lines[0] and "bounded" in lines[0]
    body = body_rows(lines)
    assert list(body) == FEW
    marks = [c.strip() for c in body["mcp"][0].split(" | ")[4:8]]
    assert marks == ["✓", "✓", "✓", "✓"]  # MCP: subquadratic, sparse, unbiased, bounded
    assert [c.strip() for c in body["l1"][0].split(" | ")[4:8]] == ["✓", "✓", "✗", "✗"]
    assert lines[-1].startswith(f"cache: {cache_dir / 'table'}")
    assert "0 of 3 rows from the cache" in lines[-1]


@pytest.mark.parametrize("columns", [80, 200])
def test_long_cells_wrap_to_the_terminal_width_without_cutting(cache_dir, capsys, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    _, text, _ = run_table(capsys, "--method", "scad", "--method", "mcp")
    _, md, _ = run_table(capsys, "--method", "scad", "--method", "mcp", "--format", "md")
    assert "…" not in text and "…" not in md
    assert max(map(len, text.splitlines()[:-1])) <= columns  # the last line is the cache's
    omega = "w (w <= 1); -5*w**2/27 + 37*w/27 - 5/27 (w <= 37/10); 47/20 (w > 37/10)"
    assert f"`{omega}`" in md
    scad = body_rows(text.splitlines())["scad"]
    assert len(scad) > 1 and column(scad, 3) == omega  # the whole formula, wrapped at its spaces


def test_render_text_wraps_to_a_given_width():
    row = {"name": "x", "rule": {"text": "a " * 60}, "eta_hat": {"text": "b" * 90}, "omega": {"text": "c"},
           "omega_method": "closed form", "verdicts": {k: {"status": "proved"} for k, _ in table.VERDICTS}}
    out = table.render_text([row, dict(row, name="y")], width=80).splitlines()
    assert max(map(len, out)) <= 80
    rows = body_rows(out)
    assert list(rows) == ["x", "y"] and column(rows["x"], 1) == ("a " * 60).strip()
    assert column(rows["x"], 2).replace(" ", "") == "b" * 90  # a word longer than its column is split


def test_markdown_and_latex(cache_dir, capsys):
    code, md, err = run_table(capsys, "--format", "md")
    assert code == 0
    rows = [line for line in md.splitlines() if line.startswith("| **")]
    assert len(rows) == len(FEW) and all(line.count(" | ") >= 8 for line in rows)
    assert md.splitlines()[1].startswith("|---|")
    assert "cache:" in err and "cache:" not in md
    code, tex, _ = run_table(capsys, "--format", "latex")
    assert code == 0
    assert r"\begin{table}[t]" in tex and r"\toprule" in tex and r"\bottomrule" in tex and r"\checkmark" in tex
    assert tex.count(r"\\") >= len(FEW) + 1
    assert r"\frac{\sqrt{2}}{4}" in tex  # MCP's bound a lam/2 with a = 1/2, lam = sqrt(2)
    code, wide, _ = run_table(capsys, "--format", "latex", "--layout", "page")
    assert code == 0 and r"\begin{table*}[t]" in wide and r"$p(w) = \frac{1}{w + 1}$" in wide  # l1's rule


def test_warm_table_comes_from_the_cache_without_deriving(cache_dir, capsys, monkeypatch):
    _, cold, _ = run_table(capsys)
    files = sorted((cache_dir / "table").glob("*.json"))
    assert len(files) == len(FEW)

    def no_derivation(*args, **kwargs):
        raise AssertionError("derived although cached")

    monkeypatch.setattr(sd.catalog, "derive", no_derivation)
    _, warm, _ = run_table(capsys)
    assert warm.splitlines()[:-1] == cold.splitlines()[:-1]
    assert "3 of 3 rows from the cache, 0 derived" in warm.splitlines()[-1]


@pytest.mark.parametrize("damage", ["garbage", "empty", "wrong key", "wrong schema", "not an object"])
def test_corrupt_cache_files_are_ignored(cache_dir, capsys, damage):
    _, cold, _ = run_table(capsys, "--method", "l1")
    (path,) = (cache_dir / "table").glob("*.json")
    data = json.loads(path.read_text())
    text = {"garbage": "{not json", "empty": "",
            "wrong key": json.dumps(dict(data, key="0" * 32)),
            "wrong schema": json.dumps(dict(data, schema=-1)),
            "not an object": "[1, 2]"}[damage]
    path.write_text(text)
    code, again, _ = run_table(capsys, "--method", "l1")
    assert code == 0
    assert again.splitlines()[:-1] == cold.splitlines()[:-1]
    assert "0 of 1 rows from the cache, 1 derived" in again
    assert json.loads(path.read_text())["key"] == data["key"]  # rewritten


def test_no_cache_neither_reads_nor_writes(cache_dir, capsys):
    code, out, _ = run_table(capsys, "--method", "l1", "--no-cache")
    assert code == 0 and "cache: disabled (--no-cache)" in out
    assert not (cache_dir / "table").exists()


def test_cache_is_keyed_by_code_and_inputs(cache_dir, monkeypatch):
    entry = sd.catalog.entry("logsum")
    k = cache.key("table-row", table.ROW_VERSION, "logsum", table._param_key(entry.resolve()))
    assert k != cache.key("table-row", table.ROW_VERSION, "logsum", table._param_key(entry.resolve({"eps": 3})))
    monkeypatch.setattr(cache, "fingerprint", lambda: "other source")
    assert k != cache.key("table-row", table.ROW_VERSION, "logsum", table._param_key(entry.resolve()))


def test_cache_store_and_load_roundtrip(cache_dir):
    assert cache.load("misc", "abc") is None
    path = cache.store("misc", "abc", {"x": [1, "two"]})
    assert path is not None and path.parent == cache_dir / "misc"
    assert cache.load("misc", "abc") == {"x": [1, "two"]}
    assert cache.clear("misc") == 1 and cache.load("misc", "abc") is None


def test_a_failing_derivation_gives_an_error_row_and_is_not_cached(cache_dir, capsys, monkeypatch):
    def broken(self, params=None, timeout=None):
        raise RuntimeError("numeric engine unavailable")

    monkeypatch.setattr(sd.catalog, "derive", broken)
    code, out, _ = run_table(capsys, "--method", "l1")
    assert code == 0
    assert "FAILED" in out and "0 of 1 rows from the cache" in out
    assert not list((cache_dir / "table").glob("*.json"))


def test_timeout_is_passed_down_and_keys_the_cache(cache_dir, capsys, monkeypatch):
    seen = []
    real = sd.catalog.derive

    def spy(method, params=None, timeout=None):
        seen.append(timeout)
        return real(method, params, timeout=timeout)

    monkeypatch.setattr(sd.catalog, "derive", spy)
    rows, info = table.build_rows(["l1"], timeout=12.0)
    assert seen == [12.0] and info["derived"] == ["l1"] and rows[0]["name"] == "l1"
    table.build_rows(["l1"])  # the default budget: another cache key, derived again
    assert seen == [12.0, None]
    code, out, _ = run_table(capsys, "--method", "l1", "--timeout", "12")
    assert code == 0 and seen == [12.0, None] and "1 of 1 rows from the cache" in out


def test_unknown_method_exits_2_listing_the_known_ones(cache_dir, capsys):
    code, _, err = run_table(capsys, "--method", "lasso")
    assert code == 2
    assert "unknown method 'lasso'" in err and "vardrop_exact" in err and "hardconcrete" in err


def test_verbose_shows_provenance_and_details(cache_dir, capsys):
    _, out, _ = run_table(capsys, "--method", "mcp", "--verbose")
    assert "omega: given (the penalty as given" in out and "f_dual: closed form" in out and "refuted" in out


@pytest.mark.parametrize("name", sd.catalog.names())
def test_every_catalog_row_renders(name, catalog_record):

    entry = sd.catalog.entry(name)
    values = entry.resolve()
    row = table.row_of(entry, values, catalog_record(name))
    json.dumps(row)  # cacheable
    for fmt in ("text", "md"):
        assert name in table.RENDER[fmt]([row])
    assert report.tex_escape(name, breakable=True) in table.render_latex([row], "column")
    assert report.tex_escape(row["title"]) in table.render_latex([row], "page")
    assert all(v["as_expected"] for v in row["verdicts"].values()), row["verdicts"]
    if not row["omega"]["closed"]:
        assert "no closed form" in row["omega"]["text"] or "min_eta" in row["omega"]["text"]
