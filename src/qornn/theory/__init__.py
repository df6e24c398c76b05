"""Approximation theory for tiny (quantized) networks: explicit lower bounds and
quantized-orthogonality bounds.

Pure NumPy/SciPy (no torch).  Every public function returns a :class:`Bound` carrying the
value, how rigorous it is, the rate exponent, the assumptions and the references.  See
docs/theory.md for the statements and proofs.

References: Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower
bound in L^p norm, with applications to feed-forward neural networks", NeurIPS 2022
(arXiv:2206.04360); Bartlett, Harvey, Liaw, Mehrabian, JMLR 2019; Haussler 1995;
Foucault, Mamalet, Malgouyres, "Quantized approximately orthogonal RNNs" (arXiv:2402.04012).
"""
from .bound import SOURCES, Bound, Source
from .complexity import (mlp_param_count, pdim_anthony_bartlett, pdim_bhlm, pdim_growth_function,
                         pdim_upper, total_bits)
from .inequalities import haussler_log_packing, proposition_a, proposition_b, tau_pdim
from .lower_bounds import (lower_bound_boolean_window, lower_bound_holder, lower_bound_monotone,
                           minimal_bits_for_error, minimal_pdim_for_error,
                           minimal_weights_for_error, monotone_exponents, upper_bound_c11_interp,
                           upper_bound_holder_quantized, upper_bound_lipschitz_interp,
                           upper_bound_monotone_1d)
from .orthogonality import (deterministic_deviation, haar_alpha, haar_orthogonal,
                            measure_deviation, quantize, typical_deviation)
from .packing import (Family, boolean_window_family, greedy_code, gv_log_size,
                      holder_bump_constants, holder_family, monotone_antichain_family,
                      monotone_staircase_family, vg_code)

__all__ = [name for name in dir() if not name.startswith("_")]
