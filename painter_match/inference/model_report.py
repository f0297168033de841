"""What ``painter-match model`` reports: which model each rule names, the one that runs, its
contract and figures, the terms it comes under, and where its card is.

`report` walks the rules of `painter_match.inference.model.resolve_model` (``-m``,
``$PAINTER_MATCH_MODEL``, ``./models/painter-match.onnx``, the packaged default) and asks
`resolve_model` itself which one wins, so the two can never disagree. The packaged model's terms
are `PACKAGED_TERMS`; its held-out figures are read from its card's YAML header (`card_figures`,
a reader of that one block, so that the card stays the one place they are written).
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from painter_match.errors import PainterMatchError
from painter_match.inference.model import (
    DEFAULT_MODEL_PATH,
    MODEL_ENV,
    ModelInfo,
    open_model,
    packaged_model_path,
    resolve_model,
)
from painter_match.inference.ort_builds import builds, overwritten_warning

CODE_LICENSE = "MIT"
# What MODEL_LICENSE.md says, in one line; tests/install/test_model_card.py checks the two agree.
PACKAGED_TERMS = "research and education only, not commercial use"
OTHER_TERMS = (
    "not the packaged model: it comes under the terms of the data it was trained on and of whoever trained it"
)
CARD_NAME = "MODEL_CARD.md"
TERMS_NAME = "MODEL_LICENSE.md"

# (rule, how the rule names a model), in resolve_model's order.
RULES = (
    ("-m", "-m/--model"),
    ("env", f"${MODEL_ENV}"),
    ("./models", f"./{DEFAULT_MODEL_PATH.as_posix()}"),
    ("packaged", "the packaged default"),
)


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule of `resolve_model` names.

    Attributes:
        rule: ``-m``, ``env``, ``./models`` or ``packaged``.
        means: the rule as the user meets it (``$PAINTER_MATCH_MODEL``, ...).
        path: the file it names, or None when it names none.
        note: why it names none, or "missing" when it names a file that is not there.
        chosen: whether this is the rule that wins now.
    """

    rule: str
    means: str
    path: str | None
    note: str
    chosen: bool


@dataclass(frozen=True)
class Figure:
    """One figure of the model: a ROC AUC and where it comes from (its metadata or its card)."""

    name: str
    value: float
    source: str


@dataclass
class ModelReport:
    """Everything ``painter-match model`` prints (`report` makes one).

    Attributes:
        rules: every rule of `resolve_model`, in its order, and what each names.
        path: the model that runs, or None when no rule names one.
        rule: the rule that chose it.
        info: its contract, or None when it could not be opened (``error`` says why).
        size_bytes: its file size.
        packaged: whether it is the packaged model (the same file, or the same weights).
        figures: its ROC AUCs (metadata; for the packaged model, its card's too).
        terms: the terms it comes under, in one line.
        terms_file, card: the packaged model's terms and card (None when the install has none).
        runtime: the onnxruntime builds installed and their providers, and a warning when the
            GPU build is installed but the CPU build's files run.
        error: why the chosen model could not be opened, else None.
    """

    rules: list[RuleOutcome]
    path: str | None
    rule: str | None
    info: ModelInfo | None = None
    size_bytes: int | None = None
    packaged: bool = False
    figures: list[Figure] = field(default_factory=list)
    terms: str = OTHER_TERMS
    terms_file: str | None = None
    card: str | None = None
    code_license: str = CODE_LICENSE
    runtime: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``painter-match model --json`` prints."""
        info = self.info
        return {
            "rules": [asdict(r) for r in self.rules],
            "chosen": {"rule": self.rule, "path": self.path},
            "model": None if info is None else contract(info, self.size_bytes),
            "packaged": self.packaged,
            "figures": [asdict(f) for f in self.figures],
            "terms": self.terms,
            "terms_file": self.terms_file,
            "card": self.card,
            "code_license": self.code_license,
            "runtime": self.runtime,
            "error": self.error,
        }


def contract(info: ModelInfo, size_bytes: int | None = None) -> dict[str, Any]:
    """The contract summary of a model: what goes in, what comes out, how it is judged."""
    from painter_match.inference.verdict import decision_threshold

    calibration = info.calibration
    return {
        "backbone": info.backbone,
        "variant": info.variant,
        "size_bytes": size_bytes,
        "identity": info.identity,
        "input_size": info.input_size,
        "input": f"{info.input_size} x {info.input_size} RGB, {info.input_dtype} {info.input_layout}",
        "resize": info.resize,
        "views": 1 + info.views.crops,
        "crops": info.views.crops,
        "crop_scale": info.views.crop_scale,
        "embedding_dim": info.embedding_dim,
        "metric": info.metric,
        "calibration": {
            "slope": calibration.slope,
            "intercept": calibration.intercept,
            "threshold": calibration.threshold,
            "p_half_at": decision_threshold(calibration),
            "positive_share": calibration.positive_share,
            "pairs": calibration.pairs,
        },
        "val_auc": info.val_auc,
        "variant_auc": info.variant_auc,
        "created": info.created,
        "training_artists": len(info.training_artists),
    }


def packaged_files() -> tuple[Path | None, Path | None]:
    """The packaged model's card and terms, where this install has them."""
    folder = resources.files("painter_match") / "models"
    found = []
    for name in (CARD_NAME, TERMS_NAME):
        candidate = folder / name
        found.append(Path(str(candidate)) if candidate.is_file() else None)
    return found[0], found[1]


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_METRIC = re.compile(
    r"^\s*- type: (?P<type>\S+)\n\s+value: (?P<value>[-+0-9.eE]+)\n\s+name: (?P<name>.+)$", re.MULTILINE
)


