import shutil

import pytest

from scantalk.synthesis.talking_set import generate_talking_set

# One head per split saying one sentence, meshed coarsely (about 2.9k vertices): seconds to write.
TINY_TALKING_SET = {"identities": 1, "val_identities": 1, "test_identities": 1, "sentences": 1, "resolution": 0.01}
# A small network: training tests check behaviour, not quality.
# data.k_eig follows model.config.k_eig (link_arguments).
TINY_MODEL = ["--model.config.width=8", "--model.config.n_blocks=2", "--model.config.k_eig=16"]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """The procedural talking set at its smallest (festival and flite speak its sentences)."""
    if shutil.which("festival") is None or shutil.which("flite") is None:
        pytest.skip("festival and flite speak the talking set's sentences (apt-get install festival flite)")
    return generate_talking_set(tmp_path_factory.mktemp("talking"), **TINY_TALKING_SET)


@pytest.fixture()
def tiny_cli_args(tiny_dataset, tmp_path):
    """LightningCLI arguments for a quick run on the tiny talking set, logs under tmp_path."""
    import json

    datasets = json.dumps([{"root": str(tiny_dataset)}])
    return [
        "--config", "experiments/configs/synthetic.yaml", f"--data.datasets={datasets}",
        f"--data.cache_dir={tmp_path / 'ops'}", f"--trainer.default_root_dir={tmp_path / 'runs'}", *TINY_MODEL,
    ]
