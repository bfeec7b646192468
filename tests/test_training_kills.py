"""SIGKILL at any instant: a training run (train.py of a work dir) and a checkpoint writer are killed at random
(seeded) moments, many of them inside a checkpoint write, and each time ``latest.pth`` and ``best.pth`` load and
``--resume-from latest.pth`` carries on to the end of the schedule.

The suite kills a few times; more (README, Reliability):

    TS_KILL_ROUNDS=20 venv/bin/python -m pytest tests/test_training_kills.py
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import BUNDLED_DATA, PYTHON, REPO_ROOT, run_tool_env
from text_spotting.checkpoint import CheckpointError, read_checkpoint

TEMPLATE = REPO_ROOT / "model_templates" / "text-spotting-cpu-attention"
KILL_ROUNDS = int(os.environ.get("TS_KILL_ROUNDS", "0"))
SEED = int(os.environ.get("TS_KILL_SEED", "2026"))
# What the harness prints on stderr around a checkpoint write (see HARNESS).
SAVE_START, WRITE_START, WRITE_END, REPLACED = "@@save-start", "@@write-start", "@@write-end", "@@replaced"

# train.py with markers around each checkpoint write, and the write itself spread over ~0.2 s (64 chunks), so that a
# kill lands inside it when asked to. Everything else is the work dir's own train.py.
HARNESS = '''
import runpy, sys, time
import mmengine.fileio.backends.local_backend as local_backend
import text_spotting.checkpoint as checkpoint
import text_spotting.training.hooks as hooks


def mark(text):
    print(text, file=sys.stderr, flush=True)


def slow_put(self, obj, filepath):
    mark("@@write-start " + str(filepath))
    with open(filepath, "wb") as file:
        step = max(1, len(obj) // 64)
        for start in range(0, len(obj), step):
            file.write(obj[start:start + step])
            file.flush()
            time.sleep(0.003)
    mark("@@write-end " + str(filepath))


original_replace, original_save = checkpoint.atomic_replace, hooks.AtomicCheckpointHook.save


def replace(src, dst):
    original_replace(src, dst)
    mark("@@replaced " + str(dst))


def save(self, runner, name, *args, **kwargs):
    mark("@@save-start " + name)
    return original_save(self, runner, name, *args, **kwargs)


local_backend.LocalBackend.put = slow_put
hooks.atomic_replace = replace
hooks.AtomicCheckpointHook.save = save
train_py = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(train_py, run_name="__main__")
'''


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory) -> Path:
    """A work dir of the CPU template at 160x96 (a short step) and a 2-image training set (2 iterations an epoch)."""
    from text_spotting.templates import TEMPLATE_FILE, replace_top_level_block
    from text_spotting.work_dir import instantiate_template

    work = tmp_path_factory.mktemp("kills") / "work"
    instantiate_template(TEMPLATE, work, force=True)
    template_file = work / TEMPLATE_FILE
    template_file.write_text(replace_top_level_block(template_file.read_text(), "input_size", [160, 96]))
    coco = json.loads((BUNDLED_DATA / "annotation.json").read_text())
    images = coco["images"][:2]
    ids = {image["id"] for image in images}
    subset = dict(coco, images=images, annotations=[a for a in coco["annotations"] if a["image_id"] in ids])
    (work / "small.json").write_text(json.dumps(subset))
    (work / "harness.py").write_text(HARNESS)
    return work


class Run:
    """train.py under the harness, its stderr collected line by line (markers with their arrival times)."""

    def __init__(self, work: Path, out: Path, epochs: int, resume: bool):
        data = ["--train-ann-files", work / "small.json", "--train-data-roots", BUNDLED_DATA]
        command = [PYTHON, work / "harness.py", work / "train.py", *data, "--val-ann-files", work / "small.json",
                   "--val-data-roots", BUNDLED_DATA, "--save-checkpoints-to", out, "--batch-size", "1",
                   "--workers", "0", "--epochs", str(epochs)]
        if resume:
            command += ["--resume-from", out / "latest.pth"]
        env = run_tool_env()
        env["OMP_NUM_THREADS"] = "1"
        self.started = time.monotonic()
        self.process = subprocess.Popen([str(c) for c in command], cwd=work, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines: list[tuple[float, str]] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def markers(self, prefix: str) -> int:
        return sum(line.startswith(prefix) for _, line in list(self.lines))

    def wait_for(self, prefix: str, count: int, timeout: float = 240) -> bool:
        deadline = time.monotonic() + timeout
        while self.markers(prefix) < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code

    def log(self) -> str:
        return "\n".join(line for _, line in self.lines[-40:])


def inside_write(run: Run) -> bool:
    """Whether the last checkpoint write began and neither ended nor was renamed into place."""
    return run.markers(WRITE_START) > run.markers(WRITE_END) or run.markers(WRITE_END) > run.markers(REPLACED)


def check_checkpoints(out: Path) -> int:
    """Both files load when they exist; returns the epochs recorded in latest.pth (0 when there is none yet)."""
    epochs = 0
    for name in ("latest.pth", "best.pth"):
        if (out / name).exists():
            try:
                checkpoint = read_checkpoint(out / name)
            except CheckpointError as error:
                pytest.fail(f"after a kill: {error}")
            assert checkpoint["state_dict"] and all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values()
                                                    if v.is_floating_point())
            if name == "latest.pth":
                epochs = checkpoint["meta"]["epoch"]
    return epochs


def test_training_killed_at_random_moments_resumes_to_the_end(work_dir, tmp_path):
    """Round 0 kills a fresh run inside the write of its second latest.pth (the first one must survive); round 1
    resumes and is killed inside its first write; each later round resumes and is killed inside one of its next two
    checkpoint writes or, every third round, at a random moment. A last run resumes to the end of the schedule."""
    rng = random.Random(SEED)
    out = tmp_path / "ckpt"
    rounds = KILL_ROUNDS or 2
    total_epochs = max(2, rounds - 1)  # the suite's 2 rounds: 2 epochs, round 1 kills in the last write
    inside, history = 0, []
    for round_index in range(rounds):
        done = check_checkpoints(out)
        run = Run(work_dir, out, total_epochs, resume=(out / "latest.pth").exists())
        # A fresh run writes best.pth and latest.pth after epoch 1, then latest.pth after each epoch (an untrained
        # model does not improve its hmean of 0); a resumed run writes latest.pth after each epoch.
        target = 3 if round_index == 0 else 1 if round_index == 1 else rng.randint(1, 2)
        if round_index % 3 == 2:
            time.sleep(rng.uniform(1.0, 10.0))
        elif run.wait_for(WRITE_START, target):
            time.sleep(rng.uniform(0.0, 0.25))  # the write is spread over ~0.2 s, the fsync and rename follow
        was_inside = inside_write(run)
        run.kill()
        inside += was_inside
        after = check_checkpoints(out)
        assert after >= done, f"latest.pth went back from epoch {done} to {after}"
        history.append((round_index, "in a write" if was_inside else "elsewhere", after))
    assert history[0][2] >= 1, f"the first latest.pth did not survive a kill in the second one's write: {history}"
    final = Run(work_dir, out, total_epochs, resume=True)
    assert final.finish() == 0, final.log()
    assert check_checkpoints(out) == total_epochs and (out / "best.pth").is_file()
    assert not list(out.glob(".*.tmp")), "temp files of killed writes were left behind"
    print(f"{rounds} kills ({inside} inside a checkpoint write); (round, where, epochs in latest.pth): {history}")
    assert inside >= 1, "no kill landed inside a checkpoint write"


# ---------------------------------------------------------------------------------------------------------------------
# The write itself, many times: a forked child writes latest.pth over and over (atomic_save, as make_snapshot and
# release_weights do) and is killed at a random moment, again and again.

def _write_forever(path: Path, weights: torch.Tensor, generation: int) -> None:
    """The child's loop; never returns. Only serial work after the fork (no intra-op threads)."""
    from text_spotting.checkpoint import atomic_save

    try:
        while True:
            generation += 1
            atomic_save({"state_dict": {"w": weights, "generation": torch.tensor([generation])},
                         "meta": {"generation": generation}}, path)
    finally:
        os._exit(0)


def test_atomic_save_killed_at_random_moments_leaves_a_whole_file(tmp_path):
    rng = random.Random(SEED)
    path = tmp_path / "latest.pth"
    weights = torch.arange(1 << 20, dtype=torch.float32)  # 4 MB: a write takes a few milliseconds
    generation, kills = 0, (KILL_ROUNDS or 4) * 5
    for _ in range(kills):
        child = os.fork()
        if child == 0:
            _write_forever(path, weights, generation)
        time.sleep(rng.uniform(0.0, 0.3))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        if path.exists():
            checkpoint = read_checkpoint(path)
            assert checkpoint["state_dict"]["generation"].item() == checkpoint["meta"]["generation"], "a mixed file"
            assert torch.equal(checkpoint["state_dict"]["w"], weights)
            generation = checkpoint["meta"]["generation"]
    assert generation > 0, "no write ever completed"
    from text_spotting.checkpoint import remove_stale_temp_files

    remove_stale_temp_files(tmp_path, ("latest.pth",))
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pth"]
    print(f"{kills} kills of a checkpoint writer; {generation} checkpoints written in all")
