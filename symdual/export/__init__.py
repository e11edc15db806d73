"""Export of derived penalties to training frameworks: ``from symdual.export import torch as sdt``.

``symdual.export.torch`` holds the public names (``penalty_module``, ``eta_hat_fn``, ``drop_rate_fn``,
``keep_prob_fn``, ``ratio_fn``, ``f_dual_fn``, ``prox_fn``, ``to_source``); ``printer`` prints SymPy
expressions as torch code; ``tables`` lowers pieces without a closed form to Chebyshev tables; ``layers``
holds the paper's training modes. Importing this package does not import torch.
"""