def card_figures(text: str) -> list[Figure]:
    """The metrics of a model card's YAML header (``model-index``: ``type``, ``value``, ``name``).

    A reader of that one block as the card writes it, not of YAML: the package needs no YAML
    library, and tests/install/test_model_card.py checks against a real YAML parser that it reads
    the same figures.
    """
    header = _FRONT_MATTER.match(text)
    if header is None:
        return []
    return [
        Figure(name=m["name"].strip(), value=float(m["value"]), source="model card")
        for m in _METRIC.finditer(header.group(1))
    ]


def _rules(model: str | Path | None, chosen_rule: str | None) -> list[RuleOutcome]:
    named: dict[str, tuple[str | None, str]] = {}
    named["-m"] = (str(model), "") if model is not None else (None, "not given")
    from_env = os.environ.get(MODEL_ENV)
    named["env"] = (from_env, "") if from_env else (None, "not set")
    local = DEFAULT_MODEL_PATH
    named["./models"] = (str(local.resolve()), "") if local.is_file() else (None, "no such file here")
    packaged = packaged_model_path()
    named["packaged"] = (str(packaged), "") if packaged is not None else (None, "not in this install")
    outcomes = []
    for rule, means in RULES:
        path, note = named[rule]
        if path is not None and not Path(path).is_file():
            note = "missing"
        outcomes.append(RuleOutcome(rule, means, path, note, chosen=rule == chosen_rule))
    return outcomes


def _runtime() -> dict[str, Any]:
    import onnxruntime as ort

    return {
        "onnxruntime": str(ort.__version__),
        "builds": builds(),
        "providers": list(ort.get_available_providers()),
        "warning": overwritten_warning(),
    }


def report(model: str | Path | None = None) -> ModelReport:
    """Which model runs given ``model`` (``-m``) and this environment, and what it is.

    Never raises for a model that cannot be opened: the rules are the answer then, and ``error``
    says what is wrong with the chosen file.
    """
    card, terms_file = packaged_files()
    try:
        choice = resolve_model(model)
    except PainterMatchError as err:  # no rule names a model (an install without the packaged one)
        result = ModelReport(_rules(model, None), None, None, error=str(err))
        result.card, result.terms_file, result.runtime = (
            str(card) if card else None,
            str(terms_file) if terms_file else None,
            _runtime(),
        )
        return result
    result = ModelReport(_rules(model, choice.rule), str(choice.path), choice.rule)
    result.card = str(card) if card else None
    result.terms_file = str(terms_file) if terms_file else None
    try:
        loaded = open_model(choice, provider="cpu", threads=1)
    except PainterMatchError as err:
        result.error = str(err)
        result.runtime = _runtime()
        return result
    info = result.info = loaded.info
    result.size_bytes = choice.path.stat().st_size
    result.packaged = _is_packaged(choice.path, info)
    if info.val_auc is not None:
        result.figures.append(Figure("Validation ROC AUC, fp32", info.val_auc, "model metadata"))
    if info.variant_auc is not None and info.variant != "fp32":
        result.figures.append(
            Figure(f"Validation ROC AUC, {info.variant} (this file)", info.variant_auc, "model metadata")
        )
    if result.packaged:
        result.terms = PACKAGED_TERMS
        if card is not None:
            result.figures.extend(card_figures(card.read_text(encoding="utf-8")))
    result.runtime = _runtime()
    return result


def _is_packaged(path: Path, info: ModelInfo) -> bool:
    """The packaged model itself, or a copy of its weights (the same terms apply to a copy)."""
    packaged = packaged_model_path()
    if packaged is None:
        return False
    if path.resolve() == packaged.resolve():
        return True
    if not info.weights:
        return False
    try:
        return open_model(packaged, provider="cpu", threads=1).info.weights == info.weights
    except PainterMatchError:
        return False
