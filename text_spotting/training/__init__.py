"""Training glue: checkpoints, hooks, the launcher behind ``train.py``."""
from ..checkpoint import CheckpointError, atomic_save, load_weights, read_checkpoint, sha256_of
from .hooks import AtomicCheckpointHook, GracefulStopHook, TrainingProgressHook
from .launcher import TrainingError, TrainOptions, train
