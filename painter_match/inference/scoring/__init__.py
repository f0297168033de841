"""Scoring a Kaggle pairs file: the public call, the streaming engine and its threads.

- `painter_match.inference.scoring.submission`: ``painter_match.score_pairs`` and
  ``Model.score_pairs``: a submission from a pairs file, as ``painter-match score`` makes it
  (embeddings or images, a reference, a prior, the output's checks).
- `painter_match.inference.scoring.engine`: the pair scoring engine (`score_pairs`,
  `unique_images`, `ScoreSummary`): reads the pairs in blocks, scores and writes them atomically.
- `painter_match.inference.scoring.pipeline`: the engine's threads (read ahead, write behind).
"""
