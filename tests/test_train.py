"""The one training loop: determinism, resume after SIGKILL, DDP equivalence, caching."""

import pytest
import torch
import yaml

from conftest import assert_resume_equals_uninterrupted, private_smoke_data, train_with_torchrun
from pdestudy.train import TrainConfig, build_model, load_frames, make_samples, relative_l2, rollout_loss, train


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Smoke data in a private data root; results in a private root per test."""
    with private_smoke_data(tmp_path_factory.mktemp("data"), "ns_nu1e-3") as data:
        yield data


AE = dict(task="autoencoder", dataset="ns_nu1e-3", profile="smoke", model=dict(channels=[4, 8, 16]), epochs=4,
          batch_size=32, max_train_samples=128)


def dyn(epochs=4, leadtime=False, **kw):
    return TrainConfig(task="dynamics", dataset="ns_nu1e-3", profile="smoke", autoencoder=dict(AE, epochs=2),
                       model=dict(width=16, depth=1, heads=2, latent_size=4, pos_hidden=8, **({"leadtime": True} if leadtime else {})),
                       epochs=epochs, rollout=2, batch_size=16, max_train_samples=96, **kw)


def losses(history):
    return [(h["train_loss"], h["val_loss"], h["grad_norm"]) for h in history]


def test_config_hashes_survive_new_fields_at_their_defaults():
    """Results caches stay valid: the keys below were computed before the matey-only fields (datasets,
    steps_per_epoch, train_trajectories, freeze, lead_max) existed; one that is set changes the key."""
    assert TrainConfig().key() == "51073b38a8606f6a"
    nested = TrainConfig(task="dynamics", lead=2, rollout=2, autoencoder=TrainConfig().to_dict(),
                         init_from=TrainConfig(task="dynamics", autoencoder=TrainConfig().to_dict()).to_dict())
    assert nested.key() == "58889ee4301a63b7"
    assert TrainConfig(task="matey", steps_per_epoch=5).key() != TrainConfig(task="matey").key()


def test_same_seed_same_metrics(env, tmp_path):
    a = train(dyn(), root=tmp_path / "a", progress=False)
    b = train(dyn(), root=tmp_path / "b", progress=False)
    assert losses(a.history) == losses(b.history)
    c = train(dyn(seed=1), root=tmp_path / "c", progress=False)
    assert losses(a.history) != losses(c.history)


def test_results_cache_reuses_finished_runs(env, tmp_path):
    run = train(dyn(), root=tmp_path, progress=False)
    mtime = (run.path / "model.pt").stat().st_mtime_ns
    again = train(dyn(), root=tmp_path, progress=False)
    assert (again.path / "model.pt").stat().st_mtime_ns == mtime and losses(again.history) == losses(run.history)
    ae_runs = list((tmp_path / "autoencoder").iterdir())
    assert len(ae_runs) == 1  # the dependency trained once
    for p1, p2 in zip(run.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(p1, p2)


def test_a_longer_run_continues_the_shorter_one_and_equals_training_from_scratch(env, tmp_path):
    """An (E + k)-epoch run starts from the finished E-epoch run of the same config: no epoch is
    trained twice, and its numbers are those of an uninterrupted run. A run differing in anything
    else (here the learning rate) is not a prefix."""
    short = train(dyn(epochs=2), root=tmp_path / "a", progress=False)
    other = train(dyn(epochs=3, lr=5e-4), root=tmp_path / "a", progress=False)
    assert "continued_from" not in other.metrics  # lr differs: trained from scratch
    longer = train(dyn(epochs=4), root=tmp_path / "a", progress=False)
    fresh = train(dyn(epochs=4), root=tmp_path / "b", progress=False)
    assert longer.metrics["continued_from"] == short.path.name and "continued_from" not in fresh.metrics
    assert losses(longer.history) == losses(fresh.history) and longer.best_epoch == fresh.best_epoch
    assert longer.history[:2] == short.history  # the first two epochs are the short run's, as trained
    for p1, p2 in zip(longer.model.parameters(), fresh.model.parameters(), strict=True):
        assert torch.equal(p1, p2)
    assert longer.train_seconds > short.train_seconds  # its cost includes the epochs it continued


def test_two_kernels_asking_for_one_config_train_it_once(env, tmp_path, monkeypatch):
    """Side by side in a book build, two chapters may ask for the same model at once: the second
    waits for the first's lock and loads its result (two threads stand in for two processes: each
    takes its own flock)."""
    import threading
    import time

    import pdestudy.train as T
    calls, real, second, results = [], T._train, [], {}

    def slow_train(cfg, *args):
        calls.append(cfg.task)
        if cfg.task == "autoencoder" and len(second) == 0:  # the dependency, first asked: start the rival now
            second.append(threading.Thread(target=lambda: results.setdefault("b", train(AE, root=tmp_path, progress=False))))
            second[0].start()
            time.sleep(1.0)  # without the lock the rival would miss the cache and train it too, meanwhile
        return real(cfg, *args)

    monkeypatch.setattr(T, "_train", slow_train)
    results["a"] = train(AE, root=tmp_path, progress=False)
    second[0].join()
    assert calls == ["autoencoder"]  # trained once
    assert losses(results["a"].history) == losses(results["b"].history) and results["a"].path == results["b"].path


def test_a_kernel_waiting_for_a_lock_gives_its_cores_to_the_one_computing(tmp_path, monkeypatch):
    """share_cores divides the cores among the kernels not waiting: while one waits in `exclusive` for
    another's result (its marker beside the runner's threads file), the other gets its share."""
    import os
    import threading

    from pdestudy.utils import THREADS_FILE, exclusive, share_cores
    cores, n0 = os.cpu_count() or 1, torch.get_num_threads()
    threads_file = tmp_path / "threads"
    threads_file.write_text(f"{cores} 2")  # as the runner writes it: two kernels side by side
    (tmp_path / "threads.waiting.999999999").touch()  # a dead kernel's marker: stale, not counted
    monkeypatch.setenv(THREADS_FILE, str(threads_file))
    lock, held, release, got = tmp_path / "x.lock", threading.Event(), threading.Event(), threading.Event()

    def holder():  # the kernel computing the result
        with exclusive(lock):
            held.set()
            release.wait(60)

    def waiter():  # the kernel asking for the same result (two threads: each takes its own flock)
        with exclusive(lock):
            got.set()
    try:
        assert share_cores() == max(1, cores // 2)
        threads = [threading.Thread(target=holder)]
        threads[0].start()
        assert held.wait(60)
        threads.append(threading.Thread(target=waiter))
        threads[1].start()
        marker = tmp_path / f"threads.waiting.{os.getpid()}"
        for _ in range(600):
            if marker.exists():
                break
            threading.Event().wait(0.1)
        assert marker.exists() and not got.is_set()
        assert share_cores() == cores  # the computing kernel gets the waiting one's share too
        release.set()
        for t in threads:
            t.join(60)
        assert got.is_set() and not marker.exists()
        assert share_cores() == max(1, cores // 2)
    finally:
        release.set()
        torch.set_num_threads(n0)


def test_best_epoch_is_the_best_validation_epoch(env, tmp_path):
    run = train(dyn(epochs=5), root=tmp_path, progress=False)
    vals = [h["val_loss"] for h in run.history]
    assert run.best_epoch == vals.index(min(vals))
    assert run.metrics["best_val_loss"] == min(vals)


def test_validation_is_not_training_data(env):
    cfg = dyn()
    fit, val = load_frames(cfg)
    assert len(val) >= 1 and len(fit) + len(val) == 6  # the 6 smoke training trajectories, none of the test ones
    assert not any(torch.equal(v, f) for v in val for f in fit)


def test_resume_after_sigkill_equals_uninterrupted(env, tmp_path):
    assert_resume_equals_uninterrupted(dyn(epochs=6), tmp_path)


def test_ddp_two_processes_equal_one(env, tmp_path):
    cfg = TrainConfig(**dict(AE, epochs=2))
    single = train(cfg, root=tmp_path / "one", progress=False)
    train_with_torchrun(cfg, tmp_path / "two", tmp_path)
    ddp = train(cfg, root=tmp_path / "two", progress=False)  # loads the finished DDP run
    assert ddp.metrics["world_size"] == 2
    for (t1, v1, _), (t2, v2, _) in zip(losses(single.history), losses(ddp.history), strict=True):
        assert t1 == pytest.approx(t2, rel=1e-4) and v1 == pytest.approx(v2, rel=1e-4)
    for p1, p2 in zip(single.model.parameters(), ddp.model.parameters(), strict=True):
        assert torch.allclose(p1, p2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("task", ["autoencoder", "dynamics", "fno"])
def test_one_step_lowers_loss_on_fixed_batch(env, task):
    torch.manual_seed(0)
    cfg = {"dynamics": dyn(), "autoencoder": TrainConfig(**AE),
           "fno": TrainConfig(task="fno", dataset="ns_nu1e-3", profile="smoke", history=3,
                              model=dict(n_modes=[8, 8], hidden_channels=8))}[task]
    fit, _ = load_frames(cfg)
    encoder = build_model(TrainConfig(**cfg.autoencoder)) if task == "dynamics" else None
    x, y = make_samples(cfg, fit[:1], encoder)
    x, y = x[:8], y[:8]
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        if task == "fno":
            return relative_l2(model(x), y[:, 0])
        return rollout_loss(torch.stack([model(x[:, 0])] * y.shape[1], 1), y) if task == "dynamics" else relative_l2(model(x[:, 0]), y[:, 0])
    before = loss()
    before.backward()
    opt.step()
    assert loss() < before


def test_bad_config_errors(tmp_path):
    with pytest.raises(ValueError, match="task must be one of"):
        TrainConfig(task="gan")
    with pytest.raises(ValueError, match="needs `autoencoder`"):
        TrainConfig(task="dynamics")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: autoencoder\nepochz: 3\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: unknown config field\(s\) \['epochz'\]"):
        TrainConfig.from_yaml(bad)


def test_cli_train_runs_and_reports_bad_config(env, tmp_path):
    from pdestudy.cli import main
    cfg = tmp_path / "ae.yaml"
    cfg.write_text(yaml.safe_dump(dict(AE, epochs=1)))
    assert main(["train", "--config", str(cfg), "--results", str(tmp_path / "r")]) == 0
    assert TrainConfig(**dict(AE, epochs=1)).run_dir(tmp_path / "r").joinpath("model.pt").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: autoencoder\nepochz: 3\n")
    assert main(["train", "--config", str(bad)]) == 2


def test_a_run_on_several_leads_holds_every_leads_windows():
    from pdestudy.train import lead_samples
    cfg = dyn(leads=[1, 2, 4], leadtime=True)
    frames = torch.arange(2 * 12, dtype=torch.float32).reshape(2, 12, 1, 1, 1).expand(2, 12, 1, 2, 2)  # value = index
    x, y, lead = lead_samples(cfg, frames)
    R = cfg.rollout
    assert len(x) == len(y) == len(lead) == sum(2 * (12 - R * dt) for dt in (1, 2, 4))
    assert sorted(set(lead.tolist())) == [1, 2, 4]
    steps = (y[:, :, 0, 0, 0] - x[:, :1, 0, 0, 0])  # targets R frames ahead, Δt apart
    assert torch.equal(steps, lead[:, None].float() * torch.arange(1, R + 1)[None].float())


def test_several_leads_need_a_conditioned_dynamics_model():
    with pytest.raises(ValueError, match="leadtime.*go together"):
        dyn(leads=[1, 2])
    with pytest.raises(ValueError, match="go together"):
        dyn(leadtime=True)
    with pytest.raises(ValueError, match="leave lead at 1"):
        dyn(leads=[1, 2], lead=2, leadtime=True)
    with pytest.raises(ValueError, match="distinct"):
        dyn(leads=[1, 1], leadtime=True)
    with pytest.raises(ValueError, match="only a dynamics run"):
        TrainConfig(task="fno", leads=[1, 2])
    assert dyn().key() == TrainConfig.from_dict({k: v for k, v in dyn().to_dict().items() if k != "leads"}).key()

