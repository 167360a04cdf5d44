"""Probe for the model's next step: mix the scores of the separately trained graph-only and
sequence-only ablations, instead of training the branches jointly.

    .venv/bin/python bench/late_fusion_probe.py --data ../shared/datasets/amazon-beauty [--epochs N]

Trains the `lightgcn` and `lstm` ablations with the default TrainConfig (early stopping, seed 0),
standardizes each model's scores per user, and scores a * lstm + (1 - a) * lightgcn for a few
values of a; a is picked on validation and only that mix is scored on test. Prints each model's
validation and test NDCG@10 and the mix's, measured in this run. The probe that led to the
hybrid's towers and score gate (recommender/ml/hybrid.py), kept to reproduce the figures of
docs/benchmarks.md that came from it; the hybrid itself fits a gate rather than a grid of a.
"""
import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from recommender.ml import metrics  # noqa: E402
from recommender.ml.baselines import ABLATIONS  # noqa: E402
from recommender.ml.data import load_csv  # noqa: E402
from recommender.ml.train import TrainConfig, train  # noqa: E402

MIXES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0)


def standardized(scores: torch.Tensor) -> torch.Tensor:
    return (scores - scores.mean(1, keepdim=True)) / scores.std(1, keepdim=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder in the CSV contract (interactions.csv, ...)")
    parser.add_argument("--epochs", type=int, help="cap for both models (default: TrainConfig's)")
    args = parser.parse_args()
    folder = Path(args.data)
    optional = lambda name: str(folder / name) if (folder / name).exists() else None  # noqa: E731
    dataset = load_csv(str(folder / "interactions.csv"), optional("social.csv"), None, optional("items.csv"))
    models = {}
    for name in ("lightgcn", "lstm"):
        config = TrainConfig(**ABLATIONS[name], **({"epochs": args.epochs} if args.epochs else {}))
        result = train(dataset, config, device="cpu")
        models[name] = result.model.eval()
        print(f"{name}: validation {result.validation['ndcg@10']:.4f} test {result.test['ndcg@10']:.4f} "
              f"({len(result.history)} epochs)", flush=True)

    def mix(a: float):
        def score(users, split):
            histories = [dataset.history(int(u), split) for u in users]
            with torch.no_grad():
                return (a * standardized(models["lstm"].scores(users, histories))
                        + (1 - a) * standardized(models["lightgcn"].scores(users, histories)))
        return score

    validation = {}
    for a in MIXES:
        validation[a] = metrics.evaluate(mix(a), dataset, "val", batch_size=512)["ndcg@10"]
        print(f"mix a={a}: validation {validation[a]:.4f}", flush=True)
    best = max(validation, key=validation.get)
    test = metrics.evaluate(mix(best), dataset, "test", batch_size=512)["ndcg@10"]
    print(f"picked a={best} on validation: validation {validation[best]:.4f} test {test:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
