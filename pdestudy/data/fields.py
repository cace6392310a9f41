"""The field vocabulary shared by every dataset: names "<system>/<field>" and their fixed ids.

The vocabulary is the committed file `field_vocabulary.txt` beside this module. A field's id is
its position in that file; ids are never reordered, new fields are appended. Models that serve
several datasets (MATEY's field embedding and output layer) select their rows by these ids, and
their checkpoints store the names, so a model built later from a longer vocabulary still loads
an older checkpoint row by row (`remap_rows`).
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import torch

VOCABULARY_FILE = Path(__file__).with_name("field_vocabulary.txt")


@functools.lru_cache(maxsize=None)
def _read(path: str) -> tuple[str, ...]:
    names = [line.strip() for line in Path(path).read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: field(s) listed twice: {duplicates}")
    return tuple(names)


def vocabulary(path: str | Path | None = None) -> tuple[str, ...]:
    """Every field name of the study, in id order."""
    return _read(str(path or VOCABULARY_FILE))


def qualified(system: str, fields: Sequence[str]) -> list[str]:
    """The vocabulary names of a dataset's fields: `thermals`, ["theta"] → ["thermals/theta"]."""
    return [f if "/" in f else f"{system}/{f}" for f in fields]


def dataset_fields(ds) -> list[str]:
    """The vocabulary names of an opened dataset's fields (its `system` attribute qualifies them)."""
    return qualified(ds.attrs["system"], list(ds.data_vars))


def field_ids(names: Sequence[str] | torch.Tensor, vocab: Sequence[str] | None = None) -> torch.Tensor:
    """Ids of vocabulary names (ids given as integers pass through, range-checked)."""
    vocab = tuple(vocab or vocabulary())
    if isinstance(names, torch.Tensor) or (len(names) and not isinstance(names[0], str)):
        ids = torch.as_tensor(names, dtype=torch.long)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= len(vocab)):
            raise ValueError(f"fields: ids {ids.tolist()} out of range for a vocabulary of {len(vocab)} fields")
        return ids
    index = {n: i for i, n in enumerate(vocab)}
    unknown = [n for n in names if n not in index]
    if unknown:
        raise ValueError(f"fields: unknown field name(s) {unknown}; the vocabulary ({VOCABULARY_FILE.name}) "
                         f"holds names like {list(vocab[:3])} — append new fields to it")
    return torch.tensor([index[n] for n in names], dtype=torch.long)


def remap_rows(old_names: Sequence[str], new_names: Sequence[str]) -> torch.Tensor:
    """For each of `old_names`, its row in `new_names` (a checkpoint's rows into a longer vocabulary)."""
    index = {n: i for i, n in enumerate(new_names)}
    missing = [n for n in old_names if n not in index]
    if missing:
        raise ValueError(f"the checkpoint's fields {missing} are not in this model's vocabulary")
    return torch.tensor([index[n] for n in old_names], dtype=torch.long)
