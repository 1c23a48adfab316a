"""Early stopping as Bedrock documents it for Claude 3 Haiku, as a pure function.

Validation loss is computed once per epoch. Epoch 1 sets the reference. From epoch 2 on an epoch *improves*
when ``best_so_far - loss`` is above zero and at least the threshold; an improving epoch resets the
stagnation counter, any other epoch adds one, and training stops at the epoch where the counter reaches the
patience. The best checkpoint is the lowest loss seen (the first epoch on ties).

The emulator runs jobs through this function and `haiku_finetune.metrics` uses it to explain a real
job's metrics, so both tell the same story. No I/O here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

__all__ = ["EarlyStoppingResult", "simulate_early_stopping"]

# Float losses like 0.7 - 0.65 come out as 0.04999999999999993; a threshold of 0.05 must still count them.
_TOLERANCE = 1e-9


class EarlyStoppingResult(BaseModel):
    """What early stopping did with a sequence of per-epoch validation losses.

    Attributes:
        stopped_epoch: The 1-based epoch at which training stopped early, or ``None`` if every epoch ran.
        best_epoch: The 1-based epoch of the best checkpoint (lowest loss, first on ties).
        best_loss: That epoch's validation loss.
        epochs_run: How many epochs ran.
        improved: For each epoch run, whether it counted as an improvement (epoch 1 is the reference: False).
        threshold: The threshold used.
        patience: The patience used.
        explanation: A human explanation of the above.
    """

    model_config = ConfigDict(frozen=True)

    stopped_epoch: int | None
    best_epoch: int
    best_loss: float
    epochs_run: int
    improved: list[bool]
    threshold: float
    patience: int
    explanation: str

    def __str__(self) -> str:
        return self.explanation


def simulate_early_stopping(
    validation_losses: Sequence[float], *, threshold: float = 0.001, patience: int = 2
) -> EarlyStoppingResult:
    """Apply Bedrock's early-stopping rules to per-epoch validation losses.

    Args:
        validation_losses: One validation loss per epoch, epoch 1 first. Epochs after an early stop are
            ignored (they would not have run).
        threshold: Minimum improvement of the best loss that counts (``earlyStoppingThreshold``).
        patience: Epochs in a row without improvement that stop training (``earlyStoppingPatience``).

    Returns:
        An [`EarlyStoppingResult`][haiku_finetune.early_stopping.EarlyStoppingResult].

    Raises:
        ValueError: No losses, a loss that is not a finite number, a negative threshold or patience < 1.
    """
    losses = [float(x) for x in validation_losses]
    if not losses:
        raise ValueError("validation_losses is empty: early stopping needs at least one epoch's loss")
    bad = [i + 1 for i, x in enumerate(losses) if not math.isfinite(x)]
    if bad:
        raise ValueError(f"validation loss of epoch {bad[0]} is not a finite number: {losses[bad[0] - 1]}")
    if threshold < 0 or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold}")
    if patience < 1:
        raise ValueError(f"patience must be at least 1, got {patience}")

    best_loss, best_epoch = losses[0], 1
    improved = [False]
    stagnant = 0
    stopped: int | None = None
    for epoch, loss in enumerate(losses[1:], start=2):
        gain = best_loss - loss
        is_improvement = gain > _TOLERANCE and gain >= threshold - _TOLERANCE
        improved.append(is_improvement)
        if loss < best_loss:
            best_loss, best_epoch = loss, epoch
        stagnant = 0 if is_improvement else stagnant + 1
        if stagnant >= patience:
            stopped = epoch
            break

    epochs_run = len(improved)
    return EarlyStoppingResult(
        stopped_epoch=stopped,
        best_epoch=best_epoch,
        best_loss=best_loss,
        epochs_run=epochs_run,
        improved=improved,
        threshold=threshold,
        patience=patience,
        explanation=_explain(losses[:epochs_run], improved, stopped, best_epoch, best_loss, threshold, patience),
    )


def _explain(
    losses: list[float],
    improved: list[bool],
    stopped: int | None,
    best_epoch: int,
    best_loss: float,
    threshold: float,
    patience: int,
) -> str:
    rule = (
        f"an epoch counts as an improvement when the best validation loss drops by more than 0 and by at "
        f"least {threshold:g}; training stops after {patience} epoch(s) in a row without one"
    )
    if stopped is None:
        outcome = f"Training ran all {len(losses)} epoch(s) without stopping early"
    else:
        quiet = ", ".join(str(e) for e in range(stopped - patience + 1, stopped + 1))
        noun = "epoch" if patience == 1 else "epochs"
        outcome = f"Training stopped early at epoch {stopped}: {noun} {quiet} did not improve enough"
    marks = ", ".join(
        f"{i}: {loss:g}{' (improved)' if ok else ''}"
        for i, (loss, ok) in enumerate(zip(losses, improved, strict=True), 1)
    )
    return (
        f"{outcome}. Best checkpoint: epoch {best_epoch} (validation loss {best_loss:g}). "
        f"Rule: {rule}. Losses by epoch: {marks}."
    )
