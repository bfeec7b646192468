"""Training: turns the command-line options of ``train.py`` into an mmengine Runner and runs it.

One process on CPU or one GPU; ``gpu_num > 1`` spawns that many processes with torch.distributed (nccl on GPUs, gloo
on CPU), each training on its own shard. Under ``torchrun`` (``WORLD_SIZE`` set) the processes already exist and each
one just joins the group.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.hooks import Hook

from ..templates import load_config
from ..checkpoint import CheckpointError, load_weights, read_checkpoint
from .hooks import LATEST, AtomicCheckpointHook, GracefulStopHook, TrainingProgressHook


@dataclass
class TrainOptions:
    """What ``train.py`` was asked to do (SPEC §3); ``None`` means "the template's default"."""

    template_dir: Path
    train_ann_files: list[str]
    train_data_roots: list[str]
    save_checkpoints_to: Path
    val_ann_files: list[str] = field(default_factory=list)
    val_data_roots: list[str] = field(default_factory=list)
    load_weights: str | None = None
    resume_from: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    base_learning_rate: float | None = None
    gpu_num: int = 1
    workers: int | None = None
    seed: int = 42


class TrainingError(ValueError):
    """Bad training options; the message says which and why."""


def dataset_cfg(base: ConfigDict, ann_files: list[str], roots: list[str], what: str) -> dict:
    """One dataset config per (annotation, root) pair, concatenated when there are several."""
    if len(ann_files) != len(roots):
        raise TrainingError(f"--{what}-ann-files has {len(ann_files)} entries but --{what}-data-roots has {len(roots)}")
    datasets = []
    for ann_file, root in zip(ann_files, roots):
        ann_path, root_path = Path(ann_file).expanduser().resolve(), Path(root).expanduser().resolve()
        if not ann_path.is_file():
            raise TrainingError(f"{ann_path}: annotation file not found (--{what}-ann-files)")
        if not root_path.is_dir():
            raise TrainingError(f"{root_path}: data root is not a directory (--{what}-data-roots)")
        ds = base.copy()
        ds.update(ann_file=str(ann_path), data_root=str(root_path), data_prefix=dict(img=""))
        datasets.append(ds)
    return datasets[0] if len(datasets) == 1 else dict(type="ConcatDataset", datasets=datasets)


def build_training_config(opts: TrainOptions, world_size: int = 1) -> Config:
    """The template's config with the options applied (data, schedule overrides, hooks, output dir)."""
    cfg = load_config(opts.template_dir)
    if opts.epochs is not None:
        cfg.train_cfg.max_epochs = opts.epochs
        for scheduler in cfg.param_scheduler:
            if scheduler.get("type") == "MultiStepLR":
                scheduler["end"] = opts.epochs
    if opts.batch_size is not None:
        cfg.train_dataloader.batch_size = opts.batch_size
    if opts.base_learning_rate is not None:
        cfg.optim_wrapper.optimizer.lr = opts.base_learning_rate
    if opts.workers is not None:
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            cfg[loader].num_workers = opts.workers
            cfg[loader].persistent_workers = False
    cfg.train_dataloader.dataset = dataset_cfg(cfg.train_dataloader.dataset, opts.train_ann_files,
                                               opts.train_data_roots, "train")
    if opts.val_ann_files:
        cfg.val_dataloader.dataset = dataset_cfg(cfg.val_dataloader.dataset, opts.val_ann_files,
                                                 opts.val_data_roots, "val")
        cfg.test_dataloader = cfg.val_dataloader
    else:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.work_dir = str(opts.save_checkpoints_to)
    cfg.randomness = dict(seed=opts.seed, deterministic=False)
    cfg.launcher = "pytorch" if world_size > 1 else "none"
    if world_size > 1 and not torch.cuda.is_available():
        # mmengine's default wrapper pins a CUDA device; on CPU, DDP must get no device ids.
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None,
                                     broadcast_buffers=False, find_unused_parameters=True)
    cfg.default_hooks.logger.interval = min(cfg.default_hooks.logger.interval, 10)
    if opts.resume_from:
        cfg.resume, cfg.load_from = True, str(Path(opts.resume_from).resolve())
    return cfg


