"""The studies that ship with the package (package data), so commands work from any directory."""

from pathlib import Path

STUDIES_DIR = Path(__file__).with_name("studies")
# name -> the config file: the paper's study (a GPU cluster) and the demo (this machine, minutes).
SHIPPED = {"paper": STUDIES_DIR / "paper.yaml", "demo": STUDIES_DIR / "demo.yaml"}


def config_path(given: str | Path) -> Path:
    """The config file ``given`` names: a path, or the name of a shipped study."""
    path = Path(given)
    if not path.exists() and str(given) in SHIPPED:
        return SHIPPED[str(given)]
    return path
