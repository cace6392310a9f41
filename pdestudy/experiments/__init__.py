"""The study's experimental protocols, one module per protocol.

- `mst`: the MST protocol (configs for each experiment, rollouts on held-out trajectories, scores,
  timings), used by the chapters under book/mst/.
- `matey`: the MATEY protocol (standard settings per profile, configs, held-out scores beside
  persistence, counted cost, verdicts), used by the chapters under book/matey/.
- `scorecard`: every claim of both papers; the chapters record their verdicts, the scorecard page
  reads them.
- `performance`: the surrogates against their solvers at equal resolution and at equal accuracy,
  training and attention cost, FLOP/s, data generation with workers (book/beyond/performance.ipynb).

Notebooks call these functions; training goes through `pdestudy.train` (one loop, results cache).

The MST protocol was once this whole package (a single file, `pdestudy/experiments.py`), so its
names are also available at package level, as before: ``experiments.test_set`` is
``experiments.mst.test_set``, and so are the names notebooks reached through it (``experiments.train``,
``experiments.get_device``, ``experiments.chain_depths``, ...). Another protocol is imported from its
own module.
"""
from . import matey, mst, performance, scorecard
from .mst import (autoencoder_config, autoencoder_summary, autoencoder_takeaway, budget_row, compare_mst_fno, depth_table,
                  dynamics_config,
                  evaluate_scale_sets, final_state_mst, fno_config, fno_configs, FNO_PAPER_NRMSE, is_kolmogorov,
                  KOLMOGOROV_DEPTH, late_spectrum, model_label, mst_fno_cost_rows, MST_FNO_MODELS, mst_fno_rows,
                  mst_fno_summary, mst_fno_training_rows, MstFnoComparison, MstFnoRuns, multiscale_configs,
                  open_dataset_attrs, parameter_count, persistence, protocol_starts, reconstruct, rollout_fno,
                  rollout_mst, scale_set_rows, SCALE_SETS, score, score_mst, seed_summary, solver_frames_per_second,
                  spectral_ratio, STANDARD, standard_autoencoder, standard_dynamics, standard_fno,
                  standard_multiscale, START, starts_for, surrogate_frames_per_second, test_set, TestSet, train_all,
                  train_mst_and_fno, train_mst_and_fno_all, training_summary, truth)
# imported by the MST protocol and used through it by notebooks and tests
from .mst import (chain_depths, dataset_path, generate, get_device, MultiScaleStepper, nrmse, nrmse_per_step,
                  open_dataset, parameters, Run, train, TrainConfig, validate_file)

__all__ = ["mst", "START", "SCALE_SETS", "STANDARD", "KOLMOGOROV_DEPTH", "FNO_PAPER_NRMSE", "MST_FNO_MODELS",
           "autoencoder_config", "dynamics_config", "multiscale_configs", "fno_config", "open_dataset_attrs",
           "train_all", "TestSet", "test_set", "rollout_mst", "final_state_mst", "rollout_fno", "persistence",
           "truth", "score", "starts_for", "depth_table", "solver_frames_per_second", "surrogate_frames_per_second",
           "parameter_count", "reconstruct", "autoencoder_summary", "autoencoder_takeaway", "score_mst", "seed_summary",
           "training_summary",
           "evaluate_scale_sets", "scale_set_rows", "is_kolmogorov", "standard_autoencoder", "standard_dynamics",
           "standard_multiscale", "standard_fno", "MstFnoRuns", "fno_configs", "train_mst_and_fno", "train_mst_and_fno_all",
           "protocol_starts",
           "model_label", "MstFnoComparison", "compare_mst_fno", "late_spectrum", "mst_fno_rows", "budget_row",
           "mst_fno_cost_rows", "mst_fno_training_rows", "mst_fno_summary", "spectral_ratio", "Run", "TrainConfig",
           "train", "get_device", "chain_depths", "MultiScaleStepper", "generate", "dataset_path", "open_dataset",
           "parameters", "validate_file", "nrmse", "nrmse_per_step"]
