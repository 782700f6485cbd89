"""A run's identity: what changes it, what does not, and the loader that checks it."""

import copy

import pytest
import torch

from stationarity.plan.runs import run_spec
from stationarity.training.checkpoints import (
    IdentityMismatchError,
    load_verified,
    serialize_checkpoint,
    write_checkpoint,
)
from stationarity.training.identity import changes

CONFIG = {
    "data": {"name": "mnist5k", "root": "data/mnist5k", "resize": 14, "augment": "affine"},
    "model": {"name": "cnn_8_16"},
    "optimizer": {"name": "sgd", "momentum": 0.9, "weight_decay": 5e-4},
    "batch_size": 128,
    "epochs": 4,
    "checkpoint_every": {"epochs": 1},
    "precision": "fp32",
    "schedules": {"const": {"kind": "constant", "lr": 0.1, "label": "η = 0.1"}},
}
SETTINGS = {"experiment": "e", "schedule": "const", "seed": 0, "config": CONFIG}


def identity(edit=None, **settings) -> str:
    """The identity of SETTINGS after ``edit(config)`` and with other settings."""
    config = copy.deepcopy(CONFIG)
    if edit is not None:
        edit(config)
    return run_spec({**SETTINGS, "config": config, **settings}).identity


# One setting of each kind that defines a trajectory.
DEFINING = {
    "data option": lambda c: c["data"].update(resize=7),
    "data set": lambda c: c["data"].update(name="digits"),
    "model": lambda c: c["model"].update(name="cnn_16_32_bn"),
    "optimizer": lambda c: c["optimizer"].update(momentum=0.8),
    "schedule": lambda c: c["schedules"]["const"].update(lr=0.05),
    "batch size": lambda c: c.update(batch_size=64),
    "length": lambda c: c.update(epochs=5),
    "precision": lambda c: c.update(precision="bf16"),
    "checkpoint cadence": lambda c: c.update(checkpoint_every={"epochs": 2}),
}


@pytest.mark.parametrize("kind", DEFINING)
def test_every_defining_setting_changes_the_identity(kind):
    assert identity(DEFINING[kind]) != identity()


def test_seed_gpus_and_branch_parent_change_the_identity():
    base = identity()
    assert identity(seed=1) != base
    assert identity(gpus=4) != base
    parent = {"identity": "0123456789ab", "step": 40}
    assert identity(parent=parent) != base
    assert identity(parent={**parent, "step": 80}) != identity(parent=parent)
    assert identity(parent={**parent, "identity": "ba9876543210"}) != identity(parent=parent)


def test_paths_labels_and_tracking_leave_the_identity_alone():
    base = identity()
    assert identity(lambda c: c["data"].update(root="/elsewhere/mnist5k")) == base
    assert identity(lambda c: c["schedules"]["const"].update(label="another label")) == base
    assert identity(lambda c: c.update(statistics={"samples": 64})) == base
    assert identity(wandb={"mode": "online", "project": "p"}) == base
    assert identity(init_from="results/x/step00000040.pt") == base
    assert len(base) == 12 and identity() == base  # stable


def test_changes_name_each_differing_key():
    old = run_spec(SETTINGS).definition
    config = copy.deepcopy(CONFIG)
    config["schedules"]["const"]["lr"] = 0.05
    new = run_spec({**SETTINGS, "config": config, "seed": 3}).definition
    assert changes(old, new) == ["schedule.lr: 0.1 → 0.05", "seed: 0 → 3"]


def test_the_loader_refuses_a_checkpoint_of_another_identity(tmp_path):
    state = {"step": 4, "identity": identity()}
    write_checkpoint(
        serialize_checkpoint(state), tmp_path, tmp_path / "manifest.tsv", step=4, epoch=1.0,
        identity=identity(),
    )  # fmt: skip
    path = tmp_path / "step00000004.pt"
    assert load_verified(path, identity())["step"] == 4
    other = identity(DEFINING["schedule"])
    with pytest.raises(IdentityMismatchError, match=rf"{path}.*{identity()}.*expected '{other}'"):
        load_verified(path, other)
    # A file swapped in under the same name fails its manifest hash instead.
    torch.save({"step": 4, "identity": other}, path)
    with pytest.raises(
        Exception,
        match=r"step00000004.pt is truncated or corrupt: sha256.*"
        r"Nothing was used: restore the file, or move the folder",
    ):
        load_verified(path, identity())
