"""`scantalk synth`: writes its dataset, and never touches a dataset it did not write."""

import json

from scantalk.cli import main

SMALL = ["--identities", "1", "--val-identities", "0", "--test-identities", "0", "--sequences", "1",
         "--seconds", "1", "1"]


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


def test_synth_writes_keeps_and_replaces_only_its_own_dataset(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["synth", str(data), *SMALL]) == 0
    meta = json.loads((data / "meta.json").read_text())
    assert meta["generator"] == "scantalk.data.synth" and len(list((data / "wav").iterdir())) == 2  # 2 meshings
    first = _files(data)
    assert main(["synth", str(data), *SMALL]) == 0  # same parameters: kept as it is
    assert _files(data) == first
    assert main(["synth", str(data), *SMALL, "--seed", "1"]) == 1  # other parameters need --overwrite
    assert "overwrite" in capsys.readouterr().err and _files(data) == first
    assert main(["synth", str(data), *SMALL, "--seed", "1", "--overwrite"]) == 0
    assert json.loads((data / "meta.json").read_text())["params"]["seed"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
