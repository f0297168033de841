"""How a run is set up, decided once for the Python API and the commands alike.

The thread default (`default_threads`), the memory check of a view policy and batch size
(`check_memory`), a view policy from a number of crops (`choose_views`), moving probabilities to
a prior share of same-artist pairs (`moved_to_prior`, for a calibration or a reference's pair
model) and opening a labelled reference set for the paintings at hand (`open_reference`) live
here, so that ``painter_match.load()`` and ``painter-match embed`` make the same choices and
refuse the same things. Errors name the Python arguments in their message and the flags in
``error.cli`` (`PainterMatchError.naming`). The reference modules are imported only where used.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from painter_match.data.views import Views
from painter_match.errors import DataError, UsageError

if TYPE_CHECKING:
    from painter_match.inference.reference.set import Reference

# What one view (one row of a model call) costs beyond its uint8 pixels, as a multiple of them:
# the float input, the activations and the output. Measured 42x for the compact 96 px model
# (`--views 1000` at batch 32 asked onnxruntime for 37 GB); rounded up.
MODEL_CALL_FACTOR = 48


def default_threads() -> int:
    """onnxruntime's intra-op threads when none are asked for: half the cores.

    The decode threads (one per core) run at the same time; on the 2-core machine the project is
    measured on, 2 decode threads + 1 onnxruntime thread embedded 45 images/s against 35 with 2 + 2
    (compact 96 px model; 109 against 79 with a tiny one), as the two pools stop fighting for cores.
    """
    return max(1, (os.cpu_count() or 1) // 2)


def machine_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(input_size: int, views: Views, batch_size: int, most_images: int | None = None) -> None:
    """Refuse a view policy and batch size that would need more memory than the machine has.

    One model call takes ``batch_size * (1 + crops)`` views of ``S x S x 3`` bytes, each costing
    about `MODEL_CALL_FACTOR` times that inside onnxruntime; the decode threads hold a few
    batches of views besides. ``most_images`` caps the batch when the run embeds fewer images
    than a batch holds.

    Raises:
        UsageError: naming ``views``/``batch_size`` (``--views``/``--batch-size`` for the
            command line), the estimate and the largest batch size that fits.
    """
    total = machine_memory()
    if total is None:
        return
    per_image = (1 + views.crops) * input_size**2 * 3 * (MODEL_CALL_FACTOR + 3)  # a call, 3 batches decoded
    batch = max(1, min(batch_size, most_images)) if most_images is not None else batch_size
    need = batch * per_image
    if need <= total:
        return
    fits = total // per_image
    advice = (
        f"lower {{batch_name}} to {fits} or less"
        if fits >= 1
        else "lower {views_name} (a global view alone is {views}0)"
    )
    raise UsageError.naming(
        f"{{views}}{views.crops} with {{batch}}{batch} on this {input_size} px model needs about "
        f"{need / 2**30:,.1f} GiB for one model call, more than this machine's {total / 2**30:,.1f} GiB; "
        + advice,
        views=("views=", "--views "),
        batch=("batch_size=", "--batch-size "),
        views_name=("views", "--views"),
        batch_name=("batch_size", "--batch-size"),
    )


def choose_views(views: Views | int | None, default: Views, *, crop_scale: float | None = None) -> Views:
    """The view policy a run uses: ``views`` itself, ``default`` (the model's) for None, or for a
    number, that many crops at ``crop_scale`` (None: the default's scale), as ``--views N`` means.

    Raises:
        UsageError: a negative number of crops or a scale below 1 (naming ``views``).
    """
    if views is None and crop_scale is None:
        return default
    if isinstance(views, Views):
        return views
    crops = default.crops if views is None else views
    try:
        return Views(crops=crops, crop_scale=default.crop_scale if crop_scale is None else crop_scale)
    except ValueError as err:
        raise UsageError.naming(f"{{views}}: {err}", views=("views", "--views/--view-scale")) from None


_Fitted = TypeVar("_Fitted", bound="_FittedAtAShare")


class _FittedAtAShare(Protocol):
    """A probability model fitted at a share of same-artist pairs: a `Calibration` or a `Combiner`."""

    @property
    def positive_share(self) -> float: ...

    def at_prior(self: _Fitted, share: float) -> _Fitted: ...


def moved_to_prior(fitted: _Fitted, prior: float | None, what: object, remedy: str) -> _Fitted:
    """``fitted`` moved to ``prior`` by Bayes' rule (``fitted.at_prior``), or as it is for None.

    The one place that decides the prior, with and without a reference (``verify --prior``,
    ``score --prior``, ``Model.same_artist(prior=...)``).

    Args:
        fitted: a `Calibration` (the model's, or an embeddings file's) or a reference's `Combiner`.
        prior: the share of same-artist pairs among the pairs asked about, or None.
        what: the file the probabilities come from, for the message.
        remedy: how to get one that records its share (e.g. "export the model again").

    Raises:
        ValueError: ``prior`` is not strictly between 0 and 1.
        DataError: ``fitted`` records no share of same-artist pairs to move from.
    """
    if prior is None:
        return fitted
    if not 0.0 < prior < 1.0:
        raise ValueError(
            f"prior must be a share of same-artist pairs between 0 and 1 (exclusive), got {prior}"
        )
    share = fitted.positive_share
    if not 0.0 < share < 1.0:
        raise DataError.naming(
            f"{what} records no share of same-artist pairs for its calibration ({share}), so its "
            f"probabilities cannot be moved to {{prior}}; {remedy}, or leave out {{prior}}",
            prior=(f"prior={prior:g}", "--prior"),
        )
    return fitted.at_prior(prior)


def open_reference(reference: Reference | str | Path, identity: str | None, prior: float | None) -> Reference:
    """A fitted labelled reference set, checked against the model and views that embed the paintings
    to score (``identity``; None: not checked), its pair model moved to ``prior`` (`moved_to_prior`).

    Args:
        reference: a `Reference` (`painter_match.load_reference`), or its file.
        identity: ``EmbeddingSource.identity`` of the paintings' embeddings.
        prior: the share of same-artist pairs among the pairs scored, or None.

    Raises:
        DataError: the file is missing or not a reference, it was made by another model or view
            policy, it holds no fitted pair model, or its fit recorded no share to move from.
        ValueError: ``prior`` is not strictly between 0 and 1.
    """
    from painter_match.inference.reference.set import check_reference, load_reference

    name = reference_name(reference)
    if isinstance(reference, (str, Path)):
        reference = load_reference(reference, source=identity, fitted=True)
    else:
        check_reference(reference, identity if identity is not None else reference.source, "the reference")
    assert reference.combiner is not None  # fitted=True and check_reference refuse one without
    if prior is None:
        return reference
    combiner = moved_to_prior(reference.combiner, prior, name, "fit it again with `painter-match reference`")
    return replace(reference, combiner=combiner)


def reference_name(reference: Reference | str | Path | None) -> str | None:
    """What messages and summaries call a reference: its file, or "a reference" for one in memory."""
    if reference is None:
        return None
    return str(reference) if isinstance(reference, (str, Path)) else "a reference"
