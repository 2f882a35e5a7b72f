"""The main job and the examples, end to end in tiny configurations, through their real entry points."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCALARS = ("val/alpha_precision", "val/beta_recall", "val/authenticity")
ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (the examples are scripts, not a package)."""
    spec = importlib.util.spec_from_file_location(f"faithful_example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and jsonargparse look classes up by module name
    spec.loader.exec_module(module)
    return module


def table_rows(text: str) -> list[tuple[int, float, float, float, float]]:
    """The per-evaluation rows ``epoch IPα IRβ A score`` of a printed table."""
    rows = []
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            epoch, *values = match.groups()
            rows.append((int(epoch), *map(float, values)))
    return rows  # type: ignore[return-value]


def tensorboard_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def tensorboard_images(log_dir: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    events.Reload()
    return list(events.Tags()["images"])


TINY_DEMO = [
    "--trainer.max_epochs=4",
    "--trainer.check_val_every_n_epoch=2",
    "--trainer.limit_train_batches=6",
]


# --------------------------------------------------------------------------------------------------
# the main job
# --------------------------------------------------------------------------------------------------


def test_demo_through_the_faithful_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from faithful.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["demo", *TINY_DEMO]) == 0
    out = capsys.readouterr().out

    rows = table_rows(out)
    assert [row[0] for row in rows] == [1, 3]  # one row per evaluation (epochs 2 and 4)
    for _, alpha_precision, beta_recall, authenticity, score in rows:
        assert 0.0 <= min(alpha_precision, beta_recall, authenticity) <= max(alpha_precision, beta_recall) <= 1.0
        assert score == pytest.approx((alpha_precision + beta_recall) / 2 if authenticity >= 0.5 else 0.0, abs=2e-3)

    best = re.search(r"best checkpoint:\s+(\S+)", out)
    assert best is not None, out
    checkpoint = Path(best.group(1))
    assert checkpoint.is_file() and checkpoint.is_relative_to("runs/demo")
    logs = re.search(r"logs and curves:\s+(\S+)", out)
    assert logs is not None
    log_dir = Path(logs.group(1))
    assert f"tensorboard --logdir {log_dir.parent}" in out

    scalars = tensorboard_scalars(log_dir)
    for tag in (*SCALARS, "val/faithfulness"):
        assert len(scalars[tag]) == 2, tag
    # the TensorBoard values are the printed ones
    printed = {row[0]: row[1:4] for row in rows}
    logged_alpha = [value for _, value in scalars["val/alpha_precision"]]
    assert logged_alpha == pytest.approx([printed[1][0], printed[3][0]], abs=1e-3)
    assert "val/curves" in tensorboard_images(log_dir)

    export = load_example("export_curves")
    assert export.main([str(log_dir), "--epoch", "1", "--out", "curves.png"]) == 0
    assert Path("curves.png").read_bytes().startswith(b"\x89PNG")

    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert state["epoch"] in (1, 3)
    best_score = max(row[4] for row in rows)
    chosen = next(row for row in rows if row[0] == state["epoch"])
    assert chosen[4] == pytest.approx(best_score, abs=1e-6)  # the monitor's best epoch is the one kept


def test_demo_run_returns_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faithful.demo import run

    monkeypatch.chdir(tmp_path)
    summary = run([*TINY_DEMO, "--trainer.max_epochs=2", "--trainer.logger.init_args.save_dir=elsewhere"])
    assert [int(row["epoch"]) for row in summary["history"]] == [1]
    assert Path(summary["best_model_path"]).is_file()
    assert Path(summary["log_dir"]).is_relative_to("elsewhere/demo")
    assert summary["best_epoch"] == 1 and summary["monitor"] == "val/faithfulness"


def test_the_default_config_parses_and_names_the_monitor(capsys) -> None:
    from faithful.demo import main

    with pytest.raises(SystemExit) as exit_:
        main(["--print_config"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "class_path: faithful.FaithfulnessMonitor" in out and "monitor: val/faithfulness" in out


def test_a_missing_default_config_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import faithful.demo.app as demo_main

    monkeypatch.setattr(demo_main, "DEFAULT_CONFIG", tmp_path / "config.yaml")
    with pytest.raises(FileNotFoundError, match="package data"):
        demo_main.run([])


def test_the_shipped_config_is_mirrored_in_configs() -> None:
    from faithful.demo import DEFAULT_CONFIG

    assert DEFAULT_CONFIG.is_file()
    assert (ROOT / "configs" / "demo.yaml").read_text() == DEFAULT_CONFIG.read_text()


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        ("trainer:\n  max_epoch: 3\n", "max_epoch"),  # typo in a Trainer argument
        ("model:\n  latnt_dim: 8\n", "latnt_dim"),  # typo in a model argument
        ("model:\n  latent_dim: many\n", "latent_dim"),  # wrong type
        ("data:\n  batch_size: [64]\n", "batch_size"),  # wrong type
    ],
)
def test_a_bad_config_fails_with_the_parser_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, yaml: str, message: str
) -> None:
    from faithful.demo import main

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "bad.yaml"
    config.write_text(yaml)
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(config)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # nothing trained


