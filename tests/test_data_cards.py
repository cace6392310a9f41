"""Every dataset has a data card, and the card's numbers are the registry's, for every profile.

A card (data/cards/<name>.md) is prose for people; its "Sizes per profile" table is the part that
can silently drift from the code. These tests parse that table and compare it with
`pdestudy.data.get_spec`, so changing a size in the registry without updating the card fails CI.
"""
import math
import re
from pathlib import Path

import pytest

from pdestudy.data import PROFILES, dataset_names, get_spec
from pdestudy.data.generation import coordinates

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
CARDS = DATA_DIR / "cards"
SIZES_HEADING = "## Sizes per profile"


def sizes_table(name: str) -> dict[str, dict[str, str]]:
    """{profile: {column: cell}} from the first Markdown table under the sizes heading of a card."""
    path = CARDS / f"{name}.md"
    text = path.read_text(encoding="utf-8")
    if SIZES_HEADING not in text:
        raise AssertionError(f"{path}: no '{SIZES_HEADING}' section")
    section = text.split(SIZES_HEADING, 1)[1].split("\n## ", 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip().startswith("|")]
    if len(lines) < 3:
        raise AssertionError(f"{path}: no table under '{SIZES_HEADING}'")
    split = lambda ln: [c.strip() for c in ln.strip("|").split("|")]  # noqa: E731
    header = split(lines[0])
    return {row[0]: dict(zip(header, row, strict=True)) for row in map(split, lines[2:])}  # lines[1] is the --- rule


def integer(cell: str) -> int:
    # "64²" → 64; "1 000" is not used in cards, so digits only
    m = re.fullmatch(r"(\d+)²?", cell)
    if not m:
        raise AssertionError(f"expected an integer (optionally with ²), got {cell!r}")
    return int(m.group(1))


def test_card_folder_and_index_exist():
    assert CARDS.is_dir(), f"{CARDS} is missing"
    assert (DATA_DIR / "README.md").is_file()


@pytest.mark.parametrize("name", dataset_names())
def test_every_dataset_has_a_card(name):
    assert (CARDS / f"{name}.md").is_file(), f"dataset {name!r} of the registry has no card data/cards/{name}.md"


def test_every_card_is_a_dataset():
    stray = sorted(p.stem for p in CARDS.glob("*.md") if p.stem not in dataset_names())
    assert not stray, f"cards without a dataset in the registry: {stray}"


def test_readme_links_every_card():
    readme = (DATA_DIR / "README.md").read_text(encoding="utf-8")
    missing = [n for n in dataset_names() if f"cards/{n}.md" not in readme]
    assert not missing, f"data/README.md does not link the cards of {missing}"


# a column whose header names a system parameter is checked against it: the header with spaces as
# underscores ("solve resolution" → solve_resolution), or one of these symbols
PARAMETER_COLUMNS = {"ν": "nu", "η": "eta", "ζ": "zeta", "γ": "gamma", "M": "mach", "Re": "reynolds",
                     "Rem": "magnetic_reynolds"}


def number(cell: str) -> float:
    cell = cell.replace("`", "").strip()
    m = re.fullmatch(r"(\d+)²", cell)
    return float(m.group(1)) if m else float(cell)


@pytest.mark.parametrize("name", dataset_names())
def test_card_sizes_match_registry(name):
    table = sizes_table(name)
    assert sorted(table) == sorted(PROFILES), f"{name}: card lists profiles {sorted(table)}, registry has {PROFILES}"
    for profile in PROFILES:
        spec, row = get_spec(name, profile), table[profile]
        where = f"data/cards/{name}.md, profile {profile}"
        assert integer(row["n_train"]) == spec.n_train, where
        assert integer(row["n_test"]) == spec.n_test, where
        assert integer(row["resolution"]) == spec.resolution, where
        assert integer(row["frames"]) == len(coordinates(spec)["time"]), where
        checked = 0
        for header, cell in row.items():
            key = PARAMETER_COLUMNS.get(header, header.replace(" ", "_"))
            value = spec.params.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert math.isclose(number(cell), value, rel_tol=1e-5), f"{where}, column {header!r}"
                checked += 1
        assert checked, f"{where}: the sizes table names no system parameter (dt, solve resolution, …)"


@pytest.mark.parametrize("name", dataset_names())
def test_card_names_its_viscosity_and_generation_attributes(name):
    text = (CARDS / f"{name}.md").read_text(encoding="utf-8")
    assert text.startswith(f"# Data card: `{name}`")
    for required in ("generation_seconds", "host", "## Equation", "## Numerics", "## Validation",
                     "## Fields and file schema", "(trajectory, time, y, x)"):
        assert required in text, f"data/cards/{name}.md does not mention {required!r}"
