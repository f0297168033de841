"""Deterministic synthetic painters, written in exactly the layout of Kaggle's "Painter by Numbers".

The real data (about 100k paintings by 2,300 artists) cannot be downloaded here, so this module
is the project's built-in data for tests and the demo. It writes::

    OUT_DIR/
      train/NNNN.jpg ...        training images (numeric names, shuffled; PNGs end in .png)
      test/NNNN.jpg ...         test images: artists seen in training and artists never seen
      train_info.csv            filename,artist,title,style,genre,date  (training images only)
      all_data_info.csv         artist,date,genre,pixelsx,pixelsy,size_bytes,source,style,title,
                                artist_group,in_train,new_filename  (every image)
      submission_info.csv       index,image1,image2  (test pairs)
      solution.csv              index,sameArtist  (1 or 0)

Every artist is a *style*: a palette drawn from one of a few shared "schools", a kind of
brushwork (stroke shape, length, width, orientation, curvature, density, opacity), a texture
(grain, canvas weave, impasto highlights, outlines), a ground and a habitual composition. Each
painting samples from its artist's style with jitter, so two paintings by one hand differ but
share it. Palettes are shared across artists and every painting shifts its hue and brightness,
so colour alone is a weak cue (the colour-histogram baseline scores ROC AUC of roughly 0.6-0.7);
brushwork is what separates artists. Stroke geometry is expressed as a fraction of the image
size, so a style survives the downscaling to the 64-224 px a model sees.

Output is byte-identical for a given config whatever the number of worker processes: every
painting draws from its own random stream, derived from ``(seed, artist, painting)`` with
``numpy.random.SeedSequence``.
"""

from __future__ import annotations

from painter_match.data.synth.config import (
    ALL_DATA_INFO_COLUMNS,
    SOLUTION_COLUMNS,
    SUBMISSION_INFO_COLUMNS,
    TRAIN_INFO_COLUMNS,
    SynthConfig,
    SynthConfigError,
    SynthSummary,
)
from painter_match.data.synth.render import generate

__all__ = [
    "ALL_DATA_INFO_COLUMNS",
    "SOLUTION_COLUMNS",
    "SUBMISSION_INFO_COLUMNS",
    "TRAIN_INFO_COLUMNS",
    "SynthConfig",
    "SynthConfigError",
    "SynthSummary",
    "generate",
]
