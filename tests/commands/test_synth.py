"""`scantalk synth`: writes the procedural talking set, and never touches a dataset it did not write."""

import json
import shutil

import pytest

from scantalk.cli import main
from scantalk.datasets import load_dataset

SMALL = ["--identities", "1", "--val-identities", "1", "--test-identities", "0", "--sentences", "1",
         "--resolution", "0.01"]
needs_speech = pytest.mark.skipif(shutil.which("festival") is None or shutil.which("flite") is None,
                                  reason="festival and flite speak the sentences (apt-get install festival flite)")


def _user_dataset(folder):
    """A user's own data in the same (FaceFormer) layout the generator writes."""
    for name, content in (("wav/a_s1.wav", b"RIFF user audio"), ("vertices_npy/a_s1.npy", b"user frames"),
                          ("templates/a.ply", b"ply user template")):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_synth_refuses_a_users_dataset_in_the_same_layout(tmp_path, capsys):
    data = tmp_path / "data"
    before = _user_dataset(data)
    for extra in ([], ["--overwrite"]):
        assert main(["synth", str(data), *SMALL, *extra]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(data) in err and "Traceback" not in err
        assert _files(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no lock or staging left behind


@pytest.mark.slow
@needs_speech
def test_synth_writes_keeps_and_replaces_only_its_own_dataset(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["synth", str(data), *SMALL]) == 0
    meta = json.loads((data / "dataset.json").read_text())
    assert meta["generator"] == "scantalk.synthesis.talking_set" and meta["params"]["identities"] == 1
    train, val = load_dataset(data, split="train"), load_dataset(data, split="val")
    assert len(train) == len(val) == 1 and train[0].subject != val[0].subject  # held-out identities
    assert train[0].lip_vertices is not None and len(train[0].template) > 1000
    first = _files(data)
    assert main(["synth", str(data), *SMALL]) == 0  # same parameters: kept as it is
    assert _files(data) == first
    assert main(["synth", str(data), *SMALL, "--seed", "1"]) == 1  # other parameters need --overwrite
    assert "overwrite" in capsys.readouterr().err and _files(data) == first
    assert main(["synth", str(data), *SMALL, "--seed", "1", "--overwrite"]) == 0
    assert json.loads((data / "dataset.json").read_text())["params"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_synth_refuses_parameters_that_make_no_set(tmp_path, capsys):
    for bad in (["--identities", "0"], ["--resolution", "0.5"]):
        assert main(["synth", str(tmp_path / "data"), *bad]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "data").exists()
