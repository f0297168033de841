"""The training side of painter-match: encoders, losses and the loop that fits them (needs torch).

Nothing outside this package imports torch, so the inference side installs and runs without it.
"""
