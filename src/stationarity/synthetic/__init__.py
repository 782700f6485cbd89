"""Closed-form experiments of the paper: the 2-D sine landscape (Fig. 5), Lemma 2 and Theorem 1."""

from stationarity.synthetic.lemma2 import lemma2_orbit, lemma2_table
from stationarity.synthetic.sine import gradient_descent, sine_gradient, sine_loss, sine_table
from stationarity.synthetic.theorem1 import one_step_gain, theorem1_table

# experiment name (as in config `synthetic:`) → function of that config block returning its table
TABLES = {"sine": sine_table, "lemma2": lemma2_table, "theorem1": theorem1_table}

__all__ = [
    "TABLES",
    "gradient_descent",
    "lemma2_orbit",
    "lemma2_table",
    "one_step_gain",
    "sine_gradient",
    "sine_loss",
    "sine_table",
    "theorem1_table",
]
