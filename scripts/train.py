"""Train the tiny ParC-ConvNeXt (or its 7x7 depthwise baseline) on digits placed on 56x56.

    python -m scripts.train --epochs 20 --seed 0 --out weights/             # ParC
    python -m scripts.train --epochs 20 --seed 0 --out weights/ --mixer dw7 # baseline

Writes ``OUT/<mixer>/model.pt`` (the state_dict, loadable with
``torch.load(..., weights_only=True)``) and ``OUT/<mixer>/provenance.json`` (data, split,
seed, epochs, test accuracy, library versions, command, model config, ParC layers).
CPU only; a tqdm bar shows each epoch. Data: `golden.parc_net` (sklearn's digits, no
download). The test set is never used for any choice during training: it is evaluated
once, at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from golden.cli import Parser, run
from golden.files import OutputFolder

TRAIN_FILES = ("model.pt", "provenance.json")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = Parser("scripts.train", __doc__.split("\n\n")[0], "python -m scripts.train --epochs 20 --seed 0 --out weights/")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0, help="weight init, batch order and train placements")
    p.add_argument("--split-seed", type=int, default=0, help="train/test split and test placements")
    p.add_argument("--out", type=Path, default=Path("weights"), help="files go to OUT/<mixer>/")
    p.add_argument(
        "--mixer", choices=("parc", "dw7"), default="parc", help="ParC-H/W token mixer or 7x7 depthwise conv"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--subset", type=int, default=None, help="train on the first K training images only (smoke runs)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (keep 1-2 on shared machines)")
    p.add_argument("--no-progress", action="store_true", help="hide the tqdm bar")
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    if args.subset is not None and args.subset < 1:
        p.error("--subset must be >= 1")
    if not 1 <= args.threads <= 64:
        p.error("--threads must be 1..64")
    return args


def save_state_dict(state: dict, path: Path) -> None:
    """torch.save through a buffer: the zip's inner folder is then always "archive", not the
    temporary file's random name, so the same tensors give a byte-identical file."""
    import io

    import torch

    from golden.files import atomic_write

    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(buf.getvalue()))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _main(argv: list[str] | None) -> int:
    args = parse_args(argv)
    out = OutputFolder(
        args.out / args.mixer, tool="scripts.train", option="--out", expect=TRAIN_FILES
    )  # before training
    import sklearn
    import torch
    import torch.nn.functional as F
    import tqdm
    from tqdm import tqdm as progress

    from golden import parc_net as pn
    from golden.weights import list_layers

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    start = time.time()
    cpu_start = time.process_time()

    split = pn.load_split(args.split_seed)
    test_x = pn.test_canvases(split)
    config = {**pn.DEFAULT_CONFIG, "mixer": args.mixer}
    model = pn.ParcNet(config)
    n_train = split.train_labels.size if args.subset is None else min(args.subset, split.train_labels.size)
    steps_per_epoch = -(-n_train // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, int(round(args.warmup_epochs * steps_per_epoch)))
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".pe") else decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr
    )
    gen = torch.Generator().manual_seed(args.seed)

    step = 0
    history = []
    for epoch in range(args.epochs):
        model.train()
        x, y = pn.train_canvases(split, args.seed, epoch, args.subset)
        order = torch.randperm(x.shape[0], generator=gen).numpy()
        seen = correct = 0
        loss_sum = 0.0
        bar = progress(
            range(steps_per_epoch),
            desc=f"{args.mixer} epoch {epoch + 1}/{args.epochs}",
            unit="batch",
            disable=args.no_progress,
            leave=True,
        )
        for b in bar:
            idx = order[b * args.batch_size : (b + 1) * args.batch_size]
            xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
            for group in opt.param_groups:
                group["lr"] = pn.cosine_lr(step, total_steps, warmup, args.lr)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += idx.size
            correct += int((logits.argmax(1) == yb).sum())
            loss_sum += loss.item() * idx.size
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", train_acc=f"{correct / seen:.3f}")
        bar.close()
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_accuracy": correct / seen})
    train_seconds = time.time() - start
    cpu_seconds = time.process_time() - cpu_start

    result = pn.evaluate(model, test_x, split.test_labels)
    print(
        f"{args.mixer}: test accuracy {result.accuracy:.4f} ({result.correct}/{result.total}), "
        f"{train_seconds:.0f} s of training ({cpu_seconds:.0f} s CPU) on {args.threads} thread(s)"
    )

    with out:  # staged, then published with the folder's manifest.json (golden.files)
        weights_path = out.path / "model.pt"
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        save_state_dict(state, weights_path)
        provenance = {
            "command": "python -m scripts.train " + shlex.join(sys.argv[1:] if argv is None else argv),
            "data": split.describe(),
            "split": {
                "split_seed": split.split_seed,
                "train_index_sha256": hashlib.sha256(split.train_index.astype("<i8").tobytes()).hexdigest(),
                "test_index_sha256": hashlib.sha256(split.test_index.astype("<i8").tobytes()).hexdigest(),
                "subset": args.subset,
            },
            "seed": args.seed,
            "epochs": args.epochs,
            "optimizer": {
                "name": "AdamW",
                "lr": args.lr,
                "weight_decay": args.weight_decay,
                "schedule": f"linear warmup {args.warmup_epochs} epoch(s), cosine to 0",
                "batch_size": args.batch_size,
                "loss": "cross entropy",
            },
            "mixer": args.mixer,
            "model": config,
            "parameters": pn.count_parameters(model),
            "test_accuracy": result.accuracy,
            "test_correct": result.correct,
            "test_total": result.total,
            "history": history,
            "train_seconds": round(train_seconds, 1),  # wall clock (includes data loading)
            "train_cpu_seconds": round(cpu_seconds, 1),  # this process only: unaffected by other jobs
            "threads": args.threads,
            "weights_file": weights_path.name,
            "weights_sha256": sha256(weights_path),
            "parc_layers": [
                {"name": i.name, "direction": i.direction, "channels": i.channels, "n": i.n, "layout": i.layout}
                for i in list_layers(weights_path)
            ],
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "numpy": np.__version__,
                "scikit-learn": sklearn.__version__,
                "tqdm": tqdm.__version__,
            },
        }
        (out.path / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
        out.commit()
    print(f"wrote {out.target / 'model.pt'} and {out.target / 'provenance.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line: one error line and exit status 2 for any user mistake (golden.cli)."""
    return run("python -m scripts.train", lambda: _main(argv))


if __name__ == "__main__":
    sys.exit(main())