def test_a_bad_config_through_the_faithful_command(tmp_path: Path, capsys) -> None:
    from faithful.cli import main

    config = tmp_path / "bad.yaml"
    config.write_text("trainer:\n  max_epoch: 3\n")
    assert main(["demo", "--config", str(config)]) == 2
    assert "max_epoch" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# examples
# --------------------------------------------------------------------------------------------------


def test_diffusion_logs_metrics_over_epochs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    example = load_example("diffusion_digits")
    monkeypatch.chdir(tmp_path)
    argv = [
        "--trainer.max_epochs=3",
        "--trainer.check_val_every_n_epoch=1",
        "--trainer.limit_train_batches=3",
        "--model.num_steps=10",
        "--model.hidden=64",
    ]
    assert example.main(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == [0, 1, 2]
    log_dir = next((tmp_path / "runs" / "diffusion").iterdir())
    scalars = tensorboard_scalars(log_dir)
    for tag in SCALARS:
        assert [step for step, _ in scalars[tag]] == sorted({step for step, _ in scalars[tag]})  # one per epoch
        assert len(scalars[tag]) == 3


def test_diffusion_samples_have_the_data_shape() -> None:
    import torch

    example = load_example("diffusion_digits")
    model = example.DigitsDDPM(num_steps=5, hidden=32, num_layers=1)
    first = model.sample(7, generator=torch.Generator().manual_seed(0))
    again = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert first.shape == (7, 64) and bool(first.abs().le(1).all())
    assert torch.equal(first, again)


def test_adsgan_search_returns_a_lambda_and_its_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    monkeypatch.chdir(tmp_path)
    argv = [
        "--trainer.max_epochs=2",
        "--trainer.check_val_every_n_epoch=1",
        "--search.lambdas=[0.0, 1.0, 3.0]",
        "--search.min_authenticity=0.0",
        "--search.pruning_warmup=0",
    ]
    result = example.search(argv)
    assert {row["lambda"] for row in result.rows} == {0.0, 1.0, 3.0}
    complete = [row for row in result.rows if row["state"] == "complete"]
    assert complete  # the median pruner needs two finished trials before it may prune
    assert result.chosen_lambda in {row["lambda"] for row in complete} and result.feasible
    best = max(complete, key=lambda row: row["alpha_precision"] + row["beta_recall"])
    assert result.chosen_lambda == best["lambda"]
    for row in result.rows:
        assert all(0.0 <= row[key] <= 1.0 for key in ("alpha_precision", "beta_recall", "authenticity"))
    out = capsys.readouterr().out
    assert f"Chosen λ = {result.chosen_lambda:g}" in out
    assert sum(1 for line in out.splitlines() if re.match(r"^\s+\d+\s+[\d.]+\s+0\.\d{3}", line)) >= 3
    trials = sorted(path.name for path in (tmp_path / "runs" / "adsgan").iterdir())
    assert trials == sorted(f"trial_{row['trial']:03d}_lambda_{row['lambda']:g}" for row in result.rows)


def test_adsgan_search_constraint_and_selection() -> None:
    example = load_example("adsgan_search")
    rows = [
        {"lambda": 0.0, "alpha_precision": 0.9, "beta_recall": 0.8, "authenticity": 0.6, "state": "complete"},
        {"lambda": 1.0, "alpha_precision": 0.8, "beta_recall": 0.6, "authenticity": 0.85, "state": "complete"},
        {"lambda": 2.0, "alpha_precision": 0.7, "beta_recall": 0.5, "authenticity": 0.95, "state": "complete"},
        {"lambda": 3.0, "alpha_precision": 0.99, "beta_recall": 0.99, "authenticity": 0.99, "state": "pruned"},
    ]
    for row in rows:
        row["feasible"] = row["authenticity"] >= 0.8
    result = example._choose(rows, 0.8)
    assert result.chosen_lambda == 1.0 and result.feasible  # best IPα + IRβ among complete, feasible trials
    assert example.score(0.9, 0.8, 0.6, 0.8) == pytest.approx(1.7 - 10 * 0.2)
    fallback = example._choose(rows[:1], 0.8)
    assert fallback.chosen_lambda == 0.0 and not fallback.feasible


def test_adsgan_pruning_callback_reports_the_windowed_score_and_stops() -> None:
    from types import SimpleNamespace

    import torch

    example = load_example("adsgan_search")

    class Trial:
        def __init__(self) -> None:
            self.reports: list[tuple[int, float]] = []

        def report(self, value: float, step: int) -> None:
            self.reports.append((step, value))

        def should_prune(self) -> bool:
            return len(self.reports) == 2  # prune at the second evaluation

    trial = Trial()
    callback = example.OptunaPruning(trial, min_authenticity=0.8, window=2)
    trainer = SimpleNamespace(sanity_checking=False, current_epoch=9, should_stop=False, callback_metrics={})
    for epoch, (alpha_precision, beta_recall, authenticity) in ((9, (0.5, 0.3, 0.9)), (19, (0.7, 0.5, 0.7))):
        trainer.current_epoch = epoch
        trainer.callback_metrics = {
            "val/alpha_precision": torch.tensor(alpha_precision),
            "val/beta_recall": torch.tensor(beta_recall),
            "val/authenticity": torch.tensor(authenticity),
        }
        callback.on_validation_end(trainer, None)
    assert trial.reports[0] == (0, pytest.approx(0.8))
    assert trial.reports[1] == (1, pytest.approx(0.6 + 0.4 - 10 * 0.0))  # window mean: A = 0.8 meets 0.8
    assert callback.last["authenticity"] == pytest.approx(0.8)
    assert trainer.should_stop and callback.pruned_at == 19


TINY_SEARCH = [
    "--trainer.max_epochs=2",
    "--trainer.check_val_every_n_epoch=1",
    "--trainer.limit_train_batches=4",
    "--search.lambdas=[0.0, 1.0, 2.0, 3.0]",
    "--search.min_authenticity=0.0",
    "--search.pruning=false",  # pruning compares with whatever other workers finished first: order-dependent
]
GRID = [0.0, 1.0, 2.0, 3.0]


@pytest.mark.slow
def test_adsgan_search_workers_share_a_sqlite_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    optuna = pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    parallel = example.search([*TINY_SEARCH, f"--search.storage={url}", "--search.n_workers=2"])
    out = capfd.readouterr().out

    trials = optuna.load_study(study_name="adsgan_lambda", storage=url).get_trials()
    complete = [trial for trial in trials if trial.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(trial.params["lambda"] for trial in complete) == GRID  # every grid point, each once
    for trial in trials:  # anything else is a surplus trial that trained nothing
        assert trial in complete or (trial.user_attrs.get("skipped") and not trial.params)
    workers = {trial.user_attrs["worker"] for trial in complete}
    assert len(workers) == 2  # both worker processes ran trials
    assert all(worker.rsplit(":", 1)[1] != str(os.getpid()) for worker in workers)  # not this process
    for trial in complete:  # each worker printed the rows of its own trials
        assert re.search(
            rf"^\s+{trial.number}\s+{trial.params['lambda']:g}\s.*\({trial.user_attrs['worker']}\)$", out, re.M
        )
    assert out.count("Starting 2 workers") == 1 and out.count("Chosen λ") == 1  # the summary: once, by the command

    single = example.search(TINY_SEARCH)  # one process, in memory: the default path
    assert parallel.chosen_lambda == single.chosen_lambda
    metrics = ("alpha_precision", "beta_recall", "authenticity")
    by_lambda = {row["lambda"]: [row[name] for name in metrics] for row in single.rows}
    assert {row["lambda"]: [row[name] for name in metrics] for row in parallel.rows} == by_lambda  # seeded per trial


@pytest.mark.slow
def test_adsgan_search_reruns_the_trial_of_a_killed_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal
    import subprocess
    import time

    optuna = pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    argv = [*TINY_SEARCH, f"--search.storage={url}", "--search.heartbeat_interval=1"]
    victim = subprocess.Popen([sys.executable, str(EXAMPLES / "adsgan_search.py"), *argv], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and victim.poll() is None:
            time.sleep(0.2)
            try:
                study = optuna.load_study(study_name="adsgan_lambda", storage=url)
            except KeyError:  # not created yet
                continue
            if any(
                "worker" in trial.user_attrs for trial in study.get_trials(states=[optuna.trial.TrialState.RUNNING])
            ):
                time.sleep(0.5)  # inside a trial, heartbeat recorded
                break
        os.kill(victim.pid, signal.SIGKILL)  # a worker dies mid-trial: no chance to clean up
    finally:
        victim.wait()
    killed = optuna.load_study(study_name="adsgan_lambda", storage=url).get_trials(
        states=[optuna.trial.TrialState.RUNNING]
    )
    assert len(killed) == 1

    result = example.search(argv)  # a second worker: fails the silent trial after 3 s and runs its λ again
    trials = optuna.load_study(study_name="adsgan_lambda", storage=url).get_trials()
    complete = [trial for trial in trials if trial.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(trial.params["lambda"] for trial in complete) == GRID
    (failed,) = (trial for trial in trials if trial.state == optuna.trial.TrialState.FAIL)
    assert failed.number == killed[0].number
    (retry,) = (trial for trial in complete if trial.system_attrs.get("failed_trial") == failed.number)
    assert retry.params == failed.params
    assert result.chosen_lambda is not None and sorted(row["lambda"] for row in result.rows) == GRID


def test_adsgan_search_checks_the_worker_options() -> None:
    pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    with pytest.raises(ValueError, match=r"`search\.storage`.*`search\.n_workers` = 2"):
        example.search(["--search.n_workers=2"])
    with pytest.raises(ValueError, match=r"`search\.n_workers` to be a positive integer, but got 0"):
        example.search(["--search.n_workers=0"])
    with pytest.raises(ValueError, match=r"`search\.heartbeat_interval` to be >= 0 seconds, but got -1"):
        example.search(["--search.heartbeat_interval=-1"])
    described = example._describe(example.SearchOptions(storage="postgresql://ada:s3cret@db.example.org/optuna"))
    assert described == "study 'adsgan_lambda' in postgresql://ada:***@db.example.org/optuna"  # no password
    assert example._describe(example.SearchOptions(storage="postgresql://ada@db/optuna")).endswith("ada@db/optuna")


def test_adsgan_search_sqlite_transactions_take_the_write_lock(tmp_path: Path) -> None:
    """Two connections cannot both read a trial as waiting and both take it: the second waits for the first."""
    import sqlite3

    optuna = pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    options = example.SearchOptions(storage=f"sqlite:///{tmp_path / 'study.db'}", heartbeat_interval=0)
    storage = example._open_storage(optuna, options)
    study = optuna.create_study(storage=storage, study_name="s")
    study.enqueue_trial({"lambda": 1.0})
    with storage.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # a transaction that only reads so far
        other = sqlite3.connect(tmp_path / "study.db", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")  # a write lock is already held: by the reading transaction
        other.close()
        connection.rollback()
    assert study.ask().number == 0 and study.trials[0].state == optuna.trial.TrialState.RUNNING


def test_adsgan_search_joins_a_journal_file_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    optuna = pytest.importorskip("optuna")
    example = load_example("adsgan_search")
    monkeypatch.chdir(tmp_path)
    journal = str(tmp_path / "study.journal")
    argv = [*TINY_SEARCH, "--trainer.max_epochs=1", "--search.lambdas=[0.0, 2.0]", f"--search.storage={journal}"]
    first = example.search(argv)
    again = example.search(argv)  # the study is complete: joining it runs nothing and reports the same choice
    storage = optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    trials = optuna.load_study(study_name="adsgan_lambda", storage=storage).get_trials()
    assert sorted((trial.params["lambda"], trial.state.name) for trial in trials) == [
        (0.0, "COMPLETE"),
        (2.0, "COMPLETE"),
    ]
    assert first.chosen_lambda == again.chosen_lambda and first.rows == again.rows
    # A λ queued by hand (to redo a trial that failed) is run by the next worker, not taken for a surplus trial.
    optuna.load_study(study_name="adsgan_lambda", storage=storage).enqueue_trial({"lambda": 2.0})
    redone = example.search(argv)
    assert sorted(row["lambda"] for row in redone.rows) == [0.0, 2.0, 2.0]
    assert [row for row in redone.rows if row["lambda"] == 2.0][1]["trial"] == 2


def test_adsgan_search_says_how_to_install_optuna(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    example = load_example("adsgan_search")
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ModuleNotFoundError
    assert example.main([]) == 1
    assert "lightning-faithful[optuna]" in capsys.readouterr().err


def test_audit_keeps_fewer_samples_and_reports_both_scores(capsys) -> None:
    example = load_example("audit_synthetic")
    assert example.main(["--num-samples", "600"]) == 0
    out = capsys.readouterr().out
    assert "all synthetic records" in out and "audited synthetic records" in out

    report = example.run(alpha=0.9, num_samples=600, junk=0.2, copies=0.2, seed=0)
    assert 0 < report.num_kept < report.num_synthetic == report.before.num_train
    assert report.after.num_train == report.num_kept
    kept_junk, num_junk = report.kept_by_kind["junk"]
    kept_copies, num_copies = report.kept_by_kind["copies"]
    assert kept_copies == 0 < num_copies  # near-copies are never authentic
    assert kept_junk <= 0.05 * num_junk  # off-support junk falls outside the α-support
    assert report.scores_after["authenticity"] == 1.0
    # the audit removes what hurts the downstream model
    assert report.after.accuracy > report.before.accuracy + 0.1
    assert report.after.auroc > report.before.auroc
    assert report.after.accuracy > report.random_subset.accuracy  # not just fewer samples: the right ones
    for result in (report.before, report.after, report.real):
        assert 0.0 <= result.accuracy <= 1.0 and 0.0 <= result.auroc <= 1.0


def test_tabular_csv_scores_three_protocols_in_python_and_the_cli(tmp_path: Path, capsys) -> None:
    import json

    example = load_example("tabular_csv")
    assert example.main(["--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "synthetic.csv  synthcity" in out and "alpha_precision" in out  # the table and the CLI's summary
    fresh = example.score(tmp_path / "real.csv", tmp_path / "synthetic.csv")
    copies = example.score(tmp_path / "real.csv", tmp_path / "copies.csv")
    for protocol in example.PROTOCOLS:
        assert copies[protocol]["authenticity"] == 0.0  # memorised rows are never authentic
        assert fresh[protocol]["authenticity"] > 0.5
        assert fresh[protocol]["alpha_precision"] > 0.5
    # The CLI's --protocol synthcity is the encoder (min-max scaling makes --scale irrelevant) + min_max_scale.
    document = json.loads((tmp_path / "synthcity.json").read_text())
    for key in ("alpha_precision", "beta_recall", "authenticity"):
        assert document[key] == pytest.approx(fresh["synthcity"][key], abs=1e-9)
