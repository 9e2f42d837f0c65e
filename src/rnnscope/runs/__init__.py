"""The application layer: run configurations, run folders, fit folders, the analysis report, the index
page of a folder of results and the loading of runs and data files for ``rnnscope compare``.

It imports the library and is never imported by it (the library works on models, tasks and arrays;
this layer reads and writes folders). The command line calls these functions.
"""

from ._compare import ComparisonReport, compare_sources
from ._config import (
    MODEL_KINDS,
    ModelConfig,
    RunConfig,
    build_run_config,
    load_config_file,
    merge_config,
    model_parameters,
    yaml_load,
)
from ._ensemble import can_share_ensemble, parse_seeds, resume_seeds, run_finished, seed_configs, train_folders, train_seeds
from ._fit import fit_run, fit_table, load_fit, plot_predicted_vs_recorded, read_data
from ._folders import (
    CONFIG_NAME,
    EVALUATION_NAME,
    SUMMARY_NAME,
    Run,
    default_run_dir,
    evaluate_run,
    load_run,
    read_run_config,
    resume_run,
    train_run,
    write_evaluation,
)
from ._guards import check_output_folder
from ._index import INDEX_NAME, write_index
from ._report import analyse_run
from ._sweep import EXECUTORS, SlurmOptions, SweepResult, SweepRun, SweepSpec, load_sweep, read_results, sweep
from ._sweep_report import SweepReport, sweep_report
from ._universality import universality  # registers the reproduction "universality" (a sweep)

__all__ = [
    "RunConfig",
    "ModelConfig",
    "MODEL_KINDS",
    "model_parameters",
    "build_run_config",
    "load_config_file",
    "merge_config",
    "yaml_load",
    "Run",
    "train_run",
    "resume_run",
    "load_run",
    "evaluate_run",
    "write_evaluation",
    "train_seeds",
    "resume_seeds",
    "train_folders",
    "parse_seeds",
    "seed_configs",
    "can_share_ensemble",
    "run_finished",
    "read_run_config",
    "default_run_dir",
    "CONFIG_NAME",
    "SUMMARY_NAME",
    "EVALUATION_NAME",
    "analyse_run",
    "write_index",
    "INDEX_NAME",
    "check_output_folder",
    "sweep",
    "load_sweep",
    "read_results",
    "sweep_report",
    "SweepSpec",
    "SweepRun",
    "SweepResult",
    "SweepReport",
    "SlurmOptions",
    "EXECUTORS",
    "universality",
    "fit_run",
    "fit_table",
    "load_fit",
    "read_data",
    "plot_predicted_vs_recorded",
    "ComparisonReport",
    "compare_sources",
]
