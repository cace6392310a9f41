"""Windowed training samples over a dataset file.

A sample starts at frame t0 of one trajectory and holds

* ``x``: `history` input frames  t0 − (history−1)·s, …, t0 − s, t0           (s = history_stride)
* ``y``: `rollout` target frames t0 + Δt, t0 + 2Δt, …, t0 + R·Δt              (Δt = lead)

as float32 tensors of shape (history, C, H, W) and (rollout, C, H, W): time first, then channels
(one per field), then space. The train/test split is by trajectory, never by time, so a test
score is always on trajectories the model has not seen.
"""
from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import torch
import xarray as xr

from .io import open_dataset


class WindowedDataset(torch.utils.data.Dataset):
    def __init__(
        self,
        source: str | os.PathLike | xr.Dataset,
        split: str = "train",
        history: int = 1,
        lead: int = 1,
        rollout: int = 1,
        history_stride: int | None = None,
        start: int = 0,
        fields: Sequence[str] | None = None,
    ):
        if split not in ("train", "test", "all"):
            raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
        for name, v in dict(history=history, lead=lead, rollout=rollout).items():
            if int(v) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {v}")
        ds = source if isinstance(source, xr.Dataset) else open_dataset(source)
        fields = list(fields or ds.data_vars)
        unknown = [f for f in fields if f not in ds.data_vars]
        if unknown:
            raise KeyError(f"fields {unknown} not in dataset {ds.attrs.get('dataset')} (has {list(ds.data_vars)})")
        n_train = int(ds.attrs["n_train"])
        sel = {"train": slice(0, n_train), "test": slice(n_train, None), "all": slice(None)}[split]
        # (trajectory, time, C, H, W), float32, in memory: the datasets of this study fit easily.
        self.data = torch.from_numpy(np.stack([ds[f].values[sel] for f in fields], axis=2).astype(np.float32))
        self.fields, self.split = fields, split
        self.history, self.lead, self.rollout = int(history), int(lead), int(rollout)
        self.history_stride = int(history_stride or lead)
        self.trajectory_ids = np.asarray(ds["trajectory"].values[sel])
        n_traj, n_time = self.data.shape[:2]
        first = max(int(start), (self.history - 1) * self.history_stride)
        last = n_time - 1 - self.rollout * self.lead  # last admissible t0
        if last < first:
            raise ValueError(f"windows need {first + self.rollout * self.lead + 1} frames (history={history}, "
                             f"lead={lead}, rollout={rollout}, start={start}); the dataset has {n_time}")
        self.index = [(i, t0) for i in range(n_traj) for t0 in range(first, last + 1)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int):
        i, t0 = self.index[k]
        hist = t0 - self.history_stride * torch.arange(self.history - 1, -1, -1)
        targets = t0 + self.lead * torch.arange(1, self.rollout + 1)
        return self.data[i, hist], self.data[i, targets]

    @property
    def trajectories(self) -> torch.Tensor:
        """All frames of the split: (trajectory, time, C, H, W)."""
        return self.data


def check_frame_range(frames: Sequence[int], history: int, lead: int, n_time: int | None = None) -> tuple[int, int]:
    """(first, end) of a frame range that holds at least one window of `history` frames and a target
    `lead` frames after the last; a clear error naming `frames` otherwise."""
    if len(frames) != 2 or any(isinstance(v, bool) or int(v) != v for v in frames):
        raise ValueError(f"frames: two frame indices [first, end), got {frames!r}")
    first, end = int(frames[0]), int(frames[1])
    if first < 0 or (n_time is not None and end > n_time):
        raise ValueError(f"frames: [{first}, {end}) lies outside the {n_time} frames of the dataset")
    if end - first < history + lead:
        raise ValueError(f"frames: [{first}, {end}) holds {end - first} frames; a window of history={history} "
                         f"and lead={lead} needs {history + lead}")
    return first, end


class TrajectoryWindows:
    """Windows of `history` frames and the frame `lead` steps after the last, read on demand.

    Sample k is (trajectory i, last input frame t): x = frames t−history+1 … t, (history, C, H, W),
    and y = frame t + lead, (C, H, W); with `frames` = [first, end) every frame of a window lies in
    first … end−1 (e.g. a transient before the flow settles). Only the frames of the chosen trajectories are read — into
    memory once when they fit within `max_memory` bytes, else from the file for every batch — and
    no window is ever materialised beyond the batch being served.
    """

    def __init__(self, path: str | os.PathLike, trajectories: Sequence[int], history: int, lead: int = 1,
                 fields: Sequence[str] | None = None, max_memory: int = 2 << 30,
                 frames: Sequence[int] | None = None):
        import h5py

        from .io import validate_file

        with validate_file(path, check_values=False) as ds:  # schema check; attributes only
            self.fields = list(fields or ds.data_vars)
            unknown = [f for f in self.fields if f not in ds.data_vars]
            if unknown:
                raise KeyError(f"{path}: fields {unknown} not in dataset (has {list(ds.data_vars)})")
            self.attrs = dict(ds.attrs)
            n_time, H, W = ds.sizes["time"], ds.sizes["y"], ds.sizes["x"]
        self.path, self.history, self.lead = str(path), int(history), int(lead)
        self.trajectories = [int(i) for i in trajectories]
        if n_time < self.history + self.lead:
            raise ValueError(f"{path}: windows of history={history} and lead={lead} need {self.history + self.lead} "
                             f"frames; the dataset has {n_time}")
        try:
            first, end = (0, n_time) if frames is None else check_frame_range(frames, self.history, self.lead, n_time)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        self.index = [(i, t) for i in range(len(self.trajectories))
                      for t in range(first + self.history - 1, end - self.lead)]
        self.shape = (len(self.trajectories), n_time, len(self.fields), H, W)
        self._h5 = h5py.File
        self.frames: torch.Tensor | None = None
        if 4 * math.prod(self.shape) <= max_memory:
            self.frames = self._read([(i, 0, n_time) for i in range(len(self.trajectories))])

    def _read(self, spans: Sequence[tuple[int, int, int]]) -> torch.Tensor:
        """(len(spans), t1 − t0, C, H, W) for spans (trajectory index, t0, t1) of equal length."""
        with self._h5(self.path, "r") as f:
            out = np.stack([np.stack([f[name][self.trajectories[i], t0:t1] for name in self.fields], axis=1)
                            for i, t0, t1 in spans])
        return torch.from_numpy(out.astype(np.float32, copy=False))

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, ks: Sequence[int] | torch.Tensor,
              leads: Sequence[int] | torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs (B, history, C, H, W) and targets (B, C, H, W) of samples `ks`.

        `leads` (one per sample, each 1 … `lead`) takes each target that many frames after the last
        input instead of `lead` (lead-time conditioning: the windows are those admissible at `lead`)."""
        ks = [int(k) for k in ks]
        leads = [self.lead] * len(ks) if leads is None else [int(v) for v in leads]
        if len(leads) != len(ks) or not all(1 <= v <= self.lead for v in leads):
            raise ValueError(f"leads: one per sample, each in 1 … {self.lead}; got {leads}")
        inputs = [(self.index[k][0], self.index[k][1] - self.history + 1, self.index[k][1] + 1) for k in ks]
        targets = [(self.index[k][0], self.index[k][1] + v, self.index[k][1] + v + 1) for k, v in zip(ks, leads)]
        if self.frames is not None:
            x = torch.stack([self.frames[i, t0:t1] for i, t0, t1 in inputs])
            y = torch.stack([self.frames[i, t0] for i, t0, _ in targets])
        else:
            x, y = self._read(inputs), self._read(targets)[:, 0]
        return x, y
