import pytest

from scantalk.data.synth import generate_dataset

TINY_PROCEDURAL = {
    "num_train_identities": 1, "num_val_identities": 1, "num_test_identities": 1, "sequences_per_subject": 1,
    "seconds": [1.0, 1.5], "train_meshings": ["uv_coarse"], "meshings_per_train_identity": 1, "verbose": False,
}
# A small network: training tests check behaviour, not quality.
# data.k_eig follows model.config.k_eig (link_arguments).
TINY_MODEL = ["--model.config.width=8", "--model.config.n_blocks=2", "--model.config.k_eig=16"]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return generate_dataset(tmp_path_factory.mktemp("procedural"), **TINY_PROCEDURAL)


@pytest.fixture()
def tiny_cli_args(tiny_dataset, tmp_path):
    """LightningCLI arguments for a quick run on the tiny procedural dataset, logs under tmp_path."""
    import json

    datasets = json.dumps([{"dataset": "procedural", "root": str(tiny_dataset)}])
    return [
        "--config", "experiments/configs/synthetic.yaml", f"--data.datasets={datasets}",
        f"--data.cache_dir={tmp_path / 'ops'}", f"--trainer.default_root_dir={tmp_path / 'runs'}", *TINY_MODEL,
    ]
