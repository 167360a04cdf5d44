"""Markdown tables from benchmark JSON files (docs/results/*.json), for docs/benchmarks.md.

    .venv/bin/python bench/ml_tables.py docs/results/*.json

Files of the same dataset (e.g. amazon-beauty-core.json and amazon-beauty-ablations.json, from
runs of different --models) are merged into one table. A model in several files takes its row
from the file given last (with a shell glob: the name that sorts last, e.g. a re-run's
lastfm-towers-lstm.json over lastfm-baselines.json); each file's settings line names the models
it still gives.
"""
import json
import sys

COLUMNS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr", "coverage@10")


def settings_line(result: dict, models: list[str]) -> str:
    s, m = result.get("settings", {}), result["machine"]
    return (f"{', '.join(models)}: epoch cap {s.get('epochs_cap') or 'model defaults'}, "
            f"patience {s.get('patience')}, seed {s.get('seed')}; {m['cpu']}, {m['threads']} torch threads, "
            f"device {m['device']}")


def markdown(results: list[dict]) -> str:
    d = results[0]["dataset"]
    models = {name: row for result in results for name, row in result["models"].items()}  # the last file wins
    source = {name: k for k, result in enumerate(results) for name in result["models"]}
    best = {c: max(row[c] for row in models.values()) for c in COLUMNS}
    out = [f"### {d['name']}: {d['users']:,} users, {d['items']:,} items, {d['interactions']:,} interactions, "
           f"{d['social_edges']:,} social edges", ""]
    given = [[name for name in r["models"] if source[name] == k] for k, r in enumerate(results)]
    out += [f"- {settings_line(r, names)}" for r, names in zip(results, given) if names]
    out += ["", "| model | " + " | ".join(COLUMNS) + " | epochs | train s | peak RSS MB |",
            "|---" * (len(COLUMNS) + 4) + "|"]
    for name, row in sorted(models.items(), key=lambda kv: -kv[1]["ndcg@10"]):
        cells = [f"**{row[c]:.4f}**" if row[c] == best[c] else f"{row[c]:.4f}" for c in COLUMNS]
        out.append(f"| {name} | " + " | ".join(cells) +
                   f" | {row.get('epochs') or '-'} | {row['train_seconds']:.0f} | {row['peak_rss_mb']:.0f} |")
    return "\n".join(out)


def main(paths: list[str]) -> int:
    by_dataset: dict[str, list[dict]] = {}
    for path in paths:
        with open(path) as handle:
            result = json.load(handle)
        if result["models"]:
            by_dataset.setdefault(result["dataset"]["name"], []).append(result)
    for results in by_dataset.values():
        print(markdown(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
