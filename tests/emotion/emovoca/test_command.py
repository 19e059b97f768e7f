"""`scantalk emovoca expressions|build`: the output guards of `animate`, a size estimate before a build."""

from __future__ import annotations

import pytest

from emotion.emovoca.florence import write_facs_expressions
from scantalk.cli import main
from scantalk.synthesis.heads.procedural import procedural_head

RESOLUTION = 0.01  # coarse heads (about 2.9k vertices): the tests are about the command's guards


@pytest.fixture(scope="module")
def talking_set(tmp_path_factory, talking_by_hand):
    return talking_by_hand(tmp_path_factory.mktemp("talking"), {"facs500": procedural_head(500, resolution=RESOLUTION)})


@pytest.fixture(scope="module")
def expression_set(tmp_path_factory):
    return write_facs_expressions(tmp_path_factory.mktemp("expr") / "expr", seeds=(500,), resolution=RESOLUTION,
                                  labels=["happy", "sad"])


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_expressions_refuse_the_root_a_file_and_a_folder_of_other_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["emovoca", "expressions", "-o", "/"]) == 1
    _one_line_error(capsys, "refusing")
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["emovoca", "expressions", "-o", str(tmp_path / "notes.txt")]) == 1
    _one_line_error(capsys, "notes.txt", "existing file")
    mine = tmp_path / "mine"
    (mine / "facs500").mkdir(parents=True)
    (mine / "facs500" / "neutral.ply").write_text("my own scan")
    (mine / "thesis.tex").write_text("years of work")
    before = _files(mine)
    for extra in ([], ["--overwrite"]):
        assert main(["emovoca", "expressions", "-o", str(mine), "--seeds", "500", "--resolution", "0.01", *extra]) == 1
        _one_line_error(capsys, str(mine))
        assert _files(mine) == before


def test_expressions_replace_only_their_own_output(tmp_path, capsys):
    out = tmp_path / "expr"
    coarse = ["--resolution", str(RESOLUTION)]
    assert main(["emovoca", "expressions", "-o", str(out), "--seeds", "500", *coarse]) == 0
    assert (out / "facs500" / "Happy.ply").is_file() and (out / "facs500" / "neutral.ply").is_file()
    assert main(["emovoca", "expressions", "-o", str(out), "--seeds", "501", *coarse]) == 1
    _one_line_error(capsys, "--overwrite")
    # --facs, the only kind of expressions now, is still taken from older scripts.
    assert main(["emovoca", "expressions", "-o", str(out), "--seeds", "501", "--facs", "--overwrite", *coarse]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["facs501"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["expr"]


def test_build_shows_its_size_and_needs_a_flag_above_the_threshold(tmp_path, capsys, monkeypatch,
                                                                  talking_set, expression_set):
    from emotion.emovoca import command

    args = ["emovoca", "build", "--talking", str(talking_set), "--expressions", str(expression_set),
            "-o", str(tmp_path / "emo"), "--labels", "happy", "sad"]
    monkeypatch.setattr(command, "LARGE_BUILD_BYTES", 1000)
    assert main(args) == 1
    out = capsys.readouterr()
    assert "6 emotional sequences, about" in out.out  # 1 sequence × 2 labels × 3 levels
    assert "--allow-large" in out.err and "Traceback" not in out.err
    assert not (tmp_path / "emo").exists()

    monkeypatch.setattr(command, "_free_bytes", lambda out: 5000)
    assert main([*args, "--allow-large"]) == 1
    _one_line_error(capsys, "only", "free")
    assert not (tmp_path / "emo").exists()
    monkeypatch.undo()

    assert main(args) == 0
    printed = capsys.readouterr().out
    estimate = float(printed.split("about ")[1].split(" MB")[0]) * 1024**2
    written = sum(p.stat().st_size for p in (tmp_path / "emo").rglob("*") if p.is_file()
                  and p.parent.name in ("sequences", "label", "intensity", "wav"))
    assert 0.9 < estimate / written < 1.1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emo"]


def test_build_guards_its_output_and_weights(tmp_path, capsys, talking_set, expression_set):
    args = ["emovoca", "build", "--talking", str(talking_set), "--expressions", str(expression_set),
            "--labels", "happy"]
    assert main([*args, "-o", str(tmp_path / "emo"), "--mu-e", "-1", "-1", "-1"]) == 1
    _one_line_error(capsys, "--mu-e", "≥ 0")
    assert main([*args, "-o", str(tmp_path / "emo"), "--mu-t", "nan"]) == 1
    _one_line_error(capsys, "--mu-t")
    assert main([*args, "-o", "/"]) == 1
    _one_line_error(capsys, "refusing")
    (tmp_path / "file").write_text("x")
    assert main([*args, "-o", str(tmp_path / "file")]) == 1
    _one_line_error(capsys, "existing file")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "sequences").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main([*args, "-o", str(tmp_path / "mine"), "--overwrite"]) == 1
    _one_line_error(capsys, "did not write")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "emo").exists()
