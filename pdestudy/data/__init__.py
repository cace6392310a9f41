"""Data: solvers (one module per system), the file schema, generation and windowed datasets."""
from .generation import dataset_path, generate
from .io import DataFileError, describe, open_dataset, validate_file
from .registry import PROFILES, DatasetSpec, dataset_names, get_spec
from .windows import WindowedDataset

__all__ = ["generate", "dataset_path", "open_dataset", "validate_file", "describe", "DataFileError",
           "get_spec", "dataset_names", "DatasetSpec", "PROFILES", "WindowedDataset"]
