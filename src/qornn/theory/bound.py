"""The :class:`Bound` result type and the table of literature sources.

Every public function of :mod:`qornn.theory` returns a :class:`Bound` (never a
bare float), so that a number always travels with

* ``kind``: how much trust it deserves

  - ``"rigorous"``: every constant is explicit and every ingredient is proved
    in ``docs/theory.md`` (or is an elementary, textbook fact);
  - ``"rigorous_if_sources_verified"``: the derivation is written out, but it
    uses a constant recalled from a paper that has not been transcribed from
    the primary source here (see :data:`SOURCES`, ``verified=False``);
  - ``"heuristic"``: a typical-size estimate (e.g. a random-matrix model),
    checked numerically but not a theorem;
  - ``"rate_only"``: only the exponent is meaningful (``value`` may be ``None``
    or a shape normalised at an anchor);

* ``exponent`` / ``log_power``: the bound scales like
  ``complexity**exponent * log(complexity)**log_power``;
* ``assumptions`` (norm convention, measure, class definition, ...);
* ``sources``: keys into :data:`SOURCES` of the results the value *depends on*; the
  ``kind`` of a value is computed from them (:func:`kind_from_sources`), so flipping
  ``SOURCES[key].verified`` after transcribing a statement upgrades every value that uses it;
* ``references``: keys of works the construction follows but whose correctness the value
  does not need (e.g. the paper whose theorem is re-derived here);
* ``log10_value``: log10 of the value, finite even when ``value`` underflows to 0.0;
* ``note``: a one-line remark shown by the CLI ("trivial bound: ...", "underflow: ...");
* ``certificate``: the numbers that produced the value (packing size, separation,
  envelope, ...), enough to recheck it by hand.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

KINDS = ("rigorous", "rigorous_if_sources_verified", "heuristic", "rate_only")


@dataclass(frozen=True)
class Source:
    """A literature reference; ``verified`` is True only once the statement was checked here."""

    citation: str
    verified: bool
    note: str = ""


SOURCES: dict[str, Source] = {
    "achour22": Source(
        "E. M. Achour, A. Foucault, S. Gerchinovitz, F. Malgouyres. A general approximation lower "
        "bound in L^p norm, with applications to feed-forward neural networks. NeurIPS 2022, "
        "arXiv:2206.04360.",
        False,
        "only the abstract was available; the propositions here are independent variants",
    ),
    "bhlm19": Source(
        "P. L. Bartlett, N. Harvey, C. Liaw, A. Mehrabian. Nearly-tight VC-dimension and "
        "pseudodimension bounds for piecewise linear neural networks. JMLR 20(63):1-17, 2019.",
        False,
        "Theorem 7 constants recalled, not transcribed",
    ),
    "anthony_bartlett99": Source(
        "M. Anthony, P. L. Bartlett. Neural Network Learning: Theoretical Foundations. Cambridge "
        "University Press, 1999 (Thm 8.8: VC bound for piecewise-polynomial nets; Thm 11.3: "
        "monotone maps do not increase Pdim; Thm 18.4: L1 packing of Pdim-d classes).",
        False,
        "theorem numbers and constants recalled, not transcribed",
    ),
    "haussler95": Source(
        "D. Haussler. Sphere packing numbers for subsets of the Boolean n-cube with bounded "
        "Vapnik-Chervonenkis dimension. J. Combin. Theory Ser. A 69:217-232, 1995.",
        False,
        "constant e(D+1)(2e/eps)^D recalled",
    ),
    "gilbert_varshamov": Source(
        "E. N. Gilbert (1952), R. R. Varshamov (1957): a binary code of length m and minimum "
        "distance t with at least 2^m / sum_{i<t} C(m,i) words exists (greedy argument); "
        "sum_{i<=lam m} C(m,i) <= 2^{m H2(lam)} for lam <= 1/2.",
        True,
        "elementary; proof in docs/theory.md",
    ),
    "tsybakov09": Source(
        "A. B. Tsybakov. Introduction to Nonparametric Estimation. Springer, 2009, Lemma 2.9 "
        "(Varshamov-Gilbert bound).",
        False,
    ),
    "weyl": Source(
        "H. Weyl (1912); e.g. R. Horn, C. Johnson, Matrix Analysis, 2nd ed., Cor. 7.3.5: "
        "|sigma_i(A+E) - sigma_i(A)| <= ||E||_2.",
        True,
        "standard; proof sketch in docs/theory.md",
    ),
    "bai_yin": Source(
        "Z. D. Bai, Y. Q. Yin (1988) / S. Geman (1980): the largest singular value of an n x n "
        "matrix with i.i.d. centred entries of variance v is ~ 2 sqrt(n v).",
        False,
        "used only for the heuristic typical-size estimate",
    ),
    "qornn24": Source(
        "A. Foucault, F. Mamalet, F. Malgouyres. Quantized approximately orthogonal recurrent "
        "neural networks. arXiv:2402.04012.",
        False,
        "the paper's orthogonality theorem was not available; bounds here are derived independently",
    ),
    "gao_wellner07": Source(
        "F. Gao, J. A. Wellner. Entropy estimate for high-dimensional monotonic functions. "
        "J. Multivariate Anal. 98:1751-1764, 2007.",
        False,
        "rate eps^{-max(d, p(d-1))} recalled",
    ),
    "yarotsky18": Source(
        "D. Yarotsky. Optimal approximation of continuous functions by very deep ReLU networks. "
        "COLT 2018.",
        False,
    ),
    "lu21": Source(
        "J. Lu, Z. Shen, H. Yang, S. Zhang. Deep network approximation for smooth functions. "
        "SIAM J. Math. Anal. 53(5), 2021.",
        False,
        "rate O(N^(-2s/d) L^(-2s/d)) recalled from the abstract; used for rate-only curves",
    ),
    "abch97": Source(
        "N. Alon, S. Ben-David, N. Cesa-Bianchi, D. Haussler. Scale-sensitive dimensions, uniform "
        "convergence, and learnability. J. ACM 44(4):615-631, 1997 (Lemma 3.5).",
        False,
        "only the argument is followed; the lemma is re-proved in docs/theory.md",
    ),
    "mendelson02": Source(
        "S. Mendelson. Rademacher averages and phase transitions in Glivenko-Cantelli classes. "
        "IEEE Trans. Inf. Theory 48(1):251-263, 2002.",
        False,
        "the paper's L^p(mu) entropy estimate; replaced here by a re-proved variant",
    ),
}


@dataclass(frozen=True)
class Bound:
    """A numerical bound together with its provenance (see module docstring)."""

    value: float | None
    kind: str
    quantity: str = ""
    exponent: float | None = None
    log_power: float = 0.0
    complexity: str = ""
    assumptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    certificate: dict[str, Any] = field(default_factory=dict)
    references: tuple[str, ...] = ()
    log10_value: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Bound.kind={self.kind!r} is not one of {KINDS}")
        for key in self.sources + self.references:
            if key not in SOURCES:
                raise ValueError(f"Bound {key!r} is not a key of SOURCES")
        if self.log10_value is None and self.value is not None:
            v = float(self.value)
            object.__setattr__(self, "log10_value", math.log10(v) if v > 0 else -math.inf)

    @property
    def rigorous(self) -> bool:
        """True when the value is a theorem with every ingredient proved or elementary."""
        return self.kind == "rigorous"

    def __float__(self) -> float:
        if self.value is None:
            raise TypeError("this Bound carries a rate only (value=None)")
        return float(self.value)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dictionary (certificate values converted to plain Python types)."""

        def plain(x: Any) -> Any:
            if isinstance(x, dict):
                return {str(k): plain(v) for k, v in x.items()}
            if isinstance(x, (list, tuple)):
                return [plain(v) for v in x]
            if hasattr(x, "item") and not isinstance(x, (str, bytes)):
                try:
                    return x.item()
                except (ValueError, AttributeError):
                    return str(x)
            if isinstance(x, float) and not math.isfinite(x):
                return str(x)
            return x

        return {
            "quantity": self.quantity,
            "value": plain(self.value),
            "kind": self.kind,
            "exponent": self.exponent,
            "log_power": self.log_power,
            "complexity": self.complexity,
            "assumptions": list(self.assumptions),
            "log10_value": plain(self.log10_value),
            "note": self.note,
            "sources": [{"key": k, "citation": SOURCES[k].citation, "verified": SOURCES[k].verified}
                        for k in self.sources],
            "references": [{"key": k, "citation": SOURCES[k].citation} for k in self.references],
            "certificate": plain(self.certificate),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def combine_kind(*kinds: str) -> str:
    """The weakest of several kinds (``rigorous`` < ... < ``rate_only`` in trust order)."""
    return max(kinds, key=KINDS.index)


def kind_from_sources(sources: tuple[str, ...] | list[str]) -> str:
    """``rigorous`` if every source used for a constant is verified, else ``rigorous_if_sources_verified``.

    >>> kind_from_sources(("gilbert_varshamov",)), kind_from_sources(("bhlm19",))
    ('rigorous', 'rigorous_if_sources_verified')
    """
    return "rigorous" if all(SOURCES[k].verified for k in sources) else "rigorous_if_sources_verified"


def merge_keys(*groups) -> tuple[str, ...]:
    """Concatenate tuples of source keys, dropping repeats (order kept)."""
    return tuple(dict.fromkeys(k for g in groups for k in g))


def from_log(log_value: float) -> tuple[float, float, str]:
    """(value, log10 value, note) for a value known through its natural log.

    A positive value below the double-precision range becomes 0.0 with a note that says so,
    so that a tiny bound is never mistaken for the trivial bound 0.
    """
    if log_value == -math.inf:
        return 0.0, -math.inf, ""
    value = math.exp(log_value)
    log10 = log_value / math.log(10.0)
    note = "" if value > 0 else f"underflow: value = 10^{log10:.2f}, below double precision"
    return value, log10, note
