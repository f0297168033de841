"""The data layer: which paintings there are, by whom, and their pixels.

Files -> catalogue -> pixels and views, the first steps of painter-match's one-way flow:
`images` finds and decodes image files (the project's one decoder), `views` cuts the views a
model embeds, `catalogue` reads the Kaggle and folder-per-artist layouts into one table,
`selection` filters and splits it by artist, `pairs` holds and samples pairs of paintings,
`pair_files` reads the competition's pair files, `scan` checks a folder, `prepare` writes a
resized copy, and `synth` writes synthetic painters in the Kaggle layout. numpy, pandas and
Pillow only.
"""
