"""symdual: the regularisation penalties that adaptive dropout strategies minimise.

    import symdual as sd
    d = sd.derive(eta_hat="w*(w+eps)", params={"eps": 2})
    d.omega, d.f_dual, d.eta_hat, d.properties["sparsity"].status
"""
from .derivation import derive
from .errors import InputError
from .record import Derivation, Provenance
from .verdict import Verdict, Witness

__version__ = "0.1.0"
__all__ = ["Derivation", "InputError", "Provenance", "Verdict", "Witness", "catalog", "derive", "figures",
           "penalty", "plot", "prox"]


def __getattr__(name: str):  # ``sd.catalog``, ``sd.plot`` and the like without importing it eagerly
    if name == "plot":
        from .figures import plot

        return plot
    if name in ("catalog", "figures", "penalty", "prox"):
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'symdual' has no attribute {name!r}")
