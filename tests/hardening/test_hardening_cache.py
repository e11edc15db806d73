"""A cache that cannot be poisoned: hostile files are misses (logged once), printed text is sanitised,
writes are atomic, `symdual cache info|clear`, and the cache location (platformdirs, $SYMDUAL_CACHE_DIR)."""
from __future__ import annotations

import copy
import json
import logging
import math
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import symdual as sd
from symdual import cache, table
from symdual.cli import main

ROOT = Path(__file__).resolve().parents[2]
FINGERPRINT = "hardening-test"  # fixed here and in the child processes: the keys do not depend on the source
CHILD = ("import sys; from symdual import cache; from symdual.cli import main; "
         f"cache.fingerprint = lambda: {FINGERPRINT!r}; sys.exit(main(sys.argv[1:]))")
L1_LINE = "l1 | p(w) = 1/(w + 1)"  # the rule cell of l1's row, typed here


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV, str(folder))
    monkeypatch.setattr(cache, "_reported", set())
    monkeypatch.setattr(cache, "fingerprint", lambda: FINGERPRINT)
    return folder


@pytest.fixture(scope="module")
def fresh():
    """l1's row derived afresh, and the text table printed for it."""
    rows, _ = table.build_rows(["l1"], use_cache=False)
    return rows[0], table.render_text(rows)


def l1_key() -> str:
    return cache.key("table-row", table.ROW_VERSION, "l1", table._param_key(sd.catalog.entry("l1").resolve()))


def entry_path(cache_dir: Path) -> Path:
    path = cache_dir / table.NAMESPACE / f"{l1_key()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def envelope(value) -> str:
    return json.dumps({"schema": cache.SCHEMA, "key": l1_key(), "value": value})


def run_l1(capsys, *extra: str) -> tuple[int, str, str]:
    code = main(["table", "--method", "l1", *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def load_l1():
    return cache.load(table.NAMESPACE, l1_key(), validate=lambda r: table._check_cached(r, "l1"))


def assert_miss_then_rederived(capsys, path: Path, fresh) -> None:
    assert load_l1() is None
    code, out, _ = run_l1(capsys)
    assert code == 0
    assert out.splitlines()[:-1] == fresh[1].splitlines()
    assert "0 of 1 rows from the cache, 1 derived" in out.splitlines()[-1]
    assert json.loads(path.read_text())["value"] == fresh[0]  # replaced by a good entry
    assert load_l1() == fresh[0]


def _poison(row: dict, case: str):
    """The row damaged as ``case`` says (a JSON value to store)."""
    bad = copy.deepcopy(row)
    if case == "list instead of a row":
        return [1, 2]
    if case == "string instead of a row":
        return "l1"
    if case == "row missing omega":
        del bad["omega"]
    elif case == "row missing a verdict":
        del bad["verdicts"]["sparsity"]
    elif case == "string where a record belongs":
        bad["verdicts"]["sparsity"] = "proved"
    elif case == "string where the omega record belongs":
        bad["omega"] = "w"
    elif case == "NaN where a string belongs":
        bad["rule"]["text"] = math.nan
    elif case == "number where a string belongs":
        bad["omega_method"] = 3
    elif case == "unknown status":
        bad["verdicts"]["bounded"]["status"] = "maybe"
    elif case == "lone surrogate":
        bad["omega"]["text"] = "\ud800"
    elif case == "another method's row":
        bad["name"] = "mcp"
    elif case == "extra field":
        bad["shell"] = "rm -rf"
    return bad


POISON = ["list instead of a row", "string instead of a row", "row missing omega", "row missing a verdict",
          "string where a record belongs", "string where the omega record belongs", "NaN where a string belongs",
          "number where a string belongs", "unknown status", "lone surrogate", "another method's row",
          "extra field"]


@pytest.mark.parametrize("case", POISON)
def test_an_entry_of_the_wrong_shape_is_a_miss(cache_dir, capsys, fresh, case):
    path = entry_path(cache_dir)
    path.write_text(envelope(_poison(fresh[0], case)))
    assert table.check_row(_poison(fresh[0], case)) is not None or case == "another method's row"
    assert_miss_then_rederived(capsys, path, fresh)


@pytest.mark.parametrize("text", ["[" * 200_000 + "]" * 200_000, '{"a":' * 200_000 + "1" + "}" * 200_000])
def test_deep_nesting_is_a_miss(cache_dir, capsys, fresh, text):
    path = entry_path(cache_dir)
    path.write_text(text)
    assert_miss_then_rederived(capsys, path, fresh)


def test_nesting_within_the_recursion_limit_but_over_max_depth_is_rejected(cache_dir):
    with pytest.raises(cache.BadEntry):
        cache.parse(("[" * (cache.MAX_DEPTH + 1) + "]" * (cache.MAX_DEPTH + 1)).encode())
    assert cache.parse(("[" * cache.MAX_DEPTH + "]" * cache.MAX_DEPTH).encode()) == _nested(cache.MAX_DEPTH)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("text", ['{"schema": 1, "key": "K", "value": NaN}',
                                  '{"schema": 1, "key": "K", "value": -Infinity}',
                                  '{"schema": 1, "key": "K", "value": [1e999]}',
                                  b'{"schema": 1, "key": "K", "value": "\xff"}'])
def test_non_finite_numbers_and_bad_utf8_are_misses(cache_dir, text):
    path = entry_path(cache_dir)
    data = text if isinstance(text, bytes) else text.encode()
    path.write_bytes(data.replace(b"K", l1_key().encode()))
    assert cache.load(table.NAMESPACE, l1_key()) is None


def test_a_file_over_the_size_cap_is_a_miss(cache_dir, fresh):
    path = entry_path(cache_dir)
    big = dict(fresh[0], notes=["x" * cache.MAX_BYTES])
    path.write_text(envelope(big))
    assert path.stat().st_size > cache.MAX_BYTES
    assert load_l1() is None
    path.write_text(envelope(fresh[0]))
    assert load_l1() == fresh[0]


def test_a_bad_file_is_logged_once_per_process(cache_dir, caplog):
    path = entry_path(cache_dir)
    path.write_text("[" * 100_000)
    with caplog.at_level(logging.WARNING, logger="symdual.cache"):
        assert load_l1() is None and load_l1() is None
    lines = [r.getMessage() for r in caplog.records if r.name == "symdual.cache"]
    assert len(lines) == 1 and repr(str(path)) in lines[0] and "\n" not in lines[0]


def _run_symdual(args: list[str], env_dir: Path, timeout: float = 180, limit_bytes: int | None = None):
    """``python -m symdual ARGS`` in a child process (optionally under an address-space limit)."""
    env = dict(os.environ, **{cache.ENV: str(env_dir)})
    code = CHILD
    if limit_bytes:
        code = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({limit_bytes}, {limit_bytes})); " + code
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=str(ROOT))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_entry_does_not_hang_the_table(cache_dir, fresh):
    path = entry_path(cache_dir)
    os.mkfifo(path)
    done = _run_symdual(["table", "--method", "l1"], cache_dir)  # before: blocked in open() for ever
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:-1] == fresh[1].splitlines()
    warnings = [line for line in done.stderr.splitlines() if "ignoring" in line]
    assert len(warnings) == 1 and "not a regular file" in warnings[0]
    assert path.is_file()  # replaced by a regular entry


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_symlink_to_dev_zero_is_a_miss(cache_dir, fresh):
    path = entry_path(cache_dir)
    path.symlink_to("/dev/zero")
    probe = _run_symdual_code(f"from symdual import cache; print(cache.load('table', {l1_key()!r}))", cache_dir)
    assert probe.returncode == 0 and probe.stdout.strip() == "None", probe.stderr  # before: MemoryError
    done = _run_symdual(["table", "--method", "l1"], cache_dir, limit_bytes=6 << 30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:-1] == fresh[1].splitlines()


