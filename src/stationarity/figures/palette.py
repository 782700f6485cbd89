"""One color per schedule, the same in every figure of a study and in its W&B report."""

# seaborn's "colorblind" palette, as hex, so that the report needs neither seaborn nor Matplotlib.
COLORBLIND = (
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)  # fmt: skip


def schedule_colors(schedules: list[str]) -> dict[str, str]:
    """Each schedule name's color, in the order the study first names them (cycling after 10)."""
    names = list(dict.fromkeys(schedules))
    return {name: COLORBLIND[i % len(COLORBLIND)] for i, name in enumerate(names)}