class LoadWeightsHook(Hook):
    """``--load-weights``: after mmengine's own weight init, copies every matching tensor and reports the rest."""

    priority = "VERY_HIGH"

    def __init__(self, path: str):
        self.path = path

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, "module") else runner.model
        report = load_weights(model, self.path)
        runner.logger.info(f"--load-weights {self.path}: loaded {len(report['loaded'])} tensors; "
                           f"{len(report['missing'])} model tensors not in the file, "
                           f"{len(report['unexpected'])} file tensors not in the model, "
                           f"{len(report['shape_mismatch'])} with other shapes")
        for line in report["shape_mismatch"]:
            runner.logger.info(f"  shape mismatch (left at init): {line}")
        for name in report["missing"][:50]:
            runner.logger.info(f"  not in the file (left at init): {name}")


def run_training(opts: TrainOptions, world_size: int = 1) -> int:
    """Trains in this process (rank from the environment when distributed). Returns the exit code."""
    from mmengine.runner import Runner

    from ..registration import register_all_modules

    register_all_modules()  # the config names our dataset, transforms, model and metric

    cfg = build_training_config(opts, world_size)
    runner = Runner.from_cfg(cfg)
    checkpoint_hook = AtomicCheckpointHook(str(opts.save_checkpoints_to))
    runner.register_hook(checkpoint_hook)
    runner.register_hook(GracefulStopHook(checkpoint_hook))
    runner.register_hook(TrainingProgressHook(cfg.train_dataloader.batch_size, world_size))
    if opts.load_weights:
        runner.register_hook(LoadWeightsHook(opts.load_weights))
    runner.train()
    runner.logger.info(f"done: {Path(opts.save_checkpoints_to) / LATEST}")
    return 0


def check_options(opts: TrainOptions) -> str | None:
    """Validates options before any process starts. Returns a message when there is nothing to train."""
    if opts.resume_from and opts.load_weights:
        raise TrainingError("--resume-from and --load-weights exclude each other: resume continues a schedule, "
                            "load-weights starts a new one")
    # read_checkpoint: a clean one-line error for a missing, truncated or foreign file
    if opts.load_weights:
        read_checkpoint(opts.load_weights)
    if opts.resume_from:
        done = read_checkpoint(opts.resume_from).get("meta", {}).get("epoch", 0)
        if not isinstance(done, int) or isinstance(done, bool) or done < 0:
            raise CheckpointError(f"{opts.resume_from}: field 'meta.epoch' must be the number of epochs done, got "
                                  f"{done!r:.40}")
        total = opts.epochs if opts.epochs is not None else load_config(opts.template_dir).train_cfg.max_epochs
        if total <= done:
            return (f"{opts.resume_from} has already trained {done} epochs and --epochs is {total} (the total, not "
                    f"additional epochs): nothing to do, checkpoints left untouched")
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _distributed_worker(local_rank: int, opts: TrainOptions, world_size: int, port: int) -> None:
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    join_process_group()
    run_training(opts, world_size)


def join_process_group() -> None:
    """Joins the group described by the torchrun-style environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)."""
    if torch_dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        backend = "nccl"
    else:
        backend = "gloo"
    torch_dist.init_process_group(backend=backend, rank=int(os.environ["RANK"]),
                                  world_size=int(os.environ["WORLD_SIZE"]))


def train(opts: TrainOptions) -> int:
    """Entry point of ``train.py``: validates, then trains in 1 process or ``gpu_num`` processes."""
    message = check_options(opts)
    if message:
        print(message)
        return 0
    Path(opts.save_checkpoints_to).mkdir(parents=True, exist_ok=True)
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        join_process_group()  # started by torchrun (possibly multi-node)
        return run_training(opts, int(os.environ["WORLD_SIZE"]))
    if opts.gpu_num > 1:
        if torch.cuda.is_available() and torch.cuda.device_count() < opts.gpu_num:
            raise TrainingError(f"--gpu-num {opts.gpu_num}: only {torch.cuda.device_count()} GPUs visible")
        torch.multiprocessing.spawn(_distributed_worker, args=(opts, opts.gpu_num, _free_port()),
                                    nprocs=opts.gpu_num, join=True)
        return 0
    return run_training(opts)


__all__ = ["TrainOptions", "TrainingError", "CheckpointError", "train", "build_training_config"]
