"""Kolmogorov flow: the vorticity equation on [0, 2π)² driven by a shear forcing.

    ∂t ω + u·∇ω = ν Δω − n cos(n y),      n = 4,  ν = 1/40  (Re = 40)

The body force (sin ny, 0) in the momentum equation has curl −n cos(ny). Its laminar answer,
ω = −cos(ny)/(ν n) (u = sin(ny)/(ν n²)), is an exact steady solution – a shear flow whose
advection term vanishes – and is unstable at Re = 40, so a random start spins up into
sustained two-dimensional turbulence. We solve it with the Navier–Stokes solver of
`navier_stokes.py` on another domain with another forcing; nothing is written twice.
"""
from __future__ import annotations

import math
from functools import partial

import torch

from . import navier_stokes
from .navier_stokes import VorticitySolver

LENGTH = 2 * math.pi


def kolmogorov_forcing(y: torch.Tensor, x: torch.Tensor, wavenumber: int = 4) -> torch.Tensor:
    return -wavenumber * torch.cos(wavenumber * y) + 0 * x


def laminar_vorticity(y: torch.Tensor, nu: float, wavenumber: int = 4) -> torch.Tensor:
    """The steady laminar solution ω = −cos(ny)/(νn)."""
    return -torch.cos(wavenumber * y) / (nu * wavenumber)


def solver(n: int, nu: float = 1 / 40, wavenumber: int = 4, dt: float = 1e-2, **kw) -> VorticitySolver:
    return VorticitySolver(
        n=n, nu=nu, length=LENGTH, forcing=partial(kolmogorov_forcing, wavenumber=wavenumber), dt=dt,
        name=kw.pop("name", "kolmogorov"), **kw,
    )


def make_solver(spec, device="auto") -> VorticitySolver:
    p = spec.params
    return solver(p["solve_resolution"], nu=p["nu"], wavenumber=p["wavenumber"], dt=p["dt"], scheme=p["scheme"],
                  device=device, name=spec.name)


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    return navier_stokes.simulate_with(make_solver(spec, device), spec, seeds, trajectory_ids, progress)


describe_solver = navier_stokes.describe_solver
