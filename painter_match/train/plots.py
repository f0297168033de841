"""PNG plots of a run: training loss and validation AUC per epoch."""

from __future__ import annotations

from pathlib import Path

from painter_match import atomic


def plot_history(history: list[dict[str, float]], path: Path) -> None:
    """Draw loss and validation AUC against epoch into one PNG, replaced atomically."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    figure, (loss_axis, auc_axis) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    loss_axis.plot(epochs, [row["train_loss"] for row in history], marker="o")
    loss_axis.set(title="training loss", xlabel="epoch", ylabel="loss")
    auc_axis.plot(epochs, [row["val_auc"] for row in history], marker="o", color="tab:green")
    auc_axis.set(title="validation pair ROC AUC (held-out artists)", xlabel="epoch", ylabel="AUC")
    for axis in (loss_axis, auc_axis):
        axis.grid(alpha=0.3)
    try:
        with atomic.atomic_file(path) as handle:
            figure.savefig(handle, format="png", dpi=100)
    finally:
        plt.close(figure)
