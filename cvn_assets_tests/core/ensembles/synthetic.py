"""Synthetic base-model prediction frames, shaped like `training.fit_and_predict` output."""

from __future__ import annotations

import numpy as np
import pandas as pd

TREE_MODELS: tuple[str, ...] = ("xgboost", "lightgbm", "catboost")
# How strongly each base model's probability follows the label: informative, weak, pure noise.
SIGNAL: dict[str, float] = {"xgboost": 0.5, "lightgbm": 0.2, "catboost": 0.0}
VAL_START, TEST_START = 1000, 1400


def labels(n: int, seed: int, buy_rate: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < buy_rate).astype(int)


def base_frame(
    seed: int = 0,
    n_val: int = 300,
    n_test: int = 200,
    signal: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Validation and test predictions of every model in `signal`, one row per model × window × position."""
    signal = SIGNAL if signal is None else signal
    rng = np.random.default_rng(seed + 1)
    windows = {
        "validation": (np.arange(VAL_START, VAL_START + n_val), labels(n_val, seed)),
        "test": (np.arange(TEST_START, TEST_START + n_test), labels(n_test, seed + 7)),
    }
    frames = []
    for window, (positions, y) in windows.items():
        timestamps = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(positions, unit="h")
        for model, strength in signal.items():
            p = np.clip(0.3 + strength * (y - 0.3) + 0.25 * rng.normal(size=y.size), 0.0, 1.0)
            frames.append(
                pd.DataFrame(
                    {
                        "model": model,
                        "window": window,
                        "position": positions,
                        "timestamp": timestamps,
                        "y": y,
                        "score": p,
                        "p": p,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def matrix_and_labels(seed: int = 0, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Validation matrix (columns in TREE_MODELS order) and its labels."""
    frame = base_frame(seed, n_val=n)
    val = frame[frame["window"] == "validation"]
    wide = val.pivot(index="position", columns="model", values="p")[list(TREE_MODELS)]
    y = val.drop_duplicates("position").set_index("position")["y"].reindex(wide.index)
    return wide.to_numpy(), y.to_numpy()
