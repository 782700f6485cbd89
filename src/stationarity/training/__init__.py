"""Training a run: its spec, schedules, the loop, state, checkpoints, preemption and DDP.

Import the modules themselves (``training.spec`` is torch-free, for planning; ``training.loop``
trains); this file imports nothing so that planning never loads torch.
"""
