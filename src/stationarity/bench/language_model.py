"""Training tokens/s of a config's Transformer-XL: ``python -m stationarity.bench.language_model``.

Times full training steps (forward with memory, backward, clipping, Adam) on random tokens, so no
data needs preparing. GPU example, the paper's model at batch 60 × 150: ``--config
config/config.yaml --experiment wt103_transformerxl --vocab-size 267735 --device cuda``.
"""

import argparse
import time

import torch
import yaml

from ..models import build_model
from ..training.lm_task import LmTask
from ..training.loop import build_optimizer, pick_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's options."""
    parser.add_argument("--config", default="config/demo.yaml", help="a study's config file")
    parser.add_argument("--experiment", default="wikipedia_transformerxl")
    parser.add_argument("--vocab-size", type=int, default=9518, help="the corpus's vocabulary")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")


def tokens_per_second(
    experiment: dict, vocab_size: int, device: torch.device, warmup: int, steps: int
) -> float:
    """Training tokens per second of ``experiment`` (a config entry) on random tokens."""
    torch.manual_seed(0)
    options = {k: v for k, v in experiment["model"].items() if k != "name"}
    model = build_model("transformer_xl", vocab_size, (), **options).to(device)
    optimizer = build_optimizer(model, experiment["optimizer"])
    batch_size, length = experiment["batch_size"], experiment["data"]["tgt_len"]
    tokens = torch.randint(0, vocab_size, (batch_size * (length * (warmup + steps) + 1),))
    task = LmTask(tokens, batch_size, length, device)
    clip = experiment["optimizer"].get("grad_clip", float("inf"))
    for k, batch in enumerate(task.batches(0, 0)):
        if k == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        task.loss(model, batch).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size * length / (time.perf_counter() - start)


def main(args: argparse.Namespace) -> None:
    """Print the training throughput of the chosen experiment's model."""
    torch.set_num_threads(args.threads)
    experiment = yaml.safe_load(open(args.config))["experiments"][args.experiment]
    device = pick_device(args.device)
    rate = tokens_per_second(experiment, args.vocab_size, device, args.warmup, args.steps)
    print(f"{args.experiment} on {device}: {rate:,.0f} training tokens/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    main(parser.parse_args())
