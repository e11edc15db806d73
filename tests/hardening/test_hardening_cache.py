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
    assert text.splitlines()[2].startswith("l1     | p(w) = EVIL 1/(w + 1) ")
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


# ---------------------------------------------------------------- verify: cached checks (numbers, statuses, text)

from symdual import verify  # noqa: E402 - the verify part of this file
from symdual.theorems.check import Check  # noqa: E402

TIKHONOV = ["tikhonov.bernoulli_exact", "tikhonov.gaussian_exact", "tikhonov.monte_carlo_bernoulli",
            "tikhonov.monte_carlo_gaussian"]


def _verify_entries(folder: Path) -> list[Path]:
    return sorted((folder / verify.CACHE_NAMESPACE).glob("*.json"))


def test_check_round_trips_and_rejects_every_other_shape():
    good = Check("g.x", "s", "h", passed=True, proved=["p"], numeric=["n\tm"], worst_error=1e-3, detail="d")
    assert Check.from_dict(good.as_dict()) == good
    odd = Check.unchecked("g.y", "could not check: why")
    assert Check.from_dict(odd.as_dict()) == odd and Check.from_dict(odd.as_dict()).status == "UNCHECKED"
    inf = Check("g.z", "s", "h", passed=False, worst_error=math.inf)
    assert Check.from_dict(inf.as_dict()).worst_error == math.inf
    base = good.as_dict()
    for bad in ({**base, "status": "FAIL"},                 # disagrees with passed = True
                {**base, "passed": 1},                      # not a bool
                {**base, "extra": 0},                       # another shape
                {k: v for k, v in base.items() if k != "detail"},
                {**base, "detail": "\x1b[2Jcleared"},       # a control sequence for the terminal
                {**base, "numeric": ["ok", 3]},
                {**base, "worst_error": "1e-3"},
                {**base, "worst_error": True},
                [base]):
        with pytest.raises(ValueError):
            Check.from_dict(bad)


def test_quick_checks_are_kept_and_replayed(cache_dir):
    first = verify.verify_all(("tikhonov",), quick=True, use_cache=True)
    assert [c.name for c in first.checks] == TIKHONOV and first.cached == 0
    assert all(c.status == "PASS" for c in first.checks)
    assert len(_verify_entries(cache_dir)) == 1
    again = verify.verify_all(("tikhonov",), quick=True, use_cache=True)
    assert again.cached == 4 and [c.as_dict() for c in again.checks] == [c.as_dict() for c in first.checks]
    assert "4 replayed from the cache" in verify.report(again, 0.0)


class _Passing:
    """A cheap theorem module whose one check passes (counts its runs)."""

    calls = 0

    @classmethod
    def checks(cls, quick: bool) -> list[Check]:
        cls.calls += 1
        return [Check("tikhonov.fine", "s", "h", passed=True, numeric=["error 1.0e-17"], worst_error=1e-17)]


def test_a_changed_key_or_a_tampered_entry_is_a_miss(cache_dir, monkeypatch, caplog):
    monkeypatch.setattr(verify, "_theorem_module", lambda name: _Passing)
    _Passing.calls = 0
    verify.verify_all(("tikhonov",), quick=True, use_cache=True)
    [path] = _verify_entries(cache_dir)
    assert verify.verify_all(("tikhonov",), quick=True, use_cache=True).cached == 1 and _Passing.calls == 1
    # another quick flag or timeout is another key; use_cache=False never reads
    assert verify.verify_all(("tikhonov",), quick=False, use_cache=True).cached == 0
    assert verify.verify_all(("tikhonov",), quick=True, timeout=3.0, use_cache=True).cached == 0
    assert verify.verify_all(("tikhonov",), quick=True, use_cache=False).cached == 0
    assert _Passing.calls == 4
    data = json.loads(path.read_text())
    for tamper in (lambda v: v["checks"][0].update(status="FAIL", passed=False),  # only passing checks are kept
                   lambda v: v["checks"][0].update(detail="\x1b]0;owned\x07"),     # a terminal control sequence
                   lambda v: v["checks"][0].update(worst_error="-1e999"),
                   lambda v: v.update(symdual="0.0.0"),                              # another version
                   lambda v: v.update(checks=[]),
                   lambda v: v.update(skipped=["\x1b[2J"])):
        value = copy.deepcopy(data["value"])
        tamper(value)
        path.write_text(json.dumps({**data, "value": value}))
        cache._reported.clear()
        calls = _Passing.calls
        with caplog.at_level(logging.WARNING, logger="symdual.cache"):
            run = verify.verify_all(("tikhonov",), quick=True, use_cache=True)
        assert run.cached == 0 and [c.status for c in run.checks] == ["PASS"] and _Passing.calls == calls + 1
        assert any("ignoring" in r.getMessage() for r in caplog.records), tamper
        caplog.clear()
    assert verify.verify_all(("tikhonov",), quick=True, use_cache=True).cached == 1  # rewritten good


