"""The figure registry: each figure's name, draw function, the statistics it plots, its caption.

Matplotlib-free, so the workflow reads captions while planning; ``Figure.function`` imports the
draw function only when a figure is drawn. Which runs a figure draws is the study config's
``figure_sources``; a caption names them through ``$runs`` and, given the sources of
``StudyPlan.figure_sources``, states m, k, the checkpoints drawn and the setting (``captions``).
"""

import importlib
from dataclasses import dataclass, field
from string import Template

from .captions import caption_values

# Appended to the caption of every figure of trained runs: what was drawn, and from what.
DETAILS = " Runs drawn: $runs.$measured$here The paper: $paper."


@dataclass(frozen=True)
class Figure:
    """One figure: ``draw`` is "module:function" in this package; ``options`` go to the function.

    ``paper`` is the paper's own setting for the figure, which the caption sets beside this study's.
    """

    name: str
    draw: str
    statistics: tuple[str, ...]
    caption: str
    options: dict = field(default_factory=dict)
    paper: str = ""

    @property
    def synthetic(self) -> bool:
        """Whether the figure draws a closed-form experiment's table rather than trained runs."""
        return self.draw.startswith(("synthetic:", "theory:"))

    def function(self):
        """The draw function: tables in, (Matplotlib figure, plotted numbers) out."""
        module, name = self.draw.split(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), name)

    def caption_for(self, runs: list[str], sources: list[dict] | None = None) -> str:
        """The caption (reST) for the report, naming the runs drawn and, given the figure's
        sources (``StudyPlan.figure_sources``), m, k, the checkpoints and the setting."""
        if self.synthetic:
            return self.caption
        studies = self.draw == "measurement:sample_size_convergence"
        bands = self.draw != "measurement:eq10"  # its caption describes its error bars
        values = caption_values(self.statistics, runs, sources, studies, bands)
        return Template(self.caption + DETAILS).safe_substitute(values, paper=self.paper)


