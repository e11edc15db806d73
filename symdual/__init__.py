"""symdual: the regularisation penalties that adaptive dropout strategies minimise."""
__version__ = "0.1.0"
