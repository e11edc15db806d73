"""Table 2 of LeJeune, Javadi, Baraniuk (NeurIPS 2021) through symdual: every catalog method's rule, eta_hat,
effective penalty Omega and verdicts, from the same rows as `symdual table` (derived, certified, cached).

Run: python paper_figures/table2.py [--out DIR] [--method NAME ...] [--no-cache]
Writes DIR/table2.md (Markdown, full formulas and citations), DIR/table2.tex (a booktabs `table` for one
column of a two-column page), DIR/table2_wide.tex (the `table*` variant across the page, with the rules
and eta_hat) and DIR/table2_demo.tex (a two-column article with both: `pdflatex table2_demo.tex`).
The LaTeX needs \\usepackage{amsmath,amssymb,booktabs,array}. Default DIR: the `out` folder beside this script.
"""
import argparse
import sys
from pathlib import Path

from symdual import catalog
from symdual.errors import InputError
from symdual.table import build_rows, paper_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out", help="output folder")
    parser.add_argument("--method", action="append", metavar="NAME", help="only this catalog method (repeatable)")
    parser.add_argument("--no-cache", action="store_true", help="derive every row afresh")
    args = parser.parse_args(argv)
    try:
        names = [catalog.entry(n).name for n in args.method] if args.method else catalog.names()
    except InputError as exc:
        print(f"table2: {exc}", file=sys.stderr)
        return 2
    rows, info = build_rows(list(dict.fromkeys(names)), use_cache=not args.no_cache)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in paper_files(rows).items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(args.out / name)
    print(f"{len(rows)} rows, {info['hits']} from the cache, {info['seconds']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
