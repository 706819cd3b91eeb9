"""Topology of the polyhedral complex: chain complexes, homology and persistence (PHAT).

Everything here reads a :class:`~exactcells.complex.PolyhedralComplex`; the complex never
imports this package. PHAT is called only from :mod:`exactcells.topology.phat_adapter`.
"""

from .chains import (
    ChainComplex,
    boundary_squared_is_zero,
    chain_complex,
    geometric_incidence_signs,
    incidence_signs,
)
from .filtrations import (
    Filtration,
    class_score_filtration,
    dimension_random_filtration,
    filtration_from_values,
    lower_star_filtration,
    make_filtration,
    margin_filtration,
    random_filtration,
    upper_star_filtration,
)
from .homology import HomologyResult, homology
from .persistence import (
    BettiCurves,
    PersistenceResult,
    betti_curve,
    betti_curves,
    f_vector_from_betti_maxima,
    persistence,
)
from .subcomplex import (
    Pair,
    Subcomplex,
    class_region,
    closure,
    decision_boundary,
    domain_boundary,
    junctions,
    maximizer_mask,
    negative_region,
    pair,
    pairwise_boundary,
    positive_region,
    subcomplex_from_mask,
    whole_complex,
)

__all__ = [
    "Filtration",
    "class_score_filtration",
    "margin_filtration",
    "dimension_random_filtration",
    "filtration_from_values",
    "lower_star_filtration",
    "make_filtration",
    "random_filtration",
    "upper_star_filtration",
    "HomologyResult",
    "homology",
    "BettiCurves",
    "PersistenceResult",
    "betti_curve",
    "betti_curves",
    "f_vector_from_betti_maxima",
    "persistence",
    "ChainComplex",
    "boundary_squared_is_zero",
    "chain_complex",
    "geometric_incidence_signs",
    "incidence_signs",
    "Pair",
    "Subcomplex",
    "class_region",
    "closure",
    "decision_boundary",
    "junctions",
    "maximizer_mask",
    "pairwise_boundary",
    "domain_boundary",
    "negative_region",
    "pair",
    "positive_region",
    "subcomplex_from_mask",
    "whole_complex",
]
