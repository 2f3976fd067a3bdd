"""The paper's design-space studies as one-command experiments: shared framework (study config, grids of runs,
study data, validation curves, report section) and one module per study."""

from trimodal_eval.experiments.study import StudyConfig, StudyResult

__all__ = ["StudyConfig", "StudyResult"]