class _Failing:
    """A theorem module whose group fails (FAIL and UNCHECKED are never kept)."""

    calls = 0

    @classmethod
    def checks(cls, quick: bool) -> list[Check]:
        cls.calls += 1
        return [Check("tikhonov.broken", "s", "h", passed=False, detail="assertion failed: 1 != 2")]


def test_a_failed_check_is_recomputed_every_time(cache_dir, monkeypatch):
    monkeypatch.setattr(verify, "_theorem_module", lambda name: _Failing)
    for _ in range(2):
        run = verify.verify_all(("tikhonov",), quick=True, use_cache=True)
        assert [c.status for c in run.checks] == ["FAIL"] and run.cached == 0
    assert _Failing.calls == 2 and _verify_entries(cache_dir) == []


def test_a_cached_catalog_entry_is_not_derived_again(cache_dir, monkeypatch, capsys):
    monkeypatch.setattr(sd.catalog, "names", lambda: ["l1"])
    real, derived = sd.catalog.derive, []

    def spy(method, params=None, timeout=None):
        derived.append(method)
        return real(method, params, timeout=timeout)

    monkeypatch.setattr(sd.catalog, "derive", spy)
    assert main(["verify", "--quick", "--only", "duality"]) == 0
    first = capsys.readouterr()
    assert derived == ["l1"] and "PASS  duality.l1" in first.out and "from the cache" not in first.err
    assert main(["verify", "--quick", "--only", "duality"]) == 0
    second = capsys.readouterr()
    assert derived == ["l1"], "a replayed entry is not derived"
    assert "verify: PASS duality.l1 (from the cache)" in second.err and "1 replayed from the cache" in second.out
    assert main(["verify", "--quick", "--no-cache", "--only", "duality"]) == 0
    assert derived == ["l1", "l1"] and "from the cache" not in capsys.readouterr().err
    assert main(["verify", "--only", "duality"]) == 0  # the full run never reads the cache
    assert derived == ["l1", "l1", "l1"]


# ---------------------------------------------------------------- the CAS-call memo of a derivation (bounded.session)

import threading  # noqa: E402
import time  # noqa: E402

import mpmath  # noqa: E402
import sympy as sp  # noqa: E402

from symdual import bounded as B  # noqa: E402


def _pid_and(x: object) -> tuple[int, object]:
    return os.getpid(), x


def _dps() -> int:
    return mpmath.mp.dps


def _allocate(nbytes: int) -> int:
    return len(bytearray(nbytes))


def _integral(n: int) -> sp.Expr:
    w = sp.Symbol("w", positive=True)
    return sp.integrate(w**n, (w, 0, 1))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_identical_calls_are_answered_once_and_the_others_by_one_worker():
    with B.session() as s:
        first = B.bounded(_pid_and, "a", timeout=30)
        again = B.bounded(_pid_and, "a", timeout=30)
        other = B.bounded(_pid_and, "b", timeout=30)
        assert first.value == again.value and s.hits == 1  # replayed: the same pid, not a new process
        worker = first.value[0]
        assert worker != os.getpid() and other.value == (worker, "b")  # the same warm worker
        assert again.value is not first.value  # unpickled afresh: a caller cannot change the memo
        with B.session() as inner:  # nested: the outer session
            assert inner is s and B.bounded(_pid_and, "c", timeout=30).value[0] == worker
        assert [B.bounded(_integral, n, timeout=30).value for n in (1, 2, 3)] == [
            sp.Rational(1, 2), sp.Rational(1, 3), sp.Rational(1, 4)]
    assert _wait_until_gone(worker), "the worker outlived its session"
    outside = {B.bounded(_pid_and, "a", timeout=30).value[0] for _ in range(2)}
    assert len(outside) == 2 and worker not in outside  # no session: a fresh child per call


