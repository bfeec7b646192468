"""mmengine hooks of the training loop: atomic latest/best checkpoints with RNG state, a progress bar, and a clean stop
on Ctrl-C / SIGTERM that saves ``latest.pth`` first."""
from __future__ import annotations

import math
import random
import signal
import time
from pathlib import Path

import numpy as np
import torch
from mmengine.dist import is_main_process, master_only
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from tqdm import tqdm

from ..checkpoint import atomic_replace, from_safe_checkpoint, remove_stale_temp_files, to_safe_checkpoint

LATEST = "latest.pth"
BEST = "best.pth"


def capture_rng_state() -> dict:
    """Python, numpy and torch RNG states as plain, safely loadable types."""
    np_state = np.random.get_state()
    return {
        "python": repr(random.getstate()),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }


def restore_rng_state(state: dict) -> None:
    import ast

    random.setstate(_to_tuple(ast.literal_eval(state["python"])))
    numpy = state["numpy"]
    np.random.set_state(("MT19937", numpy["key"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
                         numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


def _to_tuple(value):
    return tuple(_to_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


@HOOKS.register_module()
class AtomicCheckpointHook(Hook):
    """Writes ``out_dir/latest.pth`` after every epoch and ``out_dir/best.pth`` whenever ``save_best`` improves.

    Each file is written to a temp name, fsynced and renamed (and the directory fsynced), so a kill at any moment
    leaves the previous checkpoint intact; the temp files of writes killed halfway are removed when the next run
    starts. The checkpoint also holds the RNG states, restored on ``--resume-from`` for an exact continuation.
    """

    priority = "VERY_LOW"

    def __init__(self, out_dir: str, save_best: str = "word_spotting/hmean", rule: str = "greater"):
        self.out_dir = Path(out_dir)
        self.save_best = save_best
        self.rule = rule
        self.best_score = -math.inf if rule == "greater" else math.inf

    def before_run(self, runner) -> None:
        if is_main_process():
            for stale in remove_stale_temp_files(self.out_dir, (LATEST, BEST)):
                runner.logger.info(f"removed {stale.name}, left by a checkpoint write that was interrupted")

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint["rng_state"] = capture_rng_state()
        checkpoint.setdefault("meta", {})["best_score"] = float(self.best_score)
        checkpoint["meta"]["best_metric"] = self.save_best
        template = runner.cfg.get("template")
        if template is not None:
            # plain types only: the file must load under torch.load(weights_only=True)
            checkpoint["meta"]["template"] = template.to_dict()
        to_safe_checkpoint(checkpoint)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from_safe_checkpoint(checkpoint)
        if "rng_state" in checkpoint:
            restore_rng_state(checkpoint["rng_state"])
        best = checkpoint.get("meta", {}).get("best_score")
        if best is not None and checkpoint.get("meta", {}).get("best_metric") == self.save_best:
            self.best_score = float(best)

    def save(self, runner, name: str, epochs_done: int, iters_done: int | None = None) -> Path:
        """Saves the runner's state atomically as ``out_dir/name``, recording ``epochs_done`` complete epochs and
        ``iters_done`` iterations (default: the runner's count)."""
        tmp_name = f".{name}.{int(time.time() * 1000)}.tmp"
        iters_done = runner.iter if iters_done is None else iters_done
        runner.save_checkpoint(str(self.out_dir), tmp_name, meta=dict(epoch=epochs_done, iter=iters_done))
        target = self.out_dir / name
        if is_main_process():
            atomic_replace(self.out_dir / tmp_name, target)
        return target

    @staticmethod
    def _validates(runner) -> bool:
        return runner.cfg.get("val_cfg") is not None

    def after_train_epoch(self, runner) -> None:
        # With validation, latest.pth is written after it (below), so that its RNG state is the one the next epoch
        # starts from: resuming then gives exactly the same run as not stopping.
        if not self._validates(runner):
            self.save(runner, LATEST, epochs_done=runner.epoch + 1)

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        epochs_done = runner.epoch  # the train loop has counted the finished epoch by now
        key = next((k for k in metrics or {} if k == self.save_best or k.endswith("/" + self.save_best)), None)
        if key is None:
            runner.logger.warning(f"best.pth: metric '{self.save_best}' not among {sorted(metrics or {})}; not saved")
        else:
            score = float(metrics[key])
            better = score > self.best_score if self.rule == "greater" else score < self.best_score
            if better or not (self.out_dir / BEST).exists():
                self.best_score = score if better else self.best_score
                self.save(runner, BEST, epochs_done)
                runner.logger.info(f"best.pth: {key} = {score:.4f} (epoch {epochs_done})")
        self.save(runner, LATEST, epochs_done)


@HOOKS.register_module()
class GracefulStopHook(Hook):
    """Turns SIGINT/SIGTERM into a stop after the current iteration, with ``latest.pth`` saved first.

    A second Ctrl-C while waiting stops at once (``KeyboardInterrupt``); ``latest.pth`` is then the last saved one.
    """

    priority = "VERY_LOW"

    def __init__(self, checkpoint_hook: AtomicCheckpointHook):
        self.checkpoint_hook = checkpoint_hook
        self.stop_signal: int | None = None
        self._previous = {}

    def before_run(self, runner) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def after_run(self, runner) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum, frame) -> None:
        if self.stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.stop_signal = signum

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.stop_signal is None:
            return
        # The epoch is not finished: record it as not done, so --resume-from runs it again with the iteration
        # counter (and LR schedule) where it stopped.
        # runner.iter counts this iteration only after the hooks: it is done, so +1.
        path = self.checkpoint_hook.save(runner, LATEST, epochs_done=runner.epoch, iters_done=runner.iter + 1)
        name = signal.Signals(self.stop_signal).name
        runner.logger.info(f"{name}: saved {path} at iteration {runner.iter + 1}; stopping")
        raise SystemExit(128 + self.stop_signal)


@HOOKS.register_module()
class TrainingProgressHook(Hook):
    """A tqdm bar per epoch with the loss terms, images/s and the ETA of the whole run."""

    priority = "BELOW_NORMAL"

    def __init__(self, batch_size: int, world_size: int = 1):
        self.images_per_iter = batch_size * world_size
        self.bar = None
        self.run_start = None
        self.run_start_iter = 0

    @master_only
    def before_train(self, runner) -> None:
        self.run_start = time.perf_counter()
        self.run_start_iter = runner.iter

    @master_only
    def before_train_epoch(self, runner) -> None:
        self.bar = tqdm(total=len(runner.train_dataloader), desc=f"epoch {runner.epoch + 1}/{runner.max_epochs}",
                        unit="it", dynamic_ncols=True, leave=True)

    @master_only
    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.bar is None:
            return
        done = runner.iter + 1 - self.run_start_iter
        elapsed = time.perf_counter() - self.run_start
        speed = done * self.images_per_iter / max(elapsed, 1e-9)
        remaining = (runner.max_iters - runner.iter - 1) * elapsed / max(done, 1)
        postfix = {k.replace("loss_", ""): f"{float(v.detach()):.3f}" for k, v in (outputs or {}).items()
                   if k.startswith("loss") and k != "loss"}
        postfix["loss"] = f"{float(outputs['loss'].detach()):.3f}" if outputs and "loss" in outputs else "-"
        postfix["img/s"] = f"{speed:.2f}"
        postfix["ETA"] = time.strftime("%H:%M:%S", time.gmtime(remaining))
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)

    @master_only
    def after_train_epoch(self, runner) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
