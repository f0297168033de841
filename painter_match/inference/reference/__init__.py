"""Scoring with a labelled reference set, as the competition's winner did.

- `painter_match.inference.reference.set`: the `Reference` (labelled unit vectors, the fitted
  `Projection` and `Combiner`) and its ``.npz`` file (`build_reference`, `save_reference`,
  `load_reference`).
- `painter_match.inference.reference.fitted`: what the fit makes and the file stores (the
  `Projection`, the `Combiner` pair model, their settings).
- `painter_match.inference.reference.fit`: fits the projection and the pair model on the
  reference's own labels (`fit_reference`).
- `painter_match.inference.reference.search`: each query's nearest reference paintings, in
  bounded memory (`neighbours`, exact or int8).
- `painter_match.inference.reference.scoring`: the artist posterior and the pair scores from it
  (`query_evidence`, `score_pairs_with_reference`, `verify_with_reference`), re-exported here.
"""

from painter_match.inference.reference.scoring import (
    Posterior,
    QueryEvidence,
    artist_posterior,
    pair_features,
    query_evidence,
    same_artist_probability,
    score_pairs_with_reference,
    top_artists,
    verify_with_reference,
)

__all__ = [
    "Posterior",
    "QueryEvidence",
    "artist_posterior",
    "pair_features",
    "query_evidence",
    "same_artist_probability",
    "score_pairs_with_reference",
    "top_artists",
    "verify_with_reference",
]