FIGURES = {
    figure.name: figure
    for figure in (
        Figure(
            name="fig1",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 1.** Training with a step schedule (the rate divided by 10 at fixed "
                "epochs), against epochs: training loss L(θ) (the mean minibatch loss of each "
                "epoch), full-batch gradient norm ‖∇L(θ)‖, gradient noise σ(θ) and sharpness "
                "λ_max (largest absolute Hessian eigenvalue), the last three estimated at "
                "checkpoints on a fixed sample of the training set in eval mode. The paper's "
                "claim: within each constant-rate phase the loss settles while the gradient norm "
                "does not go to zero."
            ),
            paper=(
                "ResNet-101 on ImageNet, SGD with momentum 0.9, batch 256, lr 0.1 divided by 10 "
                "every 30 epochs, 90 epochs; statistics on m = 1.6×10⁵ images"
            ),
        ),
        Figure(
            name="fig2",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 2.** Constant learning rates, one row each (y axes shared within a "
                "column): training loss, gradient norm, gradient noise and sharpness against "
                "epochs. The paper's claim: the loss settles at every rate, and a smaller rate "
                "gives a larger gradient norm, noise and sharpness. Read the rows against each "
                "other, not against the claim: a row still falling at the end (small rates) "
                "compares unequal progress."
            ),
            paper=(
                "ResNet-101 on ImageNet at constant lr 0.1, 0.01 and 0.001, 90 epochs; "
                "m = 1.6×10⁵ images"
            ),
        ),
        Figure(
            name="fig3",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 3.** One constant learning rate trained for longer, against epochs: "
                "training longer does not shrink the gradient norm; the loss, gradient norm, "
                "noise and sharpness settle into a stationary regime rather than reaching a "
                "stationary point."
            ),
            paper="ResNet-101 on ImageNet at constant lr 0.01 for 300 epochs; m = 1.6×10⁵ images",
        ),
        Figure(
            name="fig4",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 4.** The language model (Transformer-XL, Adam) under a cosine schedule "
                "and constant rates, one row each, against epochs as in the paper: training "
                "loss, gradient norm, noise and sharpness, where a sample is a segment of "
                "tgt_len tokens. The training loss is a running mean of the per-step minibatch "
                "loss over the last $window steps (the official Transformer-XL code that the "
                "paper followed reports the mean of every 200 steps; the paper does not state "
                "its window; shorter runs use a 20th of their length). The paper's claim: the "
                "same phenomenon as for ResNets — the loss settles, the gradient norm does not "
                "vanish, and a smaller rate gives a larger gradient norm."
            ),
            options={"x": "epoch", "smooth": True},
            paper=(
                "Transformer-XL (4 layers) on WikiText-103 with Adam, cosine schedule from "
                "2.5×10⁻⁴ and constant 5×10⁻⁵, 10⁻⁴ and 2.5×10⁻⁴; 9×10⁵ tokens per estimate"
            ),
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
                "**Fig. 6.** The per-iteration training loss (not a running average) against "
                "epochs over the last part of training at a constant rate, one panel per source "
                "run: it oscillates at the scale of η‖∇L‖ from step to step, so only its time "
                "average converges; the dark line is its running mean over one epoch (or over a "
                "fifth of the part shown, if that is shorter)."
            ),
            paper=(
                "the last 50 of 300 epochs of ResNet-101 on ImageNet at lr 0.01 (left) and the "
                "last iterations of a 2-million-step Transformer-XL run (right)"
            ),
        ),
        Figure(
            name="fig7",
            draw="training:statistics_grid",
            statistics=("train_loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 7.** An over-fitting setting: training loss, gradient norm, noise and "
                "sharpness against epochs. Here the gradient norm does go to zero — the network "
                "reaches a stationary point, unlike in the under-fitting settings of Figs. 1–4."
            ),
            paper=(
                "ResNet-18 on CIFAR-10, SGD, lr 0.1 divided by 10 at epochs 100 and 150, 200 epochs"
            ),
        ),
        Figure(
            name="fig8",
            draw="measurement:sample_size_convergence",
            statistics=("loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 8.** How the estimates converge with the number of samples m (nested "
                "subsets of one seeded shuffle of the training set), at selected checkpoints "
                "(one line each, labelled by run and epoch): loss, gradient norm, noise and "
                "sharpness against m, log x axis. Jensen's inequality biases the norms upward "
                "at small m; m for the per-checkpoint estimates is chosen where the curves have "
                "flattened."
            ),
            paper="ResNet-101 on ImageNet, m up to 1.6×10⁵ images (the value the paper chose)",
        ),
        Figure(
            name="fig9",
            draw="measurement:sample_size_convergence",
            statistics=("loss", "grad_norm", "noise", "sharpness"),
            caption=(
                "**Fig. 9.** As Fig. 8 for the language model: the estimates against the number "
                "of tokens measured (whole segments of tgt_len tokens)."
            ),
            paper="Transformer-XL on WikiText-103, up to 9×10⁵ tokens (the value the paper chose)",
        ),
        Figure(
            name="eq10",
            draw="measurement:eq10",
            statistics=("grad_norm", "noise", "sharpness"),
            caption=(
                "**Eq. (10), checked.** The paper's heuristic Grad² ≈ η·Σ·𝓛·G at every "
                "checkpoint of the constant-rate runs, on log–log axes with the identity line: "
                "Grad is the full-batch gradient norm, 𝓛 the sharpness, Σ = σ/√B the noise of "
                "the batch-size-B stochastic gradient that training used, G = (Grad² + "
                "Σ²)^(1/2) its root second moment, and η the effective step: η/(1−β) for SGD "
                "with heavy-ball momentum β, whose updates add up a geometric series of past "
                "gradients, but the raw η for Adam, whose first moment is an average (weights "
                "1−β₁), not a sum, and whose per-coordinate scaling 1/√v̂ is not measured — "
                "so Adam's points are indicative only. Here the step is $step. The paper "
                "obtains eq. (10) from a Cauchy–Schwarz bound at stationarity, so points of a "
                "run whose loss has settled should lie on or below the identity; points of "
                "runs still descending (small η early on) need not. Error bars: ±2 standard "
                "errors of Grad² and, for the right side, of σ with the sharpness's solver "
                "bound, where the tables carry them."
            ),
            paper="no figure: eq. (10) is a heuristic of Sec. 5.2, not checked numerically there",
        ),
        Figure(
            name="theorem8",
            draw="measurement:theorem8",
            statistics=("train_loss",),
            caption=(
                "**Theorem 8, checked.** Branches from a checkpoint of a constant-rate run "
                "where the loss has settled: each branch continues from that iterate (with its "
                "optimiser state) at a smaller rate c·η, drawn against the epochs since the "
                "branch beside the parent's own continuation at η. Curves are running means of "
                "the minibatch loss over one epoch. The theorem: for small enough c the loss "
                "falls below the level it had settled at."
            ),
            paper=(
                "no figure: Theorem 8 is proved, and the paper points to the loss drops at "
                "each rate decay of Fig. 1"
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
