"""The `pdestudy` command.

    pdestudy data generate NAME [NAME ...|all] [--profile P] [--force] [--root DIR] [--device auto] [--workers N]
    pdestudy data info PATH
    pdestudy data list [--profile P] [--root DIR]
    pdestudy book [--profile P] [--only NOTEBOOK] [--strict] [--build-dir DIR] [--jobs N]
    pdestudy train --config FILE [--device auto] [--results DIR]     (also under torchrun)

Bad input (an unknown dataset or profile, a damaged data file, a failing notebook) ends with one
line `error: ...` on stderr and a non-zero exit code, never a traceback: 2 for a bad command line,
1 for anything that went wrong while running it.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .data import PROFILES, DataFileError, dataset_names, dataset_path, describe, generate, get_spec
from .data.generation import coordinates
from .data.solver_support import SolverInstability


class UsageError(Exception):
    """A command line naming something that does not exist (exit 2)."""


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise UsageError(f"unknown profile {profile!r}; profiles are {', '.join(PROFILES)}")
    return profile


def dataset_list(names: list[str]) -> list[str]:
    """Expand "all" and check every name before anything is generated."""
    known = dataset_names()
    out: list[str] = []
    for name in names:
        for n in (known if name == "all" else [name]):
            if n not in known:
                raise UsageError(f"unknown dataset {n!r}; datasets are {', '.join(known)} (or all)")
            if n not in out:
                out.append(n)
    return out


def grid_label(spec) -> str:
    c = coordinates(spec)
    ny, nx = len(c["y"]), len(c["x"])
    return f"{nx}²" if nx == ny else f"{ny}×{nx}"


# ---------------------------------------------------------------------- commands
def cmd_data_generate(args) -> int:
    profile = check_profile(args.profile)
    for name in dataset_list(args.names):
        path = generate(name, profile, root=args.root, force=args.force, device=args.device, workers=args.workers)
        print(path)
    return 0


def cmd_data_info(args) -> int:
    # The file's content says what it is: a pdestudy dataset is validated and described as before,
    # a PDEBench or The Well file is summarised by the readers; anything else is a DataFileError
    # naming the file and the problem.
    from .data.readers import describe_external, detect_layout

    layout = detect_layout(args.path)
    print(describe(args.path) if layout == "pdestudy" else describe_external(args.path))
    return 0


def cmd_data_list(args) -> int:
    profile = check_profile(args.profile)
    rows = [("dataset", "trajectories (train+test)", "resolution", "frames", "file")]
    for name in dataset_names():
        spec = get_spec(name, profile)
        path = dataset_path(name, profile, args.root)
        rows.append((name, f"{spec.n_trajectories} ({spec.n_train}+{spec.n_test})", grid_label(spec),
                     str(len(coordinates(spec)["time"])), str(path) if path.exists() else "missing"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    print(f"profile {profile}")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return 0


def cmd_book(args) -> int:
    from .book import build_book, profile_names  # papermill and Jupyter Book load only for this command

    if args.profile not in profile_names():
        raise UsageError(f"unknown profile {args.profile!r}; profiles are {', '.join(profile_names()) or 'none'}")
    index = build_book(profile=args.profile, only=args.only, build_dir=args.build_dir, strict=args.strict,
                       jobs=args.jobs)
    print(f"book ({args.profile} profile): {index}")
    return 0


def cmd_train(args) -> int:
    from .train import TrainConfig, train  # torch.distributed etc. load only for this command

    try:
        cfg = TrainConfig.from_yaml(args.config)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    run = train(cfg, device=args.device, root=args.results)
    best = run.history[run.best_epoch]
    print(f"{run.path}  best epoch {run.best_epoch} of {len(run.history)}  val loss {best['val_loss']:.5f}")
    return 0


# ---------------------------------------------------------------------- parser
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdestudy", description="Reproducible study of transformer surrogates for PDEs "
                                "(MST, MATEY): generate data, build the book.")
    p.add_argument("--version", action="version", version=f"pdestudy {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{data,book,train}")

    data = sub.add_parser("data", help="generate, inspect and list datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="{generate,info,list}")

    g = data_sub.add_parser("generate", help="generate datasets (skips valid, up-to-date files)")
    g.add_argument("names", nargs="+", metavar="NAME", help=f"dataset names or 'all': {', '.join(dataset_names())}")
    g.add_argument("--profile", default="default", help=f"one of {', '.join(PROFILES)} (default: default)")
    g.add_argument("--force", action="store_true", help="generate again even if a valid file exists")
    g.add_argument("--root", default=None, help="data root (default: $PDESTUDY_DATA or data/generated)")
    g.add_argument("--device", default="auto", help="torch device: auto (CUDA if present), cpu, cuda, ...")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes solving batches on the CPU (default: every core; 1 for the smoke profile); "
                        "the file is the same whatever N")
    g.set_defaults(func=cmd_data_generate)

    i = data_sub.add_parser("info", help="validate a data file and describe it (pdestudy, PDEBench or The Well)")
    i.add_argument("path", type=Path, metavar="PATH")
    i.set_defaults(func=cmd_data_info)

    ls = data_sub.add_parser("list", help="the datasets of a profile and whether their files exist")
    ls.add_argument("--profile", default="default", help=f"one of {', '.join(PROFILES)} (default: default)")
    ls.add_argument("--root", default=None, help="data root (default: $PDESTUDY_DATA or data/generated)")
    ls.set_defaults(func=cmd_data_list)

    b = sub.add_parser("book", help="execute every notebook with a profile and build the HTML book")
    b.add_argument("--profile", default="default", help="smoke (seconds), default (the published book, CPU), "
                   "paper (the papers' scales, GPU); the files in book/profiles/")
    b.add_argument("--only", default=None, metavar="NOTEBOOK",
                   help="execute only this notebook (e.g. navier_stokes or data/navier_stokes); the others keep "
                        "their last executed copies")
    b.add_argument("--strict", action="store_true", help="Sphinx warnings are errors")
    b.add_argument("--build-dir", default=None, help="where staged sources and HTML go (default: book/_build)")
    b.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="notebooks executed side by side, each once what it reads exists (README); the running "
                        "kernels share the cores; default 2 (1 on a one-core machine), as the published build "
                        "was timed: 1 runs them one by one in toc order (e.g. the paper profile on a small GPU)")
    b.set_defaults(func=cmd_book)

    t = sub.add_parser("train", help="train one model from a YAML TrainConfig (cached by config; resumes)")
    t.add_argument("--config", required=True, type=Path, help="YAML file with the fields of pdestudy.train.TrainConfig")
    t.add_argument("--device", default="auto", help="torch device: auto (CUDA if present), cpu, cuda, ...")
    t.add_argument("--results", default=None, help="results root (default: $PDESTUDY_RESULTS or data/results)")
    t.set_defaults(func=cmd_train)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .book import BookError  # light: yaml only

    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DataFileError, BookError, SolverInstability) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
