"""``symdual export``: a derived penalty as a standalone PyTorch module, or a training layer module.

    symdual export --method logsum --param eps=2 -o logsum.py      # penalty lam * sum_j (Omega(w_j) - Omega(0))
    symdual export --eta-hat "w*(w+eps)" --param eps=2 -o mine.py  # the same from a rule (options of derive)
    symdual export --method mcp --layer bernoulli -o layer.py      # a layer of symdual.export.layers

The penalty file is the text of ``symdual.export.torch.to_source(d)``: it imports only torch and math and
runs a self-check as a script. Layers have no standalone source: the layer file imports symdual, derives
the rule when first used and subclasses the layer with it. Files are written atomically (a temporary file
in the same folder, then a rename); a path that exists and is not a regular file is refused.
"""
from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ._rule_options import RULE_OPTIONS, add_rule_arguments, param_values

HELP = "write a derived penalty as a standalone PyTorch module (or a training layer module)"
DESCRIPTION = ("Write the derived penalty of a catalog method (--method) or of your rule (the options of "
               "symdual derive) as a Python file for PyTorch, e.g. symdual export --method logsum -o logsum.py")
LAYERS: dict[str, tuple[str, str]] = {
    "bernoulli": ("AdaptiveDropoutLinear", "adaptive Bernoulli dropout, inverted masks with p = lam/(lam + eta_hat)"),
    "gaussian": ("GaussianDropoutLinear", "multiplicative Gaussian noise, sigma**2 = lam/eta_hat"),
    "tikhonov": ("AdaptiveTikhonovLinear", "adaptive ridge with r = lam/eta_hat"),
    "prox": ("AdaptiveProxLinear", "adaptive proximal steps with the derived prox"),
    "eta-trick": ("EtaTrickLinear", "a log eta parameter per weight, penalty lam/2 (w**2/eta + f(eta) - f(0))"),
}
"""``--layer`` NAME -> (class of :mod:`symdual.export.layers`, what it does)."""
EPILOG = ("The penalty file (the default) imports only torch and math: one nn.Module subclass whose forward(*tensors) "
          "is lam * sum (Omega(w) - Omega(0)), its defaults the derivation's parameters, and a self-check when run as "
          "'python FILE.py'. --layer NAME writes a layer module instead; layers have no standalone source, so that "
          "file imports symdual and symdual.export.layers, derives the rule when the layer is first built (seconds) "
          "and defines CLASS(in_features, out_features, **options). Layers: "
          + "; ".join(f"{name} = {cls} ({what})" for name, (cls, what) in LAYERS.items())
          + ". -o - writes to stdout. Needs torch: pip install \"symdual[torch]\".")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    group = add_rule_arguments(parser)
    group.add_argument("--method", metavar="NAME", help="a catalog method (symdual table lists them)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the Python file to write (replaced if it is a regular file; - for stdout)")
    parser.add_argument("--layer", choices=list(LAYERS), metavar="NAME",
                        help=f"write a training layer module instead of the penalty: {', '.join(LAYERS)}")
    parser.add_argument("--class-name", metavar="NAME", default=None,
                        help="name of the generated class (default: from the method, or Layer with --layer)")


