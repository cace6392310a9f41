"""The datasets of the study, each a `DatasetSpec` per profile.

A spec is everything that determines a file's contents: change any field and the file is
regenerated (its hash is stored in the file). Profiles change only sizes and resolutions:

* ``smoke``   – seconds on a laptop: tests and CI.
* ``default`` – what the book's experiments need, generated on a 2-core CPU.
* ``paper``   – the papers' scales (1000 train / 200 test trajectories at 64²), for a big machine.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("smoke", "default", "paper")


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    profile: str
    system: str  # module of pdestudy.data that generates it
    equation: str
    fields: tuple[str, ...]
    resolution: int  # stored grid points per side
    n_train: int
    n_test: int
    seed: int
    params: dict[str, Any] = field(default_factory=dict)  # system parameters (physics + numerics)

    @property
    def n_trajectories(self) -> int:
        return self.n_train + self.n_test

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["fields"] = list(self.fields)
        return d

    def spec_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


NS_EQUATION = "∂t ω + u·∇ω = ν Δω + f on [0, L)² periodic, u = (∂y ψ, −∂x ψ), −Δψ = ω"
FNO_IC = "Gaussian random field N(0, 2·7³(−Δ + 49 I)^−2.5), zero mean (FNO GaussianRF)"


def _ns(nu: float, t_final: int, **kw) -> dict[str, Any]:
    return dict(
        system="navier_stokes",
        equation=NS_EQUATION,
        fields=("vorticity",),
        params=dict(nu=nu, length=1.0, forcing="0.1 (sin 2π(x+y) + cos 2π(x+y))", initial_condition=FNO_IC,
                    t_final=t_final, frame_interval=1.0, spinup=0.0, scheme="ifrk4", **kw),
    )


_KOLMOGOROV = dict(
    system="kolmogorov",
    equation=NS_EQUATION,
    fields=("vorticity",),
    params=dict(nu=1 / 40, length=2 * math.pi, forcing="−4 cos(4y)", wavenumber=4,
                initial_condition="Gaussian random field N(0, 2·7³(−Δ + 49 I)^−2.5) on [0, 2π)², spun up",
                frame_interval=1.0, scheme="ifrk4"),
)

# name -> (base spec fields, {profile: overrides}); "params" overrides merge into the base params.
_TABLE: dict[str, tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {
    "ns_nu1e-3": (
        _ns(1e-3, 50),
        {
            "smoke": dict(resolution=32, n_train=6, n_test=2, seed=1003, params=dict(solve_resolution=32, dt=1 / 50)),
            "default": dict(resolution=64, n_train=96, n_test=24, seed=1003, params=dict(solve_resolution=64, dt=1 / 50)),
            "paper": dict(resolution=64, n_train=1000, n_test=200, seed=1003, params=dict(solve_resolution=64, dt=1 / 50)),
        },
    ),
    "ns_nu1e-4": (
        _ns(1e-4, 30),
        {
            "smoke": dict(resolution=32, n_train=6, n_test=2, seed=1004, params=dict(solve_resolution=32, dt=1 / 100)),
            "default": dict(resolution=64, n_train=24, n_test=8, seed=1004, params=dict(solve_resolution=128, dt=1 / 100)),
            "paper": dict(resolution=64, n_train=1000, n_test=200, seed=1004, params=dict(solve_resolution=128, dt=1 / 100)),
        },
    ),
    "ns_nu1e-5": (
        _ns(1e-5, 20),
        {
            "smoke": dict(resolution=32, n_train=6, n_test=2, seed=1005, params=dict(solve_resolution=32, dt=1 / 100)),
            "default": dict(resolution=64, n_train=24, n_test=8, seed=1005, params=dict(solve_resolution=128, dt=1 / 100)),
            "paper": dict(resolution=64, n_train=1000, n_test=200, seed=1005, params=dict(solve_resolution=128, dt=1 / 100)),
        },
    ),
    "kolmogorov_re40": (
        _KOLMOGOROV,
        {
            "smoke": dict(resolution=32, n_train=6, n_test=2, seed=40,
                          params=dict(solve_resolution=32, dt=1 / 50, spinup=10.0, t_final=20)),
            "default": dict(resolution=64, n_train=32, n_test=8, seed=40,
                            params=dict(solve_resolution=64, dt=1 / 50, spinup=100.0, t_final=100)),
            "paper": dict(resolution=64, n_train=1000, n_test=200, seed=40,
                          params=dict(solve_resolution=64, dt=1 / 50, spinup=100.0, t_final=100)),
        },
    ),
}


# ---------------------------------------------------------------------- MATEY's systems
# One block per system module; each adds its datasets to _TABLE in the same (base, {profile: overrides}) form.

# diffusion_reaction: diffusion–reaction (PDEBench 2D, FitzHugh–Nagumo)
_DR_PARAMS = dict(Du=1e-3, Dv=5e-3, k=5e-3, domain="[-1, 1]², cell-centred", boundary="homogeneous Neumann",
                  initial_condition="u, v i.i.d. N(0, 1) per cell", t_final=5.0, frame_interval=0.05, scheme="rk4")
_TABLE["diffusion_reaction"] = (
    dict(system="diffusion_reaction", fields=("u", "v"), params=_DR_PARAMS,
         equation="∂t u = Du Δu + u − u³ − k − v, ∂t v = Dv Δv + u − v on [−1, 1]², Neumann (FitzHugh–Nagumo)"),
    {
        "smoke": dict(resolution=32, n_train=4, n_test=2, seed=2101, params=dict(dt=0.01)),
        "default": dict(resolution=64, n_train=24, n_test=8, seed=2101, params=dict(dt=0.01)),
        "paper": dict(resolution=128, n_train=900, n_test=100, seed=2101, params=dict(dt=0.005)),
    },
)

# shallow_water: shallow water, radial dam break (PDEBench 2D)
_SWE_PARAMS = dict(g=1.0, domain=[-2.5, 2.5], boundary="outflow (zero gradient)", h_inside=2.0, h_outside=1.0,
                   radius_min=0.3, radius_max=0.7, initial_subcells=16,
                   initial_condition="at rest; h = 2 for r < r0, 1 outside; cell averages (16 × 16 sub-cell midpoints)",
                   t_final=1.0, frame_interval=0.01, limiter="mc", cfl=0.4, scheme="muscl-hll-ssprk2")
_TABLE["shallow_water_dam_break"] = (
    dict(system="shallow_water", fields=("h", "hu", "hv"), params=_SWE_PARAMS,
         equation="∂t h + ∇·(h u) = 0, ∂t(h u) + ∇·(h u u) + ∇(g h²/2) = 0 on [−2.5, 2.5]², g = 1, outflow"),
    {
        "smoke": dict(resolution=32, n_train=4, n_test=2, seed=2201),
        "default": dict(resolution=64, n_train=24, n_test=8, seed=2201),
        "paper": dict(resolution=128, n_train=900, n_test=100, seed=2201),
    },
)

# compressible_ns: compressible Navier–Stokes (PDEBench 2D CFD Rand / Turb)
CNS_EQUATION = ("∂t ρ + ∇·(ρv) = 0, ∂t(ρv) + ∇·(ρv⊗v + pI − σ') = 0, ∂t E + ∇·((E + p)v − v·σ') = 0, "
                "E = p/(γ−1) + ½ρ|v|², σ' = η(∇v + ∇vᵀ − ⅔(∇·v)I) + ζ(∇·v)I on [0, 1)² periodic")


def _cns(variant: str, mach: float, eta: float) -> dict[str, Any]:
    kind = "divergence-free (Helmholtz-projected) " if variant == "turb" else ""
    return dict(
        system="compressible_ns",
        equation=CNS_EQUATION,
        fields=("density", "vx", "vy", "pressure"),
        params=dict(variant=variant, mach=mach, eta=eta, zeta=eta, gamma=5 / 3, length=1.0, t_final=1.0,
                    frame_interval=0.05, background_density=1.0, background_pressure=1.0, perturbation=0.2,
                    max_wavenumber=4, spectrum_exponent=-0.5,
                    initial_condition=(f"ρ, p: background 1 ± 0.2 × random sinusoid sums (|i|, |j| ≤ 4, amplitude "
                                       f"|k|^−1/2, random phases); {kind}velocity of the same kind scaled to max|v| = "
                                       f"M c₀"),
                    scheme="muscl-hllc-ssprk2", limiter="mc", cfl=0.4),
    )


def _cns_sizes(seed: int, paper_resolution: int, paper_train: int, paper_test: int) -> dict[str, dict[str, Any]]:
    return {
        "smoke": dict(resolution=16, n_train=4, n_test=2, seed=seed),
        "default": dict(resolution=64, n_train=12, n_test=4, seed=seed),  # ≈ 1000 steps each: see the data card
        "paper": dict(resolution=paper_resolution, n_train=paper_train, n_test=paper_test, seed=seed),
    }


_TABLE["cns_rand_m0.1_eta1e-2"] = (_cns("rand", 0.1, 1e-2), _cns_sizes(2101, 128, 9000, 1000))
_TABLE["cns_rand_m1_eta1e-8"] = (_cns("rand", 1.0, 1e-8), _cns_sizes(2102, 128, 9000, 1000))
_TABLE["cns_turb_m0.1_eta1e-8"] = (_cns("turb", 0.1, 1e-8), _cns_sizes(2103, 512, 900, 100))
_TABLE["cns_turb_m1_eta1e-8"] = (_cns("turb", 1.0, 1e-8), _cns_sizes(2104, 512, 900, 100))

# incompressible_ns: incompressible Navier–Stokes with a passive scalar (PDEBench inhomogeneous)
_INS_PARAMS = dict(
    nu=0.01, kappa=0.0, lid_velocity=0.0, length=1.0, t_final=5.0, frame_interval=0.1,
    cfl=0.5, diffusion_number=0.25,  # per-trajectory dt: advective Courant number and ν dt/h²
    velocity_rms=0.5, ic_modes=8, ic_alpha=3.0,  # initial stream function: cosine random field × wall window
    particle_contrast=0.5,  # initial particles exp(0.5 g)/mean, g a unit-variance cosine random field
    force_amplitude=0.5, force_modes=3, force_alpha=2.0,  # F: smooth random vector field, rms 0.5, modes ≤ 3
    forcing="particles × F(x, y), F a per-trajectory cosine random vector field", scheme="mac-projection-ssprk3",
)
_TABLE["incompressible_ns_scalar"] = (
    dict(system="incompressible_ns",
         equation="∂t u + (u·∇)u = −∇p + ν Δu + s F, ∇·u = 0, ∂t s + u·∇s = κ Δs in [0, 1]², u = 0 on the walls",
         fields=("vx", "vy", "particles"), params=_INS_PARAMS),
    {
        "smoke": dict(resolution=32, n_train=4, n_test=2, seed=2401),
        "default": dict(resolution=64, n_train=24, n_test=8, seed=2401),
        "paper": dict(resolution=512, n_train=900, n_test=100, seed=2401),
    },
)

# thermals: colliding thermals (miniWeather collision)
_THERMALS = dict(
    system="thermals",
    equation="2-D dry compressible Euler in x–z for perturbations of a θ0 = 300 K hydrostatic state: ∂t ρ' + ∇·(ρu) = 0, "
             "∂t(ρu) + ∇·(ρu u) + ∇p' = −ρ' g ẑ, ∂t(ρθ)' + ∇·(ρθ u) = 0, p = C0 (ρθ)^γ; 20 km × 10 km, periodic x, "
             "reflecting walls in z",
    fields=("density", "theta", "vx", "vy"),
    params=dict(xlen=20_000.0, zlen=10_000.0, theta0=300.0, hv_beta=0.05, cfl=1.5, max_speed=450.0,
                frame_interval=10.0, t_final=700.0, amplitude_range=[15.0, 25.0], x_range=[9_000.0, 11_000.0],
                warm_z_range=[1_600.0, 2_400.0], cold_z_range=[7_600.0, 8_400.0], radius_range=[1_600.0, 2_400.0],
                initial_condition="warm (+A) and cold (−A) cos² θ' bubbles, ρ' = u = w = 0 (miniWeather collision, randomised)",
                scheme="fv4-hv-rk3-split"),
)
_TABLE["colliding_thermals"] = (
    _THERMALS,
    {
        "smoke": dict(resolution=32, n_train=6, n_test=2, seed=2001, params=dict(ny=16)),
        "default": dict(resolution=128, n_train=16, n_test=4, seed=2001, params=dict(ny=64)),
        # 512×256 (39 m cells): MATEY's patches (32 coarse, 8 fine) tile it
        "paper": dict(resolution=512, n_train=80, n_test=20, seed=2001, params=dict(ny=256)),
    },
)

# mhd_cavity: lid-driven cavity MHD
_MHD_CAVITY = dict(
    system="mhd_cavity",
    equation="∂t ω + u·∇ω = (1/Re) Δω + B·∇j, ∂t A + u·∇A = (1/Rem) ΔA, −Δψ = ω, u = (∂y ψ, −∂x ψ), "
             "B = (∂y A, −∂x A), j = −ΔA, A = B0 y + a; [0, 1]², lid u = 1 at y = 1, no-slip, a = 0 on the walls",
    fields=("vx", "vy", "bx", "by"),
    params=dict(reynolds=100.0, lid_speed=1.0, hartmann_min=5.0, hartmann_max=50.0,
                magnetic_reynolds_values=[25.0, 50.0, 100.0], initial_condition="rest: u = 0, a = 0 (B = B0 x̂)",
                t_final=20.0, frame_interval=0.2, scheme="etdrk4", cfl=2.0, cfl_limit=2.6, thom_number=1.0,
                batch_size=8),
)
_TABLE["mhd_cavity"] = (
    _MHD_CAVITY,
    {
        "smoke": dict(resolution=16, n_train=4, n_test=2, seed=2412, params=dict(n_hartmann=2)),
        "default": dict(resolution=64, n_train=24, n_test=6, seed=2412, params=dict(n_hartmann=10)),
        "paper": dict(resolution=128, n_train=96, n_test=24, seed=2412, params=dict(n_hartmann=40)),
    },
)


def dataset_names() -> list[str]:
    return list(_TABLE)


def get_spec(name: str, profile: str = "default") -> DatasetSpec:
    """The spec of dataset `name` in `profile`; a clear error for unknown names or profiles."""
    if name not in _TABLE:
        raise KeyError(f"unknown dataset {name!r}; known datasets: {', '.join(_TABLE)}")
    if profile not in PROFILES:
        raise KeyError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    base, profiles = _TABLE[name]
    over = dict(profiles[profile])
    params = {**base["params"], **over.pop("params", {})}
    return DatasetSpec(name=name, profile=profile, **{**base, **over, "params": params})
