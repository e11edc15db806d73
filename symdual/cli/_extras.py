"""One line for a subcommand whose third-party dependency is missing, naming the install command."""
from __future__ import annotations

import re

DISTRIBUTION = "symdual"
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extras() -> dict[str, str]:
    """{requirement name: the optional extra providing it} from the installed package's metadata."""
    from importlib import metadata

    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return {}
    out: dict[str, str] = {}
    for req in requires:
        name, extra = _NAME.match(req), _EXTRA.search(req)
        if name and extra:
            out.setdefault(_normal(name.group(1)), extra.group(1))
    return out


def install_command(package: str) -> str:
    """``pip install "symdual[EXTRA]"`` if an extra provides ``package``, else ``pip install PACKAGE``."""
    extra = extras().get(_normal(package))
    return f'pip install "{DISTRIBUTION}[{extra}]"' if extra else f"pip install {package}"


def missing_dependency(command: str, exc: ModuleNotFoundError) -> str | None:
    """The error line for ``exc`` raised by ``symdual COMMAND``; None unless a third-party module is missing."""
    top = (exc.name or "").split(".")[0]
    if not top or top == "symdual":
        return None
    return f"symdual {command} needs {top}: {install_command(top)}"
