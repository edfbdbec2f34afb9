"""The committed sample is exactly what its generator writes (so the story's data is reproducible)."""

import filecmp
import subprocess
import sys
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def test_committed_sample_matches_generator(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(SAMPLES / "make_acme_fin.py"), str(tmp_path)], check=True)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SAMPLES / "acme-fin")
        for p in (SAMPLES / "acme-fin").rglob("*")
        if p.is_file() and p.name != "README.md"
    )
    assert generated == committed
    diff = [
        str(p) for p in generated if not filecmp.cmp(tmp_path / p, SAMPLES / "acme-fin" / p, shallow=False)
    ]
    assert diff == []