def _wait_until_gone(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_call_over_its_budget_kills_the_worker_and_is_not_retried_with_less():
    with B.session() as s:
        worker = B.bounded(_pid_and, 0, timeout=30).value[0]
        out = B.bounded(time.sleep, 20, timeout=0.5)
        assert isinstance(out, B.TimedOut) and out.seconds < 20
        assert _wait_until_gone(worker)
        start = time.perf_counter()
        assert B.bounded(time.sleep, 20, timeout=0.4) is out and s.hits == 1  # no larger budget: not run again
        assert time.perf_counter() - start < 0.3
        assert isinstance(B.bounded(time.sleep, 0.01, timeout=30), B.Derived)
        fresh = B.bounded(_pid_and, 1, timeout=30).value[0]
        assert fresh not in (worker, os.getpid())  # a new worker for the next call


def test_the_memory_cap_holds_per_call_in_a_worker(monkeypatch):
    monkeypatch.setenv("SYMDUAL_MEMORY_MB", "256")
    with B.session():
        sizes = [B.bounded(_allocate, k << 20, timeout=60) for k in (150, 160, 170, 180, 190)]
        assert [o.value for o in sizes] == [k << 20 for k in (150, 160, 170, 180, 190)]  # the cap is not used up
        big = B.bounded(_allocate, 600 << 20, timeout=60)
        assert isinstance(big, B.Failed) and big.error.startswith("out of memory")
        assert B.bounded(_allocate, 100 << 20, timeout=60).value == 100 << 20  # a fresh worker after it


def test_the_worker_sees_the_parent_state_and_odd_calls_fork():
    with B.session():
        with mpmath.workdps(50):
            assert B.bounded(_dps, timeout=30).value == 50
        with mpmath.workdps(20):
            assert B.bounded(_dps, timeout=30).value == 20  # the precision is part of the memo's key
        assert B.bounded(lambda: os.getpid() + 0, timeout=30).ok  # a lambda does not pickle: a fresh child
        seen = {}

        def other_thread() -> None:
            seen["pid"] = B.bounded(_pid_and, "t", timeout=30).value[0]

        worker = B.bounded(_pid_and, "m", timeout=30).value[0]
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(60)
        assert seen["pid"] not in (worker, os.getpid())  # another thread: not the session's worker


def test_a_derivation_is_the_same_with_and_without_the_session(monkeypatch):
    """Every piece, verdict, provenance line and note of LogSum(2) and of q = 1/(1 + w) (Omega = w**3/3)."""
    import contextlib

    from symdual import derivation

    def snapshot(d) -> dict:
        return {"pieces": [str(getattr(d, k)) for k in ("omega", "f_dual", "eta_hat", "omega_prime")],
                "series": {k: str(v) for k, v in d.series.items()}, "limits": {k: str(v) for k, v in d.limits.items()},
                "provenance": {k: (p.method, p.how, p.precision) for k, p in d.provenance.items()},
                "verdicts": {k: (v.status, v.by, v.detail) for k, v in d.properties.items()}, "notes": d.notes}

    rules = [dict(eta_hat="w*(w+eps)", params={"eps": 2}), dict(keep_prob="1/(1 + w)")]
    records = [sd.derive(**kw, timeout=60) for kw in rules]
    monkeypatch.setattr(derivation, "session", contextlib.nullcontext)
    assert [snapshot(d) for d in records] == [snapshot(sd.derive(**kw, timeout=60)) for kw in rules]
    w = records[0].rule.expr.free_symbols.pop()  # the engine's w
    assert sp.simplify(records[0].omega - sp.log(1 + w / 2)) == 0 and sp.simplify(records[1].omega - w**3 / 3) == 0
