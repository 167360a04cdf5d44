"""The benchmark CLI on tiny CSV files: JSON, table, and file:line errors for bad input."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from recommender.ml import bench

ROOT = Path(__file__).resolve().parents[2]
METRICS = ("recall@10", "ndcg@10", "recall@20", "ndcg@20", "mrr", "train_seconds", "peak_rss_mb")


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    """30 customers in 3 friend groups; each buys 6 of its group's 8 items in random order."""
    folder = tmp_path_factory.mktemp("tiny")
    rng = random.Random(0)
    rows, friends = ["user_id,item_id,timestamp,event"], ["user_id,friend_id"]
    for user in range(30):
        group = user % 3
        for t, item in enumerate(rng.sample(range(8), 6)):
            rows.append(f"u{user},g{group}i{item},{t},{rng.choice(['view', 'cart', 'purchase'])}")
        friends.append(f"u{user},u{(user + 3) % 30}")
    (folder / "interactions.csv").write_text("\n".join(rows) + "\n")
    (folder / "social.csv").write_text("\n".join(friends) + "\n")
    return folder


def test_bench_writes_json_and_table(csvs, tmp_path, capsys):
    out = tmp_path / "result.json"
    code = bench.main(["--interactions", str(csvs / "interactions.csv"), "--social", str(csvs / "social.csv"),
                       "--models", "pop,itemknn,bpr", "--epochs", "3", "--in-process", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["dataset"] == {"name": "tiny0", "users": 30, "items": 24, "interactions": 180, "social_edges": 30}
    assert "leave-last-out" in result["protocol"]
    assert {"cpu", "threads", "torch", "device", "native_bfloat16"} <= set(result["machine"])
    assert set(result["models"]) == {"pop", "itemknn", "bpr"}
    for metrics in result["models"].values():
        assert all(key in metrics for key in METRICS)
    assert result["models"]["bpr"]["epochs"] <= 3
    assert "process-wide" in result["settings"]["peak_rss"]

    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["model", "recall@10", "ndcg@10"]
    ranked = [line.split()[0] for line in table[2:]]
    by_ndcg = sorted(result["models"], key=lambda m: -result["models"][m]["ndcg@10"])
    assert ranked == by_ndcg
    # ItemKNN sees the co-purchase groups; popularity cannot
    assert result["models"]["itemknn"]["ndcg@10"] > result["models"]["pop"]["ndcg@10"]
    assert "*" in table[2]  # the best model's NDCG@10 is marked


def test_each_model_in_its_own_process(csvs, tmp_path):
    out = tmp_path / "result.json"
    assert bench.main(["--interactions", str(csvs / "interactions.csv"), "--models", "pop", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert "fresh spawned process" in result["settings"]["peak_rss"]
    assert result["models"]["pop"]["peak_rss_mb"] > 10


def test_towers_trained_in_worker_processes_report_their_peak_rss(csvs, tmp_path, capsys):
    out = tmp_path / "result.json"
    assert bench.main(["--interactions", str(csvs / "interactions.csv"), "--models", "lstm", "--epochs", "1",
                       "--sequence-dropouts", "0.5,0.3", "--parallel-towers", "2", "--in-process",
                       "--out", str(out)]) == 0
    lstm = json.loads(out.read_text())["models"]["lstm"]
    assert 1 <= len(lstm["worker_peak_rss_mb"]) <= 2 and min(lstm["worker_peak_rss_mb"]) > 10
    assert "lstm: towers trained in" in capsys.readouterr().out
    table = bench.table({"pop": {**lstm, "worker_peak_rss_mb": []}})
    assert "worker" not in table  # a model trained in its own process gets no such line


def test_hybrid_options_reach_train_config():
    args = bench.parse_args(["--interactions", "x.csv", "--dim", "16", "--use-social", "false", "--epochs", "4"])
    config = bench.hybrid_config(args)
    assert (config.dim, config.use_social, config.epochs) == (16, False, 4)
    default = bench.hybrid_config(bench.parse_args(["--interactions", "x.csv"]))
    assert default.epochs == bench.TrainConfig().epochs


@pytest.mark.parametrize("content, line, reason", [
    ("user_id,item_id\nu1,i1\n", 1, "missing column(s): timestamp"),
    ("user_id,item_id,timestamp\nu1,i1,1\nu1,i2,yesterday\n", 3, "neither a number nor ISO 8601"),
    ("", None, "empty file"),
])
def test_bad_csv_exits_with_file_line_and_reason(tmp_path, capsys, content, line, reason):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = tmp_path / "result.json"
    assert bench.main(["--interactions", str(path), "--models", "pop", "--out", str(out)]) == 2
    where = f"{path}:{line}" if line else f"{path}"
    err = capsys.readouterr().err
    assert f"{where}: " in err and reason in err
    assert not out.exists()


def test_cli_process_reports_bad_input_without_traceback(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user_id,item_id,timestamp,rating\nu1,i1,1,4\nu1,i2,2,9\n")
    proc = subprocess.run([sys.executable, "-m", "recommender.ml.bench", "--interactions", str(path)],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert f"{path}:3: rating '9' is outside [1, 5]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_model_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--interactions", "x.csv", "--models", "pop,gru4rec"])
    assert exit_info.value.code == 2
    assert "gru4rec" in capsys.readouterr().err


def test_jobs_train_models_side_by_side_with_the_same_results(csvs, tmp_path, capsys):
    args = ["--interactions", str(csvs / "interactions.csv"), "--social", str(csvs / "social.csv"),
            "--models", "itemknn,pop,bpr", "--epochs", "2"]
    assert bench.main([*args, "--jobs", "3", "--out", str(tmp_path / "jobs.json")]) == 0
    assert bench.main([*args, "--in-process", "--out", str(tmp_path / "serial.json")]) == 0
    side_by_side, serial = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("jobs", "serial"))
    assert list(side_by_side["models"]) == ["itemknn", "pop", "bpr"]  # --models order, whichever finished first
    assert side_by_side["settings"]["jobs"] == 3
    assert side_by_side["settings"]["threads_per_model"] == max(1, (os.cpu_count() or 1) // 3)
    for name in ("itemknn", "pop"):  # no training randomness, no thread-dependent sums
        for metric in ("recall@10", "ndcg@10", "mrr"):
            assert side_by_side["models"][name][metric] == pytest.approx(serial["models"][name][metric])
    assert "fresh spawned process" in side_by_side["settings"]["peak_rss"]
    assert side_by_side["models"]["bpr"]["epochs"] <= 2


@pytest.mark.parametrize("options, reason", [(["--jobs", "0"], "at least 1"),
                                             (["--jobs", "2", "--in-process"], "cannot be combined")])
def test_bad_jobs_are_usage_errors(capsys, options, reason):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--interactions", "x.csv", *options])
    assert exit_info.value.code == 2
    assert reason in capsys.readouterr().err