def output_path(text: str) -> Path | None:
    """The file ``-o`` names (None for ``-``: stdout), checked before any work: it is not empty, is absent
    or a regular file (a folder, link, device or pipe is refused), and its folder exists and is writable."""
    if text == "-":
        return None
    if not text.strip():
        raise InputError("-o must name a file (got an empty name)")
    path = Path(text).expanduser()
    if os.path.lexists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
        raise InputError(f"-o {text!r} exists and is not a regular file (a folder, link or device): not replaced")
    folder = path.parent
    if not folder.is_dir():
        raise InputError(f"-o {text!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"-o {text!r}: the folder {str(folder)!r} is not writable")
    return path


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace`` (readers see
    the old file or the new one, never a part); the mode is the existing file's, else 0o666 less the umask."""
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def rule_call(args: argparse.Namespace) -> str:
    """The Python call (``sd.catalog.get(...)`` or ``sd.derive(...)``) that rebuilds the derivation the options
    name, every user text a string literal (``repr``) read again by symdual's parser."""
    values = {name: str(value) for name, value in param_values(args).items()}
    budget = "" if args.timeout is None else f", timeout={args.timeout!r}"
    if args.method is not None:  # the entry's own parameter names (any other is refused): safe keywords
        if budget:
            return f"sd.catalog.derive({args.method!r}, {values!r}{budget})"
        return f"sd.catalog.get({', '.join([repr(args.method), *(f'{k}={v!r}' for k, v in values.items())])})"
    lam = values.pop("lam", "1")
    kind = next(dest for _, dest, _ in RULE_OPTIONS if getattr(args, dest) is not None)
    return f"sd.derive({kind}={getattr(args, kind)!r}, params={values!r}, lam={lam!r}{budget})"


def _docstring(text: str) -> str:
    """``text`` as the body of a triple-quoted literal (backslashes and quotes escaped)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def derivation(args: argparse.Namespace) -> Any:
    """The derivation the options name (a catalog method or a rule); non-separable penalties are refused."""
    if args.method is not None:
        from .. import catalog

        values = param_values(args)
        catalog.entry(args.method)  # InputError listing the known names
        d = catalog.derive(args.method, values, timeout=args.timeout)
    else:
        from ..derivation import derive
        from ._rule_options import rule_kwargs

        d = derive(**rule_kwargs(args))
    if getattr(d, "separable", True) is False:
        raise InputError(f"{getattr(d, 'name', 'this penalty')} is not separable (its penalty couples the weights): "
                         f"there is no elementwise penalty to export")
    return d


def layer_source(args: argparse.Namespace, d: Any, class_name: str) -> str:
    """A module subclassing the ``--layer`` class of :mod:`symdual.export.layers` with the derived rule."""
    base, what = LAYERS[args.layer]
    call = rule_call(args)
    doc = _docstring(f"""{class_name}: {base} ({what}) for {d.title()}, lam = {d.lam}.

Written by symdual export. Layers have no standalone source: this module needs symdual and torch
installed; the rule is derived once, when the first layer is built (a few seconds), by

    {call}

Use: ``layer = {class_name}(in_features, out_features, **options)`` (the options of {base}); see
help(symdual.export.layers.{base}). Run this file for a self-check.""")
    title = _docstring(f"{base} driven by {d.title()} (lam = {d.lam} unless ``lam`` is given).")
    return f'''"""{doc}
"""
import functools

import symdual as sd
from symdual.export.layers import {base}


@functools.cache
def derivation():
    """The derivation this layer trains with (derived once per process)."""
    return {call}


class {class_name}({base}):
    """{title}"""

    def __init__(self, in_features, out_features, **options):
        super().__init__(in_features, out_features, derivation(), **options)


if __name__ == "__main__":
    import torch

    torch.manual_seed(0)
    layer = {class_name}(8, 4)
    x = torch.randn(16, 8)
    y = layer(x)
    y.square().sum().backward()
    layer.eval()
    z = layer(x)
    ok = bool(torch.isfinite(y).all() and torch.isfinite(z).all() and torch.isfinite(layer.weight.grad).all())
    print(f"{{layer}}: train and eval outputs finite: {{ok}}")
    raise SystemExit(0 if ok else 1)
'''


def run(args: argparse.Namespace) -> int:
    from ..parsing import safe_identifier

    path = output_path(args.output)
    class_name = None if args.class_name is None else safe_identifier(args.class_name)
    if args.layer is not None:
        from ..export import layers

        taken = {"functools", "sd", "derivation", "torch", LAYERS[args.layer][0]}
        if class_name in taken:
            raise InputError(f"--class-name {class_name} is a name the layer module already uses; choose another")
        d = derivation(args)
        cls = getattr(layers, LAYERS[args.layer][0])
        cls(2, 2, d)  # the rule can drive this layer (its eta_hat, dual or prox exist): else InputError now
        text = layer_source(args, d, class_name or "Layer")
    else:
        from ..export import torch as sdt

        text = sdt.to_source(derivation(args), class_name=class_name)
    compile(text, args.output, "exec")  # a generated file that does not parse is a bug, never written
    if path is None:
        sys.stdout.write(text)
        return 0
    try:
        write_atomic(path, text)
    except OSError as exc:
        raise InputError(f"-o {args.output!r}: cannot write ({exc.strerror or exc})") from None
    print(f"wrote {path} (run python {path} for its self-check)")
    return 0
