"""The restricted unpickler: numpy arrays and containers in, everything else refused unexecuted."""

from __future__ import annotations

import collections
import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from scantalk.datasets.safe_pickle import safe_load_pickle
from scantalk.errors import DatasetError


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_dataset_style_dicts_of_arrays_round_trip(tmp_path: Path, protocol: int) -> None:
    content = {
        "FaceTalk_170728_03272_TA": {"sentence01": {"audio": np.arange(5, dtype=np.int16), "sample_rate": 22000}},
        "template": np.random.default_rng(0).normal(size=(7, 3)),
        "scalar": np.float32(2.5),
        "ordered": collections.OrderedDict(a=[1, 2.0, None, True], b=(b"x", "y", 1 + 2j)),
        "groups": collections.defaultdict(list, {"lips": [1, 2]}),
        "sets": [{1, 2}, frozenset({3})],
    }
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    loaded = safe_load_pickle(path)
    np.testing.assert_array_equal(loaded["template"], content["template"])
    entry = loaded["FaceTalk_170728_03272_TA"]["sentence01"]
    assert entry["audio"].dtype == np.int16 and entry["sample_rate"] == 22000
    assert loaded["scalar"] == np.float32(2.5)
    assert loaded["ordered"] == content["ordered"] and loaded["groups"]["lips"] == [1, 2]
    assert loaded["sets"] == content["sets"]


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "templates.pkl"
    path.write_bytes(pickle.dumps({"subject": _Exploit(marker)}))
    with pytest.raises(DatasetError) as error:
        safe_load_pickle(path)
    assert not marker.exists()
    message = str(error.value)
    assert str(path) in message and "system" in message and "refusing" in message


@pytest.mark.parametrize("target", [eval, np.load, collections.namedtuple])
def test_other_callables_are_refused(tmp_path: Path, target) -> None:
    class Call:
        def __reduce__(self):
            return (target, ("1",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Call()))
    with pytest.raises(DatasetError, match=target.__name__):
        safe_load_pickle(path)


def _as_python2_pickle(obj: object) -> bytes:
    """A protocol-2 pickle whose byte strings are py2 `str` (SHORT_BINSTRING), like VOCASET's files."""
    data = bytearray(pickle.dumps(obj, protocol=3))
    for opcode, _, position in pickletools.genops(bytes(data)):
        if opcode.name == "SHORT_BINBYTES":
            data[position] = ord("U")  # SHORT_BINSTRING: same length byte, decoded with `encoding`
        elif opcode.name == "BINBYTES":
            data[position] = ord("T")  # BINSTRING: same 4-byte length
    data[1] = 2
    return bytes(data)


def test_python2_latin1_pickle_is_read(tmp_path: Path) -> None:
    template = np.linspace(-1, 1, 15).reshape(5, 3)  # bytes above 127: ASCII decoding must fail
    path = tmp_path / "py2.pkl"
    path.write_bytes(_as_python2_pickle({"F1": template}))
    with pytest.raises(UnicodeDecodeError):
        pickle.loads(path.read_bytes())
    np.testing.assert_array_equal(safe_load_pickle(path)["F1"], template)


def test_truncated_and_missing_files_raise_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(100)})[:40])
    with pytest.raises(DatasetError, match="cut.pkl"):
        safe_load_pickle(path)
    with pytest.raises(DatasetError, match="not found"):
        safe_load_pickle(tmp_path / "absent.pkl")


def test_protocol2_bytes_decoder_only_accepts_latin1(tmp_path: Path) -> None:
    path = tmp_path / "codec.pkl"
    # `_codecs.encode(<text>, "zlib_codec")`: admitted name, refused codec
    path.write_bytes(b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\n\x00\x00\x00zlib_codec\x86R.")
    with pytest.raises(DatasetError, match="zlib_codec"):
        safe_load_pickle(path)
    path.write_bytes(pickle.dumps({"raw": b"\xff\x00"}, protocol=2))
    assert safe_load_pickle(path) == {"raw": b"\xff\x00"}
