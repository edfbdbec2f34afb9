import gzip
from pathlib import Path

import pytest

from analyzer.errors import BadInput
from connectors.jsonfile import json_path_at, load_json, read_text


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"a": [1, {"b": tru', "$.a[1].b"),
        ('{"Records": [{}, {"x": 1,, ', "$.Records[1]"),
        ("[1, 2, ", "$[2]"),
        ('{"a b": {"c": [', '$["a b"].c[0]'),
    ],
)
def test_json_path_at_error_offset(text: str, path: str) -> None:
    assert json_path_at(text, len(text)) == path


def test_malformed_json_reports_file_line_column_and_path(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text('{\n  "Records": [\n    {"eventTime": 1, "bad": }\n  ]\n}')
    with pytest.raises(BadInput) as exc:
        load_json(f)
    msg = str(exc.value)
    assert str(f) in msg and ":3:" in msg and "$.Records[0].bad" in msg


def test_truncated_gzip_is_reported_with_size(tmp_path: Path) -> None:
    f = tmp_path / "x.json.gz"
    f.write_bytes(gzip.compress(b'{"Records": []}' * 100)[:30])
    with pytest.raises(BadInput, match="truncated gzip"):
        read_text(f)
