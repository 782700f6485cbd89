# The measurement plan: which checkpoint of which run is estimated, studied and collected.
# Checkpoint steps are known before training (stationarity.run_plan), so a dry run lists every job.

from stationarity.run_plan import planned_checkpoints, run_spec

STATS = f"{RESULTS}/stats/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.parquet"
SAMPLE_SIZE = f"{RESULTS}/sample_size/{{experiment}}/{{schedule}}/seed{{seed}}/step{{step}}.parquet"
TRAIN_LOG = f"{RUN_DIR}/train_log.parquet"
TABLE = f"{RESULTS}/tables/{{experiment}}.parquet"
TABLES = {
    "stats": TABLE,
    "iterations": f"{RESULTS}/tables/{{experiment}}.iterations.parquet",
    "sample_size": f"{RESULTS}/tables/{{experiment}}.sample_size.parquet",
}


# Keys of an experiment that do not change how its runs train. They are left out of the train
# jobs' params, so editing them (adding a schedule, measuring differently) retrains nothing.
NOT_TRAINING = ("label", "seeds", "schedules", "statistics", "sample_size")


def run_settings(experiment, schedule, seed):
    """The plain-data description of one run: its experiment's training keys and its schedule."""
    settings = EXPERIMENTS[experiment]
    training = {k: v for k, v in settings.items() if k not in NOT_TRAINING}
    training["schedules"] = {schedule: settings["schedules"][schedule]}
    return {
        "experiment": experiment,
        "schedule": schedule,
        "seed": int(seed),
        "config": training,
    }


def estimate_settings(wildcards):
    """A run's settings and its experiment's `statistics`: all that an estimate job depends on."""
    run = run_settings(wildcards.experiment, wildcards.schedule, wildcards.seed)
    statistics = EXPERIMENTS[wildcards.experiment]["statistics"]
    return {**run, "config": {**run["config"], "statistics": statistics}}


CHECKPOINTS = {run: planned_checkpoints(run_spec(run_settings(*run))) for run in RUNS}


def estimated_steps(run):
    """Every `every`-th checkpoint of a run, with its first and last."""
    steps, every = CHECKPOINTS[run], EXPERIMENTS[run[0]]["statistics"].get("every", 1)
    return sorted(set(steps[::every]) | {steps[-1]})


def studied_steps(run):
    """The checkpoints nearest to the fractions of training the sample-size study asks for."""
    study = EXPERIMENTS[run[0]].get("sample_size")
    if study is None:
        return []
    steps = CHECKPOINTS[run]
    return sorted(
        {min(steps, key=lambda s: abs(s - at * steps[-1])) for at in study["at"]}
    )


def run_files(template, experiment, steps_of):
    """The files of `template` for every run of an experiment and the steps `steps_of` gives."""
    return [
        template.format(experiment=e, schedule=s, seed=seed, step=f"{step:08d}")
        for e, s, seed in RUNS
        if e == experiment
        for step in steps_of((e, s, seed))
    ]


def collect_inputs(wildcards):
    """Everything measured for one experiment: estimates, sample-size studies, training logs."""
    name = wildcards.experiment
    return {
        "stats": run_files(STATS, name, estimated_steps),
        "sample_size": run_files(SAMPLE_SIZE, name, studied_steps),
        "train_logs": [
            TRAIN_LOG.format(experiment=e, schedule=s, seed=seed)
            for e, s, seed in RUNS
            if e == name
        ],
    }


def all_tables():
    """The tidy tables of every experiment."""
    return [TABLE.format(experiment=name) for name in EXPERIMENTS]


def estimate_gpus(wildcards):
    """One GPU where the run trained on GPUs (the statistics need no more), else none."""
    return min(train_gpus(wildcards), 1)


def sample_sizes(wildcards):
    """The subset sizes of an experiment's sample-size study."""
    return EXPERIMENTS[wildcards.experiment]["sample_size"]["sizes"]


def branch_start(experiment, schedule, seed):
    """A branch run's parent (schedule) and the parent checkpoint step it starts from, or None."""
    origin = EXPERIMENTS[experiment]["schedules"][schedule].get("from_checkpoint")
    if origin is None:
        return None
    steps = CHECKPOINTS[(experiment, origin["schedule"], int(seed))]
    step = min(steps, key=lambda s: abs(s - origin["at"] * steps[-1]))
    return origin["schedule"], step


def train_inputs(wildcards):
    """A run's prepared data, and for a branch the parent run it starts from."""
    inputs = {"data": data_receipt(wildcards)}
    start = branch_start(wildcards.experiment, wildcards.schedule, wildcards.seed)
    if start is not None:
        inputs["parent"] = MANIFEST.format(
            experiment=wildcards.experiment, schedule=start[0], seed=wildcards.seed
        )
    return inputs


def branch_checkpoint(wildcards):
    """The checkpoint file a branch starts from (None for an ordinary run)."""
    start = branch_start(wildcards.experiment, wildcards.schedule, wildcards.seed)
    if start is None:
        return None
    parent = RUN_DIR.format(
        experiment=wildcards.experiment, schedule=start[0], seed=wildcards.seed
    )
    return f"{parent}/checkpoints/step{start[1]:08d}.pt"


def branches_of(experiment, schedules):
    """For the branch runs among schedules (seed 0 of each): {schedule: [parent, step]}."""
    seed = EXPERIMENTS[experiment]["seeds"][0]
    starts = {s: branch_start(experiment, s, seed) for s in schedules}
    return {s: list(start) for s, start in starts.items() if start is not None}
