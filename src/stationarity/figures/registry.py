"""The figure registry: each figure's name, draw function, the statistics it plots, its caption.

Matplotlib-free, so the workflow reads captions while planning; ``Figure.function`` imports the
draw function only when a figure is drawn. Which runs a figure draws is the study config's
``figure_sources``; the captions name them through the ``$runs`` placeholder.
"""

import importlib
from dataclasses import dataclass, field
from string import Template

RUNS_SENTENCE = " Runs drawn: $runs."


@dataclass(frozen=True)
class Figure:
    """One figure: ``draw`` is "module:function" in this package; ``options`` go to the function."""

    name: str
    draw: str
    statistics: tuple[str, ...]
    caption: str
    options: dict = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        """Whether the figure draws a closed-form experiment's table rather than trained runs."""
        return self.draw.startswith(("synthetic:", "theory:"))

    def function(self):
        """The draw function: tables in, (Matplotlib figure, plotted numbers) out."""
        module, name = self.draw.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)

    def caption_for(self, runs: list[str]) -> str:
        """The caption (reST) for the report, naming the runs drawn."""
        template = self.caption + ("" if self.synthetic else RUNS_SENTENCE)
        return Template(template).safe_substitute(runs=", ".join(runs) or "none")


FIGURES = {
    figure.name: figure
    for figure in (
        Figure(
            name="fig1",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 1.** Training with a step schedule (the rate divided by 10 at fixed "
                "epochs): training loss (mean minibatch loss of each epoch), full-batch "
                "gradient norm, gradient noise σ and sharpness (largest absolute Hessian "
                "eigenvalue), all estimated at every measured checkpoint over the run's fixed m "
                "training samples in eval mode. The paper's claim: within each constant-rate "
                "phase the loss settles while the gradient norm does not go to zero."
            ),
        ),
        Figure(
            name="fig2",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 2.** Constant learning rates, one row each: training loss, gradient "
                "norm, gradient noise σ and sharpness at every measured checkpoint. The paper's "
                "claim: the loss settles at every rate, and a smaller rate gives a larger "
                "gradient norm, noise and sharpness. Read the rows against each other, not "
                "against the claim: a row still falling at the end (small rates) compares "
                "unequal progress."
            ),
        ),
        Figure(
            name="fig3",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 3.** One constant learning rate trained for longer: training longer "
                "does not shrink the gradient norm; the loss, gradient norm, noise and "
                "sharpness settle into a stationary regime rather than reaching a stationary "
                "point."
            ),
        ),
        Figure(
            name="fig4",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 4.** The language model (Transformer-XL, Adam) under a cosine schedule "
                "and constant rates, one row each, against the optimisation step: training "
                "loss, gradient norm, noise and sharpness, where a sample is a segment of "
                "tgt_len tokens. The paper's claim: the same phenomenon as for ResNets — the "
                "loss settles, the gradient norm does not vanish."
            ),
            options={"x": "step"},
        ),
        Figure(
            name="fig5",
            draw="synthetic:fig5",
            statistics=("loss", "grad_norm"),
            caption=(
                "**Fig. 5.** Gradient descent on f(θ) = 100 sin θ₁ sin θ₂ (L = 100) for each "
                "configured step size, one row each. I: the whole trajectory, coloured by "
                "iteration; II: the last 500 iterates; III: loss and its running average over "
                "iterations; IV: gradient norm and its running average. Below 2/L = 0.02 the "
                "iterates reach a stationary point; above it they keep cycling, yet the running "
                "averages converge to non-zero limits."
            ),
        ),
        Figure(
            name="fig6",
            draw="measurement:loss_oscillation",
            statistics=("train_loss",),
            caption=(
                "**Fig. 6.** The per-iteration training loss (not a running average) over the "
                "last part of training at a constant rate, one panel per source run: it "
                "oscillates at the scale of η‖∇L‖ from step to step, so only its time average "
                "converges."
            ),
        ),
        Figure(
            name="fig7",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 7.** An over-fitting setting (the paper: ResNet-18 on CIFAR-10, lr ÷10 "
                "twice): training loss, gradient norm, noise and sharpness. Here the gradient "
                "norm does go to zero — the network reaches a stationary point, unlike in the "
                "under-fitting settings of Figs. 1–4."
            ),
        ),
        Figure(
            name="fig8",
            draw="measurement:sample_size_convergence",
            statistics=("loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 8.** How the estimates converge with the number of samples m (nested "
                "subsets of one seeded shuffle of the training set), at selected checkpoints: "
                "loss, gradient norm, noise and sharpness against m, log x axis. Jensen's "
                "inequality biases the norms upward at small m; m for the per-checkpoint "
                "estimates is chosen where the curves have flattened."
            ),
        ),
        Figure(
            name="fig9",
            draw="measurement:sample_size_convergence",
            statistics=("loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 9.** As Fig. 8 for the language model: the estimates against the number "
                "of tokens measured (whole segments of tgt_len tokens)."
            ),
        ),
        Figure(
            name="eq10",
            draw="measurement:eq10",
            statistics=("grad_norm", "noise", "sharpness"),
            caption=(
                "**Eq. (10), checked.** The paper's heuristic Grad² ≈ η·Σ·𝓛·G at every "
                "checkpoint of the constant-rate runs, on log–log axes with the identity line: "
                "Grad is the full-batch gradient norm, 𝓛 the sharpness, Σ = σ/√B the noise of "
                "the batch-size-B stochastic gradient that training used, and G = (Grad² + "
                "Σ²)^(1/2) its root second moment. The paper obtains it from a Cauchy–Schwarz "
                "bound at stationarity, so points of a run whose loss has settled should lie on "
                "or below the identity (Grad² ≤ η·Σ·𝓛·G); points of runs still descending "
                "(small η early on) need not, and the plot shows how far each run is from it."
            ),
        ),
        Figure(
            name="theorem8",
            draw="measurement:theorem8",
            statistics=("train_loss",),
            caption=(
                "**Theorem 8, checked.** Branches from a checkpoint of a constant-rate run "
                "where the loss has settled: each branch continues from that iterate (with its "
                "optimiser state) at a smaller rate c·η, drawn against the steps since the "
                "branch beside the parent's own continuation at η. Curves are running means of "
                "the minibatch loss over one epoch. The theorem: for small enough c the loss "
                "falls below the level it had settled at."
            ),
        ),
        Figure(
            name="theory_lemma2",
            draw="theory:theory_lemma2",
            statistics=("theta", "window_mean", "window_change"),
            caption=(
                "**Lemma 2, checked.** For f(θ) = −θ/(n+1) (θ ≤ 0), nθ/(n+1) (θ > 0), unit-step "
                "gradient descent from θ₀ = 0.2/(n+1) is periodic with period exactly n+1 "
                "(computed in rational arithmetic). Top: the orbit; middle: the window-n mean "
                "M_t, which never settles; bottom: the absolute change \\|M_t − M_{t−1}\\| (log "
                "scale) with the bound 1/(2n) claimed in the paper's proof (dashed) and the "
                "measured limsup (dotted). The measured limsup is positive for every n, so M_t "
                "does not converge, but it equals (0.8n − 0.2)/(n(n+1)²), below the proof's "
                "1/(2n): with this construction the non-convergence is of order 1/n², not 1/n."
            ),
        ),
        Figure(
            name="theory_theorem1",
            draw="theory:theory_theorem1",
            statistics=("gain",),
            caption=(
                "**Theorem 1, checked.** Noisy gradient descent θ' = θ − η(∇f(θ) + sξ) on f = "
                "100 sin θ₁ sin θ₂ with φ = f. For each seed (grey) and as a root mean square "
                "over seeds (blue): \\|E_{μ_n}[φ(θ) − E φ(F(θ))]\\|, the one-step expected change "
                "of the loss averaged over the first n iterates, against n on log–log axes; the "
                "expectation over the noise is exact in closed form. The dashed line is "
                "c·n^(−1/2), the theorem's rate."
            ),
        ),
    )
}
