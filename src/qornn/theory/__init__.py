"""Approximation theory for tiny (quantized) networks: explicit lower bounds, constructive
upper bounds and quantized-orthogonality bounds.

Pure NumPy/SciPy (no torch; matplotlib only inside :func:`plot_bounds`).  Every public
function returns a :class:`Bound` carrying the value, how rigorous it is (computed from the
sources it depends on), the rate exponent, the assumptions and the references.  See
docs/theory.md for the statements and proofs.

References: Achour, Foucault, Gerchinovitz, Malgouyres, "A general approximation lower
bound in L^p norm, with applications to feed-forward neural networks", NeurIPS 2022
(arXiv:2206.04360); Alon, Ben-David, Cesa-Bianchi, Haussler, J. ACM 1997; Bartlett, Harvey,
Liaw, Mehrabian, JMLR 2019; Haussler 1995; Foucault, Mamalet, Malgouyres, "Quantized
approximately orthogonal RNNs" (arXiv:2402.04012).
"""
from .bound import SOURCES, Bound, Source, combine_kind, kind_from_sources
from .codes import greedy_code, gv_largest_distance, gv_log_size, vg_code
from .complexity import (mlp_param_count, pdim_anthony_bartlett, pdim_bhlm, pdim_growth_function,
                         pdim_upper, pdim_upper_layers, total_bits)
from .fat_shattering import proposition_f
from .inequalities import haussler_log_packing, proposition_a, proposition_b, tau_pdim
from .inverses import minimal_bits_for_error, minimal_pdim_for_error, minimal_weights_for_error
from .lower_bounds import (Q_GRID, lower_bound_boolean_window, lower_bound_holder,
                           lower_bound_monotone, monotone_exponents, sup_norm_monotone)
from .measures import DiscreteMeasure, SampledMeasure
from .monotone_upper import (upper_bound_monotone_1d, upper_bound_monotone_dyadic,
                             upper_bound_monotone_for_bits, upper_bound_monotone_for_weights)
from .orthogonality import (deterministic_deviation, haar_alpha, haar_orthogonal,
                            measure_deviation, orthogonality_report, quantize, typical_deviation)
from .packing import (Family, boolean_window_family, holder_bump_constants, holder_family,
                      monotone_antichain_family, monotone_staircase_family)
from .plot import bound_curves, plot_bounds
from .rates import rate_shape
from .upper_bounds import (upper_bound_c11_interp, upper_bound_holder_boxes,
                           upper_bound_holder_for_bits, upper_bound_holder_for_weights,
                           upper_bound_holder_interp_1d, upper_bound_holder_quantized,
                           upper_bound_holder_taylor, upper_bound_lipschitz_interp)

__all__ = [name for name in dir() if not name.startswith("_")]