def _run_symdual_code(code: str, env_dir: Path) -> subprocess.CompletedProcess:
    """A small program importing only symdual.cache, under a 1 GiB address-space limit."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    env = dict(os.environ, **{cache.ENV: str(env_dir)})
    return subprocess.run([sys.executable, "-c", limit + code], env=env, capture_output=True, text=True, timeout=60)


def test_symlinks_out_of_the_cache_are_not_followed(cache_dir, tmp_path, fresh):
    outside = tmp_path / "outside.json"
    outside.write_text(envelope(fresh[0]))  # a valid entry, but outside the cache
    path = entry_path(cache_dir)
    path.symlink_to(outside)
    assert load_l1() is None
    path.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / path.name).write_text(envelope(fresh[0]))
    path.parent.rmdir()
    path.parent.symlink_to(elsewhere, target_is_directory=True)  # the namespace folder itself
    assert load_l1() is None
    assert cache.store(table.NAMESPACE, l1_key(), fresh[0]) is None  # nor written through


def test_control_sequences_in_a_stored_entry_are_not_printed_raw(cache_dir, capsys, fresh, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the text table cuts its cells to the terminal's width
    evil = dict(copy.deepcopy(fresh[0]), title="l1\r\x1b[2K (lasso)", citation="Tib\x9b31mshirani\x07")
    evil["rule"]["text"] = "p(w) = \x1b]0;pwned\x07\x1b[2J\x1b[31mEVIL\x1b[0m 1/(w + 1)"
    evil["verdicts"]["sparsity"]["detail"] = "ok\x1b[8m hidden\x00\x7f"
    evil["notes"] = ["line one\nline two\x1bc"]
    path = entry_path(cache_dir)
    path.write_text(envelope(evil))
    outs = [run_l1(capsys, *extra) for extra in ([], ["--verbose"], ["--format", "md"], ["--format", "latex"])]
    for code, out, err in outs:
        assert code == 0 and "1 of 1 rows from the cache" in out + err  # a hit, shown safely
        for c in out + err:
            assert c == "\n" or unicodedata.category(c) != "Cc", repr(c)
    text, verbose, md = outs[0][1], outs[1][1], outs[2][1]
    assert text.splitlines()[2].startswith("l1 | p(w) = EVIL 1/(w + 1) ")
    assert "  sparsity      proved     ok hidden" in verbose.splitlines()
    assert "  - line one line two" in verbose.splitlines()
    assert "**l1** l1  (lasso) (lam=1); Tibshirani" in md  # the carriage return became a space


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b[1;31mb\x1b[0mc", "abc"),              # CSI (SGR)
    ("a\x1b]8;;http://x\x1b\\b", "ab"),           # OSC closed by ST
    ("a\x1b]0;title\x07b", "ab"),                 # OSC closed by BEL
    ("a\x9b2Jb", "ab"),                           # 8-bit CSI
    ("a\x1bcb", "ab"),                            # RIS
    ("x\ty\nz\r\x00\x08\x7f\x85", "x\ty\nz"),     # tab and newline stay
    ("w\u202eevil", "wevil"),                     # bidi override
    ("Ω(w) = √w …", "Ω(w) = √w …"),               # ordinary text untouched
])
def test_printable(raw, shown):
    assert table.printable(raw) == shown


def test_two_table_processes_on_one_empty_cache_both_succeed(cache_dir, fresh):
    env = dict(os.environ, **{cache.ENV: str(cache_dir)})
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "table", "--method", "l1"], env=env, cwd=str(ROOT),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
    for out, _ in results:
        assert out.splitlines()[:-1] == fresh[1].splitlines()
    files = sorted(p.name for p in (cache_dir / table.NAMESPACE).iterdir())
    assert files == [f"{l1_key()}.json"]  # one entry, no temporary file left
    assert load_l1() == fresh[0]


def test_cache_info_and_clear(cache_dir, tmp_path, capsys, fresh):
    first = cache.store(table.NAMESPACE, l1_key(), fresh[0])
    second = cache.store(table.NAMESPACE, "0" * 32, {"x": 1})
    (cache_dir / table.NAMESPACE / "README.txt").write_text("not symdual's")
    (cache_dir / "unrelated.txt").write_text("not symdual's")
    target = tmp_path / "target.json"
    target.write_text("{}")
    (cache_dir / table.NAMESPACE / ("1" * 32 + ".json")).symlink_to(target)
    assert main(["cache", "info"]) == 0
    size = os.path.getsize(first) + os.path.getsize(second)
    assert capsys.readouterr().out.splitlines() == [
        f"location: {cache_dir} (${cache.ENV})", "status: on",
        f"table: 2 entries, {size} bytes (and 1 other files, ignored)", f"total: 2 entries, {size} bytes"]
    assert main(["cache", "clear"]) == 0
    link = cache_dir / table.NAMESPACE / ("1" * 32 + ".json")
    assert capsys.readouterr().out.splitlines() == sorted(f"removed {p}" for p in (first, second, link)) + [
        f"removed 3 files from {cache_dir}"]
    assert target.read_text() == "{}"  # the link removed, not what it pointed to
    assert (cache_dir / table.NAMESPACE / "README.txt").exists() and (cache_dir / "unrelated.txt").exists()
    assert main(["cache", "info"]) == 0
    assert "table: 0 entries, 0 bytes" in capsys.readouterr().out.splitlines()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG layout is Linux's")
def test_default_location_is_the_platform_user_cache_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "symdual"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_dir() == tmp_path / ".cache" / "symdual"
    assert main(["cache", "info"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"location: {tmp_path / '.cache' / 'symdual'} (user cache folder)"


def test_unknown_user_in_the_env_var_turns_the_cache_off(tmp_path, monkeypatch, capsys, fresh):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(cache.ENV, "~nosuchuser_symdual/x")
    code, out, err = run_l1(capsys)
    assert code == 0 and out.splitlines()[:-1] == fresh[1].splitlines()
    footer = out.splitlines()[-1]
    assert footer.startswith("cache: off (SYMDUAL_CACHE_DIR='~nosuchuser_symdual/x' names an unknown user)")
    assert list(tmp_path.iterdir()) == []  # nothing created in the current folder
    assert main(["cache", "info"]) == 0
    assert "status: off" in capsys.readouterr().out


def test_a_cache_folder_that_cannot_be_created_is_not_used(tmp_path, monkeypatch, capsys, fresh):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV, str(blocker / "sub"))
    code, out, err = run_l1(capsys)
    assert code == 0 and out.splitlines()[:-1] == fresh[1].splitlines()
    assert out.splitlines()[-1].startswith(f"cache: off (cannot create {blocker / 'sub'}: ")
    assert err == ""


def test_a_relative_env_var_is_taken_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(cache.ENV, "rel/cache")
    assert cache.cache_dir() == tmp_path / "rel" / "cache" and cache.problem() is None


def test_a_failed_write_leaves_the_old_entry_and_no_temporary_file(cache_dir, monkeypatch):
    path = cache.store("misc", "abc", {"x": 1})
    assert path is not None

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.os, "replace", broken_replace)
    assert cache.store("misc", "abc", {"x": 2}) is None
    assert cache.load("misc", "abc") == {"x": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["abc.json"]
