"""Models, one file per family, named after the papers' terms."""
from .cae import CAEConfig, ConvAutoencoder
from .mst import ENCODINGS, LatentTransformer, MSTConfig, MultiScaleStepper, chain_depths, hierarchical_schedule

__all__ = ["CAEConfig", "ConvAutoencoder", "MSTConfig", "LatentTransformer", "MultiScaleStepper",
           "hierarchical_schedule", "chain_depths", "ENCODINGS"]
