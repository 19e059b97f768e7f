"""`scantalk fit` configs: one base YAML the others extend, any model by class_path, tied k_eig."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from scantalk.training.cli import BASE_CONFIG, ScanTalkCLI, run_lightning_cli

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(path for path in (REPO / "experiments" / "configs").glob("*.yaml") if path != BASE_CONFIG)


def merged_config(capsys, *args: str) -> dict:
    """The configuration a run would use (`--print_config`), as a dict."""
    with pytest.raises(SystemExit) as stop:
        run_lightning_cli(["fit", *args, "--print_config"])
    assert stop.value.code in (None, 0)
    return yaml.safe_load(capsys.readouterr().out)


@pytest.mark.slow
def test_base_yaml_is_the_only_trainer_block_and_every_config_extends_it(capsys):
    base = yaml.safe_load(BASE_CONFIG.read_text())
    assert CONFIGS, "no configs found"
    for path in CONFIGS:
        own = yaml.safe_load(path.read_text())
        # What base.yaml sets is written once: no file repeats the seed or the callbacks.
        assert "seed_everything" not in own and "callbacks" not in own.get("trainer", {}), path.name
        assert "base.yaml" in path.read_text().split("\ntrainer:")[0], f"{path.name} header must name base.yaml"
        merged = merged_config(capsys, "--config", str(path))
        assert merged["seed_everything"] == base["seed_everything"], path.name
        assert merged["trainer"]["gradient_clip_val"] == base["trainer"]["gradient_clip_val"], path.name
        assert [c["init_args"].get("monitor") for c in merged["trainer"]["callbacks"]] == ["val_loss", None], path.name
        assert merged["trainer"]["default_root_dir"] == own["trainer"]["default_root_dir"], path.name
        assert merged["model"]["class_path"] == own["model"]["class_path"], path.name


def test_a_later_file_and_flags_override_the_base(capsys, tmp_path):
    override = tmp_path / "mine.yaml"
    override.write_text("trainer:\n  gradient_clip_val: 0.5\n")
    merged = merged_config(capsys, "--config", "experiments/configs/synthetic.yaml", "--config", str(override),
                           "--trainer.log_every_n_steps=7")
    assert merged["trainer"]["gradient_clip_val"] == 0.5
    assert merged["trainer"]["log_every_n_steps"] == 7
    assert merged["trainer"]["max_time"] == "00:00:40:00"  # synthetic.yaml's own value is kept


@pytest.mark.slow
def test_data_k_eig_follows_the_model(monkeypatch, tiny_cli_args):
    # Stop after the classes are built: this test is about configuration, not training.
    monkeypatch.setattr(ScanTalkCLI, "_run_subcommand", lambda self, subcommand: None)
    cli = run_lightning_cli(["fit", *tiny_cli_args, "--model.config.k_eig=24"])
    assert cli.model.model.k_eig == 24 and cli.datamodule.k_eig == 24
    assert cli.trainer.gradient_clip_val == 1.0  # from base.yaml


def test_emoblender_config_builds_the_blender_with_its_own_k_eig(monkeypatch, tmp_path):
    monkeypatch.setattr(ScanTalkCLI, "_run_subcommand", lambda self, subcommand: None)
    cli = run_lightning_cli(["fit", "--config", "experiments/configs/emoblender_heads.yaml",
                             f"--trainer.default_root_dir={tmp_path}"])
    assert type(cli.model).__name__ == "EmoBlenderModule" and type(cli.datamodule).__name__ == "HeadsBlenderDataModule"
    assert cli.model.blender.k_eig == cli.datamodule.k_eig == 64
    # Its own learning rate, not ScanTalkModule's default carried over from another class.
    assert cli.model.lr == pytest.approx(0.002)
    assert cli.model.blender.position_unit == 0.1 and cli.model.blender.displacement_unit == 0.001


@pytest.mark.integration
def test_emoblender_trains_through_scantalk_fit_and_its_checkpoint_loads(tmp_path):
    from emotion.blending.training import load_blender

    runs = tmp_path / "runs"
    tiny = ["--model.latent=8", "--model.width=8", "--model.n_blocks=1", "--model.k_eig=16", "--data.k_eig=16",
            "--data.train_seeds=[3]", "--data.val_seeds=[4]", "--data.resolutions=[0.01]",
            "--data.frames_per_batch=2", "--data.batches_per_epoch=2", "--data.val_batches=1"]
    result = subprocess.run(
        [sys.executable, "-m", "scantalk.cli", "fit", "--config", "experiments/configs/emoblender_heads.yaml",
         f"--data.cache_dir={tmp_path / 'ops'}", f"--trainer.default_root_dir={runs}", "--trainer.max_steps=2",
         "--trainer.limit_val_batches=1", *tiny],
        cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    blender = load_blender(next(runs.rglob("last.ckpt")))
    assert blender.k_eig == 16 and blender.config["latent"] == 8
    assert all(torch.isfinite(value).all() for value in blender.state_dict().values())


def test_predictions_go_beside_the_runs_logs_unless_a_folder_is_given(tmp_path):
    from types import SimpleNamespace

    import torch

    from scantalk.training.cli import PredictionWriter

    trainer = SimpleNamespace(default_root_dir=str(tmp_path / "runs" / "mine"))
    writer = PredictionWriter()
    writer.write_on_batch_end(trainer, None, {"subject": "s1", "name": "sentence01", "frames": torch.zeros(2, 3, 3)},
                              None, None, 0)
    assert (tmp_path / "runs" / "mine" / "predictions" / "s1_sentence01.npy").is_file()
    assert PredictionWriter(str(tmp_path / "here")).folder(trainer) == tmp_path / "here"
