"""One color per schedule, the same in every figure of a study and in its W&B report."""

# seaborn's "colorblind" palette, as hex so that the report needs neither seaborn nor Matplotlib,
# without its yellow and light pink (thin lines in them vanish on white), then four darker colors
# so that a study of up to 12 schedules (the paper's has 12) repeats none.
PALETTE = (
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161",
    "#949494", "#56b4e9", "#6a3d9a", "#b8860b", "#e7298a", "#1f3b4d",
)  # fmt: skip


def schedule_colors(schedules: list[str]) -> dict[str, str]:
    """Each schedule name's color, in the order the study first names them (cycling after 12)."""
    names = list(dict.fromkeys(schedules))
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
