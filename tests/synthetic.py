"""Plain helpers (no fixtures) for the tests: synthetic reviews a tiny model can learn, and the settings
that train it in seconds. The fixtures built on them are in tests/conftest.py."""

import random
from pathlib import Path

import pandas as pd

POSITIVE = ["great", "wonderful", "loved", "brilliant", "superb", "moving", "excellent", "delightful"]
NEGATIVE = ["awful", "boring", "hated", "terrible", "dull", "worst", "dreadful", "tedious"]
FILLER = ["the", "film", "plot", "actor", "scene", "story", "movie", "camera", "music", "ending", "was", "and"]


def synthetic_reviews(n: int, *, seed: int, long: bool = False) -> pd.DataFrame:
    """Reviews a tiny model can learn: sentiment words among filler, with IMDb's <br /> breaks."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        words = [rng.choice(FILLER) for _ in range(rng.randint(8, 60 if long else 20))]
        for _ in range(3):
            words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label else NEGATIVE))
        text = " ".join(words[: len(words) // 2]) + " <br /><br /> " + " ".join(words[len(words) // 2 :])
        rows.append({"text": text, "label": label})
    return pd.DataFrame(rows)


def write_split(df: pd.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        df.to_parquet(path)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)


def tiny_config(model_dir, data_dir, output_dir, **overrides):
    """A config that trains the tiny model to high accuracy on the synthetic reviews in seconds."""
    from ml.config import TrainingConfig

    settings = dict(
        base_model=str(model_dir),
        dataset=str(data_dir),
        output_dir=str(output_dir),
        max_length=64,
        num_train_epochs=4,
        train_batch_size=16,
        eval_batch_size=64,
        learning_rate=3e-3,
        weight_decay=0.0,
        precision="fp32",
        logging_steps=5,
    )
    settings.update(overrides)
    return TrainingConfig(**settings)
