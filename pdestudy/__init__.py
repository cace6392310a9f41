"""pdestudy: a reproducible study of transformer surrogates for time-dependent PDEs (MST, MATEY)."""

__version__ = "0.1.0"
